"""One map per image for each attribution method, by name: the common currency of figures and checks."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from galmerge.errors import ConfigError
from galmerge.explain.gradcam import grad_cam
from galmerge.explain.saliency import combine_bands, integrated_gradients, saliency, smoothgrad

__all__ = ["ATTRIBUTION_METHODS", "attribution_maps", "check_methods"]

ATTRIBUTION_METHODS = ("saliency", "smoothgrad", "ig", "gradcam")
METHOD_TITLES = {"saliency": "saliency (|gradient|)", "smoothgrad": "SmoothGrad", "ig": "Integrated Gradients", "gradcam": "Grad-CAM"}


def check_methods(methods, *, allowed=ATTRIBUTION_METHODS) -> tuple[str, ...]:
    """Method names as a tuple, or a ConfigError naming the unknown ones and the choices."""
    methods = tuple(methods)
    unknown = [m for m in methods if m not in allowed]
    if unknown:
        raise ConfigError(f"unknown method {', '.join(map(repr, unknown))}; choose from {', '.join(allowed)}")
    return methods


def attribution_maps(
    model: nn.Module,
    inputs: torch.Tensor,
    *,
    method: str,
    target=1,
    layer=None,
    baseline="zeros",
    smoothgrad_samples: int = 25,
    ig_steps: int = 50,
    seed: int = 0,
) -> np.ndarray:
    """Maps (N, H, W) of one method: ``saliency``, ``smoothgrad`` (largest ``|gradient|`` over
    bands), ``ig`` (Integrated Gradients summed over bands, signed) or ``gradcam`` (at ``layer``,
    upsampled to the input).
    """
    check_methods([method])
    if method == "saliency":
        return combine_bands(saliency(model, inputs, target=target))
    if method == "smoothgrad":
        return combine_bands(smoothgrad(model, inputs, target=target, samples=smoothgrad_samples, seed=seed))
    if method == "ig":
        return combine_bands(integrated_gradients(model, inputs, target=target, baseline=baseline, steps=ig_steps, seed=seed), how="sum")
    return grad_cam(model, inputs, layer=layer, target=target).numpy()
