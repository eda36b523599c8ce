"""Loaders for collections of per-object files: a folder of cutouts, or a CSV catalog naming them."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
from astropy.table import Table

from galmerge.data.fits import FITS_SUFFIXES, read_fits_cutout
from galmerge.data.imageset import ImageSet, validate_binary_labels
from galmerge.data.nonfinite import fill_nonfinite
from galmerge.data.pictures import PICTURE_SUFFIXES, read_picture
from galmerge.errors import DataError, DataFileNotFoundError
from galmerge.plotting import band_sort_key

__all__ = ["load_files", "load_directory", "load_catalog_csv", "band_sort_key"]  # band_sort_key: from galmerge.plotting

FILE_COLUMNS = ("file", "filename", "file_name", "path", "image")
LABEL_COLUMNS = ("is_merger", "label", "merger")
ID_COLUMNS = ("id", "objid", "object_id", "galaxy_id", "iauname", "name")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in FITS_SUFFIXES + PICTURE_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return ""


def _stem(path: Path) -> str:
    return path.name[: len(path.name) - len(_suffix(path))]


def _read_object(paths: Sequence[Path], size: int | None):
    """Read one object from one file, or from one file per band; returns (pixels, bands, scale, ra, dec)."""
    if _suffix(paths[0]) in PICTURE_SUFFIXES:
        pixels, bands = read_picture(paths[0], size=size)
        return pixels, bands, None, None, None
    cutouts = [read_fits_cutout(path) for path in paths]
    if len(cutouts) > 1:
        for path, cutout in zip(paths, cutouts):
            if cutout.pixels.shape[0] != 1:
                raise DataError(f"{path}: one file per band was expected, but it holds {cutout.pixels.shape[0]} bands")
        shapes = {c.pixels.shape for c in cutouts}
        if len(shapes) != 1:
            raise DataError(f"{paths[0].parent}: band files of {_stem(paths[0])} differ in shape: {sorted(shapes)}")
        pixels = np.concatenate([c.pixels for c in cutouts])
    else:
        pixels = cutouts[0].pixels
    first = cutouts[0]
    scale = first.pixel_scale_arcsec
    if size is not None:
        side = min(pixels.shape[1:])
        import torch

        from galmerge.data.transforms import crop_and_resize

        pixels = crop_and_resize(torch.from_numpy(pixels)[None], size=size)[0].numpy()
        scale = None if scale is None else scale * side / size
    return pixels, first.bands, scale, first.ra_deg, first.dec_deg


def load_files(
    objects: Sequence[Sequence[Path]],
    *,
    size: int | None = None,
    ids: Sequence | None = None,
    labels=None,
    meta: Table | None = None,
    bands: Sequence[str] | None = None,
    nonfinite: str = "fill",
    source: str,
    progress: bool = True,
) -> ImageSet:
    """Read objects, each given as one file or one file per band, into an ImageSet.

    Parameters
    ----------
    objects : sequence of sequences of paths
        ``[[a.fits], [b.fits]]`` for one file per object, ``[[a_g.fits, a_r.fits], ...]`` for one
        file per band per object (in band order).
    size : int, optional
        Resize every object to ``size`` x ``size`` pixels (centre-cropped square). Needed when
        the files differ in size, and to keep large pictures from filling memory.
    ids, labels, meta, bands
        Per-object ids, 0/1 labels and extra columns; band names that override the files'.
    nonfinite : {"fill", "raise"}
        Policy for NaN/inf pixels (see :mod:`galmerge.data.nonfinite`).
    source : str
        Name of the collection in messages and in the set's provenance.
    """
    from galmerge.display import progress_bar

    if not objects:
        raise DataError(f"{source}: no files to load")
    workers = min(8, os.cpu_count() or 1)
    # Decoding releases the GIL (PIL, zlib, numpy), so threads overlap file reads and decodes.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(
            progress_bar(
                pool.map(lambda paths: _read_object(paths, size), objects),
                total=len(objects),
                desc=f"reading {Path(source).name}",
                unit="img",
                enabled=progress and len(objects) >= 200,
            )
        )
    first_pixels, first_bands = results[0][0], results[0][1]
    for paths, (pixels, object_bands, *_rest) in zip(objects, results):
        if pixels.shape != first_pixels.shape:
            if pixels.shape[0] != first_pixels.shape[0]:
                raise DataError(f"{paths[0]}: {pixels.shape[0]} bands, but {objects[0][0]} has {first_pixels.shape[0]}")
            raise DataError(
                f"{paths[0]}: image of {pixels.shape[1]}x{pixels.shape[2]} px, but {objects[0][0]} is {first_pixels.shape[1]}x{first_pixels.shape[2]}; pass size (--size N) to resize all to one size"
            )
        if bands is None and len(objects[0]) == 1 and object_bands != first_bands:
            raise DataError(f"{paths[0]}: bands {object_bands} differ from {objects[0][0]}'s {first_bands}")
    images = np.stack([r[0] for r in results])
    ids = list(ids) if ids is not None else [_stem(paths[0]) for paths in objects]
    band_names = tuple(bands) if bands is not None else first_bands
    images, fractions = fill_nonfinite(images, source=source, ids=ids, bands=band_names, policy=nonfinite)
    table = meta.copy() if meta is not None else Table()
    table["id"] = ids
    table.columns.move_to_end("id", last=False)
    table["source_file"] = [str(paths[0]) for paths in objects]
    if any(r[3] is not None for r in results):
        table["ra"] = [np.nan if r[3] is None else r[3] for r in results]
        table["dec"] = [np.nan if r[4] is None else r[4] for r in results]
        table["ra"].unit = table["dec"].unit = "deg"
    table["nonfinite_fraction"] = fractions
    scales = {r[2] for r in results}
    scale = scales.pop() if len(scales) == 1 else None
    if scale is None and len(scales) > 1:
        table["pixel_scale_arcsec"] = [np.nan if r[2] is None else r[2] for r in results]
    return ImageSet(images, bands=band_names, labels=labels, meta=table, pixel_scale_arcsec=scale, source=source)


def load_directory(directory, *, size=None, bands=None, nonfinite="fill", progress=True) -> ImageSet:
    """Load every FITS or picture file in a folder as an unlabelled set (ids from file names).

    FITS files named ``<object>_<band>.fits`` (for example ``obj12_g.fits``, ``obj12_r.fits``)
    whose objects all share the same band suffixes are read as one file per band per object;
    bands are ordered as ``bands`` says, or by wavelength (:func:`band_sort_key`).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataFileNotFoundError(f"{directory}: no such folder")
    files = sorted(p for p in directory.iterdir() if p.is_file() and _suffix(p))
    if not files:
        raise DataError(f"{directory}: no FITS ({', '.join(FITS_SUFFIXES)}) or picture ({', '.join(PICTURE_SUFFIXES)}) files")
    kinds = {_suffix(p) in PICTURE_SUFFIXES for p in files}
    if len(kinds) > 1:
        raise DataError(f"{directory}: mixes FITS and picture files; put them in separate folders")
    groups = _per_band_groups(files, bands) if _suffix(files[0]) in FITS_SUFFIXES else None
    if groups is not None:
        object_names, band_names, objects = groups
        return load_files(objects, size=size, ids=object_names, bands=band_names, nonfinite=nonfinite, source=str(directory), progress=progress)
    return load_files([[p] for p in files], size=size, bands=bands, nonfinite=nonfinite, source=str(directory), progress=progress)


def _per_band_groups(files: list[Path], bands):
    by_object: dict[str, dict[str, Path]] = {}
    for path in files:
        stem = _stem(path)
        if "_" not in stem:
            return None
        name, band = stem.rsplit("_", 1)
        if band.isdigit() or len(band) > 8:
            return None
        by_object.setdefault(name, {})[band] = path
    band_sets = {frozenset(b) for b in by_object.values()}
    if len(band_sets) != 1 or len(next(iter(band_sets))) < 2:
        return None
    found = next(iter(band_sets))
    if bands is not None:
        if set(bands) != set(found):
            raise DataError(f"{files[0].parent}: band files {sorted(found)} do not match the bands asked for {list(bands)}")
        order = list(bands)
    else:
        order = sorted(found, key=band_sort_key)
    names = sorted(by_object)
    return names, tuple(order), [[by_object[name][band] for band in order] for name in names]


def load_catalog_csv(
    csv_path,
    *,
    size=None,
    file_column=None,
    label_column=None,
    id_column=None,
    bands=None,
    nonfinite="fill",
    progress=True,
) -> ImageSet:
    """Load the files a CSV catalog names, with its labels and columns, e.g. ``gz1_dev/labels.csv``.

    Columns are found by name when not given: the file from ``file``/``filename``/``path``;
    the label from ``is_merger``/``label`` (none: unlabelled); the id from ``id``/``objid``/
    ``galaxy_id``/``iauname`` (none: row number). Relative file paths are relative to the CSV.
    Every other column is kept in the metadata.
    """
    csv_path = Path(csv_path)
    if not csv_path.exists():
        raise DataFileNotFoundError(f"{csv_path}: no such file")
    try:
        table = Table.read(csv_path, format="ascii.csv")
    except Exception as error:
        raise DataError(f"{csv_path}: not a readable CSV catalog ({error})") from None
    if len(table) == 0:
        raise DataError(f"{csv_path}: the catalog has no rows")
    file_column = _pick(table, file_column, FILE_COLUMNS, csv_path, what="file")
    label_column = _pick(table, label_column, LABEL_COLUMNS, csv_path, what="label", required=False)
    id_column = _pick(table, id_column, ID_COLUMNS, csv_path, what="id", required=False)
    labels = None
    if label_column is not None:
        column = table[label_column]
        if getattr(column, "mask", None) is not None and np.any(column.mask):
            raise DataError(f"{csv_path}: column {label_column!r} has {int(np.sum(column.mask))} empty values")
        labels = np.asarray(column)
    ids = list(table[id_column]) if id_column is not None else list(range(len(table)))
    objects = [[(csv_path.parent / str(name)).resolve()] for name in table[file_column]]
    meta = table.copy()
    meta.remove_columns([c for c in (file_column, id_column, label_column) if c is not None])
    if labels is not None:
        labels = validate_binary_labels(labels, n_images=len(table), source=f"{csv_path} column {label_column!r}")
    return load_files(objects, size=size, ids=ids, labels=labels, meta=meta, bands=bands, nonfinite=nonfinite, source=str(csv_path), progress=progress)


def _pick(table, given, candidates, path, *, what, required=True):
    if given is not None:
        if given not in table.colnames:
            raise DataError(f"{path}: no column {given!r} (columns: {', '.join(table.colnames)})")
        return given
    for name in candidates:
        if name in table.colnames:
            return name
    if required:
        raise DataError(f"{path}: no {what} column; expected one of {', '.join(candidates)} (columns: {', '.join(table.colnames)})")
    return None
