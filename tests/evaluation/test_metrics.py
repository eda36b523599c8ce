import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from galmerge.errors import ConfigError, LabelError
from galmerge.evaluation import recall_at_false_positive_rate, score_predictions, threshold_for_recall, threshold_metrics


def random_scores(n=500, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    p = np.clip(0.5 + 0.3 * (labels - 0.5) + rng.normal(0, 0.25, n), 0, 1)
    return labels, p


def test_every_metric_agrees_with_scikit_learn():
    labels, p = random_scores()
    report = score_predictions(labels, p, thresholds={"default": 0.5, "strict": 0.7}, n_bootstrap=0)
    assert report.roc_auc.value == pytest.approx(roc_auc_score(labels, p))
    assert report.pr_auc.value == pytest.approx(average_precision_score(labels, p))
    assert report.brier.value == pytest.approx(brier_score_loss(labels, p))
    for name, threshold in (("default", 0.5), ("strict", 0.7)):
        predicted = (p >= threshold).astype(int)
        entry = report.thresholds[name]
        assert entry.accuracy.value == pytest.approx(accuracy_score(labels, predicted))
        assert entry.precision.value == pytest.approx(precision_score(labels, predicted))
        assert entry.recall.value == pytest.approx(recall_score(labels, predicted))
        assert entry.f1.value == pytest.approx(f1_score(labels, predicted))


def test_batched_ranking_metrics_agree_with_scikit_learn_with_ties_and_one_class_rows():
    from galmerge.evaluation.metrics import ranking_metrics

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, (40, 30))
    p = np.round(rng.random((40, 30)) * 0.6 + 0.3 * labels, 1)  # rounded: many tied scores
    labels[0], labels[1] = 0, 1  # one class only
    batched = ranking_metrics(labels, p)
    assert np.isnan(batched["roc_auc"][:2]).all() and np.isnan(batched["pr_auc"][:2]).all()
    for row in range(2, 40):
        assert batched["roc_auc"][row] == pytest.approx(roc_auc_score(labels[row], p[row]))
        assert batched["pr_auc"][row] == pytest.approx(average_precision_score(labels[row], p[row]))
        assert batched["brier"][row] == pytest.approx(brier_score_loss(labels[row], p[row]))


def test_confusion_matrix_on_a_hand_made_example():
    labels = np.array([1, 1, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.6, 0.2, 0.7, 0.4, 0.1, 0.0])
    result = threshold_metrics(labels, p, threshold=0.5)
    assert result["confusion"] == [[3, 1], [1, 2]]  # TN, FP / FN, TP
    assert result["precision"] == pytest.approx(2 / 3)
    assert result["recall"] == pytest.approx(2 / 3)
    assert result["false_positive_rate"] == pytest.approx(1 / 4)


def test_threshold_for_recall_is_the_highest_that_reaches_it():
    labels = np.array([1, 1, 1, 1, 0, 0])
    p = np.array([0.95, 0.8, 0.4, 0.1, 0.5, 0.3])
    assert threshold_for_recall(labels, p, target_recall=0.75) == pytest.approx(0.4)
    assert threshold_for_recall(labels, p, target_recall=1.0) == pytest.approx(0.1)
    assert threshold_for_recall(labels, p, target_recall=0.5) == pytest.approx(0.8)
    with pytest.raises(LabelError):
        threshold_for_recall(np.zeros(3), p[:3], target_recall=0.9)
    with pytest.raises(ConfigError, match="target recall must be in"):
        threshold_for_recall(labels, p, target_recall=1.5)


def test_recall_at_fixed_false_positive_rate():
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.3, 0.2, 0.85, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    # no false positive allowed: only the 0.9 merger is above the 0.85 non-merger
    assert recall_at_false_positive_rate(labels, p, false_positive_rate=0.0) == pytest.approx(0.25)
    # one of ten allowed (the 0.85 one): the threshold can drop to 0.2 and catch every merger
    assert recall_at_false_positive_rate(labels, p, false_positive_rate=0.1) == pytest.approx(1.0)


def test_bootstrap_intervals_bracket_the_value_and_shrink_with_more_data():
    small = score_predictions(*random_scores(200, seed=1), n_bootstrap=300)
    large = score_predictions(*random_scores(5000, seed=1), n_bootstrap=300)
    for report in (small, large):
        value = report.roc_auc.value
        low95, high95 = report.roc_auc.ci95
        low68, high68 = report.roc_auc.ci68
        assert low95 <= low68 <= value <= high68 <= high95
    width = lambda r: np.subtract(*r.roc_auc.ci95[::-1])  # noqa: E731
    assert width(large) < width(small) / 3


def test_a_perfect_and_a_useless_classifier():
    labels = np.array([0] * 50 + [1] * 50)
    perfect = score_predictions(labels, labels.astype(float), n_bootstrap=0)
    assert perfect.roc_auc.value == 1.0 and perfect.brier.value == 0.0
    useless = score_predictions(labels, np.full(100, 0.3), n_bootstrap=0)
    assert useless.roc_auc.value == 0.5
    assert useless.thresholds["default"].precision.value == 0.0  # no merger called


def test_empty_set_is_refused():
    with pytest.raises(LabelError, match="empty"):
        score_predictions([], [])


def test_scores_read_as_a_person_reads_them():
    labels, p = random_scores(300, seed=2)
    report = score_predictions(labels, p, n_bootstrap=200)
    low, high = report.roc_auc.ci95
    assert report.roc_auc.format() == f"{report.roc_auc.value:.3f} [{low:.3f}, {high:.3f}]"
    assert score_predictions(labels, p, n_bootstrap=0).roc_auc.format() == f"{roc_auc_score(labels, p):.3f}"
    lines = report.summary().splitlines()
    assert lines[0] == f"n = 300 ({labels.sum()} mergers); values with 95% bootstrap intervals"
    assert lines[1].split() == ["roc_auc", f"{report.roc_auc.value:.3f}", f"[{low:.3f},", f"{high:.3f}]"]
