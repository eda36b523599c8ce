"""How much to trust each p(merger): survey prior, spread over views and models, entropy, distance to the training set.

- **Survey prior** (label shift). A classifier reports p(merger) under the class balance it was
  trained with (pi_train: 0.5 for mocks or balanced class weights); a survey has 1-2 % mergers.
  Bayes' rule moves each probability to a new prior P (Saerens, Latinne & Decaestecker 2002):
  p' = p P/pi / (p P/pi + (1 - p)(1 - P)/(1 - pi)).
- **Spread**: the standard deviation of p over the 8 flips and rotations (test-time augmentation)
  and over the models of an ensemble, and the binary entropy of the final p in bits (1 = a coin).
- **Out of distribution**: the Mahalanobis distance of an object's network features to the
  training images' features (Lee et al. 2018) in their leading principal components. Objects
  farther than the 99th percentile of held-out training images are flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from galmerge.errors import ConfigError

__all__ = ["shift_prior", "binary_entropy_bits", "combine_members", "CombinedProbabilities", "FeatureDensity"]


def shift_prior(p_merger, *, training_prior: float | None, survey_prior: float | None) -> np.ndarray:
    """p(merger) re-weighted from the training prior to the survey prior (Saerens et al. 2002).

    Parameters
    ----------
    p_merger : array-like in [0, 1]
    training_prior : float in (0, 1), or None
        Merger fraction the classifier's probabilities assume; None (unknown) only without a
        survey prior.
    survey_prior : float in (0, 1) or None
        Merger fraction of the survey; ``None`` returns ``p_merger`` unchanged.
    """
    p = np.asarray(p_merger, dtype=np.float64)
    if survey_prior is None:
        return p
    if training_prior is None:
        raise ConfigError("the merger fraction the model was trained with is unknown; cannot move its probabilities to a survey prior")
    for name, value in (("training prior", training_prior), ("survey prior", survey_prior)):
        if not 0 < value < 1:
            raise ConfigError(f"{name} must be in (0, 1), got {value}")
    merger = p * (survey_prior / training_prior)
    other = (1 - p) * ((1 - survey_prior) / (1 - training_prior))
    with np.errstate(invalid="ignore"):
        return merger / (merger + other)


def binary_entropy_bits(p) -> np.ndarray:
    """Entropy of a two-class prediction in bits: 0 when certain, 1 at p = 0.5."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


@dataclass
class CombinedProbabilities:
    """p(merger) of each object and its spreads (arrays of length N)."""

    p_merger: np.ndarray
    tta_std: np.ndarray | None
    ensemble_std: np.ndarray | None
    entropy_bits: np.ndarray


def combine_members(views_per_member, *, tta: bool) -> CombinedProbabilities:
    """Average probabilities over views (test-time augmentation) and models (an ensemble).

    Parameters
    ----------
    views_per_member : sequence of ndarray (V, N)
        For each model, p(merger) of every view of every object (already on the survey prior).
    tta : bool
        Whether the views are the 8 dihedral transforms (report their spread).

    Returns
    -------
    CombinedProbabilities
        ``p_merger`` is the mean over views and models; ``tta_std`` the spread over views
        (averaged over models), ``ensemble_std`` the spread of the models' means (with more
        than one model).
    """
    member_means = np.stack([views.mean(axis=0) for views in views_per_member])
    p_merger = member_means.mean(axis=0)
    tta_std = np.mean([views.std(axis=0) for views in views_per_member], axis=0) if tta else None
    ensemble_std = member_means.std(axis=0) if len(member_means) > 1 else None
    return CombinedProbabilities(p_merger, tta_std, ensemble_std, binary_entropy_bits(p_merger))


class FeatureDensity:
    """Mahalanobis distance to the training features in their leading principal components.

    Parameters
    ----------
    n_components : int
        Principal components kept (capped by the number of fitting images / 10, so the
        covariance is well determined).
    quantile : float
        Quantile of the held-out distances above which an object is flagged.

    Attributes
    ----------
    mean_, components_, scale_ : ndarray
        Feature mean, (k, D) principal axes, and the standard deviation along each.
    threshold_ : float
        ``quantile`` of the squared distances of the held-out images (``fit(..., held_out=)``).
    """

    def __init__(self, *, n_components: int = 32, quantile: float = 0.99):
        self.n_components = n_components
        self.quantile = quantile

    def fit(self, features: np.ndarray, *, held_out: np.ndarray) -> "FeatureDensity":
        """Fit on training features; set the threshold on features of other images of the same kind."""
        from sklearn.utils.extmath import randomized_svd

        features = np.asarray(features, dtype=np.float64)
        if len(features) < 20 or len(held_out) < 20:
            raise ConfigError(f"the out-of-distribution reference needs >= 20 fitting and 20 held-out images, got {len(features)} and {len(held_out)}")
        self.mean_ = features.mean(axis=0)
        centred = features - self.mean_
        wanted = max(1, min(self.n_components, len(features) // 10))
        # only the leading axes are needed: a randomized SVD (Halko et al. 2011) of 2,800 x 2,592
        # DeepMerge features takes ~1 s where the full one took ~60 s and dominated `galmerge predict`
        _, singular, axes = randomized_svd(centred, n_components=wanted, random_state=0)
        k = max(1, min(wanted, int((singular > singular[0] * 1e-6).sum())))
        self.components_ = axes[:k]
        self.scale_ = singular[:k] / np.sqrt(len(features) - 1)
        self.threshold_ = float(np.quantile(self.score(held_out), self.quantile))
        return self

    def score(self, features: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of each row in the principal subspace (~ chi^2 with k d.o.f.)."""
        projected = (np.asarray(features, dtype=np.float64) - self.mean_) @ self.components_.T
        return ((projected / self.scale_) ** 2).sum(axis=1)

    def to_arrays(self) -> dict:
        return {"mean": self.mean_, "components": self.components_, "scale": self.scale_, "threshold": np.array(self.threshold_), "quantile": np.array(self.quantile)}

    @classmethod
    def from_arrays(cls, arrays) -> "FeatureDensity":
        density = cls(n_components=len(arrays["components"]), quantile=float(arrays["quantile"]))
        density.mean_, density.components_, density.scale_ = (np.asarray(arrays[k]) for k in ("mean", "components", "scale"))
        density.threshold_ = float(arrays["threshold"])
        return density
