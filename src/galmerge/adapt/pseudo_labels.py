"""Class-balanced pseudo-labels for self-training on an unlabelled survey.

Self-training labels the survey's most confident images with the network's own predictions
and trains on them. Two things go wrong with a rare class. A single confidence threshold
labels almost nothing as a merger (or, with posteriors carrying the mocks' 50 % prior, labels
far too much), and the labelled set drifts towards whatever the network already believes. As in
class-balanced self-training (Zou et al. 2018), each class here gets its own quota: the
``portion`` most confident of the images the network assigns to that class, with the number of
images per class set by the survey's estimated merger fraction (:mod:`galmerge.adapt.prior`),
so the pseudo-labelled set has the survey's class mix, and its loss weighs both classes equally.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from galmerge.adapt.prior import adjust_to_prior
from galmerge.errors import ConfigError

__all__ = ["PseudoLabels", "select_pseudo_labels"]


@dataclass(frozen=True)
class PseudoLabels:
    """Pseudo-labels for some rows of an unlabelled set.

    Attributes
    ----------
    rows : int array
        Positions (in the array of posteriors given) of the pseudo-labelled images.
    labels : int array of 0/1
        Their pseudo-labels.
    weights : float array
        Per-image loss weights: N_selected / (2 N_class), so both classes weigh the same.
    prior : float
        The merger fraction the selection assumed.
    """

    rows: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    prior: float

    def __len__(self) -> int:
        return len(self.rows)

    def lookup(self, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-row arrays for a set of ``n_rows``: label (-1 where none) and weight (0 where none)."""
        labels = np.full(n_rows, -1, dtype=np.int64)
        weights = np.zeros(n_rows, dtype=np.float32)
        labels[self.rows] = self.labels
        weights[self.rows] = self.weights
        return labels, weights


def select_pseudo_labels(p_merger, *, prior: float, portion: float = 0.5, train_prior: float = 0.5, min_confidence: float = 0.5) -> PseudoLabels:
    """The most confident images of each class, in the survey's class proportions.

    Parameters
    ----------
    p_merger : array of float in [0, 1]
        Posteriors on the unlabelled images, under ``train_prior``.
    prior : float
        Estimated merger fraction of the survey, in (0, 1).
    portion : float in (0, 1]
        Share of each class's expected members that is pseudo-labelled: class c receives
        ``round(portion * N * prior_c)`` images (at least one), the ones with the highest
        prior-adjusted posterior of that class among those assigned to it.
    train_prior : float
        Prior the posteriors carry (0.5 after class-balanced training).
    min_confidence : float
        Smallest prior-adjusted posterior of its class an image needs (default 0.5: the class
        must be the more probable one under the survey's prior; at a 2 % prior that already
        means a likelihood ratio of about 50 for a merger).
    """
    if not 0 < portion <= 1:
        raise ConfigError(f"portion must be in (0, 1], got {portion}")
    p = np.asarray(p_merger, dtype=np.float64).ravel()
    adjusted = adjust_to_prior(p, train_prior=train_prior, new_prior=prior)
    rows, labels = [], []
    for label, confidence, share in ((1, adjusted, prior), (0, 1.0 - adjusted, 1.0 - prior)):
        candidates = np.flatnonzero(confidence >= min_confidence)
        quota = max(1, int(round(portion * len(p) * share)))
        chosen = candidates[np.argsort(-confidence[candidates], kind="stable")[:quota]]
        rows.append(chosen)
        labels.append(np.full(len(chosen), label, dtype=np.int64))
    rows_array, labels_array = np.concatenate(rows), np.concatenate(labels)
    counts = np.bincount(labels_array, minlength=2).astype(np.float64)
    per_class = np.where(counts > 0, len(labels_array) / (2.0 * np.maximum(counts, 1)), 0.0)
    order = np.argsort(rows_array, kind="stable")
    return PseudoLabels(rows_array[order], labels_array[order], per_class[labels_array[order]].astype(np.float32), float(prior))
