"""Self-training on the unlabelled survey: class-balanced pseudo-labels and FixMatch-style consistency.

Once per epoch the network labels the survey's training images it is most sure of, in the
survey's estimated class proportions (:func:`galmerge.adapt.pseudo_labels.select_pseudo_labels`,
with the merger fraction from :func:`galmerge.adapt.prior.estimate_prior_em`); the target labels
a user may have supplied are never seen (they are set aside when the target is loaded). In every
step the pseudo-labelled images of the target batch must then keep their label under a strong
view (:func:`galmerge.data.views.strong_view`: a rotation, shift, zoom, PSF blur, noise, colour
and stretch change), as in FixMatch (Sohn et al. 2020), so the network learns what survives a
different observation of the same galaxy.

The pseudo-labels come from a pass in evaluation mode at the start of the epoch (the refresh is
done by :class:`galmerge.training.callbacks.TargetRefresh`); they are used only after
``start`` of the training, when the network has learned something from the labelled source.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from galmerge.adapt.pseudo_labels import select_pseudo_labels
from galmerge.data.views import StrongViewOptions, strong_view

__all__ = ["SelfTrainingTerm"]


class SelfTrainingTerm(nn.Module):
    """Cross-entropy of strong views of pseudo-labelled target images, class-balanced.

    Parameters
    ----------
    weight : float
        Weight of the term.
    portion : float
        Share of each class's expected members of the survey that is pseudo-labelled.
    start : float
        Fraction of the training after which the term is used (0: from the start).
    min_confidence : float
        Smallest prior-adjusted posterior of its class a pseudo-labelled image needs.
    strong_views : bool
        Train on a strong view of each image (FixMatch); ``False`` trains on the weak view the
        batch already holds (plain self-training).
    seed : int
        Seeds the strong views.
    """

    def __init__(self, *, weight: float = 1.0, portion: float = 0.5, start: float = 0.3, min_confidence: float = 0.5, strong_views: bool = True, seed: int = 0):
        super().__init__()
        self.weight, self.portion, self.start, self.min_confidence = weight, portion, start, min_confidence
        self.strong_views = strong_views
        self.view_options = StrongViewOptions()
        self.generator = torch.Generator().manual_seed(seed)
        self.labels_by_row: torch.Tensor | None = None
        self.weights_by_row: torch.Tensor | None = None
        self.last_metrics: dict = {}

    # ------------------------------------------------------------ refreshed once per epoch
    def refresh_from_target(self, p_merger: np.ndarray, rows: np.ndarray, *, n_rows: int, prior: float, train_prior: float) -> None:
        """New pseudo-labels from the posteriors ``p_merger`` of the target rows ``rows`` (of ``n_rows``)."""
        chosen = select_pseudo_labels(p_merger, prior=prior, portion=self.portion, train_prior=train_prior, min_confidence=self.min_confidence)
        labels = np.full(n_rows, -1, dtype=np.int64)
        weights = np.zeros(n_rows, dtype=np.float32)
        labels[rows[chosen.rows]] = chosen.labels
        weights[rows[chosen.rows]] = chosen.weights
        self.labels_by_row, self.weights_by_row = torch.from_numpy(labels), torch.from_numpy(weights)
        self.last_metrics = {"pseudo_mergers": float((chosen.labels == 1).sum()), "pseudo_labelled": float(len(chosen))}

    def forward(self, outputs) -> torch.Tensor:
        zero = outputs.logits_source.sum() * 0.0
        if self.labels_by_row is None or self.weights_by_row is None or outputs.progress < self.start or outputs.target_rows is None:
            return zero
        rows = outputs.target_rows.cpu()
        labels = self.labels_by_row[rows].to(outputs.logits_source.device)
        weights = self.weights_by_row[rows].to(outputs.logits_source.device)
        chosen = labels >= 0
        if int(chosen.sum()) == 0:
            return zero
        if self.strong_views:
            # the whole target batch goes through, so its BatchNorm statistics stay representative
            views = strong_view(outputs.target_images.float(), generator=self.generator, options=self.view_options)
            _, logits = outputs.forward_target(views.to(outputs.target_images.dtype).contiguous(memory_format=torch.channels_last))
        else:
            logits = outputs.logits_target
        losses = F.cross_entropy(logits[chosen], labels[chosen], reduction="none")
        return self.weight * (losses * weights[chosen]).sum() / weights[chosen].sum().clamp(min=1e-12)
