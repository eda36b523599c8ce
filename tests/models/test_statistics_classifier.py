"""The statistics classifier learns toy mergers, not shuffled labels, and saves as plain numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from galmerge.data import make_toy_mergers
from galmerge.errors import CheckpointError, LabelError
from galmerge.mocks.image_statistics import STATISTIC_KINDS
from galmerge.models.statistics_classifier import StatisticsMergerClassifier, combined_probability, load_statistics_model, save_statistics_model


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


def test_pooling_two_scores_with_independent_evidence_ranks_better_than_either():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 4000)
    # two calibrated-looking scores whose log-odds each see the label through independent noise
    p_a, p_b = (1 / (1 + np.exp(-(1.5 * (2 * labels - 1) + rng.normal(0, 2, 4000)))) for _ in range(2))
    pooled = combined_probability(p_a, p_b)
    auc = {name: roc_auc_score(labels, p) for name, p in (("a", p_a), ("b", p_b), ("pooled", pooled))}
    assert auc["pooled"] > max(auc["a"], auc["b"]) + 0.02  # measured 0.936 against 0.864 and 0.859
    np.testing.assert_allclose(combined_probability([0.2, 0.9], [0.2, 0.9]), [0.2, 0.9])  # agreeing scores are kept
    assert combined_probability(0.0, 1.0) == pytest.approx(0.5) and np.isnan(combined_probability(np.nan, 0.3))
