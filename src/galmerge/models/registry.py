"""Models by name."""

from __future__ import annotations

from torch import nn

from galmerge.errors import ConfigError

__all__ = ["build_model", "available_models", "default_input_size"]


def _registry() -> dict[str, type[nn.Module]]:
    from galmerge.models.deepmerge import DeepMerge
    from galmerge.models.resnet import ResNet18

    return {"deepmerge": DeepMerge, "resnet18": ResNet18}


def available_models() -> list[str]:
    return sorted(_registry())


def _model_class(name: str) -> type[nn.Module]:
    registry = _registry()
    if name not in registry:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(sorted(registry))}")
    return registry[name]


def default_input_size(name: str) -> int:
    """The input side in pixels a model is built for when none is given."""
    return _model_class(name).default_input_size


def build_model(name: str, *, in_bands: int, input_size: int | None = None, num_classes: int = 2) -> nn.Module:
    """Build a freshly initialised model.

    Every model's ``forward`` returns ``(features, logits)`` and it has ``feature_dim`` and a
    ``parameter_groups(head_lr_multiplier=...)`` method.
    """
    cls = _model_class(name)
    if input_size is None:
        input_size = cls.default_input_size
    return cls(in_bands=in_bands, input_size=input_size, num_classes=num_classes)
