"""Run directories: every run gets a new one; nothing is replaced unless asked."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from galmerge.errors import CheckpointError, OutputExistsError

__all__ = ["new_run_directory", "require_run_directory", "read_run_config", "first_free_path", "RUN_MARKER", "RunFiles"]

RUN_MARKER = ".galmerge-run"


class RunFiles:
    """Names of the files a run directory holds."""

    config = "config.toml"
    model = "model.safetensors"
    preprocessing = "preprocessing.json"
    split = "split.npz"
    history = "history.csv"
    metrics = "metrics.json"
    test_predictions = "test_predictions.ecsv"
    target_test_predictions = "target_test_predictions.ecsv"
    checkpoints = "checkpoints"
    figures = "figures"


def new_run_directory(out=None, *, name: str = "run", overwrite: bool = False, root="runs") -> Path:
    """Create and return a fresh run directory.

    Parameters
    ----------
    out : path, optional
        The directory to create. ``None`` makes ``<root>/<YYYYmmdd-HHMMSS>-<name>`` (with a
        numeric suffix if that exists).
    overwrite : bool
        Replace ``out`` if it exists. Only an empty directory or an earlier galmerge run (one
        holding the ``.galmerge-run`` marker) is ever deleted.

    Raises
    ------
    OutputExistsError
        If ``out`` exists and ``overwrite`` is false, or it is not a galmerge run directory.
    """
    if out is None:
        out = first_free_path(Path(root) / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}")
    out = Path(out)
    if out.exists():
        if not overwrite:
            raise OutputExistsError(f"{out}: already exists; choose a new --out or pass --overwrite")
        if not out.is_dir():
            raise OutputExistsError(f"{out}: exists and is not a directory; refusing to replace it")
        if any(out.iterdir()) and not (out / RUN_MARKER).exists():
            raise OutputExistsError(f"{out}: not a galmerge run directory (no {RUN_MARKER}); refusing to delete it")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / RUN_MARKER).write_text("galmerge run directory\n")
    return out


def first_free_path(base) -> Path:
    """``base``, or ``base-2``, ``base-3``, ... : the first that does not exist yet."""
    base = Path(base)
    path, counter = base, 2
    while path.exists():
        path, counter = base.with_name(f"{base.name}-{counter}"), counter + 1
    return path


def read_run_config(run_dir) -> tuple:
    """A run's ``TrainConfig`` and its provenance (the ``[run]`` table: data, target, versions), from one read."""
    from galmerge.tomlfiles import read_toml
    from galmerge.training.config import TrainConfig

    path = Path(run_dir) / RunFiles.config
    values = read_toml(path)
    provenance = values.pop("run", {})
    return TrainConfig.from_dict(values, source=str(path)), provenance


def require_run_directory(path) -> Path:
    """Return ``path`` if it is a finished or resumable galmerge run directory."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: no such run directory")
    if not (path / RUN_MARKER).exists() or not (path / RunFiles.config).exists():
        raise CheckpointError(f"{path}: not a galmerge run directory (no {RUN_MARKER} or {RunFiles.config})")
    return path
