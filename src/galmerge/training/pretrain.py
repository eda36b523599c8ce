"""Self-supervised pretraining on a survey's own unlabelled images (SimCLR), as an initialisation.

A network trained on mocks learns features of mocks. Pretrained contrastively on the survey's
unlabelled images first (:mod:`galmerge.adapt.contrastive`; Hayat et al. 2021 on SDSS, Stein et
al. 2021 on DECaLS), its convolutional features already describe real galaxies (shapes,
companions, tails) before it sees a single mock, and what it then learns from the mocks is read
from those features. The result is a model file for ``galmerge train --init-from``: the network
with its pretrained weights (the dense head is untrained) and the normalisation of the images it
was pretrained on.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galmerge.data.imageset import ImageSet
from galmerge.data.transforms import Preprocessor
from galmerge.data.views import StrongViewOptions
from galmerge.errors import ConfigError, DataError

__all__ = ["PretrainOptions", "PretrainResult", "pretrain_contrastive", "PRETRAIN_VIEWS"]

# Stronger than the consistency views of self-training: contrastive learning needs views that
# differ enough that only the galaxy itself identifies the pair.
PRETRAIN_VIEWS = StrongViewOptions(max_shift_px=3.0, scale_range=(0.9, 1.1), max_blur_sigma_px=1.5, max_noise=0.2, colour_sigma=0.1, contrast_sigma=0.2, offset_sigma=0.1)


@dataclass(frozen=True)
class PretrainOptions:
    """How the network is pretrained.

    Attributes
    ----------
    architecture : str
    input_size : int or None
        Network input side (default the model's, 75).
    epochs : int
    batch_size : int
        Images per step (two views each); SimCLR needs many negatives, so keep it >= 128.
    lr : float
        Peak learning rate (one-cycle schedule).
    temperature : float
        Of the NT-Xent loss.
    seed : int
    """

    architecture: str = "deepmerge"
    input_size: int | None = None
    epochs: int = 40
    batch_size: int = 256
    lr: float = 2e-3
    temperature: float = 0.2
    seed: int = 0

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 8 or not self.lr > 0 or not self.temperature > 0:
            raise ConfigError(f"pretraining needs epochs >= 1, batch_size >= 8, lr > 0 and temperature > 0, got {self}")


@dataclass
class PretrainResult:
    """The pretrained network (a :class:`~galmerge.models.TrainedModel`), where it was saved, and its loss per epoch."""

    trained: object
    path: Path | None
    losses: list


def _module(options: PretrainOptions, *, in_bands: int, input_size: int):
    import lightning.pytorch as pl
    import torch

    from galmerge.adapt.contrastive import ProjectionHead, nt_xent_loss
    from galmerge.data.views import strong_view
    from galmerge.models.registry import build_model
    from galmerge.training.module import one_cycle_factor

    class ContrastivePretraining(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = build_model(options.architecture, in_bands=in_bands, input_size=input_size)
            self.projection = ProjectionHead(self.model.feature_dim)
            self.views = torch.Generator().manual_seed(options.seed + 7)
            self.losses: list[float] = []

        def training_step(self, batch, batch_idx):
            images = batch["source"][0]
            first = strong_view(images, generator=self.views, options=PRETRAIN_VIEWS)
            second = strong_view(images, generator=self.views, options=PRETRAIN_VIEWS)
            loss = nt_xent_loss(self.projection(self.model(first)[0]), self.projection(self.model(second)[0]), temperature=options.temperature)
            self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=len(images))
            return loss

        def on_train_epoch_end(self):
            self.losses.append(float(self.trainer.callback_metrics["train_loss"]))

        def configure_optimizers(self):
            optimiser = torch.optim.Adam(self.parameters(), lr=options.lr, weight_decay=1e-5)
            factor = functools.partial(one_cycle_factor, total_steps=int(self.trainer.estimated_stepping_batches))
            scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, factor)
            return {"optimizer": optimiser, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    return ContrastivePretraining()


def pretrain_contrastive(images, *, options: PretrainOptions = PretrainOptions(), out=None, overwrite: bool = False, progress: bool = True) -> PretrainResult:
    """Pretrain a network contrastively on unlabelled images (see the module notes).

    Parameters
    ----------
    images : ImageSet or str
        Unlabelled images of the survey (labels, if any, are ignored), or a data argument.
    options : PretrainOptions
    out : path, optional
        Model file to write (``.safetensors``); refused if it exists unless ``overwrite``.
    overwrite : bool
    progress : bool

    Returns
    -------
    PretrainResult
    """
    import lightning.pytorch as pl

    from galmerge.models.registry import default_input_size
    from galmerge.models.trained import ModelSpec, TrainedModel
    from galmerge.runs import output_file
    from galmerge.training.batches import InMemoryBatches
    from galmerge.training.callbacks import EpochLines

    input_size = options.input_size or default_input_size(options.architecture)
    if not isinstance(images, ImageSet):
        from galmerge.data.sources import load_imageset

        images = load_imageset(images, size=input_size, seed=options.seed, progress=progress)
    if len(images) < options.batch_size:
        raise DataError(f"{images.source}: {len(images)} images; pretraining needs at least one batch of {options.batch_size}")
    path = output_file(out, overwrite=overwrite) if out is not None else None
    preprocessor = Preprocessor(input_size=input_size).fit(images.images)
    pl.seed_everything(options.seed, verbose=False)
    module = _module(options, in_bands=images.n_bands, input_size=input_size)
    batches = InMemoryBatches(images.images, None, batch_size=options.batch_size, shuffle=True, augment=False, seed=options.seed, transform=preprocessor.transform_tensor)
    trainer = pl.Trainer(
        max_epochs=options.epochs,
        accelerator="auto",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[EpochLines()] if progress else [],
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=FutureWarning)
        trainer.fit(module, train_dataloaders=batches)
    spec = ModelSpec(
        architecture=options.architecture, in_bands=images.n_bands, input_size=input_size, bands=list(images.bands), preprocessing=preprocessor.to_dict(), pixel_scale_arcsec=images.pixel_scale_arcsec
    )
    trained = TrainedModel(module.model.cpu(), spec)
    if path is not None:
        trained.save(path)
    return PretrainResult(trained=trained, path=path, losses=list(np.round(module.losses, 5)))
