"""Evaluate a trained run on labelled data it never trained or selected on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from galmerge.data.imageset import ImageSet
from galmerge.errors import DataError, LabelError, OutputExistsError
from galmerge.evaluation import figures
from galmerge.evaluation.metrics import score_predictions

__all__ = ["evaluate_run", "write_evaluation", "used_image_hashes"]


def used_image_hashes(run_dir) -> np.ndarray:
    """Content hashes of the images a run trained on or selected its checkpoint with (target images included)."""
    from galmerge.training.rundir import RunFiles

    with np.load(Path(run_dir) / RunFiles.split, allow_pickle=False) as data:
        names = [n for n in ("train_hashes", "val_hashes", "target_train_hashes", "target_val_hashes") if n in data.files]
        return np.concatenate([data[n] for n in names])


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
) -> dict:
    """Score predictions and draw the evaluation figures into ``out_dir``; returns the report.

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
    for threshold_name, entry in report["thresholds"].items():
        drawn[f"confusion_{threshold_name}"] = figures.plot_confusion(
            entry["confusion"], out_dir / f"confusion_{threshold_name}.png",
            title=f"{name}, p >= {entry['threshold']:.3f} ({threshold_name.replace('_', ' ')})",
        )
    if images is not None:
        drawn["montage"] = figures.plot_montage(
            images, labels, p_merger, out_dir / "montage.png", rows=image_rows, bands=bands,
            title=f"Most confident calls and worst mistakes ({name})",
        )
    if history_csv is not None and Path(history_csv).exists():
        drawn["learning_curves"] = figures.plot_learning_curves(history_csv, out_dir / "learning_curves.png")
    report["figures"] = {key: str(path) for key, path in drawn.items()}
    return report


def evaluate_run(
    run_dir,
    data,
    *,
    out=None,
    overwrite: bool = False,
    backend: str = "auto",
    n_bootstrap: int = 1000,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Score a trained run on a labelled set, excluding every image the run trained or validated on.

    Parameters
    ----------
    run_dir : path
        A run directory made by :func:`galmerge.training.train`.
    data : ImageSet or str
        Labelled data, as an ImageSet or any data argument :func:`galmerge.data.load_imageset` takes.
    out : path, optional
        The JSON report to write; figures and ``predictions.ecsv`` go to ``<out stem>_figures/``
        beside it. Default: ``<run_dir>/evaluations/<data name>/metrics.json`` (a new folder each
        time, holding the figures and predictions too).
    overwrite : bool
        Replace an existing ``out``.

    Returns
    -------
    dict
        The report of :func:`galmerge.evaluation.metrics.score_predictions`, plus ``n_excluded``
        (images dropped because the run used them) and provenance.
    """
    from galmerge.catalog.predict import predict_proba
    from galmerge.data.sources import load_imageset
    from galmerge.models.trained import TrainedModel
    from galmerge.training.rundir import require_run_directory

    run_dir = require_run_directory(run_dir)
    trained = TrainedModel.load(run_dir)
    imageset = data if isinstance(data, ImageSet) else load_imageset(data, size=trained.spec.loading_size, progress=progress)
    imageset.require_both_classes(purpose="evaluation")
    trained.check_bands(imageset.n_bands, source=imageset.source)
    used = np.isin(imageset.image_hashes(), used_image_hashes(run_dir))
    kept = np.flatnonzero(~used)
    if len(kept) == 0:
        raise DataError(f"{imageset.source}: every image was used to train or validate {run_dir}; nothing left to evaluate")
    labels = imageset.labels[kept]
    if labels.min() == labels.max():
        raise LabelError(f"{imageset.source}: evaluation needs both classes, but the {len(kept)} images the run did not use are all of one class")
    out_json, figure_dir = _output_paths(run_dir, imageset, out, overwrite)
    p_merger, _ = predict_proba(trained, imageset.images, rows=kept, backend=backend, source=imageset.source)
    report = write_evaluation(
        figure_dir, labels=labels, p_merger=p_merger, thresholds=trained.spec.thresholds, images=imageset.images,
        image_rows=kept, bands=trained.bands, name=Path(str(imageset.source)).name, n_bootstrap=n_bootstrap, seed=seed,
    )
    report.update({"run": str(run_dir), "data": str(imageset.source), "n_excluded": int(used.sum())})
    out_json.write_text(json.dumps(report, indent=2))
    from astropy.table import Table

    predictions = Table({"id": imageset.meta["id"][kept], "is_merger": labels, "p_merger": p_merger.astype(np.float32)})
    predictions.write(figure_dir / "predictions.ecsv", format="ascii.ecsv", overwrite=True)
    report["path"] = str(out_json)
    return report


def _output_paths(run_dir: Path, imageset: ImageSet, out, overwrite: bool) -> tuple[Path, Path]:
    if out is not None:
        out = Path(out)
        if out.exists() and not overwrite:
            raise OutputExistsError(f"{out}: already exists; choose another --out or pass --overwrite")
        out.parent.mkdir(parents=True, exist_ok=True)
        return out, out.with_name(out.stem + "_figures")
    from galmerge.training.rundir import first_free_path

    stem = Path(str(imageset.source).split(",")[0]).stem or "data"
    folder = first_free_path(run_dir / "evaluations" / stem)
    folder.mkdir(parents=True)
    return folder / "metrics.json", folder
