"""Choosing checkpoints without target labels.

DeepMerge II selected on source-validation accuracy. Source accuracy says nothing about the
target, so galmerge also records, every epoch, criteria computed from unlabelled target
validation images:

- ``target_entropy``: mean prediction entropy (lower: more confident on the target);
- ``target_im``: information maximisation, H(mean p) - mean H(p) (higher: confident *and* not
  collapsed onto one class; Gomes et al. 2010, Shi & Sha 2012);
- ``domain_accuracy``: how well a linear probe tells source from target features (near 0.5:
  aligned domains), and the proxy A-distance 2 (1 - 2 error) (Ben-David et al. 2010);
- ``target_snd``: soft neighbourhood density (Saito et al. 2021): the entropy of each target
  image's softmax-weighted similarity to the other target images' predictions (higher: the
  predictions form dense clusters rather than a smear);
- ``dev_risk``: deep embedded validation (You et al. 2019): the source validation loss weighted
  by the density ratio p_target(f) / p_source(f) of the features, estimated with a domain
  classifier, with a control variate (lower: better expected target loss);
- ``target_im_prior``: information maximisation that rewards the survey's merger fraction
  instead of a 50/50 split: -KL(mean p' || prior) - mean H(p'), with p' the posteriors moved to
  that prior.

Entropy and plain information maximisation reward a 50/50 split of the survey, which a survey
with 2 % mergers does not have, and a domain probe rewards collapsed features; which criterion
ranks checkpoints best on real images is measured, not assumed (see the README).
"""

from __future__ import annotations

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from galmerge.adapt.entropy import prediction_entropy

__all__ = [
    "label_free_criteria",
    "domain_probe_accuracy",
    "proxy_a_distance",
    "soft_neighbourhood_density",
    "deep_embedded_validation",
    "prior_aware_information",
]


def domain_probe_accuracy(source: np.ndarray, target: np.ndarray, *, seed: int = 0, max_per_domain: int = 1000) -> float:
    """Two-fold cross-validated accuracy of a logistic regression separating source from target features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    count = min(len(source), len(target), max_per_domain)
    if count < 10:
        return float("nan")
    x = np.concatenate([source[rng.choice(len(source), count, replace=False)], target[rng.choice(len(target), count, replace=False)]])
    y = np.r_[np.ones(count), np.zeros(count)]
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=300))
    folds = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed)
    return float(cross_val_score(probe, x.reshape(len(x), -1), y, cv=folds).mean())


def proxy_a_distance(source: np.ndarray, target: np.ndarray, *, seed: int = 0) -> float:
    """2 (1 - 2 err) of a linear domain probe: 0 for indistinguishable domains, 2 for separable ones."""
    error = 1.0 - domain_probe_accuracy(source, target, seed=seed)
    return float(2.0 * (1.0 - 2.0 * min(error, 0.5)))


# One BLAS thread: the probes' matrices (800 x 2,592 per fold for DeepMerge) are too small to
# share, and threads woken beside PyTorch's cost more than they give. Same numbers, 2.5x faster on
# 2 cores; on a 16-core H200 machine (benchmarks/gpu_check.py) a DANN epoch of 5,600 + 5,600 toy
# images fell from 4.4 to 2.3 s, these criteria having taken 3.5 s of it.
@threadpool_limits.wrap(limits=1, user_api="blas")
def label_free_criteria(
    target_logits,
    source_features: np.ndarray | None,
    target_features: np.ndarray | None,
    *,
    source_losses: np.ndarray | None = None,
    survey_prior: float | None = None,
    train_prior: float = 0.5,
    seed: int = 0,
) -> dict:
    """The per-epoch criteria above from target validation logits and both domains' validation features.

    ``source_losses`` (per-image cross-entropy of the source validation images, in the order of
    ``source_features``) enable ``dev_risk``; ``survey_prior`` (default: the EM estimate from
    these logits) sets the merger fraction ``target_im_prior`` rewards.
    """
    from galmerge.adapt.prior import estimate_prior_em

    logits = torch.as_tensor(target_logits)
    mean_entropy = float(prediction_entropy(logits).mean())
    # The entropy of the mean prediction: log-probabilities are logits of the same softmax.
    probabilities = torch.softmax(logits.double(), dim=1)
    mean_prediction = probabilities.mean(dim=0)
    marginal_entropy = float(prediction_entropy(mean_prediction.clamp(min=1e-12).log()[None])[0])
    criteria = {"target_entropy": mean_entropy, "target_im": marginal_entropy - mean_entropy}
    criteria["target_snd"] = soft_neighbourhood_density(probabilities.numpy())
    if survey_prior is None:
        survey_prior = float(np.clip(estimate_prior_em(probabilities[:, 1].numpy(), train_prior=train_prior).prior, 0.002, 0.5))
    criteria["target_val_prior"] = survey_prior
    criteria["target_im_prior"] = prior_aware_information(logits, prior=survey_prior, train_prior=train_prior)
    if source_features is not None and target_features is not None:
        accuracy = domain_probe_accuracy(source_features, target_features, seed=seed)
        criteria["domain_accuracy"] = accuracy
        criteria["domain_confusion"] = abs(accuracy - 0.5)
        if source_losses is not None:
            criteria["dev_risk"] = deep_embedded_validation(source_features, source_losses, target_features, seed=seed)
    return criteria


def soft_neighbourhood_density(probabilities, *, temperature: float = 0.05) -> float:
    """Saito et al. (2021)'s SND of target predictions (N, classes); higher is better.

    Each image's L2-normalised prediction is compared with every other image's by dot product;
    the similarities, divided by ``temperature`` and passed through a softmax over the other
    images, give a neighbourhood distribution whose mean entropy is returned.
    """
    p = torch.as_tensor(probabilities, dtype=torch.float64)
    if len(p) < 3:
        return float("nan")
    unit = p / p.norm(dim=1, keepdim=True).clamp(min=1e-12)
    similarity = unit @ unit.T / temperature
    similarity.fill_diagonal_(float("-inf"))
    neighbourhood = torch.softmax(similarity, dim=1)
    entropy = -(neighbourhood * torch.log(neighbourhood.clamp(min=1e-300))).sum(dim=1)
    return float(entropy.mean())


def deep_embedded_validation(source_features: np.ndarray, source_losses: np.ndarray, target_features: np.ndarray, *, seed: int = 0, max_per_domain: int = 2000) -> float:
    """You et al. (2019)'s DEV risk: the importance-weighted source validation loss; lower is better.

    Density ratios w = (n_s / n_t) P(target | f) / P(source | f) come from a logistic domain
    classifier on standardised features, cross-fitted in two folds (each source image is weighed
    by the classifier that did not see it). The risk is mean(w l) + eta mean(w) - eta with the
    control variate eta = -Cov(w l, w) / Var(w), which removes much of the variance of the
    weighted mean.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    source_features = np.asarray(source_features, dtype=np.float64).reshape(len(source_features), -1)
    target_features = np.asarray(target_features, dtype=np.float64).reshape(len(target_features), -1)
    losses = np.asarray(source_losses, dtype=np.float64).ravel()
    if len(source_features) < 10 or len(target_features) < 10:
        return float("nan")
    keep_source = rng.permutation(len(source_features))[:max_per_domain]
    keep_target = rng.permutation(len(target_features))[:max_per_domain]
    x = np.concatenate([source_features[keep_source], target_features[keep_target]])
    domain = np.r_[np.zeros(len(keep_source)), np.ones(len(keep_target))]
    target_probability = np.empty(len(x))
    for train_rows, test_rows in StratifiedKFold(n_splits=2, shuffle=True, random_state=seed).split(x, domain):
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=500))
        probe.fit(x[train_rows], domain[train_rows])
        target_probability[test_rows] = probe.predict_proba(x[test_rows])[:, 1]
    p_target = np.clip(target_probability[: len(keep_source)], 1e-6, 1 - 1e-6)
    weights = (len(keep_source) / len(keep_target)) * p_target / (1.0 - p_target)
    weighted = weights * losses[keep_source]
    variance = np.var(weights, ddof=1)
    eta = -np.cov(weighted, weights)[0, 1] / variance if variance > 0 else 0.0
    return float(weighted.mean() + eta * weights.mean() - eta)


def prior_aware_information(target_logits, *, prior: float, train_prior: float = 0.5) -> float:
    """Information maximisation for a survey with a merger fraction ``prior``; higher is better.

    -KL(mean p' || (1 - prior, prior)) - mean H(p'), where p' are the merger posteriors moved
    from ``train_prior`` to ``prior`` (:func:`galmerge.adapt.prior.adjust_to_prior`).
    """
    from galmerge.adapt.prior import adjust_to_prior

    logits = torch.as_tensor(target_logits, dtype=torch.float64)
    p = adjust_to_prior(torch.softmax(logits, dim=1)[:, 1].numpy(), train_prior=train_prior, new_prior=prior)
    p = np.clip(p, 1e-12, 1 - 1e-12)
    entropy = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    mean = float(np.clip(p.mean(), 1e-12, 1 - 1e-12))
    divergence = mean * np.log(mean / prior) + (1 - mean) * np.log((1 - mean) / (1 - prior))
    return float(-divergence - entropy.mean())
