"""``galmerge evaluate``: score a trained run on labelled data it never trained or selected on."""

from __future__ import annotations

from pathlib import Path

from galmerge.catalog.backends import make_backend
from galmerge.catalog.predict import predict
from galmerge.data.sources import as_imageset
from galmerge.errors import LabelError
from galmerge.evaluation.compare import paired_bootstrap
from galmerge.evaluation.evaluate import write_evaluation
from galmerge.evaluation.metrics import score_predictions
from galmerge.models.statistics_classifier import combined_probability, load_statistics_model
from galmerge.models.trained import TrainedModel
from galmerge.pipeline.adapt import adapted_model
from galmerge.pipeline.training import write_predictions
from galmerge.runs import Evaluation, PairedComparison, Run, images_not_used

__all__ = ["evaluate_run"]


def evaluate_run(
    run,
    data,
    *,
    out=None,
    overwrite: bool = False,
    backend: str = "auto",
    device: str = "auto",
    n_bootstrap: int = 1000,
    seed: int = 0,
    adapt_bn=None,
    progress: bool = True,
) -> Evaluation:
    """Score a trained run on a labelled set, excluding every image the run trained or validated on.

    Parameters
    ----------
    run : path or Run
        A run directory made by ``galmerge train``.
    data : ImageSet or str
        Labelled data, as an ImageSet or any data argument :func:`galmerge.data.load_imageset` takes.
    out : path, optional
        The evaluation folder: ``metrics.json``, ``predictions.ecsv`` and the figures. Default:
        ``<run>/evaluations/<data name>`` (a new folder each time).
    overwrite : bool
        Replace ``out`` when it is an earlier galmerge evaluation.
    backend, device : str
        What runs the network, and where (:func:`galmerge.catalog.make_backend`): by default a
        CUDA GPU when PyTorch sees one, else ONNX Runtime on the CPU when installed.
    adapt_bn : ImageSet or str, optional
        Unlabelled images of the evaluated survey: recompute the BatchNorm statistics on them
        first (AdaBN, not saved; ``galmerge adapt-bn`` keeps them with the run). Their labels,
        if any, are not read.

    Returns
    -------
    Evaluation
        The scores with bootstrap intervals, ``n_excluded`` (images dropped because the run used
        them), provenance, and ``path`` (its ``metrics.json``). When the run has a statistics
        classifier (``statistics_model.json``), it is scored on the same images too
        (``statistics``, ``statistics_predictions.ecsv``), and the two pooled (``combined``,
        ``combined_predictions.ecsv``), with the paired ROC-AUC differences.
    """
    run = Run.open(run)
    trained = adapted_model(run.path, adapt_bn, progress=progress) if adapt_bn is not None else TrainedModel.load(run.path)
    imageset = as_imageset(data, size=trained.spec.loading_size, progress=progress)
    all_labels = imageset.require_both_classes(purpose="evaluation")
    trained.check_bands(imageset.n_bands, source=imageset.source)
    kept, n_excluded = images_not_used(run.path, imageset, purpose="evaluation")
    labels = all_labels[kept]
    if labels.min() == labels.max():
        raise LabelError(f"{imageset.source}: evaluation needs both classes, but the {len(kept)} images the run did not use are all of one class")
    size = trained.spec.input_size
    # made before the folder: a GPU asked for where there is none fails with nothing written
    runner = make_backend(trained.model, backend=backend, device=device, input_shape=(trained.spec.in_bands, size, size))
    folder = run.new_evaluation_folder(data, out=out, overwrite=overwrite)
    p_merger = predict(trained, imageset, rows=kept, runner=runner).p_merger
    evaluation = write_evaluation(
        folder,
        labels=labels,
        p_merger=p_merger,
        thresholds=trained.spec.thresholds,
        images=imageset.images,
        image_rows=kept,
        bands=trained.bands,
        name=Path(str(imageset.source)).name,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    evaluation.run, evaluation.data, evaluation.n_excluded = str(run.path), str(imageset.source), n_excluded
    if run.statistics_model.exists():
        p_statistics = load_statistics_model(run.statistics_model)[0].predict_proba(imageset.images[kept])
        p_combined = combined_probability(p_merger, p_statistics)
        evaluation.statistics = score_predictions(labels, p_statistics, n_bootstrap=n_bootstrap, seed=seed)
        evaluation.combined = score_predictions(labels, p_combined, n_bootstrap=n_bootstrap, seed=seed)
        for (name_a, p_a), (name_b, p_b) in (
            (("network", p_merger), ("statistics", p_statistics)),
            (("combined", p_combined), ("network", p_merger)),
            (("combined", p_combined), ("statistics", p_statistics)),
        ):
            paired = paired_bootstrap(labels, p_a, p_b, metric="roc_auc", n_bootstrap=max(n_bootstrap, 200), seed=seed)
            evaluation.comparisons.append(PairedComparison(name_a, name_b, paired.difference, paired.ci95, paired.p_value))
        write_predictions(folder / Evaluation.STATISTICS_PREDICTIONS, imageset.meta["id"][kept], labels, p_statistics)
        write_predictions(folder / Evaluation.COMBINED_PREDICTIONS, imageset.meta["id"][kept], labels, p_combined)
    evaluation.write(folder / Evaluation.FILENAME)
    write_predictions(folder / Evaluation.PREDICTIONS, imageset.meta["id"][kept], labels, p_merger)
    return evaluation
