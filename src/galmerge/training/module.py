"""The LightningModule that trains every galmerge classifier."""

from __future__ import annotations

import functools
import math
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC

from galmerge.adapt.terms import StepOutputs
from galmerge.models.domain_bn import convert_to_domain_batchnorm, using_domain
from galmerge.models.registry import build_model
from galmerge.training.losses import LabelledBatch, balanced_class_weights, step_loss

__all__ = ["MergerClassifier", "StepOutputs", "balanced_class_weights", "deepmerge_cycle_factor", "one_cycle_factor"]


def one_cycle_factor(step: int, *, total_steps: int, warmup_fraction: float = 0.3, start: float = 0.1, end: float = 1e-3) -> float:
    """Smith's one-cycle learning-rate factor: cosine rise from ``start`` to 1, then cosine fall to ``end``.

    Written as a plain function of the step (rather than ``torch.optim.lr_scheduler.OneCycleLR``)
    so that a resumed run with a higher epoch limit stretches its schedule instead of failing.
    """
    total_steps = max(total_steps, 2)
    step = min(max(step, 0), total_steps)
    rise = max(1, int(warmup_fraction * total_steps))
    if step <= rise:
        low, high, phase = start, 1.0, step / rise
    else:
        low, high, phase = 1.0, end, (step - rise) / max(1, total_steps - rise)
    return high + (low - high) * (1 + math.cos(math.pi * phase)) / 2


def deepmerge_cycle_factor(step: int, *, period_steps: int) -> float:
    """DeepMerge II's repeating triangle: the learning-rate factor rises from 0.1 to 1 and falls back each period."""
    period_steps = max(period_steps, 2)
    half = period_steps // 2
    phase = step % period_steps
    if phase <= half:
        return 0.1 + 0.9 * phase / half
    return 1.0 - 0.9 * (phase - half) / (period_steps - half)


class MergerClassifier(pl.LightningModule):
    """Cross-entropy on labelled source images plus any extra loss terms.

    Parameters
    ----------
    architecture : str
        Model registry name.
    in_bands, input_size : int
    lr, weight_decay : float
    adam_betas : (float, float)
    lr_schedule : {"one-cycle", "deepmerge-cycle", "constant"}
    cycle_epochs : float
    head_lr_multiplier : float or None
        ``None``: the model's default.
    class_weights : (float, float) or None
        Cross-entropy weights of non-mergers and mergers.
    batchnorm_domains : tuple of str, optional
        Give the network domain-specific BatchNorm with these domains (``("source", "target")``):
        source batches and source validation use the first, target batches and target validation
        the second.
    separate_affine : bool
        Domain-specific BatchNorm scale and shift too.
    survey_prior : float or None
        The target survey's merger fraction when known (label-free criteria; default estimated).
    train_prior : float
        Merger fraction the posteriors carry without class weights (the training set's).
    loss_terms : dict of str to nn.Module, optional
        Extra losses, each called as ``term(outputs: StepOutputs) -> Tensor`` and added to the
        task loss by :func:`galmerge.training.losses.step_loss`. A term's trainable parameters
        are optimised too, at ``lr`` times its ``lr_multiplier`` attribute (default 1).
    """

    model: Any  # a galmerge network: (features, logits), parameter_groups(), feature_dim
    class_weights: torch.Tensor | None

    def __init__(
        self,
        *,
        architecture: str,
        in_bands: int,
        input_size: int,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        adam_betas=(0.7, 0.8),
        lr_schedule: str = "one-cycle",
        cycle_epochs: float = 8.0,
        head_lr_multiplier: float | None = None,
        class_weights=None,
        loss_terms: dict[str, nn.Module] | None = None,
        batchnorm_domains: tuple[str, ...] | None = None,
        separate_affine: bool = False,
        survey_prior: float | None = None,
        train_prior: float = 0.5,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["loss_terms"])
        self.model = build_model(architecture, in_bands=in_bands, input_size=input_size)
        if batchnorm_domains:
            convert_to_domain_batchnorm(self.model, domains=batchnorm_domains, separate_affine=separate_affine)
        self.loss_terms = nn.ModuleDict(loss_terms or {})
        weights = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32)
        self.register_buffer("class_weights", weights, persistent=False)
        self.val_roc_auc = BinaryAUROC()
        self.val_accuracy = BinaryAccuracy()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model(images)

    @property
    def progress(self) -> float:
        total = self.trainer.estimated_stepping_batches if self._trainer is not None else 0
        if not total or not math.isfinite(total):
            return 0.0
        return min(1.0, self.global_step / total)

    def training_step(self, batch, batch_idx):
        images, labels = batch["source"]
        source = LabelledBatch(images, labels, self.class_weights)
        loss, logged = step_loss(self.model, source, target=batch.get("target"), target_rows=batch.get("target_rows"), terms=self.loss_terms, progress=self.progress)
        self.log_dict({f"train_{name}": value for name, value in logged.items()}, on_step=False, on_epoch=True, batch_size=len(images), sync_dist=True)
        return loss

    def on_validation_epoch_start(self):
        self._validation_outputs = {"source_features": [], "source_losses": [], "target_features": [], "target_logits": []}

    def validation_step(self, batch, batch_idx, dataloader_idx: int = 0):
        """Source validation (dataloader 0): loss, ROC-AUC, accuracy. Target validation (dataloader 1,
        unlabelled): logits and features only, for the label-free criteria of the epoch."""
        images, labels = batch["source"]
        with using_domain(self.model, ("source", "target")[dataloader_idx]):
            features, logits = self.model(images)
        store = self._validation_outputs
        if dataloader_idx == 1:
            store["target_features"].append(features.detach().float().cpu())
            store["target_logits"].append(logits.detach().float().cpu())
            return
        store["source_features"].append(features.detach().float().cpu())
        store["source_losses"].append(F.cross_entropy(logits.detach().float(), labels, reduction="none").cpu())
        loss = F.cross_entropy(logits, labels, weight=self.class_weights)
        p_merger = torch.softmax(logits.float(), dim=1)[:, 1]
        self.val_roc_auc.update(p_merger, labels)
        self.val_accuracy.update(p_merger, labels)
        options: dict[str, Any] = {"on_step": False, "on_epoch": True, "add_dataloader_idx": False}
        self.log("val_loss", loss, batch_size=len(images), prog_bar=True, sync_dist=True, **options)
        self.log("val_roc_auc", self.val_roc_auc, prog_bar=True, **options)
        self.log("val_accuracy", self.val_accuracy, **options)

    def on_validation_epoch_end(self):
        from galmerge.adapt.selection import label_free_criteria

        store = getattr(self, "_validation_outputs", None)
        if not store or not store["target_logits"]:
            return
        criteria = label_free_criteria(
            torch.cat(store["target_logits"]),
            torch.cat(store["source_features"]).numpy() if store["source_features"] else None,
            torch.cat(store["target_features"]).numpy(),
            source_losses=torch.cat(store["source_losses"]).numpy() if store["source_losses"] else None,
            survey_prior=self.hparams.survey_prior,
            train_prior=0.5 if self.class_weights is not None else self.hparams.train_prior,
        )
        for name, value in criteria.items():
            self.log(name, float(value), on_step=False, on_epoch=True, add_dataloader_idx=False)
        self._validation_outputs = None

    def parameter_groups(self) -> list[dict]:
        """Optimiser groups for the model and every loss term; refuses to leave a trainable parameter out."""
        lr = self.hparams["lr"]
        multiplier = self.hparams["head_lr_multiplier"]
        model_groups = self.model.parameter_groups() if multiplier is None else self.model.parameter_groups(head_lr_multiplier=multiplier)
        groups = [{"params": g["params"], "lr": lr * g["lr_multiplier"], "name": g["name"]} for g in model_groups]
        for name, term in self.loss_terms.items():
            params = [p for p in term.parameters() if p.requires_grad]
            if params:
                groups.append({"params": params, "lr": lr * getattr(term, "lr_multiplier", 1.0), "name": name})
        covered = {id(p) for g in groups for p in g["params"]}
        left_out = [n for n, p in self.named_parameters() if p.requires_grad and id(p) not in covered]
        if left_out:  # the DeepMerge II code silently dropped its domain classifier this way
            raise RuntimeError(f"parameters missing from the optimiser: {', '.join(left_out[:5])}")
        return groups

    def configure_optimizers(self):
        groups = self.parameter_groups()
        optimizer = torch.optim.Adam(groups, lr=self.hparams.lr, betas=tuple(self.hparams.adam_betas), weight_decay=self.hparams.weight_decay)
        schedule = self.hparams.lr_schedule
        if schedule == "constant":
            return optimizer
        # Schedules are functions of the step, fixed here from this run's length; a LambdaLR keeps
        # only its step count in a checkpoint, so a resumed run uses its own (possibly longer) length.
        total_steps = int(self.trainer.estimated_stepping_batches)
        if schedule == "one-cycle":
            factor = functools.partial(one_cycle_factor, total_steps=total_steps)
        else:
            steps_per_epoch = max(1, total_steps // max(1, self.trainer.max_epochs))
            factor = functools.partial(deepmerge_cycle_factor, period_steps=int(0.9 * self.hparams.cycle_epochs * steps_per_epoch))
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
