"""Label shift: the merger fraction of a survey, estimated without labels, and probabilities moved to it.

Mock training sets are about half mergers; real surveys hold 1-2 %. A classifier's p(merger)
carries its training prior, so its catalog over-predicts mergers by a large factor, and a decision
threshold of 0.5 means something else in the survey. Under label shift (p(x | class) the same in
both domains, only the class fractions differ) Bayes' rule moves a posterior from one prior to
another, and the survey's prior can be estimated from the unlabelled survey itself:

- **EM** (Saerens, Latinne & Decaestecker 2002): alternate between moving the posteriors to the
  current prior estimate and taking their mean as the next estimate. Needs calibrated posteriors.
- **BBSE** (black-box shift estimation, Lipton, Wang & Smola 2018): solve C q = mu, where C is the
  confusion matrix of hard predictions on labelled source validation data and mu the predicted
  class fractions on the survey. Needs no calibration, only an invertible confusion matrix.

Written here because no maintained library offers these two small estimators for numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from galmerge.errors import ConfigError, LabelError

__all__ = ["PriorEstimate", "adjust_to_prior", "estimate_prior_em", "estimate_prior_bbse", "class_weights_for_prior"]

_EPS = 1e-12


@dataclass(frozen=True)
class PriorEstimate:
    """An estimated merger fraction of a set of images.

    Attributes
    ----------
    prior : float
        Estimated fraction of mergers, in [0, 1].
    method : str
        ``"em"`` or ``"bbse"``.
    n_images : int
        Unlabelled images it was estimated from.
    iterations : int
        EM iterations (0 for BBSE).
    """

    prior: float
    method: str
    n_images: int
    iterations: int = 0


def _check_probabilities(p, what: str) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64).ravel()
    if p.size == 0:
        raise ConfigError(f"{what}: no predictions")
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise ConfigError(f"{what}: probabilities must be finite and in [0, 1]")
    return p


def _check_prior(value: float, name: str) -> float:
    if not 0 < value < 1:
        raise ConfigError(f"{name} must be in (0, 1), got {value}")
    return float(value)


def adjust_to_prior(p_merger, *, train_prior: float, new_prior: float) -> np.ndarray:
    """Move merger posteriors from the prior they were trained with to another one (Bayes' rule).

    p' = r p / (r p + s (1 - p)) with r = new_prior / train_prior and
    s = (1 - new_prior) / (1 - train_prior): the likelihood ratio p / (1 - p) is kept and only
    the prior odds change.

    Parameters
    ----------
    p_merger : array of float in [0, 1]
    train_prior : float
        Effective merger fraction of training, in (0, 1). With balanced class weights this is 0.5
        whatever the actual fractions were.
    new_prior : float
        Merger fraction of the survey, in (0, 1).
    """
    p = _check_probabilities(p_merger, "adjust_to_prior")
    r = _check_prior(new_prior, "new_prior") / _check_prior(train_prior, "train_prior")
    s = (1.0 - new_prior) / (1.0 - train_prior)
    return (r * p) / np.maximum(r * p + s * (1.0 - p), _EPS)


def estimate_prior_em(p_merger, *, train_prior: float = 0.5, tolerance: float = 1e-7, max_iterations: int = 1000) -> PriorEstimate:
    """Saerens et al.'s EM estimate of the merger fraction behind a set of posteriors.

    Parameters
    ----------
    p_merger : array of float in [0, 1]
        The classifier's posteriors on unlabelled images of the survey, under ``train_prior``.
    train_prior : float
        The prior those posteriors carry (0.5 for class-balanced training).
    tolerance : float
        Stop when the estimate moves less than this.
    max_iterations : int
    """
    p = _check_probabilities(p_merger, "estimate_prior_em")
    prior = float(p.mean())
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        prior_clipped = min(max(prior, 1e-6), 1 - 1e-6)
        updated = float(adjust_to_prior(p, train_prior=train_prior, new_prior=prior_clipped).mean())
        if abs(updated - prior) < tolerance:
            prior = updated
            break
        prior = updated
    return PriorEstimate(prior=min(max(prior, 0.0), 1.0), method="em", n_images=len(p), iterations=iterations)


def estimate_prior_bbse(source_labels, source_p_merger, target_p_merger, *, threshold: float = 0.5) -> PriorEstimate:
    """Black-box shift estimation of the merger fraction of a survey.

    Parameters
    ----------
    source_labels : array of 0/1
        Labels of a held-out source set (e.g. the mocks' validation split).
    source_p_merger : array of float
        The classifier's posteriors on that set.
    target_p_merger : array of float
        Its posteriors on the unlabelled survey images.
    threshold : float
        Hard decision threshold defining the confusion matrix.

    Notes
    -----
    With C[i, j] = P_source(predicted i, true j) and mu_i = P_target(predicted i), the target's
    class fractions q solve C w = mu with w_j = q_j / p_source(j); for two classes this is one
    linear equation in q. The result is clipped to [0, 1].
    """
    labels = np.asarray(source_labels).astype(np.int64).ravel()
    if set(np.unique(labels)) - {0, 1}:
        raise LabelError("estimate_prior_bbse: source labels must be 0 or 1")
    p_source = _check_probabilities(source_p_merger, "estimate_prior_bbse (source)")
    p_target = _check_probabilities(target_p_merger, "estimate_prior_bbse (target)")
    if len(labels) != len(p_source):
        raise LabelError(f"estimate_prior_bbse: {len(labels)} labels for {len(p_source)} predictions")
    if labels.min() == labels.max():
        raise LabelError("estimate_prior_bbse: the source set needs both classes")
    predicted = p_source >= threshold
    # rates of predicting "merger" given each true class, and the survey's predicted fraction
    true_positive_rate = predicted[labels == 1].mean()
    false_positive_rate = predicted[labels == 0].mean()
    predicted_target = (p_target >= threshold).mean()
    separation = true_positive_rate - false_positive_rate
    if separation <= 1e-6:
        raise ConfigError("estimate_prior_bbse: the classifier does not separate the source classes at this threshold")
    prior = (predicted_target - false_positive_rate) / separation
    return PriorEstimate(prior=float(np.clip(prior, 0.0, 1.0)), method="bbse", n_images=len(p_target))


def class_weights_for_prior(labels, *, target_prior: float, source_prior: float | None = None):
    """Per-image weights that give a labelled source batch the survey's class fractions.

    Merger images weigh ``target_prior / source_prior`` and the others
    ``(1 - target_prior) / (1 - source_prior)`` (``source_prior``: the batch's merger fraction
    when not given); aligning the reweighted source with the survey (class-weighted MMD or
    DANN, Yan et al. 2017) then does not pull the survey's non-mergers towards merger features.
    Returns a float tensor shaped like ``labels``.
    """
    import torch

    labels = torch.as_tensor(labels)
    positive = labels == 1
    if source_prior is None:
        source_prior = float(positive.float().mean())
    source_prior = min(max(source_prior, 1e-3), 1 - 1e-3)
    target_prior = _check_prior(target_prior, "target_prior")
    return torch.where(positive, target_prior / source_prior, (1 - target_prior) / (1 - source_prior)).float()
