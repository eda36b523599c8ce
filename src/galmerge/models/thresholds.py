"""Decision thresholds of a trained model: which p(merger) counts as a merger call."""

from __future__ import annotations

import math

import numpy as np

from galmerge.errors import ConfigError, LabelError

__all__ = ["threshold_for_recall"]


def threshold_for_recall(labels, p_merger, *, target_recall: float) -> float:
    """The highest threshold t such that predicting merger for p >= t reaches ``target_recall``.

    Missing mergers costs a merger search more than screening false positives, so besides 0.5
    galmerge keeps this threshold, chosen on validation data.

    Raises
    ------
    LabelError
        If there is no merger to measure recall on.
    ConfigError
        If ``target_recall`` is not in (0, 1].
    """
    labels = np.asarray(labels)
    positives = np.sort(np.asarray(p_merger, dtype=np.float64)[labels == 1])[::-1]
    if len(positives) == 0:
        raise LabelError("cannot choose a threshold for a target recall without any merger")
    if not 0 < target_recall <= 1:
        raise ConfigError(f"target recall must be in (0, 1], got {target_recall}")
    needed = math.ceil(target_recall * len(positives) - 1e-9)
    return float(positives[max(needed, 1) - 1])
