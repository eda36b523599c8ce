"""The one output policy of galmerge: new folders by default, nothing replaced unless asked, and then only galmerge's own.

Every stage that writes a folder (a run, an evaluation, an explanation, a fine-tuning curve, an
experiment) asks :func:`new_output_folder` for it; every stage that writes one file asks
:func:`output_file`. The rules:

- no ``out`` given: a new folder under the stage's default place (``base``, ``base-2``, ...);
- ``out`` given and free: it is made;
- ``out`` exists: refused, unless ``overwrite``; then it is emptied and reused only when it is
  an empty folder or a folder galmerge made for the same kind of output (it holds the marker
  file ``.galmerge-<kind>``). A user's folder is never deleted.

A run directory can also be continued (``galmerge train --resume``); that is decided by the run
itself (:meth:`galmerge.runs.Run.open`), not here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from galmerge.errors import OutputExistsError

__all__ = ["new_output_folder", "output_file", "first_free_path", "marker_name", "is_output_of_kind"]


def marker_name(kind: str) -> str:
    """The marker file that says a folder is a galmerge output of ``kind`` (``.galmerge-run``, ...)."""
    return f".galmerge-{kind}"


def is_output_of_kind(folder, kind: str) -> bool:
    return (Path(folder) / marker_name(kind)).exists()


def first_free_path(base) -> Path:
    """``base``, or ``base-2``, ``base-3``, ... : the first that does not exist yet."""
    base = Path(base)
    path, counter = base, 2
    while path.exists():
        path, counter = base.with_name(f"{base.name}-{counter}"), counter + 1
    return path


def new_output_folder(out, *, kind: str, default=None, overwrite: bool = False, what: str | None = None) -> Path:
    """Create and return an empty, marked folder for an output of ``kind`` (see the module docstring).

    Parameters
    ----------
    out : path or None
        The folder asked for; ``None`` uses the first free path from ``default``.
    kind : str
        ``run``, ``evaluation``, ``explanation``, ``finetune``, ``experiment``, ...
    default : path, optional
        Where the folder goes when ``out`` is None.
    overwrite : bool
        Replace ``out`` when it is an earlier galmerge output of the same kind.
    what : str, optional
        How messages name the folder (default: ``<kind> folder``).

    Raises
    ------
    OutputExistsError
        ``out`` exists and may not be replaced.
    """
    what = what or f"galmerge {kind} folder"
    if out is None:
        if default is None:
            raise ValueError("new_output_folder needs out or default")  # a programming error, not the user's
        out = first_free_path(default)
    out = Path(out)
    if out.exists():
        if not overwrite:
            raise OutputExistsError(f"{out}: already exists; choose another --out or pass --overwrite")
        if not out.is_dir():
            raise OutputExistsError(f"{out}: exists and is not a directory; refusing to replace it")
        if any(out.iterdir()) and not is_output_of_kind(out, kind):
            raise OutputExistsError(f"{out}: not a {what} (no {marker_name(kind)}); refusing to delete it")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / marker_name(kind)).write_text(f"{what}\n")
    return out


def output_file(out, *, overwrite: bool = False) -> Path:
    """The path of a one-file output (a catalog, an ImageSet, a report): refused if it exists, unless ``overwrite``."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out}: already exists; choose another --out or pass --overwrite")
    if out.is_dir():
        raise OutputExistsError(f"{out}: is a directory; give a file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out
