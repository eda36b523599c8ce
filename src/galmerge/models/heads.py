"""Regression heads on the existing backbones: per-parameter mean and heteroscedastic uncertainty.

:class:`RegressionNet` puts a small dense head on the conv features of any registered backbone
(DeepMerge CNN, ResNet18; any band count) and can take extra scalar inputs per image (noise
level, PSF FWHM, ...), concatenated to the features, as GaLNets feed the PSF to their dense
layers. It predicts, for each of ``n_targets`` parameters, a mean and log sigma; trained with a
Gaussian negative log-likelihood, sigma is the network's own uncertainty (Kendall & Gal 2017).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from galmerge.errors import ModelMismatchError
from galmerge.models.registry import build_model

__all__ = ["RegressionNet", "gaussian_nll"]

_LOG_SIGMA_RANGE = (-7.0, 3.0)


def gaussian_nll(mean: torch.Tensor, log_sigma: torch.Tensor, target: torch.Tensor, *, beta: float = 0.0) -> torch.Tensor:
    """Mean over images of the Gaussian negative log-likelihood, per parameter (shape ``(n_targets,)``), constant dropped.

    ``beta`` > 0 gives the beta-NLL of Seitzer et al. (2022): each image's NLL is weighted by
    its predicted variance to the power beta, held constant in the gradient. With beta = 0 the
    plain NLL lets the network stop fitting a hard parameter's mean by inflating its sigma (the
    mean's gradient is divided by sigma^2); beta = 1 gives the mean the gradient of a squared
    error, beta = 0.5 is between the two. Sigma is still fitted to the residuals in either case.
    """
    import torch.nn.functional as F

    nll = F.gaussian_nll_loss(mean, target, torch.exp(2 * log_sigma), reduction="none")
    if beta:
        nll = nll * torch.exp(2 * beta * log_sigma).detach()
    return nll.mean(dim=0)


class RegressionNet(nn.Module):
    """A backbone's features (+ extra inputs) -> mean and log sigma of each target.

    Parameters
    ----------
    architecture : str
        Backbone from the model registry (``deepmerge``, ``resnet18``).
    in_bands, input_size : int
    n_targets : int
    n_extra : int
        Scalar inputs per image besides the pixels (0: none).
    hidden : (int, int)
        Widths of the head's two hidden layers.

    Returns (from ``forward(images, extra=None)``)
    -------------------------------------------
    features : Tensor (N, feature_dim)
    output : Tensor (N, 2 n_targets)
        Means, then log sigmas (clamped to [-7, 3]), both in the units the targets were given in.
    """

    def __init__(self, *, architecture: str, in_bands: int, input_size: int, n_targets: int, n_extra: int = 0, hidden=(256, 64)):
        super().__init__()
        self.architecture = architecture
        self.n_targets = n_targets
        self.n_extra = n_extra
        backbone = build_model(architecture, in_bands=in_bands, input_size=input_size)
        # Only the backbone's feature vector is used (DeepMerge: its flattened conv maps; ResNet18:
        # its bottleneck); its classification layers stay in place, untouched by the loss.
        self.backbone = _FeatureExtractor(backbone)
        self.feature_dim = backbone.feature_dim
        self.head = nn.Sequential(
            nn.Linear(self.feature_dim + n_extra, hidden[0]),
            nn.ReLU(),
            nn.Linear(hidden[0], hidden[1]),
            nn.ReLU(),
            nn.Linear(hidden[1], 2 * n_targets),
        )

    def forward(self, images: torch.Tensor, extra: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone(images)
        if self.n_extra == 0:
            inputs = features
        elif extra is None or extra.shape != (len(images), self.n_extra):
            got = "none" if extra is None else f"shape {tuple(extra.shape)}"
            raise ModelMismatchError(f"the network takes {self.n_extra} extra input(s) per image, (N, {self.n_extra}); got {got}")
        else:
            inputs = torch.cat([features, extra.to(features.dtype)], dim=1)
        output = self.head(inputs)
        mean, log_sigma = output[:, : self.n_targets], output[:, self.n_targets :].clamp(*_LOG_SIGMA_RANGE)
        return features, torch.cat([mean, log_sigma], dim=1)

    def split(self, output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Means and log sigmas of a ``forward`` output."""
        return output[:, : self.n_targets], output[:, self.n_targets :]

    def head_parameters(self) -> list:
        return list(self.head.parameters())

    def layer_groups(self) -> list[list]:
        """Backbone conv stages, input first, then the head (for layer-wise fine-tuning)."""
        return self.backbone.layer_groups() + [self.head_parameters()]

    def parameter_groups(self, *, head_lr_multiplier: float = 1.0) -> list[dict]:
        return [
            {"params": [p for group in self.backbone.layer_groups() for p in group], "lr_multiplier": 1.0, "name": "backbone"},
            {"params": self.head_parameters(), "lr_multiplier": head_lr_multiplier, "name": "regression_head"},
        ]


class _FeatureExtractor(nn.Module):
    """A registered backbone seen through its feature output; its own classification layers get no gradient."""

    model: Any  # a registered backbone: (features, logits), layer_groups(); more than nn.Module says

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features, _ = self.model(images)
        return features

    def layer_groups(self) -> list[list]:
        return self.model.layer_groups()
