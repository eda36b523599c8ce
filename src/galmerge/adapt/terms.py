"""Domain-adaptation losses as training terms: each is called with one step's outputs (:class:`StepOutputs`).

A term returns its weighted loss and may leave monitoring values in ``last_metrics`` (logged as
``train_<term>_<name>``); trainable parameters (the domain classifier, the Fisher centres) are
optimised at ``lr`` times the term's ``lr_multiplier``. Terms are built by name from the
registry (:func:`galmerge.adapt.registry.build_loss_terms`) and added to the task loss by
:func:`galmerge.training.losses.step_loss`, in Lightning training and in fine-tuning alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from galmerge.adapt.adversarial import DomainAdversarialLoss
from galmerge.adapt.coral import CORALLoss
from galmerge.adapt.entropy import EntropyLoss
from galmerge.adapt.fisher import FisherLoss
from galmerge.adapt.mmd import MMDLoss
from galmerge.adapt.registry import EntropyOptions
from galmerge.errors import ConfigError

__all__ = ["StepOutputs", "MMDTerm", "DANNTerm", "CORALTerm", "FisherTerm", "EntropyTerm"]


@dataclass
class StepOutputs:
    """What one training step computed, as loss terms see it.

    The source and target images went through the network together (plain BatchNorm) or each
    with its own domain's BatchNorm statistics; the halves are split here.

    Attributes
    ----------
    features_source, logits_source : Tensor
    labels_source : Tensor of int64
    features_target, logits_target : Tensor or None
        ``None`` without a target stream.
    progress : float
        Fraction of all planned optimiser steps done, in [0, 1] (for schedules such as DANN's).
    target_images : Tensor or None
        The (weakly augmented) target batch itself, for terms that make other views of it.
    target_rows : Tensor of int64 or None
        Rows of the target images in the target set.
    forward_target : callable or None
        ``forward_target(images) -> (features, logits)`` with the target domain's BatchNorm
        statistics: a second pass for other views of the target batch.
    """

    features_source: torch.Tensor
    logits_source: torch.Tensor
    labels_source: torch.Tensor
    features_target: torch.Tensor | None
    logits_target: torch.Tensor | None
    progress: float
    target_images: torch.Tensor | None = None
    target_rows: torch.Tensor | None = None
    forward_target: Callable | None = None


def _need_target(outputs, name):
    if outputs.features_target is None:
        raise ConfigError(f"the {name} loss needs target images (--target)")


class _ClassWeighted:
    """Source weights that give the aligned source the survey's merger fraction (class-weighted alignment).

    The survey prior is pushed in once per epoch (``refresh_from_target``, by
    :class:`galmerge.training.callbacks.TargetRefresh`); until then the source is unweighted.
    """

    class_weighted = False
    survey_prior: float | None = None

    def refresh_from_target(self, p_merger, rows, *, n_rows: int, prior: float, train_prior: float) -> None:
        self.survey_prior = prior

    def source_weights(self, outputs):
        if not self.class_weighted or self.survey_prior is None:
            return None
        from galmerge.adapt.prior import class_weights_for_prior

        return class_weights_for_prior(outputs.labels_source, target_prior=min(max(self.survey_prior, 1e-3), 1 - 1e-3)).to(outputs.features_source)


class MMDTerm(_ClassWeighted, nn.Module):
    def __init__(self, *, weight: float = 1.0, class_weighted: bool = False, **options):
        super().__init__()
        self.weight, self.loss = weight, MMDLoss(**options)
        self.last_metrics: dict[str, torch.Tensor] = {}
        self.class_weighted = class_weighted

    def forward(self, outputs):
        _need_target(outputs, "MMD")
        return self.weight * self.loss(outputs.features_source, outputs.features_target, source_weights=self.source_weights(outputs))


class DANNTerm(_ClassWeighted, nn.Module):
    def __init__(self, feature_dim: int, *, weight: float = 1.0, class_weighted: bool = False, **options):
        super().__init__()
        self.weight, self.loss = weight, DomainAdversarialLoss(feature_dim, **options)
        self.last_metrics: dict[str, torch.Tensor] = {}
        self.lr_multiplier = self.loss.lr_multiplier
        self.class_weighted = class_weighted

    def forward(self, outputs):
        _need_target(outputs, "adversarial")
        loss, accuracy = self.loss(outputs.features_source, outputs.features_target, progress=outputs.progress, source_weights=self.source_weights(outputs))
        self.last_metrics = {"domain_accuracy": accuracy}
        return self.weight * loss


class CORALTerm(nn.Module):
    def __init__(self, *, weight: float = 1.0):
        super().__init__()
        self.weight, self.loss = weight, CORALLoss()
        self.last_metrics: dict[str, torch.Tensor] = {}

    def forward(self, outputs):
        _need_target(outputs, "CORAL")
        return self.weight * self.loss(outputs.features_source, outputs.features_target)


class FisherTerm(nn.Module):
    """The Fisher loss on the labelled source half of the step."""

    def __init__(self, feature_dim: int, **options):
        super().__init__()
        self.loss = FisherLoss(feature_dim, **options)
        self.last_metrics: dict[str, torch.Tensor] = {}
        self.lr_multiplier = self.loss.lr_multiplier

    def forward(self, outputs):
        return self.loss(outputs.features_source, outputs.labels_source)


class EntropyTerm(nn.Module):
    """Entropy of the predictions on the source and target halves together."""

    def __init__(self, *, weight: float = EntropyOptions.weight):
        super().__init__()
        self.weight, self.loss = weight, EntropyLoss()
        self.last_metrics: dict[str, torch.Tensor] = {}

    def forward(self, outputs):
        logits = outputs.logits_source if outputs.logits_target is None else torch.cat([outputs.logits_source, outputs.logits_target])
        return self.weight * self.loss(logits)
