"""Choosing checkpoints without target labels.

DeepMerge II selected on source-validation accuracy. Source accuracy says nothing about the
target, so galmerge also records, every epoch, criteria computed from unlabelled target
validation images:

- ``target_entropy``: mean prediction entropy (lower: more confident on the target);
- ``target_im``: information maximisation, H(mean p) - mean H(p) (higher: confident *and* not
  collapsed onto one class; Gomes et al. 2010, Shi & Sha 2012);
- ``domain_accuracy``: how well a linear probe tells source from target features (near 0.5:
  aligned domains), and the proxy A-distance 2 (1 - 2 error) (Ben-David et al. 2010).
"""

from __future__ import annotations

import numpy as np
import torch

from galmerge.adapt.entropy import prediction_entropy

__all__ = ["label_free_criteria", "domain_probe_accuracy", "proxy_a_distance"]


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


def label_free_criteria(target_logits, source_features: np.ndarray | None, target_features: np.ndarray | None, *, seed: int = 0) -> dict:
    """The per-epoch criteria above from target validation logits and both domains' validation features."""
    logits = torch.as_tensor(target_logits)
    mean_entropy = float(prediction_entropy(logits).mean())
    # The entropy of the mean prediction: log-probabilities are logits of the same softmax.
    mean_prediction = torch.softmax(logits.double(), dim=1).mean(dim=0)
    marginal_entropy = float(prediction_entropy(mean_prediction.clamp(min=1e-12).log()[None])[0])
    criteria = {"target_entropy": mean_entropy, "target_im": marginal_entropy - mean_entropy}
    if source_features is not None and target_features is not None:
        accuracy = domain_probe_accuracy(source_features, target_features, seed=seed)
        criteria["domain_accuracy"] = accuracy
        criteria["domain_confusion"] = abs(accuracy - 0.5)
    return criteria
