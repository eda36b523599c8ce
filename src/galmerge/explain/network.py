"""A trained galmerge network as interpretation tools need it: one output tensor, every layer hookable."""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from galmerge.data.transforms import crop_and_resize
from galmerge.errors import ConfigError

__all__ = ["InspectableModel", "OUTPUTS", "resolve_layer", "activation_layer_names", "require_captum"]

OUTPUTS = ("logits", "features", "feature_norm")

# Per architecture, the modules whose outputs are the conv blocks' activation maps (after the ReLU,
# before pooling), input first. The last one is Grad-CAM's and TCAV's default layer.
ACTIVATION_LAYERS = {
    "deepmerge": ("relu1", "relu2", "relu3"),
    "resnet18": ("relu", "layer1", "layer2", "layer3", "layer4"),
}


def require_captum():
    """Import captum, or say how to install it."""
    try:
        import captum.attr  # noqa: F401
    except ImportError:  # pragma: no cover - the explain extra is part of `all`
        raise ImportError("galmerge.explain needs captum: pip install 'galmerge[explain]'") from None


class InspectableModel(nn.Module):
    """A trained network in evaluation mode that returns one tensor, with its preprocessing.

    captum attributes one output tensor, and its layer hooks only see modules that run: this
    copies the network, switches DeepMerge from its fused BatchNorm-ReLU-pool kernel (which
    bypasses module hooks) to the plain layers, and returns the output asked for. The trained
    model is left untouched.

    Parameters
    ----------
    network : nn.Module
        A galmerge model, returning ``(features, logits)``; use :meth:`from_trained`.
    spec : ModelSpec
    preprocessor : Preprocessor
    output : {"logits", "features", "feature_norm"}
        What ``forward`` returns: the head's output ``(N, outputs)``, class logits for a
        classifier (attribute the merger class with ``target=1``) or the predicted values of a
        regression head (``target`` = the output's index); the feature vector ``(N, D)`` that
        domain adaptation aligns; or that vector's Euclidean norm ``(N,)``, one number per image
        (``target=None``), whose Grad-CAM shows what drives the feature space, for source and
        target images alike.
    """

    def __init__(self, network: nn.Module, *, spec, preprocessor, output: str = "logits"):
        super().__init__()
        if output not in OUTPUTS:
            raise ConfigError(f"unknown output {output!r}; choose one of {', '.join(OUTPUTS)}")
        self.network = network
        self.output = output
        self.spec = spec
        self.preprocessor = preprocessor

    @classmethod
    def from_trained(cls, trained, *, output: str = "logits") -> "InspectableModel":
        """A copy of a :class:`~galmerge.models.TrainedModel`'s network, on the CPU, with plain layers."""
        network = copy.deepcopy(trained.model).cpu().eval()
        if hasattr(network, "fused"):
            network.fused = False
        return cls(network, spec=trained.spec, preprocessor=trained.preprocessor, output=output)

    @property
    def architecture(self) -> str:
        return self.spec.architecture

    @property
    def input_size(self) -> int:
        return self.spec.input_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, logits = self.network(x)
        if self.output == "logits":
            return logits
        return features if self.output == "features" else features.norm(dim=1)

    def with_output(self, output: str) -> "InspectableModel":
        """The same network (shared, not copied) returning another output."""
        return InspectableModel(self.network, spec=self.spec, preprocessor=self.preprocessor, output=output)

    @property
    def activation_layers(self) -> tuple[str, ...]:
        """Names of the conv blocks' activation layers, input first."""
        return ACTIVATION_LAYERS.get(self.architecture) or _conv_layer_names(self.network)

    def layer(self, name: str) -> nn.Module:
        """The module called ``name`` in the network (``relu3``, ``layer4``, ``conv2``, ...)."""
        modules = dict(self.network.named_modules())
        if not name or name not in modules:
            raise ConfigError(f"no layer {name!r} in the {self.architecture} network; its activation layers are {', '.join(self.activation_layers)}")
        return modules[name]

    def preprocess(self, images: np.ndarray, *, rows=None, source: str = "images") -> torch.Tensor:
        """Raw images (N, bands, H, W) as the network sees them, by the training preprocessing."""
        return torch.from_numpy(self.preprocessor.transform(images, rows=rows, source=source))

    def zero_level(self) -> torch.Tensor:
        """The network input of an image without light (zero flux), shape (1, bands, 1, 1)."""
        side = self.input_size
        return self.preprocessor.transform_tensor(torch.zeros(1, self.spec.in_bands, side, side))[:, :, :1, :1]

    def to_input_geometry(self, array: np.ndarray) -> np.ndarray:
        """Crop and resize raw-image-shaped arrays (N, C, H, W) as preprocessing does, for displays and masks."""
        tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        return crop_and_resize(tensor, size=self.preprocessor.input_size, crop_fraction=self.preprocessor.crop_fraction).numpy()


def resolve_layer(model: nn.Module, layer) -> nn.Module:
    """A layer given as a module or by name (in an :class:`InspectableModel`, or any module's ``named_modules``)."""
    if isinstance(layer, nn.Module):
        return layer
    if isinstance(model, InspectableModel):
        return model.layer(layer)
    modules = dict(model.named_modules())
    if not layer or layer not in modules:
        raise ConfigError(f"no layer {layer!r} in {type(model).__name__}; it has {', '.join(n for n in modules if n)}")
    return modules[layer]


def _conv_layer_names(module: nn.Module) -> tuple[str, ...]:
    return tuple(name for name, child in module.named_modules() if isinstance(child, nn.Conv2d))


def activation_layer_names(model: nn.Module) -> tuple[str, ...]:
    """Default layers to inspect: an InspectableModel's conv blocks, else every Conv2d of the module."""
    return model.activation_layers if isinstance(model, InspectableModel) else _conv_layer_names(model)
