"""Reading the TOML files galmerge takes (training options, experiment protocols, mock recipes)."""

from __future__ import annotations

import sys
from pathlib import Path

from galmerge.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["read_toml"]


def read_toml(path, *, what: str = "configuration file", error: type[Exception] = ConfigError) -> dict:
    """The table of a TOML file; ``error`` names the file when it is missing or not valid TOML."""
    path = Path(path)
    if not path.exists():
        raise error(f"{path}: no such {what}")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as problem:
        raise error(f"{path}: not valid TOML ({problem})") from None
