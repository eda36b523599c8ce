"""Score predictions on a labelled set and draw the figures a person reads them with."""

from __future__ import annotations

from pathlib import Path

from galmerge.evaluation import figures
from galmerge.evaluation.metrics import score_predictions
from galmerge.runs.records import Evaluation

__all__ = ["write_evaluation"]


def write_evaluation(
    out_dir,
    *,
    labels,
    p_merger,
    thresholds: dict,
    images=None,
    image_rows=None,
    bands=None,
    name: str = "test",
    n_bootstrap: int = 1000,
    seed: int = 0,
    history_csv=None,
) -> Evaluation:
    """Score predictions and draw the evaluation figures into ``out_dir``; returns the :class:`~galmerge.runs.Evaluation`.

    Figures: ``roc.png``, ``pr.png``, ``confusion_<threshold>.png`` per named threshold,
    ``montage.png`` (when images are given; the i-th prediction is of ``images[image_rows[i]]``)
    and ``learning_curves.png`` (when a history is given).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = score_predictions(labels, p_merger, thresholds=thresholds, n_bootstrap=n_bootstrap, seed=seed)
    drawn = {
        "roc": figures.plot_roc({name: (labels, p_merger)}, out_dir / "roc.png", title=f"ROC curve ({name})"),
        "pr": figures.plot_precision_recall({name: (labels, p_merger)}, out_dir / "pr.png", title=f"Precision-recall ({name})"),
    }
    for threshold_name, entry in report.thresholds.items():
        drawn[f"confusion_{threshold_name}"] = figures.plot_confusion(
            entry.confusion,
            out_dir / f"confusion_{threshold_name}.png",
            title=f"{name}, p >= {entry.threshold:.3f} ({threshold_name.replace('_', ' ')})",
        )
    if images is not None:
        drawn["montage"] = figures.plot_montage(
            images,
            labels,
            p_merger,
            out_dir / "montage.png",
            rows=image_rows,
            bands=bands,
            title=f"Most confident calls and worst mistakes ({name})",
        )
    if history_csv is not None and Path(history_csv).exists():
        drawn["learning_curves"] = figures.plot_learning_curves(history_csv, out_dir / "learning_curves.png")
    report.figures = {key: str(path) for key, path in drawn.items()}
    return report
