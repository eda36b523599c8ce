"""The Lightning Trainer of a galmerge run, and starting weights from another model."""

from __future__ import annotations

import sys
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar
from torch import nn

from galmerge.errors import CheckpointError, ModelMismatchError
from galmerge.runs import Run
from galmerge.training.callbacks import EpochHistory, EpochLines
from galmerge.training.config import MONITOR_MODES, TrainConfig

__all__ = ["make_trainer", "initialise_weights"]


def make_trainer(config: TrainConfig, run: Run, *, progress: bool = True, extra_callbacks=()) -> tuple[pl.Trainer, ModelCheckpoint]:
    """A Trainer that keeps the best checkpoint by ``config.selection.monitor`` and the last one for resuming.

    Early stopping watches the same monitor (patience ``config.selection.early_stopping_patience``).
    Progress: a bar on a terminal, else one line per epoch (:class:`~galmerge.training.callbacks.EpochLines`).
    """
    selection = config.selection
    mode = MONITOR_MODES[selection.monitor]
    checkpoint = ModelCheckpoint(
        dirpath=run.checkpoints,
        filename="best",
        monitor=selection.monitor,
        mode=mode,
        save_top_k=1,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    # The last epoch, for --resume, from a checkpoint of its own: Lightning's save_last writes
    # last.ckpt only in the epochs where the best one improves, so a resumed run went back to
    # the best epoch and trained the later ones again.
    last = ModelCheckpoint(dirpath=run.checkpoints, filename=run.last_checkpoint.stem, monitor=None, save_top_k=1, enable_version_counter=False)
    callbacks: list[pl.Callback] = [checkpoint, last, EpochHistory(run.history), *extra_callbacks]
    if selection.early_stopping_patience > 0:
        callbacks.append(EarlyStopping(monitor=selection.monitor, mode=mode, patience=selection.early_stopping_patience))
    terminal = progress and sys.stderr.isatty()
    if terminal:
        callbacks.append(TQDMProgressBar(refresh_rate=5))
    elif progress:
        callbacks.append(EpochLines())
    hardware = config.hardware
    trainer = pl.Trainer(
        max_epochs=config.optimisation.epochs,
        accelerator=hardware.accelerator,
        devices=hardware.devices,
        # Lightning checks the precision and names the valid ones in its error.
        precision=hardware.precision,  # type: ignore[arg-type]
        # Only where a GPU trains: the setting is process-wide, and a CPU needs none of it.
        deterministic="warn" if hardware.deterministic and _trains_on_gpu(hardware.accelerator) else None,
        logger=False,
        callbacks=callbacks,
        enable_progress_bar=terminal,
        enable_model_summary=progress,
        num_sanity_val_steps=0,
        default_root_dir=run.path,
    )
    return trainer, checkpoint


def _trains_on_gpu(accelerator: str) -> bool:
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def initialise_weights(model: nn.Module, path, *, architecture: str) -> None:
    """Start ``model`` from another model's weights (transfer learning).

    ``path`` may be a galmerge run directory or model file of the same architecture, or, for
    ResNet18, a torchvision ``resnet18`` state dict (``.pth``; its 1000-class head is skipped).

    Raises
    ------
    ModelMismatchError
        A checkpoint of another architecture, or weights of other shapes (e.g. another band count).
    """
    from galmerge.models.domain_bn import expand_plain_state
    from galmerge.models.resnet import load_torchvision_weights
    from galmerge.models.trained import load_state_dict_file, model_file_path, read_model_file

    path = Path(path)
    if path.is_dir() or path.suffix == ".safetensors":
        model_file = model_file_path(path)
        spec, state = read_model_file(model_file)
        if spec.architecture != architecture:
            raise ModelMismatchError(f"{model_file}: a checkpoint of another architecture ({spec.architecture}, not {architecture})")
    else:
        state = load_state_dict_file(path)
        if architecture == "resnet18" and "layer1.0.conv1.weight" in state and "bottleneck.weight" not in state:
            load_torchvision_weights(model, state, source=str(path))  # type: ignore[arg-type]
            return
    state = expand_plain_state(model, state)  # a plain-BatchNorm model starts every domain of a DSBN one
    own = model.state_dict()
    foreign = sorted(set(state) ^ set(own))
    wrong = sorted(k for k in set(state) & set(own) if state[k].shape != own[k].shape)
    if foreign or wrong:
        detail = f"names differ ({', '.join(foreign[:3])})" if foreign else f"shapes differ ({', '.join(wrong[:3])})"
        raise ModelMismatchError(f"{path}: weights do not fit a {architecture} model with these bands: {detail}")
    try:
        model.load_state_dict(state)
    except RuntimeError as error:  # pragma: no cover - caught above
        raise CheckpointError(f"{path}: {error}") from None
