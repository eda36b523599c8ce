"""Domain-adaptation losses as training terms: each is called with one step's outputs.

A term returns its weighted loss and may leave monitoring values in ``last_metrics`` (logged as
``train_<term>_<name>``); trainable parameters (the domain classifier, the Fisher centres) are
optimised at ``lr`` times the term's ``lr_multiplier``.
"""

from __future__ import annotations

from torch import nn

from galmerge.adapt.adversarial import DomainAdversarialLoss
from galmerge.adapt.coral import CORALLoss
from galmerge.adapt.entropy import EntropyLoss
from galmerge.adapt.fisher import FisherLoss
from galmerge.adapt.mmd import DEEPMERGE_BANDWIDTHS, MMDLoss
from galmerge.errors import ConfigError

__all__ = ["MMDTerm", "DANNTerm", "CORALTerm", "FisherTerm", "EntropyTerm", "build_loss_terms", "METHODS"]

METHODS = ("none", "mmd", "dann", "coral")


def _need_target(outputs, name):
    if outputs.features_target is None:
        raise ConfigError(f"the {name} loss needs target images (--target)")


class MMDTerm(nn.Module):
    def __init__(self, *, weight: float = 1.0, **options):
        super().__init__()
        self.weight, self.loss, self.last_metrics = weight, MMDLoss(**options), {}

    def forward(self, outputs):
        _need_target(outputs, "MMD")
        return self.weight * self.loss(outputs.features_source, outputs.features_target)


class DANNTerm(nn.Module):
    def __init__(self, feature_dim: int, *, weight: float = 1.0, **options):
        super().__init__()
        self.weight, self.loss, self.last_metrics = weight, DomainAdversarialLoss(feature_dim, **options), {}
        self.lr_multiplier = self.loss.lr_multiplier

    def forward(self, outputs):
        _need_target(outputs, "adversarial")
        loss, accuracy = self.loss(outputs.features_source, outputs.features_target, progress=outputs.progress)
        self.last_metrics = {"domain_accuracy": accuracy}
        return self.weight * loss


class CORALTerm(nn.Module):
    def __init__(self, *, weight: float = 1.0):
        super().__init__()
        self.weight, self.loss, self.last_metrics = weight, CORALLoss(), {}

    def forward(self, outputs):
        _need_target(outputs, "CORAL")
        return self.weight * self.loss(outputs.features_source, outputs.features_target)


class FisherTerm(nn.Module):
    """The Fisher loss on the labelled source half of the step."""

    def __init__(self, feature_dim: int, **options):
        super().__init__()
        self.loss, self.last_metrics = FisherLoss(feature_dim, **options), {}
        self.lr_multiplier = self.loss.lr_multiplier

    def forward(self, outputs):
        return self.loss(outputs.features_source, outputs.labels_source)


class EntropyTerm(nn.Module):
    """Entropy of the predictions on the source and target halves together."""

    def __init__(self, *, weight: float = 0.05):
        super().__init__()
        self.weight, self.loss, self.last_metrics = weight, EntropyLoss(), {}

    def forward(self, outputs):
        import torch

        logits = outputs.logits_source if outputs.logits_target is None else torch.cat([outputs.logits_source, outputs.logits_target])
        return self.weight * self.loss(logits)


def build_loss_terms(config, *, feature_dim: int) -> dict[str, nn.Module]:
    """The loss terms a training configuration asks for (an empty dict for plain supervised training)."""
    if config.method not in METHODS:
        raise ConfigError(f"method must be one of {METHODS}, got {config.method!r}")
    terms: dict[str, nn.Module] = {}
    if config.method == "mmd":
        bandwidths = "median" if config.mmd_bandwidths == "median" else DEEPMERGE_BANDWIDTHS
        terms["mmd"] = MMDTerm(weight=config.transfer_weight, bandwidths=bandwidths, estimator=config.mmd_estimator, clamp=config.mmd_estimator == "biased")
    elif config.method == "dann":
        terms["dann"] = DANNTerm(feature_dim, weight=config.transfer_weight, ramp=config.dann_ramp, lr_multiplier=config.dann_lr_multiplier)
    elif config.method == "coral":
        terms["coral"] = CORALTerm(weight=config.transfer_weight)
    if config.fisher:
        terms["fisher"] = FisherTerm(feature_dim, form=config.fisher_form, w_intra=config.fisher_w_intra, w_inter=config.fisher_w_inter, lr_multiplier=config.fisher_lr_multiplier)
    if config.entropy:
        terms["entropy"] = EntropyTerm(weight=config.entropy_weight)
    return terms
