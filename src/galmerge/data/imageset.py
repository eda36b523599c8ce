"""The ImageSet: galmerge's one in-memory currency for images, labels and metadata."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from astropy.table import Table, vstack

from galmerge.errors import (
    CheckpointError,
    DataError,
    DataFileNotFoundError,
    LabelError,
    OutputExistsError,
)

__all__ = ["ImageSet", "validate_binary_labels", "concatenate"]

FILE_FORMAT = "galmerge.ImageSet"
FILE_VERSION = 1


def validate_binary_labels(labels, *, n_images: int, source: str) -> np.ndarray:
    """Return labels as an int8 array of 0 (non-merger) and 1 (merger), or raise.

    Parameters
    ----------
    labels : array-like, shape (N,)
        Any numeric or boolean array holding only 0/1 (``0.0``/``1.0`` as in the DeepMerge files).
    n_images : int
        Number of images the labels belong to.
    source : str
        Where the labels came from, named in error messages.

    Raises
    ------
    LabelError
        If the shape does not match, or any value is not 0 or 1 (NaN included).
    """
    array = np.asarray(labels)
    if array.ndim != 1:
        raise LabelError(f"{source}: labels must be one-dimensional, got shape {array.shape}")
    if len(array) != n_images:
        raise LabelError(f"{source}: {len(array)} labels for {n_images} images; the counts must match")
    if array.dtype.kind not in "biuf":
        raise LabelError(f"{source}: labels must be numbers 0 or 1, got dtype {array.dtype}")
    good = (array == 0) | (array == 1)
    if not good.all():
        bad = np.unique(array[~good])
        shown = ", ".join(repr(v.item()) for v in bad[:5])
        raise LabelError(f"{source}: labels must be 0 (non-merger) or 1 (merger); found {int((~good).sum())} other values ({shown}{', ...' if len(bad) > 5 else ''})")
    return array.astype(np.int8)


class ImageSet:
    """Images with their bands, pixel scale, merger labels and a metadata table.

    Parameters
    ----------
    images : array-like, shape (N, bands, H, W)
        Pixel values; stored as float32 (no copy when already float32 and C-contiguous).
    bands : sequence of str, optional
        One name per band (default ``band0``, ``band1``, ...).
    labels : array-like of 0/1, shape (N,), optional
        ``is_merger``: 1 = merger, 0 = non-merger. ``None`` for an unlabelled set.
    meta : astropy.table.Table, optional
        One row per image. An ``id`` column is added (0..N-1) when missing. Extra label columns
        (stage, mass ratio, ...) and provenance (``source_file``, ``nonfinite_fraction``) live here.
    pixel_scale_arcsec : float, optional
        Angular size of a pixel in arcsec; ``None`` when unknown.
    masks : array-like of uint8, shape (N, H, W), optional
        Per-pixel ground truth, a bit field: for mocks, bit 1 marks tidal-feature pixels and
        bit 2 companion pixels (see :data:`galmerge.data.MASK_BITS`).
    source : str, optional
        A description of where the set came from, used in error messages.

    Notes
    -----
    Files are HDF5 (``.h5``): the images as one float32 dataset, labels as int8, the metadata
    table written by astropy (units and column metadata kept), and bands, pixel scale and source
    as attributes. See :meth:`save`.
    """

    def __init__(
        self,
        images,
        *,
        bands: Sequence[str] | None = None,
        labels=None,
        meta: Table | None = None,
        pixel_scale_arcsec: float | None = None,
        masks=None,
        source: str = "<memory>",
    ):
        array = np.asarray(images)
        if array.ndim != 4:
            raise DataError(f"{source}: images must have shape (N, bands, height, width), got {array.ndim} dimensions {array.shape}")
        if array.dtype.kind not in "biuf":
            raise DataError(f"{source}: images must be numeric, got dtype {array.dtype}")
        self.images = np.ascontiguousarray(array, dtype=np.float32)
        n, n_bands = self.images.shape[:2]
        self.source = source
        self.bands = tuple(bands) if bands is not None else tuple(f"band{i}" for i in range(n_bands))
        if len(self.bands) != n_bands:
            raise DataError(f"{source}: {len(self.bands)} band names for {n_bands} bands")
        self.labels = None if labels is None else validate_binary_labels(labels, n_images=n, source=source)
        if meta is None:
            meta = Table()
        elif len(meta.colnames) and len(meta) != n:
            raise DataError(f"{source}: metadata has {len(meta)} rows for {n} images")
        if "id" not in meta.colnames:
            meta = meta.copy(copy_data=False) if len(meta.colnames) else Table()
            meta["id"] = np.arange(n, dtype=np.int64)
            meta.columns.move_to_end("id", last=False)
        self.meta = meta
        if pixel_scale_arcsec is not None:
            pixel_scale_arcsec = float(pixel_scale_arcsec)
            if not pixel_scale_arcsec > 0:
                raise DataError(f"{source}: pixel scale must be > 0 arcsec, got {pixel_scale_arcsec}")
        self.pixel_scale_arcsec = pixel_scale_arcsec
        if masks is not None:
            masks = np.asarray(masks, dtype=np.uint8)
            if masks.shape != (n, *self.images.shape[2:]):
                raise DataError(f"{source}: masks of shape {masks.shape} for images of shape {self.images.shape}")
        self.masks = masks

    # ------------------------------------------------------------------ basic properties
    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        n, b, h, w = self.images.shape
        labelled = "unlabelled" if self.labels is None else f"{int(self.labels.sum())} mergers"
        return f"<ImageSet {n} x {b}x{h}x{w} bands={','.join(self.bands)} {labelled} from {self.source}>"

    @property
    def n_bands(self) -> int:
        return self.images.shape[1]

    @property
    def image_shape(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return self.images.shape[2], self.images.shape[3]

    @property
    def ids(self) -> np.ndarray:
        return np.asarray(self.meta["id"])

    @property
    def has_labels(self) -> bool:
        return self.labels is not None

    def __getitem__(self, index) -> "ImageSet":
        """Rows selected by an int, slice, index array or boolean mask, as a new ImageSet."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        rows: Any
        if isinstance(index, slice):
            rows = index
        else:
            rows = np.asarray(index)
            if rows.dtype == bool:
                if rows.shape != (len(self),):
                    raise IndexError(f"boolean mask of shape {rows.shape} for {len(self)} images")
                rows = np.flatnonzero(rows)
        return ImageSet(
            self.images[rows],
            bands=self.bands,
            labels=None if self.labels is None else self.labels[rows],
            meta=self.meta[rows],
            pixel_scale_arcsec=self.pixel_scale_arcsec,
            masks=None if self.masks is None else self.masks[rows],
            source=self.source,
        )

    # ------------------------------------------------------------------ checks and hashes
    def require_labels(self, *, purpose: str) -> np.ndarray:
        """Return the labels, or raise a LabelError saying what needed them."""
        if self.labels is None:
            raise LabelError(f"{self.source}: {purpose} needs merger labels, and this set has none")
        return self.labels

    def require_both_classes(self, *, purpose: str) -> np.ndarray:
        """Return the labels if both classes are present, else raise a LabelError."""
        labels = self.require_labels(purpose=purpose)
        if len(labels) == 0:
            raise DataError(f"{self.source}: the set is empty")
        counts = np.bincount(labels, minlength=2)
        if counts.min() == 0:
            only = "mergers" if counts[0] == 0 else "non-mergers"
            raise LabelError(f"{self.source}: {purpose} needs both classes, but all {len(labels)} images are {only}")
        return labels

    def image_hashes(self) -> np.ndarray:
        """A 64-bit content hash of each image (float32 bytes), as uint64.

        Used to recognise training images wherever they reappear, so that evaluation can
        refuse to score them whatever file they come from.
        """
        out = np.empty(len(self), dtype=np.uint64)
        for i, image in enumerate(self.images):
            # sha256 runs on the CPU's SHA instructions where present: ~1.6 GB/s here.
            out[i] = np.frombuffer(hashlib.sha256(np.ascontiguousarray(image).data).digest()[:8], dtype=np.uint64)[0]
        return out

    # ------------------------------------------------------------------ file I/O
    def save(self, path, *, overwrite: bool = False) -> Path:
        """Write the set to one HDF5 file; refuses to replace an existing file unless ``overwrite``.

        The file is written beside its destination and renamed at the end, so an interrupted
        save never leaves a half-written file under the final name.
        """
        import h5py
        from astropy.io.misc.hdf5 import write_table_hdf5

        path = Path(path)
        if path.exists() and not overwrite:
            raise OutputExistsError(f"{path}: already exists (pass overwrite=True / --overwrite to replace it)")
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with h5py.File(partial, "w") as handle:
            handle.attrs["format"] = FILE_FORMAT
            handle.attrs["version"] = FILE_VERSION
            handle.attrs["bands"] = json.dumps(list(self.bands))
            handle.attrs["pixel_scale_arcsec"] = np.nan if self.pixel_scale_arcsec is None else self.pixel_scale_arcsec
            handle.attrs["source"] = str(self.source)
            handle.create_dataset("images", data=self.images)
            if self.labels is not None:
                handle.create_dataset("labels", data=self.labels)
            if self.masks is not None:
                handle.create_dataset("masks", data=self.masks, compression="gzip", compression_opts=1)
            write_table_hdf5(self.meta, handle, path="meta", serialize_meta=True)
        os.replace(partial, path)
        return path

    @classmethod
    def load(cls, path) -> "ImageSet":
        """Read a set written by :meth:`save`.

        The images of an uncompressed file (as :meth:`save` writes them) are memory-mapped
        read-only: loading costs nothing up front, pages come from the file cache as they are
        used, and sets larger than memory work.
        """
        import h5py
        from astropy.io.misc.hdf5 import read_table_hdf5

        path = Path(path)
        if not path.exists():
            raise DataFileNotFoundError(f"{path}: no such file")
        try:
            with h5py.File(path, "r") as handle:
                _check_format(handle, path)
                dataset = handle["images"]
                offset = dataset.id.get_offset()
                mappable = dataset.chunks is None and dataset.compression is None and offset is not None and dataset.dtype == np.dtype("<f4")
                images = (dataset.shape, offset) if mappable else dataset[()]
                labels = handle["labels"][()] if "labels" in handle else None
                masks = handle["masks"][()] if "masks" in handle else None
                meta = read_table_hdf5(handle, path="meta")
                attrs = dict(handle.attrs)
        except (OSError, KeyError) as error:
            raise DataError(f"{path}: not a readable galmerge ImageSet file ({error})") from None
        if mappable:
            shape, offset = images
            images = np.memmap(path, dtype="<f4", mode="r", offset=offset, shape=shape) if shape[0] else np.zeros(shape, np.float32)
        return cls(images, labels=labels, meta=_decode_bytes_columns(meta), masks=masks, source=str(path), **_attrs_to_kwargs(attrs))


def _check_format(handle, path: Path) -> None:
    if handle.attrs.get("format") != FILE_FORMAT:
        raise CheckpointError(f"{path}: an HDF5 file, but not a galmerge ImageSet (no format tag)")
    if int(handle.attrs.get("version", 0)) > FILE_VERSION:
        raise CheckpointError(f"{path}: written by a newer galmerge (ImageSet format {handle.attrs['version']})")


def _attrs_to_kwargs(attrs: dict) -> dict:
    scale = float(attrs.get("pixel_scale_arcsec", np.nan))
    return {
        "bands": json.loads(attrs["bands"]),
        "pixel_scale_arcsec": None if np.isnan(scale) else scale,
    }


def _decode_bytes_columns(meta: Table) -> Table:
    # astropy stores unicode columns as UTF-8 bytes in HDF5; give users back str.
    for name in meta.colnames:
        if meta[name].dtype.kind == "S":
            meta[name] = np.char.decode(np.asarray(meta[name]), "utf-8")
    return meta


def concatenate(sets: Sequence[ImageSet]) -> ImageSet:
    """Join image sets with the same bands, image size and pixel scale.

    Labels are kept only when every set has them; mixing labelled and unlabelled sets is an
    error, since silently dropping labels would hide a mistake.
    """
    if not sets:
        raise DataError("nothing to concatenate: no image sets given")
    first = sets[0]
    for other in sets[1:]:
        if other.bands != first.bands:
            raise DataError(f"{other.source}: bands {other.bands} differ from {first.source}'s {first.bands}")
        if other.image_shape != first.image_shape:
            raise DataError(f"{other.source}: images of {other.image_shape} px, but {first.source} has {first.image_shape}")
        if other.pixel_scale_arcsec != first.pixel_scale_arcsec:
            raise DataError(f"{other.source}: pixel scale {other.pixel_scale_arcsec} arcsec differs from {first.source}'s {first.pixel_scale_arcsec}")
    labelled = [s.labels is not None for s in sets]
    if any(labelled) and not all(labelled):
        raise LabelError("cannot concatenate labelled and unlabelled image sets")
    with_masks = all(s.masks is not None for s in sets)
    return ImageSet(
        np.concatenate([s.images for s in sets]),
        bands=first.bands,
        labels=np.concatenate([s.labels for s in sets]) if all(labelled) else None,
        meta=vstack([s.meta for s in sets], join_type="outer", metadata_conflicts="silent"),
        pixel_scale_arcsec=first.pixel_scale_arcsec,
        masks=np.concatenate([s.masks for s in sets]) if with_masks else None,
        source=" + ".join(s.source for s in sets),
    )
