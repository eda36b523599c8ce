"""What the convolutional layers respond to: feature maps of an image, and filters that never fire."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from galmerge.explain.network import activation_layer_names, require_captum, resolve_layer

__all__ = ["layer_activations", "dead_filters", "DeadFilterReport"]


def layer_activations(model: nn.Module, inputs: torch.Tensor, *, layer, batch_size: int = 64) -> torch.Tensor:
    """The output of one layer for a batch of network inputs (captum ``LayerActivation``).

    Returns
    -------
    Tensor (N, filters, h, w)
    """
    require_captum()
    from captum.attr import LayerActivation

    method = LayerActivation(model, resolve_layer(model, layer))
    with torch.no_grad():
        return torch.cat([method.attribute(inputs[start : start + batch_size]).detach() for start in range(0, len(inputs), batch_size)])


@dataclass
class DeadFilterReport:
    """Filters of one layer that never activate on a set of images.

    Attributes
    ----------
    layer : str
    n_filters : int
    dead : list of int
        Filters whose output is never above 0 anywhere in any image (after the ReLU: always 0).
    peak : ndarray (n_filters,)
        Each filter's largest output over the images.
    n_images : int
    """

    layer: str
    n_filters: int
    dead: list
    peak: np.ndarray
    n_images: int

    @property
    def dead_fraction(self) -> float:
        return len(self.dead) / self.n_filters if self.n_filters else 0.0

    def to_dict(self) -> dict:
        return {"layer": self.layer, "n_filters": self.n_filters, "dead": self.dead, "dead_fraction": self.dead_fraction, "n_images": self.n_images}


def dead_filters(model: nn.Module, inputs: torch.Tensor, *, layers=None, batch_size: int = 64, progress: bool = False) -> list[DeadFilterReport]:
    """Per layer, the filters that never activate on ``inputs`` (the seeds' "dead neurons").

    Parameters
    ----------
    layers : sequence of str, optional
        Default: every activation layer of the model, input first.
    """
    from galmerge.display import progress_bar

    names = tuple(layers) if layers is not None else activation_layer_names(model)
    reports = []
    for name in progress_bar(names, desc="dead filters", unit="layer", enabled=progress):
        peak = None
        for start in range(0, len(inputs), batch_size):
            activation = layer_activations(model, inputs[start : start + batch_size], layer=name, batch_size=batch_size)
            batch_peak = activation.transpose(0, 1).reshape(activation.shape[1], -1).amax(dim=1)
            peak = batch_peak if peak is None else torch.maximum(peak, batch_peak)
        peak = peak.numpy() if peak is not None else np.zeros(0)
        reports.append(DeadFilterReport(layer=name, n_filters=len(peak), dead=[int(i) for i in np.flatnonzero(peak <= 0)], peak=peak, n_images=len(inputs)))
    return reports
