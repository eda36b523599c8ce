"""Classification metrics for merger searches, with bootstrap intervals.

Mergers are the positive class. Besides the usual threshold of 0.5, a merger search reports a
threshold chosen to reach a target recall (missing mergers costs more than screening false
positives); that threshold must be chosen on data other than the data it is scored on, which
galmerge does with the validation split.
"""

from __future__ import annotations

import numpy as np

from galmerge.errors import LabelError
from galmerge.models.thresholds import threshold_for_recall
from galmerge.runs.records import THRESHOLD_METRICS, Evaluation

__all__ = ["threshold_for_recall", "threshold_metrics", "score_predictions", "recall_at_false_positive_rate", "ranking_metrics"]

INTERVALS = {"ci68": (16.0, 84.0), "ci95": (2.5, 97.5)}


def threshold_metrics(labels, p_merger, *, threshold: float) -> dict:
    """Accuracy, precision, recall, F1, false-positive rate and confusion counts at one threshold.

    Precision (and F1) of a classifier that predicts no merger is reported as 0, as scikit-learn
    does with ``zero_division=0``.
    """
    labels = np.asarray(labels).astype(bool)
    predicted = np.asarray(p_merger) >= threshold
    counts = _confusion(labels[None], predicted[None])
    values: dict = {name: float(v[0]) for name, v in _rates(*counts).items()}
    tn, fp, fn, tp = (int(c[0]) for c in counts)
    values["confusion"] = [[tn, fp], [fn, tp]]
    values["threshold"] = float(threshold)
    return values


def _confusion(labels: np.ndarray, predicted: np.ndarray):
    tp = np.sum(labels & predicted, axis=-1)
    fp = np.sum(~labels & predicted, axis=-1)
    fn = np.sum(labels & ~predicted, axis=-1)
    tn = np.sum(~labels & ~predicted, axis=-1)
    return tn, fp, fn, tp


def _rates(tn, fp, fn, tp) -> dict:
    with np.errstate(invalid="ignore", divide="ignore"):
        total = tn + fp + fn + tp
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
        recall = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), np.nan)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        return {
            "accuracy": (tp + tn) / total,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "false_positive_rate": np.where(fp + tn > 0, fp / np.maximum(fp + tn, 1), np.nan),
        }


def recall_at_false_positive_rate(labels, p_merger, *, false_positive_rate: float) -> float:
    """Recall reached when the threshold lets through at most the given fraction of non-mergers."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(labels, p_merger)
    return float(np.max(tpr[fpr <= false_positive_rate + 1e-12]))


def _ranking(labels, p_merger) -> dict:
    return {name: float(values[0]) for name, values in ranking_metrics(labels, p_merger).items()}


def score_predictions(
    labels,
    p_merger,
    *,
    thresholds: dict[str, float] | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    false_positive_rates=(0.01, 0.05, 0.1),
) -> Evaluation:
    """Every metric of a merger classifier on one labelled set, with bootstrap intervals.

    Parameters
    ----------
    labels : array of 0/1
    p_merger : array of float in [0, 1]
        Predicted merger probabilities.
    thresholds : dict of str to float
        Named decision thresholds (default ``{"default": 0.5}``).
    n_bootstrap : int
        Resamples (with replacement, same size) for the 68 % and 95 % percentile intervals; 0 for none.
    seed : int
    false_positive_rates : sequence of float
        Where recall at a fixed false-positive rate is reported (useful for rare mergers).

    Returns
    -------
    Evaluation
        ``n``, ``n_mergers``; ``roc_auc``, ``pr_auc``, ``brier`` and, per named threshold,
        ``accuracy``, ``precision``, ``recall``, ``f1``, ``false_positive_rate`` as
        :class:`~galmerge.runs.Score` (value and 68 % and 95 % intervals); a ``confusion``
        matrix ``[[TN, FP], [FN, TP]]`` per threshold; ``recall_at_fpr``.
    """
    labels = np.asarray(labels).astype(np.int64)
    p_merger = np.asarray(p_merger, dtype=np.float64)
    if len(labels) == 0:
        raise LabelError("cannot score an empty set")
    thresholds = thresholds or {"default": 0.5}
    report: dict = {"n": int(len(labels)), "n_mergers": int(labels.sum())}
    for name, value in _ranking(labels, p_merger).items():
        report[name] = {"value": float(value)}
    report["thresholds"] = {}
    for name, threshold in thresholds.items():
        point = threshold_metrics(labels, p_merger, threshold=threshold)
        entry = {"threshold": point["threshold"], "confusion": point["confusion"]}
        entry.update({metric: {"value": point[metric]} for metric in THRESHOLD_METRICS})
        report["thresholds"][name] = entry
    if labels.min() != labels.max():
        report["recall_at_fpr"] = {str(rate): recall_at_false_positive_rate(labels, p_merger, false_positive_rate=rate) for rate in false_positive_rates}
    if n_bootstrap > 0:
        _add_bootstrap_intervals(report, labels, p_merger, thresholds, n_bootstrap=n_bootstrap, seed=seed)
    return Evaluation.from_dict(report)


def _add_bootstrap_intervals(report, labels, p_merger, thresholds, *, n_bootstrap, seed):
    rng = np.random.default_rng(seed)
    n = len(labels)
    rows = rng.integers(0, n, size=(n_bootstrap, n))
    boot_labels, boot_p = labels[rows], p_merger[rows]
    for name, values in ranking_metrics(boot_labels, boot_p).items():
        report[name].update(_intervals(values))
    truth = boot_labels.astype(bool)
    for name, threshold in thresholds.items():
        rates = _rates(*_confusion(truth, boot_p >= threshold))
        for metric in THRESHOLD_METRICS:
            report["thresholds"][name][metric].update(_intervals(rates[metric]))
    report["n_bootstrap"] = int(n_bootstrap)


def ranking_metrics(labels: np.ndarray, p_merger: np.ndarray) -> dict[str, np.ndarray]:
    """ROC-AUC, PR-AUC (average precision) and Brier score of every row of (B, n) arrays at once.

    The same definitions as scikit-learn's ``roc_auc_score`` (ties count one half),
    ``average_precision_score`` (precision at each distinct threshold, weighted by the recall it
    adds) and ``brier_score_loss``; NaN for a row with one class only. Written with numpy because
    a bootstrap calls these a thousand times per evaluation, and scikit-learn's per-call input
    checks cost ~15 ms each (tests/evaluation/test_metrics.py compares the two).
    """
    from scipy.stats import rankdata

    labels = np.atleast_2d(labels).astype(np.float64)
    p_merger = np.atleast_2d(p_merger).astype(np.float64)
    n = labels.shape[1]
    positives = labels.sum(axis=1)
    negatives = n - positives
    both = (positives > 0) & (negatives > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ranks = rankdata(p_merger, axis=1)  # average ranks of ties
        roc_auc = ((ranks * labels).sum(axis=1) - positives * (positives + 1) / 2) / (positives * negatives)
        order = np.argsort(-p_merger, axis=1, kind="stable")
        sorted_p = np.take_along_axis(p_merger, order, axis=1)
        sorted_labels = np.take_along_axis(labels, order, axis=1)
        true_positives = np.cumsum(sorted_labels, axis=1)
        precision = true_positives / np.arange(1, n + 1)
        # every image takes the precision at the end of its group of tied scores
        group_end = np.ones_like(sorted_p, dtype=bool)
        group_end[:, :-1] = sorted_p[:, :-1] != sorted_p[:, 1:]
        end_index = np.where(group_end, np.arange(n), n)
        end_index = np.minimum.accumulate(end_index[:, ::-1], axis=1)[:, ::-1]
        pr_auc = (sorted_labels * np.take_along_axis(precision, end_index, axis=1)).sum(axis=1) / positives
    brier = np.mean((p_merger - labels) ** 2, axis=1)
    return {"roc_auc": np.where(both, roc_auc, np.nan), "pr_auc": np.where(both, pr_auc, np.nan), "brier": brier}


def _intervals(values: np.ndarray) -> dict:
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return {key: [float("nan"), float("nan")] for key in INTERVALS}
    return {key: [float(v) for v in np.percentile(values, bounds)] for key, bounds in INTERVALS.items()}
