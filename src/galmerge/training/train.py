"""Supervised training of a merger classifier, from data to an evaluated run directory."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import math
import os
import platform
import shutil
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galmerge.data.imageset import ImageSet
from galmerge.data.splits import Split, stratified_split
from galmerge.data.transforms import Preprocessor
from galmerge.errors import DataError, GalmergeError
from galmerge.models.registry import default_input_size
from galmerge.training.config import TrainConfig
from galmerge.training.rundir import RunFiles, new_run_directory, read_run_config, require_run_directory

__all__ = ["train", "TrainingResult"]

# Images per forward pass when scoring validation and test splits: bigger batches are no faster
# on a CPU and cost ~0.2 GB of activations per 512 images.
_EVAL_BATCH = 256


@dataclass
class TrainingResult:
    """What :func:`train` made: the run directory, the trained model, and the final metrics."""

    run_dir: Path
    trained: object  # TrainedModel
    metrics: dict


def _fingerprint(hashes: np.ndarray, labels: np.ndarray) -> str:
    return hashlib.sha256(hashes.tobytes() + labels.tobytes()).hexdigest()


@dataclass
class _TargetDomain:
    """The target set's images and split; its labels kept apart for the final scores only."""

    images: ImageSet
    spec: str | None
    split: Split
    hashes: np.ndarray
    held_out_labels: np.ndarray | None


def _groups(imageset: ImageSet):
    return np.asarray(imageset.meta["group"]) if "group" in imageset.meta.colnames else None


def _load_target(target, config: TrainConfig, source: ImageSet, *, progress: bool) -> _TargetDomain:
    images, spec = _load_source(target, config, progress=progress)
    if images.n_bands != source.n_bands:
        from galmerge.errors import ModelMismatchError

        raise ModelMismatchError(f"{images.source}: {images.n_bands} bands, but the source has {source.n_bands}")
    held_out = images.labels
    images = ImageSet(images.images, bands=images.bands, meta=images.meta, pixel_scale_arcsec=images.pixel_scale_arcsec, masks=images.masks, source=images.source)
    split = stratified_split(None, n_images=len(images), fractions=config.split, seed=config.seed, groups=_groups(images))
    return _TargetDomain(images=images, spec=spec, split=split, hashes=images.image_hashes(), held_out_labels=held_out)


def _load_source(source, config: TrainConfig, *, progress: bool) -> tuple[ImageSet, str | None]:
    """The training set and its data argument (for the record)."""
    if isinstance(source, ImageSet):
        return source, None
    from galmerge.data.sources import load_imageset

    input_size = config.input_size or default_input_size(config.model)
    size = int(math.ceil(input_size / config.crop_fraction))
    return load_imageset(source, size=size, seed=config.seed, progress=progress), str(source)


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
    progress: bool = True,
    callbacks=(),
) -> TrainingResult:
    """Train a classifier on a labelled set and evaluate it on its held-out test split.

    Parameters
    ----------
    source : ImageSet or str
        Labelled training data, or a data argument for :func:`galmerge.data.load_imageset`.
        Split 70/10/20 (``config.split``) into train/validation/test, stratified, by ``config.seed``.
    target : ImageSet or str, optional
        Images of the domain to adapt to (``config.method``). Their labels, if any, are set aside
        at once and used only to score the target test split at the end. The target is split
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
        data and split (``config.epochs`` may raise the epoch limit).
    progress : bool
        Show progress bars.
    callbacks : sequence of lightning.pytorch.Callback
        Extra callbacks for the Lightning Trainer (e.g. for timing or custom logging).

    With several devices (``config.devices``), Lightning's DDP re-runs this call in each worker
    process: give ``out`` explicitly; rank 0 writes the run, and the workers' calls return a
    result without a model.

    Returns
    -------
    TrainingResult

    Notes
    -----
    When the metadata has a ``group`` column (mocks: the encounter a stamp was rendered from),
    whole groups go to one split. Normalisation statistics are fitted on the training split only
    and saved with the model.
    The checkpoint is chosen on the validation split (``config.monitor``); the second decision
    threshold (``config.target_recall``) is also chosen there. The test split is scored once, at
    the end. The content hashes of the training and validation images are saved, so
    :func:`galmerge.evaluation.evaluate_run` can refuse to score them later.
    """
    importing = _import_in_background("lightning.pytorch")
    if resume is not None:
        run_dir, config, source, target = _resume_settings(resume, source, target, config)
    config = config or TrainConfig()
    if source is None:
        raise DataError("no training data given")
    if config.method != "none" and target is None:
        from galmerge.errors import ConfigError

        raise ConfigError(f"method {config.method!r} adapts to a target domain: give target data (--target)")
    imageset, data_spec = _load_source(source, config, progress=progress)
    labels = imageset.require_both_classes(purpose="training")
    domain = _load_target(target, config, imageset, progress=progress) if target is not None else None
    hashes = imageset.image_hashes()
    fingerprint = _fingerprint(hashes, labels)
    rank = _launched_rank()
    if resume is None and rank > 0:  # a DDP worker re-running this call: rank 0 made the run
        run_dir = require_run_directory(out) if out is not None else None
        if run_dir is None:
            raise DataError("training on several devices needs an explicit output directory (--out)")
        split = Split.load(run_dir / RunFiles.split)
    elif resume is None:
        split = stratified_split(labels, fractions=config.split, seed=config.seed, groups=_groups(imageset))
        run_dir = new_run_directory(out, name=config.model, overwrite=overwrite)
        header = {"data": data_spec or imageset.source, "n_images": len(imageset), "bands": list(imageset.bands), "fingerprint": fingerprint, **_versions()}
        extra = {}
        if domain is not None:
            header["target"] = domain.spec or domain.images.source
            extra = {f"target_{name}": domain.split.indices(name) for name in ("train", "val", "test")}
            extra.update({"target_train_hashes": domain.hashes[domain.split.train], "target_val_hashes": domain.hashes[domain.split.val]})
        config.write_toml(run_dir / RunFiles.config, header=header)
        split.save(run_dir / RunFiles.split, train_hashes=hashes[split.train], val_hashes=hashes[split.val], test_hashes=hashes[split.test], fingerprint=fingerprint, **extra)
    else:
        split = _check_resumed_split(run_dir, fingerprint)

    try:
        input_size = config.input_size or default_input_size(config.model)
        preprocessor = Preprocessor(input_size=input_size, crop_fraction=config.crop_fraction, stretch=config.stretch, asinh_scale=config.asinh_scale)
        preprocessor.fit(imageset.images, rows=split.train)
        (run_dir / RunFiles.preprocessing).write_text(json.dumps(preprocessor.to_dict(), indent=2))
        if importing is not None:
            importing.join()
        module = _build_module(config, imageset, labels, split, input_size)
        if init_from is not None:
            from galmerge.training.trainer import initialise_weights

            initialise_weights(module.model, init_from, architecture=config.model)
    except GalmergeError:
        if resume is None:  # bad input found before training: leave no half-made run behind
            shutil.rmtree(run_dir, ignore_errors=True)
        raise

    import torch

    if config.channels_last:
        module = module.to(memory_format=torch.channels_last)
    train_batches, val_batches = _batches(config, imageset.images, labels, split, preprocessor, domain)

    from galmerge.training.trainer import make_trainer

    last = run_dir / RunFiles.checkpoints / "last.ckpt"
    with _quiet_lightning(), warnings.catch_warnings():
        trainer, checkpoint = make_trainer(config, run_dir, progress=progress, extra_callbacks=callbacks)
        # lightning 2.6 calls a torch pytree API that newer torch deprecates; not the user's concern.
        warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=FutureWarning)
        if resume is not None:  # the checkpoints of the run being resumed are expected there
            warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
        trainer.fit(module, train_dataloaders=train_batches, val_dataloaders=val_batches, ckpt_path=last if resume is not None else None, weights_only=True)

    if trainer.global_rank != 0:  # rank 0 scores and saves the run
        return TrainingResult(run_dir=run_dir, trained=None, metrics={})
    best_path = checkpoint.best_model_path or str(last)
    module.load_state_dict(torch.load(best_path, map_location="cpu", weights_only=True)["state_dict"])
    return _finish(run_dir, module.model.cpu(), config, imageset, labels, split, preprocessor, best_path, checkpoint, domain)


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


def _resume_settings(resume, source, target, config):
    run_dir = require_run_directory(resume)
    saved, recorded = read_run_config(run_dir)
    if config is not None:
        saved.epochs = config.epochs  # the one setting a resumed run may change
    if not (run_dir / RunFiles.checkpoints / "last.ckpt").exists():
        raise DataError(f"{run_dir}: no checkpoints/last.ckpt to resume from")
    source = source if source is not None else recorded["data"]
    target = target if target is not None else recorded.get("target")
    return run_dir, saved, source, target


def _check_resumed_split(run_dir: Path, fingerprint: str) -> Split:
    with np.load(run_dir / RunFiles.split, allow_pickle=False) as data:
        recorded = str(data["fingerprint"])
    if recorded != fingerprint:
        raise DataError(f"{run_dir}: the data differ from the images this run was trained on; cannot resume")
    return Split.load(run_dir / RunFiles.split)


def _build_module(config, imageset, labels, split, input_size):
    import lightning.pytorch as pl

    from galmerge.adapt.terms import build_loss_terms
    from galmerge.models.registry import build_model
    from galmerge.training.module import MergerClassifier, balanced_class_weights

    class_weights = balanced_class_weights(labels[split.train]).tolist() if config.class_weighting == "balanced" else None
    feature_dim = build_model(config.model, in_bands=imageset.n_bands, input_size=input_size).feature_dim
    pl.seed_everything(config.seed + 1, verbose=False)  # the loss terms' own initialisation
    terms = build_loss_terms(config, feature_dim=feature_dim)
    pl.seed_everything(config.seed, verbose=False)  # the network starts the same with or without them
    return MergerClassifier(
        loss_terms=terms,
        architecture=config.model,
        in_bands=imageset.n_bands,
        input_size=input_size,
        lr=config.lr,
        weight_decay=config.weight_decay,
        adam_betas=config.adam_betas,
        lr_schedule=config.lr_schedule,
        cycle_epochs=config.cycle_epochs,
        head_lr_multiplier=config.head_lr_multiplier,
        class_weights=class_weights,
    )


def _batches(config, images, labels, split, preprocessor, domain):
    """Training batches (with a target stream for domain adaptation) and validation loaders.

    Validation: the source validation split, and for a target domain its validation split,
    unlabelled (the "source" stream of that loader holds target images and no labels).
    """
    from galmerge.training.batches import InMemoryBatches

    common = {"seed": config.seed, "channels_last": config.channels_last, "transform": preprocessor.transform_tensor}
    # Target images join the training steps only when a loss uses them: fed to plain training,
    # they would still shift BatchNorm's batch statistics, and "no DA" would not be.
    uses_target = domain is not None and (config.method != "none" or config.entropy)
    target = {"target_images": domain.images.images, "target_rows": domain.split.train} if uses_target else {}
    train_batches = InMemoryBatches(images, labels, rows=split.train, batch_size=config.batch_size, shuffle=True, augment=config.augment, **common, **target)
    val_batches = InMemoryBatches(images, labels, rows=split.val, batch_size=_EVAL_BATCH, shuffle=False, augment=False, **common)
    if domain is None:
        return train_batches, val_batches
    target_val = InMemoryBatches(domain.images.images, None, rows=domain.split.val, batch_size=_EVAL_BATCH, shuffle=False, augment=False, **common)
    return train_batches, [val_batches, target_val]


def _finish(run_dir, model, config, imageset, labels, split, preprocessor, best_path, checkpoint, domain=None) -> TrainingResult:
    from astropy.table import Table

    from galmerge.catalog.backends import TorchBackend
    from galmerge.catalog.predict import predict_proba
    from galmerge.evaluation.evaluate import write_evaluation
    from galmerge.evaluation.metrics import score_predictions, threshold_for_recall
    from galmerge.models.trained import ModelSpec, TrainedModel

    runner = TorchBackend(model)
    spec = ModelSpec(
        architecture=config.model, in_bands=imageset.n_bands, input_size=preprocessor.input_size,
        bands=list(imageset.bands), preprocessing=preprocessor.to_dict(), target_recall=config.target_recall,
        pixel_scale_arcsec=imageset.pixel_scale_arcsec,
    )
    trained = TrainedModel(model, spec)
    p_val, _ = predict_proba(trained, imageset.images, rows=split.val, runner=runner, batch_size=_EVAL_BATCH, source=imageset.source)
    thresholds = {"default": 0.5, "target_recall": threshold_for_recall(labels[split.val], p_val, target_recall=config.target_recall)}
    spec.thresholds = thresholds
    trained.save(run_dir / RunFiles.model)
    metrics = {
        "method": {"transfer": config.method, "fisher": config.fisher, "entropy": config.entropy},
        "best_checkpoint": {"monitor": config.monitor, "value": _float(checkpoint.best_model_score), "path": str(best_path)},
        "n_images": {"train": len(split.train), "val": len(split.val), "test": len(split.test)},
        "thresholds": thresholds,
        "val": score_predictions(labels[split.val], p_val, thresholds=thresholds, n_bootstrap=0),
        "epoch_time_s_median": _median_epoch_time(run_dir / RunFiles.history),
    }
    if len(split.test):
        p_test, _ = predict_proba(trained, imageset.images, rows=split.test, runner=runner, batch_size=_EVAL_BATCH, source=imageset.source)
        metrics["test"] = write_evaluation(
            run_dir / RunFiles.figures, labels=labels[split.test], p_merger=p_test, thresholds=thresholds,
            images=imageset.images, image_rows=split.test, bands=imageset.bands, name="test split",
            n_bootstrap=config.n_bootstrap, seed=config.seed, history_csv=run_dir / RunFiles.history,
        )
        table = Table({"id": imageset.meta["id"][split.test], "is_merger": labels[split.test], "p_merger": p_test.astype(np.float32)})
        table.write(run_dir / RunFiles.test_predictions, format="ascii.ecsv", overwrite=True)
    if domain is not None and domain.held_out_labels is not None and len(domain.split.test):
        test_labels = domain.held_out_labels[domain.split.test]
        if test_labels.min() != test_labels.max():  # labels kept apart until now, for scoring only
            p_target, _ = predict_proba(trained, domain.images.images, rows=domain.split.test, runner=runner, batch_size=_EVAL_BATCH, source=domain.images.source)
            metrics["target_test"] = write_evaluation(
                run_dir / RunFiles.figures / "target", labels=test_labels, p_merger=p_target, thresholds=thresholds,
                images=domain.images.images, image_rows=domain.split.test, bands=imageset.bands, name="target test split",
                n_bootstrap=config.n_bootstrap, seed=config.seed,
            )
            table = Table({"id": domain.images.meta["id"][domain.split.test], "is_merger": test_labels, "p_merger": p_target.astype(np.float32)})
            table.write(run_dir / RunFiles.target_test_predictions, format="ascii.ecsv", overwrite=True)
    if domain is not None:
        metrics["n_images"].update({f"target_{name}": len(domain.split.indices(name)) for name in ("train", "val", "test")})
    (run_dir / RunFiles.metrics).write_text(json.dumps(metrics, indent=2))
    return TrainingResult(run_dir=run_dir, trained=trained, metrics=metrics)


def _float(value):
    return None if value is None else float(value)


def _median_epoch_time(history_csv: Path):
    import csv

    if not history_csv.exists():
        return None
    with open(history_csv, newline="") as handle:
        times = [float(r["epoch_time_s"]) for r in csv.DictReader(handle) if r.get("epoch_time_s")]
    return float(np.median(times)) if times else None
