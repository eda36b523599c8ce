"""Models by name."""

from __future__ import annotations

from typing import Any

from galmerge.errors import ConfigError

__all__ = ["build_model", "available_models", "default_input_size", "MODELS"]


# Name -> "module:class"; classes are imported when a model is built, so listing the names needs no torch.
MODELS = {"deepmerge": "galmerge.models.deepmerge:DeepMerge", "resnet18": "galmerge.models.resnet:ResNet18"}


def available_models() -> list[str]:
    return sorted(MODELS)


def _model_class(name: str) -> Any:
    import importlib

    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(sorted(MODELS))}")
    module, cls = MODELS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def default_input_size(name: str) -> int:
    """The input side in pixels a model is built for when none is given."""
    return _model_class(name).default_input_size


def build_model(name: str, *, in_bands: int, input_size: int | None = None, num_classes: int = 2) -> Any:
    """Build a freshly initialised model.

    An ``nn.Module`` (typed ``Any``: it has more than ``nn.Module`` says). Every model's
    ``forward`` returns ``(features, logits)`` and it has ``feature_dim`` and a
    ``parameter_groups(head_lr_multiplier=...)`` method.
    """
    cls = _model_class(name)
    if input_size is None:
        input_size = cls.default_input_size
    return cls(in_bands=in_bands, input_size=input_size, num_classes=num_classes)
