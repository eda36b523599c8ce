"""The Lightning Trainer of a galmerge run, and starting weights from another model."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar
from torch import nn

from galmerge.errors import CheckpointError, ModelMismatchError
from galmerge.training.callbacks import EpochHistory
from galmerge.training.config import MONITOR_MODES, TrainConfig
from galmerge.training.rundir import RunFiles

__all__ = ["make_trainer", "initialise_weights"]


def make_trainer(config: TrainConfig, run_dir: Path, *, progress: bool = True, extra_callbacks=()) -> tuple[pl.Trainer, ModelCheckpoint]:
    """A Trainer that keeps the best checkpoint by ``config.monitor`` and the last one for resuming."""
    checkpoint = ModelCheckpoint(
        dirpath=run_dir / RunFiles.checkpoints,
        filename="best",
        monitor=config.monitor,
        mode=MONITOR_MODES[config.monitor],
        save_top_k=1,
        save_last=True,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    callbacks: list[pl.Callback] = [checkpoint, EpochHistory(run_dir / RunFiles.history), *extra_callbacks]
    if config.early_stopping_patience > 0:
        callbacks.append(EarlyStopping(monitor="val_loss", mode="min", patience=config.early_stopping_patience))
    if progress:
        callbacks.append(TQDMProgressBar(refresh_rate=5))
    trainer = pl.Trainer(
        max_epochs=config.epochs,
        accelerator=config.accelerator,
        devices=config.devices,
        precision=config.precision,
        logger=False,
        callbacks=callbacks,
        enable_progress_bar=progress,
        enable_model_summary=progress,
        num_sanity_val_steps=0,
        default_root_dir=run_dir,
    )
    return trainer, checkpoint


def initialise_weights(model: nn.Module, path, *, architecture: str) -> None:
    """Start ``model`` from another model's weights (transfer learning).

    ``path`` may be a galmerge run directory or model file of the same architecture, or, for
    ResNet18, a torchvision ``resnet18`` state dict (``.pth``; its 1000-class head is skipped).

    Raises
    ------
    ModelMismatchError
        A checkpoint of another architecture, or weights of other shapes (e.g. another band count).
    """
    from galmerge.models.resnet import load_torchvision_weights
    from galmerge.models.trained import _model_path, load_state_dict_file, read_model_file

    path = Path(path)
    if path.is_dir() or path.suffix == ".safetensors":
        model_file = _model_path(path)
        spec, state = read_model_file(model_file)
        if spec.architecture != architecture:
            raise ModelMismatchError(f"{model_file}: a checkpoint of another architecture ({spec.architecture}, not {architecture})")
    else:
        state = load_state_dict_file(path)
        if architecture == "resnet18" and "layer1.0.conv1.weight" in state and "bottleneck.weight" not in state:
            try:
                load_torchvision_weights(model, state)
            except ValueError as error:
                raise ModelMismatchError(f"{path}: {error}") from None
            return
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
