"""The contrastive loss of SimCLR (Chen et al. 2020), for self-supervised pretraining on survey images.

Two strong views (:func:`galmerge.data.views.strong_view`) of each of B images go through the
network and a small projection head; each view must pick its partner out of the 2B - 1 other
views by cosine similarity. What survives the views (a galaxy's shape, its companions and
tails) is what the features learn, from unlabelled images of the survey itself (Hayat et al. 2021
did this on SDSS, Stein et al. 2021 on DECaLS).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["nt_xent_loss", "ProjectionHead"]


def nt_xent_loss(first: torch.Tensor, second: torch.Tensor, *, temperature: float = 0.2) -> torch.Tensor:
    """Normalised-temperature cross-entropy of paired projections (B, d) and (B, d).

    For view i its positive is the other view of the same image; the other 2B - 2 views are
    negatives. Returns the mean over all 2B views.
    """
    if first.shape != second.shape or len(first) < 2:
        raise ValueError(f"need two batches of the same shape with at least 2 images, got {tuple(first.shape)} and {tuple(second.shape)}")
    z = F.normalize(torch.cat([first, second]), dim=1)
    similarity = z @ z.T / temperature
    similarity.fill_diagonal_(float("-inf"))
    n = len(first)
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(similarity.device)
    return F.cross_entropy(similarity, partner)


class ProjectionHead(nn.Sequential):
    """Linear(feature_dim, hidden) - ReLU - Linear(hidden, out): what the contrastive loss sees.

    Discarded after pretraining: the features before it transfer better (Chen et al. 2020).
    """

    def __init__(self, feature_dim: int, *, hidden: int = 256, out: int = 128):
        super().__init__(nn.Linear(feature_dim, hidden), nn.ReLU(), nn.Linear(hidden, out))
