"""Fitting a merger classifier: from data to a trained model in a run directory (:func:`train`).

:func:`train` fits the model, chooses its checkpoint and decision thresholds on the validation
split and saves it; scoring the test splits is an evaluation step that the pipeline runs after it
(:func:`galmerge.pipeline.train_and_evaluate`, what ``galmerge train`` calls).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import os
import platform
import shutil
import sys
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from galmerge.data.imageset import ImageSet
from galmerge.data.splits import Split, stratified_split
from galmerge.data.transforms import Preprocessor
from galmerge.errors import ConfigError, DataError, GalmergeError
from galmerge.models.trained import Prediction, TrainedModel
from galmerge.runs import Run, RunRecord
from galmerge.training.config import TrainConfig

__all__ = ["train", "TrainingResult", "TargetDomain"]

# Images per forward pass when scoring the validation split: bigger batches are no faster
# on a CPU and cost ~0.2 GB of activations per 512 images.
EVAL_BATCH = 256


@dataclass
class TargetDomain:
    """The target set's images and split; its labels kept apart for the final scores only."""

    images: ImageSet
    spec: str | None
    split: Split
    hashes: np.ndarray
    held_out_labels: np.ndarray | None


@dataclass
class TrainingResult:
    """What :func:`train` made.

    Attributes
    ----------
    run : Run
        The run directory.
    trained : TrainedModel or None
        The chosen model (``None`` in the worker processes of multi-device training).
    config : TrainConfig
    source : ImageSet
        The labelled training set as loaded; ``labels`` its 0/1 labels.
    split : Split
        Train, validation and test rows of ``source``.
    thresholds : dict of str to float
        ``default`` (0.5) and ``target_recall`` (chosen on the validation split).
    validation : Prediction or None
        The chosen model's predictions of the validation split.
    target : TargetDomain or None
    record : RunRecord or None
        ``metrics.json``: how the checkpoint was chosen; the evaluation step adds the scores.
    """

    run: Run
    trained: TrainedModel | None
    config: TrainConfig
    source: ImageSet | None = None
    labels: np.ndarray | None = None
    split: Split | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    validation: Prediction | None = None
    target: TargetDomain | None = None
    record: RunRecord | None = None

    @property
    def run_dir(self) -> Path:
        return self.run.path


def _fingerprint(hashes: np.ndarray, labels: np.ndarray) -> str:
    return hashlib.sha256(hashes.tobytes() + labels.tobytes()).hexdigest()


def _groups(imageset: ImageSet):
    return np.asarray(imageset.meta["group"]) if "group" in imageset.meta.colnames else None


def _load_target(target, config: TrainConfig, source: ImageSet, *, progress: bool) -> TargetDomain:
    images, spec = _load_source(target, config, progress=progress)
    if images.n_bands != source.n_bands:
        from galmerge.errors import ModelMismatchError

        raise ModelMismatchError(f"{images.source}: {images.n_bands} bands, but the source has {source.n_bands}")
    held_out = images.labels
    images = ImageSet(images.images, bands=images.bands, meta=images.meta, pixel_scale_arcsec=images.pixel_scale_arcsec, masks=images.masks, source=images.source)
    split = stratified_split(None, n_images=len(images), fractions=config.data.split, seed=config.seed, groups=_groups(images))
    return TargetDomain(images=images, spec=spec, split=split, hashes=images.image_hashes(), held_out_labels=held_out)


def _load_source(source, config: TrainConfig, *, progress: bool) -> tuple[ImageSet, str | None]:
    """The training set and its data argument (for the record)."""
    if isinstance(source, ImageSet):
        return source, None
    from galmerge.data.sources import load_imageset

    return load_imageset(source, size=config.loading_size, seed=config.seed, progress=progress), _absolute_spec(str(source))


def _absolute_spec(spec: str) -> str:
    """The data argument with its existing paths made absolute, so the run finds its data from any working folder."""
    return ",".join(str(Path(part).resolve()) if part and Path(part).exists() else part for part in spec.split(","))


def _launched_rank() -> int:
    """This process's global rank when a launcher started it as a DDP worker (0 otherwise)."""
    for name in ("RANK", "LOCAL_RANK"):
        if name in os.environ:
            return int(os.environ[name])
    return 0


def _import_in_background(module: str) -> threading.Thread | None:
    """Start importing a slow module (lightning: ~2 s) on a thread, overlapping the data checks.

    The main thread imports nothing heavy meanwhile, and a later ``import`` of the module
    simply waits for this one to finish.
    """
    if module in sys.modules:
        return None
    thread = threading.Thread(target=importlib.import_module, args=(module,), daemon=True)
    thread.start()
    return thread


def train(
    source=None,
    *,
    target=None,
    config: TrainConfig | None = None,
    out=None,
    overwrite: bool = False,
    init_from=None,
    resume=None,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
    callbacks=(),
) -> TrainingResult:
    """Train a classifier on a labelled set; choose its checkpoint and thresholds on the validation split.

    Parameters
    ----------
    source : ImageSet or str
        Labelled training data, or a data argument for :func:`galmerge.data.load_imageset`.
        Split 70/10/20 (``config.data.split``) into train/validation/test, stratified, by ``config.seed``.
    target : ImageSet or str, optional
        Images of the domain to adapt to (``config.adaptation``). Their labels, if any, are set
        aside at once and used only to score the target test split afterwards. The target is split
        like the source (without labels): its training part feeds the domain-adaptation losses,
        its validation part the label-free selection criteria, its test part the final scores.
    config : TrainConfig, optional
    out : path, optional
        New run directory (default ``runs/<time>-<model>``).
    overwrite : bool
        Replace ``out`` if it is an earlier run.
    init_from : path, optional
        Start from another model's weights (see :func:`galmerge.training.trainer.initialise_weights`).
    resume : path, optional
        An interrupted run directory: continue from its last checkpoint with its configuration,
        data and split.
    overrides : dict, optional
        With ``resume``: options to change by flat name; only :data:`~galmerge.training.config.RESUMABLE_OPTIONS`
        may differ from the saved ones (:meth:`TrainConfig.resumed_with`).
    progress : bool
        Show progress (a bar on a terminal, a line per epoch elsewhere).
    callbacks : sequence of lightning.pytorch.Callback
        Extra callbacks for the Lightning Trainer (e.g. for timing or custom logging).

    With several devices (``config.hardware.devices``), Lightning's DDP re-runs this call in each
    worker process: give ``out`` explicitly; rank 0 writes the run, and the workers' calls return
    a result without a model.

    Returns
    -------
    TrainingResult

    Notes
    -----
    When the metadata has a ``group`` column (mocks: the encounter a stamp was rendered from),
    whole groups go to one split. Normalisation statistics are fitted on the training split only
    and saved with the model. The checkpoint is chosen on the validation split
    (``config.selection.monitor``, which early stopping follows too); the second decision
    threshold (``config.selection.target_recall``) is also chosen there. The content hashes of
    the training and validation images are saved, so later stages can refuse to score them
    (:func:`galmerge.runs.images_not_used`).
    """
    importing = _import_in_background("lightning.pytorch")
    if resume is not None:
        if config is not None:
            raise ConfigError("a resumed run keeps its own configuration: give the options to change as overrides, not a config")
        run, config, source, target = _resume_settings(resume, source, target, overrides or {})
    elif overrides:
        config = (config or TrainConfig()).replace(**overrides)
    config = config or TrainConfig()
    if source is None:
        raise DataError("no training data given")
    config = config.for_data(has_target=target is not None)
    imageset, data_spec = _load_source(source, config, progress=progress)
    labels = imageset.require_both_classes(purpose="training")
    domain = _load_target(target, config, imageset, progress=progress) if target is not None else None
    hashes = imageset.image_hashes()
    fingerprint = _fingerprint(hashes, labels)
    rank = _launched_rank()
    if resume is None and rank > 0:  # a DDP worker re-running this call: rank 0 made the run
        if out is None:
            raise DataError("training on several devices needs an explicit output directory (--out)")
        run = Run.open(out)
        split = run.load_split()
    elif resume is None:
        split = stratified_split(labels, fractions=config.data.split, seed=config.seed, groups=_groups(imageset))
        run = Run.create(out, name=config.model.architecture, overwrite=overwrite)
        header = {"data": data_spec or imageset.source, "n_images": len(imageset), "bands": list(imageset.bands), "fingerprint": fingerprint, **_versions()}
        extra = {}
        if domain is not None:
            header["target"] = domain.spec or domain.images.source
            extra = {f"target_{name}": domain.split.indices(name) for name in ("train", "val", "test")}
            extra.update({"target_train_hashes": domain.hashes[domain.split.train], "target_val_hashes": domain.hashes[domain.split.val]})
        config.write_toml(run.config, header=header)
        run.save_split(split, train_hashes=hashes[split.train], val_hashes=hashes[split.val], test_hashes=hashes[split.test], fingerprint=fingerprint, **extra)
    else:
        split = _check_resumed_split(run, fingerprint)

    try:
        preprocessor = Preprocessor(input_size=config.input_size, crop_fraction=config.data.crop_fraction, stretch=config.data.stretch, asinh_scale=config.data.asinh_scale)
        preprocessor.fit(imageset.images, rows=split.train)
        run.preprocessing.write_text(json.dumps(preprocessor.to_dict(), indent=2))
        if importing is not None:
            importing.join()
        module = _build_module(config, imageset, labels, split, with_target=_forwards_target(config, domain))
        if init_from is not None:
            from galmerge.training.trainer import initialise_weights

            initialise_weights(module.model, init_from, architecture=config.model.architecture)
    except GalmergeError:
        if resume is None:  # bad input found before training: leave no half-made run behind
            shutil.rmtree(run.path, ignore_errors=True)
        raise

    import torch

    if config.hardware.channels_last:
        module = module.to(memory_format=torch.channels_last)
    train_batches, val_batches = _batches(config, imageset.images, labels, split, preprocessor, domain)

    from galmerge.training.trainer import make_trainer

    with _quiet_lightning(), warnings.catch_warnings():
        refresh = _target_refresh(config, domain, preprocessor, labels[split.train])
        trainer, checkpoint = make_trainer(config, run, progress=progress, extra_callbacks=[*refresh, *callbacks])
        # lightning 2.6 calls a torch pytree API that newer torch deprecates; not the user's concern.
        warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=FutureWarning)
        if resume is not None:  # the checkpoints of the run being resumed are expected there
            warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
        trainer.fit(module, train_dataloaders=train_batches, val_dataloaders=val_batches, ckpt_path=run.last_checkpoint if resume is not None else None, weights_only=True)

    result = TrainingResult(run=run, trained=None, config=config, source=imageset, labels=labels, split=split, target=domain)
    if trainer.global_rank != 0:  # rank 0 saves the run
        return result
    best_path = checkpoint.best_model_path or str(run.last_checkpoint)
    module.load_state_dict(torch.load(best_path, map_location="cpu", weights_only=True)["state_dict"])
    return _finish(result, imageset, labels, split, module.model.cpu(), preprocessor, best_path, checkpoint)


@contextlib.contextmanager
def _quiet_lightning():
    """Hide Lightning's informational log lines (hardware summary, product tips) during a run."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _versions() -> dict:
    from importlib.metadata import version

    from galmerge import __version__

    return {"galmerge_version": __version__, "torch_version": version("torch"), "lightning_version": version("lightning"), "python_version": platform.python_version()}


def _resume_settings(resume, source, target, overrides: dict):
    """The run, its configuration with the allowed overrides, and its data (unless given anew)."""
    run = Run.open(resume)
    values, recorded = run.read_config()
    config = TrainConfig.from_dict(values, source=str(run.config)).resumed_with(overrides)
    if not run.last_checkpoint.exists():
        raise DataError(f"{run.path}: no checkpoints/last.ckpt to resume from")
    config.write_toml(run.config, header=recorded)  # the record says what the run continues with
    source = source if source is not None else recorded["data"]
    target = target if target is not None else recorded.get("target")
    return run, config, source, target


def _check_resumed_split(run: Run, fingerprint: str) -> Split:
    if str(run.split_arrays()["fingerprint"]) != fingerprint:
        raise DataError(f"{run.path}: the data differ from the images this run was trained on; cannot resume")
    return run.load_split()


def _train_prior(config: TrainConfig, train_labels) -> float:
    """The merger fraction the network's posteriors carry: 0.5 with balanced class weights."""
    return 0.5 if config.optimisation.class_weighting == "balanced" else float(np.mean(train_labels))


def _target_refresh(config: TrainConfig, domain, preprocessor, train_labels) -> list:
    """The per-epoch view of the target for self-training and class-weighted alignment (when a term wants it)."""
    from galmerge.training.callbacks import TargetRefresh

    if domain is None or not _forwards_target(config, domain):
        return []
    return [
        TargetRefresh(domain.images.images, domain.split.train, transform=preprocessor.transform_tensor, survey_prior=config.adaptation.survey_prior, train_prior=_train_prior(config, train_labels))
    ]


def _forwards_target(config: TrainConfig, domain) -> bool:
    """Whether target batches join the training steps.

    With domain-specific BatchNorm they always do (they only set the target domain's statistics
    unless a loss uses them), so a run without an adaptation loss is AdaBN and compares with
    the adapted ones on equal terms. With mixed BatchNorm only when a loss uses them: fed to
    plain training, they would shift BatchNorm's statistics and "no DA" would not be.
    """
    if domain is None:
        return False
    return config.model.batchnorm != "mixed" or config.adaptation.uses_target


def _build_module(config: TrainConfig, imageset, labels, split, *, with_target: bool):
    import lightning.pytorch as pl

    from galmerge.adapt.registry import build_loss_terms
    from galmerge.models.registry import build_model
    from galmerge.training.losses import balanced_class_weights
    from galmerge.training.module import MergerClassifier

    optimisation = config.optimisation
    class_weights = balanced_class_weights(labels[split.train]).tolist() if optimisation.class_weighting == "balanced" else None
    feature_dim = int(build_model(config.model.architecture, in_bands=imageset.n_bands, input_size=config.input_size).feature_dim)
    pl.seed_everything(config.seed + 1, verbose=False)  # the loss terms' own initialisation
    terms = build_loss_terms(config.adaptation, feature_dim=feature_dim)
    pl.seed_everything(config.seed, verbose=False)  # the network starts the same with or without them
    return MergerClassifier(
        loss_terms=terms,
        architecture=config.model.architecture,
        in_bands=imageset.n_bands,
        input_size=config.input_size,
        lr=optimisation.lr,
        weight_decay=optimisation.weight_decay,
        adam_betas=optimisation.adam_betas,
        lr_schedule=optimisation.lr_schedule,
        cycle_epochs=optimisation.cycle_epochs,
        head_lr_multiplier=optimisation.head_lr_multiplier,
        class_weights=class_weights,
        batchnorm_domains=("source", "target") if with_target and config.model.batchnorm != "mixed" else None,
        separate_affine=config.model.batchnorm == "domain-affine",
        survey_prior=config.adaptation.survey_prior,
        train_prior=_train_prior(config, labels[split.train]),
    )


def _batches(config: TrainConfig, images, labels, split, preprocessor, domain):
    """Training batches (with a target stream for domain adaptation) and validation loaders.

    Validation: the source validation split, and for a target domain its validation split,
    unlabelled (the "source" stream of that loader holds target images and no labels).
    """
    from galmerge.training.batches import InMemoryBatches

    common = {"seed": config.seed, "channels_last": config.hardware.channels_last, "transform": preprocessor.transform_tensor}
    target = {"target_images": domain.images.images, "target_rows": domain.split.train} if _forwards_target(config, domain) else {}
    batch_size = config.optimisation.batch_size
    train_batches = InMemoryBatches(images, labels, rows=split.train, batch_size=batch_size, shuffle=True, augment=config.data.augment, **common, **target)
    val_batches = InMemoryBatches(images, labels, rows=split.val, batch_size=EVAL_BATCH, shuffle=False, augment=False, **common)
    if domain is None:
        return train_batches, val_batches
    target_val = InMemoryBatches(domain.images.images, None, rows=domain.split.val, batch_size=EVAL_BATCH, shuffle=False, augment=False, **common)
    return train_batches, [val_batches, target_val]


def _estimate_survey_prior(trained: TrainedModel, target: TargetDomain) -> None:
    """The target survey's merger fraction, by EM on the unlabelled target training and validation images."""
    from galmerge.adapt.prior import estimate_prior_em

    rows = np.concatenate([target.split.train, target.split.val])
    prediction = trained.predict(target.images, rows=rows, batch_size=EVAL_BATCH)
    estimate = estimate_prior_em(prediction.p_merger, train_prior=trained.spec.train_prior)
    trained.spec.survey_prior, trained.spec.survey_prior_method = estimate.prior, estimate.method


def _finish(result: TrainingResult, imageset: ImageSet, labels: np.ndarray, split: Split, model, preprocessor, best_path, checkpoint) -> TrainingResult:
    """Thresholds from the validation split, the model file, and the training part of ``metrics.json``."""
    from galmerge.models.domain_bn import model_domains, set_domain, using_domain
    from galmerge.models.inference import TorchBackend
    from galmerge.models.thresholds import threshold_for_recall
    from galmerge.models.trained import ModelSpec

    config, run = result.config, result.run
    domains = list(model_domains(model))
    train_prior = _train_prior(config, labels[split.train])
    spec = ModelSpec(
        architecture=config.model.architecture,
        in_bands=imageset.n_bands,
        input_size=preprocessor.input_size,
        bands=list(imageset.bands),
        preprocessing=preprocessor.to_dict(),
        target_recall=config.selection.target_recall,
        pixel_scale_arcsec=imageset.pixel_scale_arcsec,
        batchnorm_domains=domains,
        separate_affine=config.model.batchnorm == "domain-affine",
        train_prior=train_prior,
    )
    trained = TrainedModel(model, spec)
    with using_domain(model, "source"):  # thresholds are chosen on source validation images
        validation = trained.predict(imageset, rows=split.val, runner=TorchBackend(model), batch_size=EVAL_BATCH)
    if domains:
        spec.prediction_domain = "target"
        set_domain(model, "target")
    if config.adaptation.survey_prior is not None:
        spec.survey_prior, spec.survey_prior_method = config.adaptation.survey_prior, "given"
    elif result.target is not None:
        _estimate_survey_prior(trained, result.target)
    thresholds = {"default": 0.5, "target_recall": threshold_for_recall(labels[split.val], validation.p_merger, target_recall=config.selection.target_recall)}
    spec.thresholds = thresholds
    trained.save(run.model)
    n_images = {"train": len(split.train), "val": len(split.val), "test": len(split.test)}
    if result.target is not None:
        n_images.update({f"target_{name}": len(result.target.split.indices(name)) for name in ("train", "val", "test")})
    record = RunRecord(
        adaptation={"method": config.adaptation.method, "extras": list(config.adaptation.extras)},
        best_checkpoint={"monitor": config.selection.monitor, "value": _float(checkpoint.best_model_score), "path": str(best_path)},
        n_images=n_images,
        thresholds=thresholds,
        epoch_time_s_median=_median_epoch_time(run.history),
    )
    record.write(run.metrics)
    result.trained, result.thresholds, result.validation, result.record = trained, thresholds, validation, record
    return result


def _float(value):
    return None if value is None else float(value)


def _median_epoch_time(history_csv: Path):
    import csv

    if not history_csv.exists():
        return None
    with open(history_csv, newline="") as handle:
        times = [float(r["epoch_time_s"]) for r in csv.DictReader(handle) if r.get("epoch_time_s")]
    return float(np.median(times)) if times else None
