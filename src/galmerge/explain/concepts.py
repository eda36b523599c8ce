"""Concept image sets for TCAV: chosen from mock metadata and masks, or read from a folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from galmerge.data.imageset import ImageSet
from galmerge.errors import DataError, DataFileNotFoundError

__all__ = ["concepts_from_metadata", "load_concept_folder", "RANDOM_PREFIX"]

RANDOM_PREFIX = "random"
TIDAL_AREA = 0.05  # share of the stamp covered by tidal-feature pixels
COMPANION_AREA = 0.03


def _mask_area(imageset: ImageSet, bit: int) -> np.ndarray:
    return ((imageset.masks & bit) > 0).reshape(len(imageset), -1).mean(axis=1)


def _definitions(imageset: ImageSet) -> list[tuple[str, np.ndarray, str]]:
    """(name, boolean selection, description) for every concept the metadata can define."""
    from galmerge.data.masks import MASK_BITS

    meta = imageset.meta
    columns = set(meta.colnames)
    found = []
    if imageset.masks is not None:
        found.append(("tidal features", _mask_area(imageset, MASK_BITS["tidal"]) >= TIDAL_AREA, f"tidal-feature pixels cover >= {TIDAL_AREA:.0%} of the stamp"))
        found.append(("companion", _mask_area(imageset, MASK_BITS["companion"]) >= COMPANION_AREA, f"companion pixels cover >= {COMPANION_AREA:.0%} of the stamp"))
    if "kind" in columns:
        kind = np.asarray(meta["kind"]).astype(str)
        found.append(("disky", kind == "disk", "kind = disk"))
        found.append(("spheroidal", kind == "spheroid", "kind = spheroid"))
        found.append(("projected pair", kind == "projected_pair", "kind = projected_pair (a galaxy at another distance in the line of sight)"))
        if "colour" in columns:
            colour = np.asarray(meta["colour"], dtype=float)
            found.append(("blue clumpy", (kind == "clumpy") & (colour <= np.nanmedian(colour)), "kind = clumpy and colour bluer than the set's median"))
    if "n_field_sources" in columns:
        count = np.asarray(meta["n_field_sources"], dtype=float)
        threshold = max(1.0, float(np.quantile(count, 0.9)))
        found.append(("busy field", count >= threshold, f"{threshold:.0f} or more field galaxies and stars in the stamp"))
    if "has_star" in columns:
        found.append(("field star", np.asarray(meta["has_star"], dtype=bool), "a field star in the stamp"))
    return found


def concepts_from_metadata(imageset: ImageSet, *, rows=None, min_images: int = 10, max_images: int = 50, seed: int = 0) -> dict[str, tuple[np.ndarray, str]]:
    """Concepts that the metadata and masks of a (mock) set define, as rows of ``imageset``.

    Concepts: "tidal features" and "companion" (from the ground-truth masks), "disky",
    "spheroidal", "projected pair" and "blue clumpy" (from ``kind`` and ``colour``), "busy field"
    (the top tenth by ``n_field_sources``, at least one), "field star" (the toy set's
    ``has_star``). Those with fewer than ``min_images`` rows are left out.

    Parameters
    ----------
    rows : array of int, optional
        Choose only among these rows (default all).
    max_images : int
        A random subset of at most this many rows per concept.

    Returns
    -------
    dict
        ``name -> (rows, description)``.
    """
    allowed = np.zeros(len(imageset), bool)
    allowed[np.arange(len(imageset)) if rows is None else np.asarray(rows)] = True
    rng = np.random.default_rng(seed)
    concepts = {}
    for name, selected, description in _definitions(imageset):
        chosen = np.flatnonzero(selected & allowed)
        if len(chosen) >= min_images:
            concepts[name] = (np.sort(rng.choice(chosen, min(max_images, len(chosen)), replace=False)), description)
    return concepts


def load_concept_folder(folder, *, size: int | None = None, progress: bool = False) -> tuple[dict[str, ImageSet], list[ImageSet]]:
    """Concept sets from a folder: every entry (sub-folder of cutouts, ``.h5``, ``.npy``, ``.csv``) is one concept.

    Entries whose name starts with ``random`` are random counterpart images instead.

    Returns
    -------
    concepts : dict
        ``name -> ImageSet``, named by the entry's stem.
    randoms : list of ImageSet
    """
    from galmerge.data.sources import load_imageset

    folder = Path(folder)
    if not folder.is_dir():
        raise DataFileNotFoundError(f"{folder}: no such concept folder")
    concepts, randoms = {}, []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or not (entry.is_dir() or entry.suffix.lower() in (".h5", ".hdf5", ".npy", ".csv")):
            continue
        imageset = load_imageset(entry, size=size, progress=progress)
        if entry.name.lower().startswith(RANDOM_PREFIX):
            randoms.append(imageset)
        else:
            concepts[entry.stem] = imageset
    if not concepts:
        raise DataError(f"{folder}: no concept sets (sub-folders of cutouts, .h5, .npy or .csv files)")
    return concepts, randoms
