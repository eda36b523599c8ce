"""The merger baselines learn from statistics, cope with unmeasured rows, and refuse one class."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.table import Table
from sklearn.metrics import roc_auc_score

from galmerge.data import make_toy_mergers
from galmerge.errors import CheckpointError, LabelError
from galmerge.mocks.image_statistics import STATISTIC_KINDS
from galmerge.morphology.baseline import (
    BASELINE_FEATURES,
    NonParametricMergerClassifier,
    StatisticsMergerClassifier,
    cross_validated_probabilities,
    load_statistics_model,
    save_statistics_model,
)


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


def test_statistics_classifier_learns_toy_mergers_and_ignores_nuisance_statistics():
    train, test = make_toy_mergers(300, seed=1, size=48), make_toy_mergers(200, seed=2, size=48)
    model = StatisticsMergerClassifier().fit(train.images, train.labels)
    assert roc_auc_score(test.labels, model.predict_proba(test.images)) > 0.85  # measured 0.93
    shuffled = StatisticsMergerClassifier().fit(train.images, np.random.default_rng(0).permutation(train.labels))
    assert abs(roc_auc_score(test.labels, shuffled.predict_proba(test.images)) - 0.5) < 0.1  # nothing to learn from shuffled labels
    assert set(model.coefficients_) == {name for name, (kind, _) in STATISTIC_KINDS.items() if kind != "nuisance"}
    with pytest.raises(LabelError):
        StatisticsMergerClassifier().fit(train.images, np.zeros(len(train), dtype=int))


def test_statistics_classifier_saves_as_json_and_loads_to_the_same_probabilities(tmp_path):
    train, test = make_toy_mergers(200, seed=4, size=48), make_toy_mergers(50, seed=5, size=48)
    model = StatisticsMergerClassifier().fit(train.images, train.labels)
    path = save_statistics_model(model, tmp_path / "statistics_model.json", trained_on="toy")
    loaded, record = load_statistics_model(path)
    assert record == {"trained_on": "toy"}
    np.testing.assert_allclose(loaded.predict_proba(test.images), model.predict_proba(test.images), rtol=1e-12)
    values = loaded.statistics(test.images)
    values[:, 0] = np.nan  # an unmeasured statistic takes the training median
    filled = values.copy()
    filled[:, 0] = loaded.medians_[0]
    np.testing.assert_allclose(loaded.predict_proba_statistics(values), loaded.predict_proba_statistics(filled))


def test_a_damaged_statistics_model_file_is_refused_with_its_name(tmp_path):
    toy = make_toy_mergers(100, seed=6, size=48)
    values = StatisticsMergerClassifier().fit(toy.images, toy.labels).to_dict()
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**values, "coefficients": values["coefficients"][:-1]}))
    with pytest.raises(CheckpointError, match="broken.json"):
        load_statistics_model(broken)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(CheckpointError, match="other.json: not a galmerge statistics classifier"):
        load_statistics_model(other)
    truncated = tmp_path / "truncated.json"
    truncated.write_text(json.dumps(values)[:50])
    with pytest.raises(CheckpointError, match="truncated.json: not a readable"):
        load_statistics_model(truncated)
