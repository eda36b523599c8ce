"""Adversarial domain adaptation (DANN, Ganin et al. 2016): gradient reversal and a domain classifier."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from galmerge.adapt.registry import DANNOptions

__all__ = ["GradientReversal", "reverse_gradient", "ganin_coefficient", "DomainClassifier", "DomainAdversarialLoss"]


class GradientReversal(torch.autograd.Function):
    """Identity forward; the gradient multiplied by -coefficient backward."""

    @staticmethod
    def forward(ctx, x, coefficient: float):
        ctx.coefficient = coefficient
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.coefficient * grad, None


def reverse_gradient(x: torch.Tensor, coefficient: float = 1.0) -> torch.Tensor:
    return GradientReversal.apply(x, coefficient)


def ganin_coefficient(progress: float, gamma: float = 10.0) -> float:
    """2 / (1 + exp(-gamma p)) - 1: 0 at the start of training, rising to ~1 (Ganin et al. 2016).

    Early on the features are still random, and a strong adversary would only add noise; the
    ramp lets the classifier learn first. DeepMerge II's code left it out (a constant 1).
    """
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


class DomainClassifier(nn.Module):
    """DeepMerge II's domain classifier: Linear(d, 1024)-ReLU-Dropout-Linear(1024, 1024)-ReLU-Dropout-Linear(1024, 1).

    Weights are drawn from N(0, 0.01), N(0, 0.01) and N(0, 0.3) and biases start at 0, as in the
    reference code; it returns logits (the sigmoid is in the loss).
    """

    def __init__(self, feature_dim: int, *, hidden: int = 1024, dropout: float = 0.5):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(feature_dim, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )
        for layer, std in zip((self.layers[0], self.layers[3], self.layers[6]), (0.01, 0.01, 0.3)):
            nn.init.normal_(layer.weight, 0.0, std)
            nn.init.zeros_(layer.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features).squeeze(1)


class DomainAdversarialLoss(nn.Module):
    """Binary cross-entropy of the domain classifier (source = 1, target = 0) on gradient-reversed features.

    Minimising it trains the classifier to tell the domains apart and, through the reversed
    gradient, the feature extractor to make them indistinguishable.

    Parameters
    ----------
    feature_dim : int
    ramp : bool
        Scale the reversed gradient by :func:`ganin_coefficient` of the training progress
        (``False``: a constant 1, as in DeepMerge II's code).
    lr_multiplier : float
        Learning-rate factor of the domain classifier (DeepMerge II: ``ad_net_mult_lr``, 0.1 by
        default, 0.01 in its examples). Defaults come from :class:`~galmerge.adapt.registry.DANNOptions`.
    """

    def __init__(self, feature_dim: int, *, ramp: bool = DANNOptions.ramp, gamma: float = 10.0, lr_multiplier: float = DANNOptions.lr_multiplier, hidden: int = DANNOptions.hidden):
        super().__init__()
        self.classifier = DomainClassifier(feature_dim, hidden=hidden)
        self.ramp = ramp
        self.gamma = gamma
        self.lr_multiplier = lr_multiplier

    def forward(self, source: torch.Tensor, target: torch.Tensor, *, progress: float = 1.0, source_weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (loss, domain accuracy); the accuracy is of the step's predictions, for monitoring.

        ``source_weights`` (N_source,) reweigh the source images in the domain loss (normalised to
        a mean of 1), e.g. by class so the source the adversary sees has the survey's merger fraction.
        """
        coefficient = ganin_coefficient(progress, self.gamma) if self.ramp else 1.0
        features = reverse_gradient(torch.cat([source, target]).flatten(1), coefficient)
        logits = self.classifier(features)
        domain = torch.cat([torch.ones(len(source)), torch.zeros(len(target))]).to(logits)
        weights = None
        if source_weights is not None:
            source_weights = source_weights.to(logits) * len(source) / source_weights.sum()
            weights = torch.cat([source_weights, torch.ones(len(target)).to(logits)])
        loss = F.binary_cross_entropy_with_logits(logits, domain, weight=weights)
        accuracy = ((logits.detach() > 0).float() == domain).float().mean()
        return loss, accuracy
