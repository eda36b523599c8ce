"""What a survey catalog is predicted from, read any contiguous range of rows at a time.

An :class:`InputSpec` is a small, picklable description (it travels to Dask workers); each
process opens it once (:func:`open_input`) into a reader with ``len()``, ``bands``, ``source``
and ``read(start, stop) -> (images, meta)``:

- ImageSet files: one ``.h5``, or a folder of shards (``galmerge cutout --out folder/``),
  memory-mapped, so only the rows being predicted are in memory;
- mosaics and a source list, cut on the fly (:class:`galmerge.catalog.cutouts.MosaicCutter`);
- anything else :func:`galmerge.data.load_imageset` reads (a folder of FITS or JPEG cutouts,
  ``X.npy``), loaded whole: fine for thousands of objects, not for millions.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import Table

from galmerge.data.nonfinite import fill_nonfinite
from galmerge.errors import ConfigError

__all__ = ["InputSpec", "describe_input", "open_input"]


@dataclass(frozen=True)
class InputSpec:
    """Where the rows come from (see the module docstring)."""

    kind: str  # "imagesets", "mosaics" or "loaded"
    paths: tuple
    catalog: str | None = None
    size: str | None = None
    pixels: int | None = None
    bands: tuple | None = None
    loading_size: int | None = None

    def describe(self) -> str:
        text = ",".join(self.paths)
        return f"{text} + {self.catalog} (size {self.size})" if self.kind == "mosaics" else text


def describe_input(data, *, catalog=None, size=None, pixels=None, bands=None, loading_size=None) -> InputSpec:
    """An InputSpec from command-line style arguments.

    ``data`` with ``catalog`` is mosaics (comma-separated bands of one tile, a folder of tiles,
    or a list of either); otherwise an ImageSet file, a folder of ImageSet shards, or any data
    argument of :func:`galmerge.data.load_imageset`.
    """
    bands = tuple(bands) if bands else None
    if catalog is not None:
        if size is None:
            raise ConfigError("cutting from mosaics needs a cutout size (--size 75, 3arcsec or 4*petroR90_r)")
        paths = tuple(str(p) for p in ([data] if isinstance(data, (str, Path)) else data))
        return InputSpec("mosaics", paths, catalog=str(catalog), size=str(size), pixels=pixels, bands=bands)
    path = Path(str(data))
    if path.is_file() and path.suffix.lower() in (".h5", ".hdf5"):
        return InputSpec("imagesets", (str(path),))
    if path.is_dir():
        from galmerge.catalog.cutouts import cutout_shards

        shards = cutout_shards(path)
        if shards:
            return InputSpec("imagesets", tuple(str(p) for p in shards))
    return InputSpec("loaded", (str(data),), bands=bands, loading_size=loading_size)


@functools.lru_cache(maxsize=2)
def open_input(spec: InputSpec):
    """The reader of a spec, opened once per process."""
    if spec.kind == "mosaics":
        from galmerge.catalog.cutouts import MosaicCutter

        return MosaicCutter(list(spec.paths), spec.catalog, size=spec.size, pixels=spec.pixels, bands=spec.bands)
    if spec.kind == "imagesets":
        return ImageSetRows(spec.paths)
    from galmerge.data.sources import load_imageset

    return ImageSetRows.from_sets([load_imageset(spec.paths[0], size=spec.loading_size, bands=spec.bands, progress=False)])


class ImageSetRows:
    """Rows of one or more ImageSet files (or sets) read as one sequence."""

    def __init__(self, paths=(), sets=None) -> None:
        from galmerge.data.imageset import ImageSet

        self.sets = sets if sets is not None else [ImageSet.load(p) for p in paths]
        self.paths = [None] * len(self.sets) if sets is not None else [Path(p) for p in paths]
        self._handles: dict = {}
        first = self.sets[0]
        for other in self.sets[1:]:
            if other.bands != first.bands or other.image_shape != first.image_shape:
                raise ConfigError(f"{other.source}: bands {other.bands} and size {other.image_shape} differ from {first.source}'s")
        self.bands = first.bands
        self.offsets = np.cumsum([0] + [len(s) for s in self.sets])
        self.source = first.source if len(self.sets) == 1 else f"{Path(first.source).parent} ({len(self.sets)} shards)"
        self.pixel_scale_arcsec = first.pixel_scale_arcsec

    @classmethod
    def from_sets(cls, sets) -> "ImageSetRows":
        return cls(sets=list(sets))

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def read(self, start: int, stop: int) -> tuple[np.ndarray, Table]:
        """Images (float32, filled where not finite) and metadata of rows ``start:stop``."""
        from astropy.table import vstack

        images, metas = [], []
        for index, imageset in enumerate(self.sets):
            lo, hi = max(start, self.offsets[index]), min(stop, self.offsets[index + 1])
            if lo >= hi:
                continue
            rows = slice(int(lo - self.offsets[index]), int(hi - self.offsets[index]))
            chunk, filled = fill_nonfinite(self._images(index, rows), source=imageset.source, bands=imageset.bands)
            meta = imageset.meta[rows]
            meta = meta.copy(copy_data=False) if len(meta.colnames) else Table()
            previous = np.asarray(meta["nonfinite_fraction"], dtype=np.float32) if "nonfinite_fraction" in meta.colnames else 0
            meta["nonfinite_fraction"] = np.maximum(previous, filled)
            if imageset.labels is not None:
                meta["is_merger"] = imageset.labels[rows]
            images.append(chunk)
            metas.append(meta)
        meta = metas[0] if len(metas) == 1 else vstack(metas, metadata_conflicts="silent")
        return (images[0] if len(images) == 1 else np.concatenate(images)), meta

    def _images(self, index: int, rows: slice) -> np.ndarray:
        """Rows of a set's images as a new float32 array.

        From a file they are read (one contiguous read), not taken from its memory map: pages of
        a map stay in the process's resident memory once touched, so a pass over a large file
        would grow it to the file's size.
        """
        if self.paths[index] is None:
            return np.asarray(self.sets[index].images[rows], dtype=np.float32)
        import h5py

        if index not in self._handles:
            self._handles.clear()  # one file open at a time
            self._handles[index] = h5py.File(self.paths[index], "r")
        return self._handles[index]["images"][rows].astype(np.float32, copy=False)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_handles"] = {}
        return state
