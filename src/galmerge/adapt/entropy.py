"""Entropy minimisation (Grandvalet & Bengio 2005): confident predictions on both domains."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["EntropyLoss", "prediction_entropy"]


def prediction_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of each row's softmax, computed stably from the logits."""
    log_p = torch.log_softmax(logits.float(), dim=1)
    return -(log_p.exp() * log_p).sum(dim=1)


class EntropyLoss(nn.Module):
    """Mean prediction entropy over a batch: pushes decision boundaries away from dense regions.

    DeepMerge II applies it to all 256 logits of a step (source and target together) and skips
    probabilities below 1e-6; the log-softmax form here needs no such cut.
    """

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return prediction_entropy(logits).mean()
