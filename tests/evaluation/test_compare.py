"""Paired comparisons of two classifiers on the same images, against hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from galmerge.errors import LabelError
from galmerge.evaluation.compare import delong_test, paired_bootstrap, precision_at_recall, stratified_bootstrap_rows


def _structural_components(labels, p):
    """DeLong's components straight from the definition (pairwise comparisons)."""
    pos, neg = p[labels == 1], p[labels == 0]
    psi = np.array([[1.0 if x > y else 0.5 if x == y else 0.0 for y in neg] for x in pos])
    return psi.mean(axis=1), psi.mean(axis=0)


def test_delong_matches_the_definition_on_a_hand_made_example():
    labels = np.array([1, 1, 1, 0, 0, 0, 0, 1, 0, 0])
    p_a = np.array([0.9, 0.8, 0.4, 0.3, 0.2, 0.6, 0.1, 0.7, 0.4, 0.05])
    p_b = np.array([0.6, 0.5, 0.7, 0.5, 0.1, 0.6, 0.3, 0.2, 0.4, 0.2])  # ties included
    v10a, v01a = _structural_components(labels, p_a)
    v10b, v01b = _structural_components(labels, p_b)
    m, n = 4, 6
    var = (np.var(v10a, ddof=1) + np.var(v10b, ddof=1) - 2 * np.cov(v10a, v10b)[0, 1]) / m + (np.var(v01a, ddof=1) + np.var(v01b, ddof=1) - 2 * np.cov(v01a, v01b)[0, 1]) / n
    result = delong_test(labels, p_a, p_b)
    # AUC(A): of the 24 merger/non-merger pairs A orders 22 right and ties 1 -> 22.5 / 24
    assert result.value_a == pytest.approx(22.5 / 24)
    assert result.value_b == pytest.approx(v10b.mean())
    half = result.ci95[1] - result.difference
    assert half == pytest.approx(1.959964 * np.sqrt(var), rel=1e-5)


def test_identical_classifiers_differ_by_nothing():
    rng = np.random.default_rng(0)
    labels = (rng.random(300) < 0.1).astype(int)
    p = rng.random(300) + labels * 0.3
    boot = paired_bootstrap(labels, p, p, n_bootstrap=200)
    assert boot.difference == 0 and boot.ci95 == (0.0, 0.0) and not boot.significant
    assert delong_test(labels, p, p).p_value == 1.0


def test_a_consistently_better_classifier_is_significant_only_when_paired_noise_cancels():
    """B is A plus noise that hurts it: separately the AUC intervals overlap, paired they do not."""
    rng = np.random.default_rng(3)
    labels = np.r_[np.ones(30, int), np.zeros(1500, int)]
    signal = rng.normal(labels * 1.5, 1.0)
    p_a = signal
    p_b = signal + rng.normal(0, 0.8, len(labels))
    boot = paired_bootstrap(labels, p_a, p_b, n_bootstrap=1000, seed=1)
    delong = delong_test(labels, p_a, p_b)
    assert boot.difference > 0 and boot.significant and delong.significant
    # each AUC alone has a standard error larger than the difference (unpaired intervals overlap)
    single = [paired_bootstrap(labels, p, np.zeros_like(p), n_bootstrap=500, seed=2) for p in (p_a, p_b)]
    widths = [(s.ci95[1] - s.ci95[0]) / 2 for s in single]
    assert min(widths) > boot.difference / 2
    # the two methods agree on the interval's scale
    assert (boot.ci95[1] - boot.ci95[0]) == pytest.approx(delong.ci95[1] - delong.ci95[0], rel=0.35)


def test_stratified_rows_keep_the_class_counts():
    labels = np.r_[np.ones(7, int), np.zeros(93, int)]
    rows = stratified_bootstrap_rows(labels, n_bootstrap=50, seed=0)
    assert rows.shape == (50, 100)
    assert np.all(labels[rows].sum(axis=1) == 7)


def test_precision_at_recall_by_hand():
    labels = np.array([1, 0, 1, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    # recall 0.5 of 3 mergers needs 2: reached at the third-ranked image -> 2 / 3
    assert precision_at_recall(labels, p, recall=0.5) == pytest.approx(2 / 3)
    assert precision_at_recall(labels, p, recall=1.0) == pytest.approx(3 / 6)


def test_bad_labels_are_refused():
    with pytest.raises(LabelError, match="both"):
        delong_test([1, 1], [0.2, 0.3], [0.1, 0.2])
    with pytest.raises(LabelError, match="3 predictions for 2 labels"):
        paired_bootstrap([0, 1], [0.1, 0.2, 0.3], [0.1, 0.2])


def test_vectorised_bootstrap_auc_equals_scikit_learn():
    from sklearn.metrics import roc_auc_score

    from galmerge.evaluation.compare import roc_auc_of_rows

    rng = np.random.default_rng(4)
    labels = (rng.random(200) < 0.2).astype(int)
    p = np.round(rng.random(200) + 0.3 * labels, 1)  # many ties
    rows = stratified_bootstrap_rows(labels, n_bootstrap=20, seed=5)
    expected = [roc_auc_score(labels[r], p[r]) for r in rows]
    np.testing.assert_allclose(roc_auc_of_rows(labels, p, rows), expected, rtol=1e-12)
