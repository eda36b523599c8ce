"""``galmerge finetune``: how much a few labelled target images help, as a curve of target scores against K."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from galmerge.data.sources import as_imageset
from galmerge.errors import ConfigError
from galmerge.evaluation.metrics import score_predictions
from galmerge.models.trained import TrainedModel
from galmerge.plotting import new_figure, save_figure
from galmerge.runs import FinetuneCurve, FinetunePoint, Run, images_not_used
from galmerge.training.config import FinetuneOptions
from galmerge.training.finetune import draw_label_pool, finetune, run_adaptation_data

__all__ = ["finetune_curve", "plot_finetune_curve"]


def finetune_curve(
    run,
    labelled,
    *,
    n_labels=(0, 25, 50, 100, 200),
    out=None,
    overwrite: bool = False,
    options: FinetuneOptions | None = None,
    n_bootstrap: int = 500,
    progress: bool = True,
) -> FinetuneCurve:
    """Target ROC-AUC and PR-AUC against the number of labelled target images used for fine-tuning.

    For each K it fine-tunes a copy of the run's model on the first K images of one fixed,
    class-balanced pool drawn from the labelled target set (:func:`~galmerge.training.finetune.draw_label_pool`),
    and scores every copy on the same held-out rest of that set.

    Parameters
    ----------
    run : path
        A run directory (or model file) trained on the source domain.
    labelled : ImageSet or str
        Labelled images of the target domain; images the run trained on are dropped first.
    n_labels : sequence of int
        The K values (0: the model as it is).
    out : path, optional
        Folder for ``finetune.json``, ``finetune_curve.png`` and ``model_K<k>.safetensors``
        (default ``<run>/finetune``, a new folder each time).
    overwrite : bool
        Replace ``out`` when it is an earlier galmerge fine-tuning folder.

    Returns
    -------
    FinetuneCurve
        Per K: ROC-AUC, PR-AUC and recall at 5 % false positives with bootstrap intervals, on
        the evaluation set (the labelled set minus the pool of the largest K).
    """
    options = options or FinetuneOptions()
    trained = TrainedModel.load(run)
    n_labels = sorted({int(k) for k in n_labels})
    if n_labels[0] < 0:
        raise ConfigError("numbers of labels must be >= 0")
    imageset = as_imageset(labelled, size=trained.spec.loading_size, progress=progress)
    imageset.require_both_classes(purpose="fine-tuning")
    kept, _ = images_not_used(run, imageset, purpose="fine-tuning")
    imageset = imageset[kept]
    labels = imageset.require_labels(purpose="fine-tuning")
    adaptation = run_adaptation_data(run, trained.spec.loading_size, progress=progress) if options.with_adaptation else None
    pool = draw_label_pool(labels, max(n_labels), seed=options.seed)
    evaluation = np.setdiff1d(np.arange(len(imageset)), pool)
    eval_labels = labels[evaluation]
    base = Path(run) if Path(run).is_dir() else Path(run).parent
    folder = Run(base).new_finetune_folder(out=out, overwrite=overwrite)
    curve = FinetuneCurve(n_evaluation=int(len(evaluation)), n_evaluation_mergers=int(eval_labels.sum()), mode=options.mode, with_adaptation=options.with_adaptation)
    for k in n_labels:
        model = trained if k == 0 else finetune(trained, imageset.images[pool[:k]], labels[pool[:k]], options=options, adaptation=adaptation)
        if k:
            model.save(folder / f"model_K{k}.safetensors")
        p_merger = model.predict(imageset, rows=evaluation).p_merger
        scores = score_predictions(eval_labels, p_merger, thresholds=model.spec.thresholds, n_bootstrap=n_bootstrap, seed=options.seed, false_positive_rates=(0.05,))
        curve.points[k] = FinetunePoint(k, int(labels[pool[:k]].sum()), scores.roc_auc, scores.pr_auc, scores.recall_at_fpr.get("0.05"))
        if progress:
            print(f"K = {k:4d}: target ROC-AUC {scores.roc_auc.value:.3f}, PR-AUC {scores.pr_auc.value:.3f}")
    curve.write(folder / FinetuneCurve.FILENAME)
    plot_finetune_curve(curve, folder / FinetuneCurve.FIGURE)
    curve.path = folder
    return curve


def plot_finetune_curve(curve: FinetuneCurve, path) -> Path:
    """ROC-AUC and PR-AUC with 95 % intervals against K."""
    ks = sorted(curve.points)
    figure = new_figure(5, 3.8)
    axes = figure.add_subplot()
    for metric, label in (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC")):
        scores = [getattr(curve.points[k], metric) for k in ks]
        values = np.array([s.value for s in scores])
        lows = np.array([(s.ci95 or (s.value, s.value))[0] for s in scores])
        highs = np.array([(s.ci95 or (s.value, s.value))[1] for s in scores])
        axes.errorbar(ks, values, yerr=[values - lows, highs - values], marker="o", capsize=3, label=label)
    axes.set(xlabel="labelled target images used for fine-tuning (K)", ylabel="score on held-out target images", ylim=(0, 1.02), title=f"Few-label transfer ({curve.mode}{', with adaptation' if curve.with_adaptation else ''})")
    axes.legend()
    return save_figure(figure, path)
