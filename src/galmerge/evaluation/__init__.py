"""Metrics, figures and run evaluation."""

from galmerge.evaluation.evaluate import evaluate_run, write_evaluation
from galmerge.evaluation.metrics import (
    recall_at_false_positive_rate,
    score_predictions,
    threshold_for_recall,
    threshold_metrics,
)

__all__ = [
    "evaluate_run",
    "recall_at_false_positive_rate",
    "score_predictions",
    "threshold_for_recall",
    "threshold_metrics",
    "write_evaluation",
]
