"""The machinery of galmerge's configuration: options declared once, checked, and turned into command-line flags.

A configuration is a dataclass whose fields are made with :func:`option`: a default, a help
text, and optionally the valid ``choices``, a ``minimum``, the value's type when the default does
not say it, and the command-line flag when it is not ``--<name>``. From that one declaration:

- :func:`coerce_fields` checks and converts values read from TOML files or given in Python
  (one ``ConfigError`` naming the option and the problem);
- :func:`add_option_argument` adds the argparse flag, with its choices, help and default.

The sections of a training configuration are in :mod:`galmerge.training.config`; the options of
each adaptation method in :mod:`galmerge.adapt.registry`.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from galmerge.errors import ConfigError

__all__ = ["option", "coerce_fields", "coerce_value", "add_option_argument", "option_help", "field_default"]


def option(
    default: Any,
    help: str,
    *,
    choices: tuple | None = None,
    minimum: float | None = None,
    value_type: Any = None,
    item_type: type | None = None,
    flag: str | None = None,
) -> Any:
    """A configuration field (typed ``Any``: it is a field's default to a dataclass, a ``dataclasses.Field`` to this module).

    Parameters
    ----------
    default
        The value when none is given (lists and dicts are copied per instance).
    help : str
        One line for ``--help`` and the documentation.
    choices : tuple, optional
        The only valid values.
    minimum : float, optional
        The smallest valid value of a number.
    value_type : type or tuple of types, optional
        The type when the default does not tell it (``None`` defaults; ``(int, str)``).
    item_type : type, optional
        The type of each item of a tuple value.
    flag : str, optional
        The command-line flag (default ``--<flat-name>`` with ``-`` for ``_``).
    """
    metadata = {
        "help": help,
        "choices": choices,
        "minimum": minimum,
        "value_type": value_type if value_type is not None else (None if default is None else type(default)),
        "item_type": item_type,
        "flag": flag,
    }
    if isinstance(default, (list, dict)):
        factory = list if isinstance(default, list) else dict
        return dataclasses.field(default_factory=lambda: factory(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _type_name(value_type) -> str:
    if isinstance(value_type, tuple):
        return " or ".join(_type_name(t) for t in value_type)
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string", tuple: "a list"}.get(value_type, getattr(value_type, "__name__", str(value_type)))


def coerce_value(value: Any, spec: dataclasses.Field, *, name: str) -> Any:
    """``value`` checked against a field made by :func:`option` and converted (ints to floats, lists to tuples)."""
    metadata = spec.metadata
    value_type = metadata.get("value_type")
    if value is None:
        if spec.default is None:
            return None
        raise ConfigError(f"{name} needs a value")
    types = value_type if isinstance(value_type, tuple) else (value_type,)
    converted = _convert(value, types, metadata.get("item_type"))
    if converted is _INVALID:
        raise ConfigError(f"{name} must be {_type_name(value_type)}, got {value!r}")
    choices = metadata.get("choices")
    if choices is not None and converted not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, choices))}; got {converted!r}")
    minimum = metadata.get("minimum")
    if minimum is not None and converted < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {converted!r}")
    return converted


_INVALID = object()


def _convert(value, types, item_type):
    for value_type in types:
        if value_type is None:
            return value
        if value_type is bool:
            if isinstance(value, bool):
                return value
        elif value_type is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        elif value_type is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
        elif value_type is str:
            if isinstance(value, str):
                return value
        elif value_type is tuple:
            if isinstance(value, (list, tuple)):
                items = [_convert(v, (item_type,), None) for v in value] if item_type else list(value)
                if not any(item is _INVALID for item in items):
                    return tuple(items)
    return _INVALID


def coerce_fields(instance, *, prefix: str = "") -> None:
    """Check and convert every field of a dataclass made with :func:`option`, in place (for ``__post_init__``)."""
    for spec in dataclasses.fields(instance):
        if "help" in spec.metadata:
            object.__setattr__(instance, spec.name, coerce_value(getattr(instance, spec.name), spec, name=f"{prefix}{spec.name}"))


def field_default(spec: dataclasses.Field) -> Any:
    """A field's default value (made by its factory when it has one)."""
    if spec.default is not dataclasses.MISSING:
        return spec.default
    return spec.default_factory()  # type: ignore[operator]


def option_help(spec: dataclasses.Field, *, help: str | None = None) -> str:
    """The field's help (or ``help``) with its default, as ``--help`` shows it."""
    text = help if help is not None else spec.metadata["help"]
    if "(default" in text:
        return text
    default = field_default(spec)
    shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
    return f"{text} (default: {shown})"


def add_option_argument(group, flat_name: str, spec: dataclasses.Field, *, help: str | None = None, choices: tuple | None = None) -> None:
    """Add the flag of one option to an argparse parser or group; an absent flag leaves no attribute (``SUPPRESS``).

    ``help`` and ``choices`` replace the field's own (choices known only at run time: registered
    methods, model names).
    """
    metadata = spec.metadata
    flag = metadata.get("flag") or "--" + flat_name.replace("_", "-")
    value_type = metadata.get("value_type")
    kwargs: dict[str, Any] = {"dest": flat_name, "default": argparse.SUPPRESS, "help": option_help(spec, help=help)}
    choices = choices if choices is not None else metadata.get("choices")
    if value_type is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif value_type is tuple:
        default = field_default(spec)
        kwargs.update(nargs=len(default) if isinstance(default, tuple) else "+", type=metadata.get("item_type") or str, metavar="X")
    else:
        kwargs["type"] = _parse_either if isinstance(value_type, tuple) else (value_type or str)
        if choices is not None:
            kwargs["choices"] = choices
    group.add_argument(flag, **kwargs)


def _parse_either(text: str):
    """A command-line value that may be an integer or a word (``--devices 2``, ``--devices auto``)."""
    return int(text) if text.lstrip("-").isdigit() else text
