"""Grad-CAM (Selvaraju et al. 2017): where a convolutional layer's evidence for an output lies."""

from __future__ import annotations

import torch
from torch import nn

from galmerge.explain.network import activation_layer_names, require_captum, resolve_layer

__all__ = ["grad_cam"]


def grad_cam(model: nn.Module, inputs: torch.Tensor, *, layer=None, target=1, upsample: bool = True, batch_size: int = 32) -> torch.Tensor:
    """Grad-CAM maps: a layer's feature maps weighted by their mean gradient, summed, then ReLU.

    Parameters
    ----------
    model : nn.Module
        Returns one tensor; for the feature space of a galmerge network use
        ``InspectableModel.with_output("feature_norm")`` with ``target=None``.
    inputs : Tensor (N, bands, H, W)
    layer : str or nn.Module, optional
        Any convolutional layer (default: the last activation layer, as in the paper).
    target : int or None
        Output column (1: merger logit); ``None`` for one output per image.
    upsample : bool
        Resize the maps bilinearly to the input's height and width (captum's
        ``LayerAttribution.interpolate``); else keep the layer's resolution.

    Returns
    -------
    Tensor (N, H, W), non-negative
    """
    require_captum()
    from captum.attr import LayerAttribution, LayerGradCam

    if layer is None:
        layer = activation_layer_names(model)[-1]
    method = LayerGradCam(model, resolve_layer(model, layer))
    maps = []
    for start in range(0, len(inputs), batch_size):
        cam = method.attribute(inputs[start : start + batch_size], target=target, relu_attributions=True).detach()
        if upsample:
            cam = LayerAttribution.interpolate(cam, tuple(inputs.shape[-2:]), interpolate_mode="bilinear")
        maps.append(cam[:, 0])
    return torch.cat(maps) if maps else torch.zeros(0, *inputs.shape[-2:])
