"""The merger baselines learn from statistics, cope with unmeasured rows, and refuse one class."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table
from sklearn.metrics import roc_auc_score

from galmerge.errors import LabelError
from galmerge.morphology.baseline import BASELINE_FEATURES, NonParametricMergerClassifier, cross_validated_probabilities


def _statistics(n, seed):
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.2).astype(int)
    table = Table({name: rng.normal(size=n) for name in BASELINE_FEATURES})
    table["asymmetry"] = rng.normal(0.1, 0.05, n) + 0.15 * labels  # mergers: more asymmetric
    table["m20"] = rng.normal(-2.0, 0.3, n) + 0.5 * labels
    table["gini"][rng.random(n) < 0.1] = np.nan  # flagged images
    return table, labels


def test_cross_validated_baseline_separates_toy_mergers():
    table, labels = _statistics(600, seed=1)
    p_merger = cross_validated_probabilities(table, labels, folds=5, seed=0)
    assert roc_auc_score(labels, p_merger) > 0.9
    model = NonParametricMergerClassifier().fit(table, labels)
    top = sorted(model.feature_importances_, key=model.feature_importances_.get)[-2:]
    assert set(top) == {"asymmetry", "m20"}


def test_baseline_refuses_a_single_class():
    table, labels = _statistics(50, seed=2)
    with pytest.raises(LabelError):
        NonParametricMergerClassifier().fit(table, np.zeros_like(labels))
    with pytest.raises(LabelError, match="at least 5"):
        cross_validated_probabilities(table, np.r_[np.ones(3), np.zeros(47)].astype(int))
