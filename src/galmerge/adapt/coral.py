"""Deep CORAL (Sun & Saenko 2016): align the covariances of source and target features."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CORALLoss"]


class CORALLoss(nn.Module):
    """||C_s - C_t||_F^2 / (4 d^2), with C the feature covariance of each batch."""

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        source, target = source.flatten(1).float(), target.flatten(1).float()
        dim = source.shape[1]

        def covariance(x):
            centred = x - x.mean(dim=0, keepdim=True)
            return centred.T @ centred / max(len(x) - 1, 1)

        return ((covariance(source) - covariance(target)) ** 2).sum() / (4.0 * dim * dim)
