"""Metrics with intervals, evaluation figures and feature embeddings.

Evaluating a run directory on a data set is an orchestration of these with the run and the
model: :func:`galmerge.pipeline.evaluate_run`.
"""

from galmerge.evaluation.evaluate import write_evaluation
from galmerge.evaluation.metrics import (
    recall_at_false_positive_rate,
    score_predictions,
    threshold_for_recall,
    threshold_metrics,
)
from galmerge.runs.records import Evaluation, Score

__all__ = [
    "Evaluation",
    "Score",
    "recall_at_false_positive_rate",
    "score_predictions",
    "threshold_for_recall",
    "threshold_metrics",
    "write_evaluation",
]
