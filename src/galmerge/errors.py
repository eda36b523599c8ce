"""Errors raised by galmerge.

Every error a user can cause by giving bad input is a :class:`GalmergeError`. The command line
prints these as one line (``galmerge: error: <message>``) and exits with status 2; anything else
is a bug and keeps its traceback.

Each class also subclasses the built-in exception a Python user would expect, so
``except ValueError`` keeps working (the GalSim convention).
"""

from __future__ import annotations

__all__ = [
    "GalmergeError",
    "DataError",
    "DataFileNotFoundError",
    "LabelError",
    "ModelMismatchError",
    "CheckpointError",
    "OutputExistsError",
    "ConfigError",
    "RecipeError",
]


class GalmergeError(Exception):
    """Base class of every error caused by the user's input."""


class DataError(GalmergeError, ValueError):
    """Images that cannot be used: wrong shape, non-finite pixels, corrupt files, empty sets."""


class DataFileNotFoundError(GalmergeError, FileNotFoundError):
    """A data file or folder that does not exist."""


class LabelError(DataError):
    """Labels that are not 0/1, do not match the images, or hold a single class."""


class ModelMismatchError(GalmergeError, ValueError):
    """Data or weights that do not fit the model (band count, image size, architecture)."""


class CheckpointError(GalmergeError, ValueError):
    """A model file or run directory that is missing, corrupt or of another kind."""


class OutputExistsError(GalmergeError, FileExistsError):
    """An output that already exists and would be overwritten."""


class ConfigError(GalmergeError, ValueError):
    """A configuration file or option with an unknown key or an invalid value."""


class RecipeError(ConfigError):
    """A survey recipe or observation setting that cannot be used (missing band, bad PSF, scale <= 0)."""
