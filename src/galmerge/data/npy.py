"""Loader for the DeepMerge II format: ``X.npy`` (N, bands, 75, 75) and ``y.npy`` (N,) of 0.0/1.0."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table

from galmerge.data.imageset import ImageSet
from galmerge.data.nonfinite import fill_nonfinite
from galmerge.errors import DataError, DataFileNotFoundError

__all__ = ["load_npy", "read_npy_float32", "open_npy_float32"]

_CHUNK_BYTES = 32 * 2**20


def read_npy_float32(path) -> np.ndarray:
    """Read a ``.npy`` array of any real dtype into a new float32 array.

    The file is read in chunks straight into the float32 result, so a float64 file of 2 GB
    peaks at the 1 GB result plus 32 MB, never at the 3 GB that ``np.load(...).astype`` needs
    (the reference code's ``torch.Tensor(list(np.load(f)))`` took ~1 minute for 15k images).
    """
    path = Path(path)
    if not path.exists():
        raise DataFileNotFoundError(f"{path}: no such file")
    with open(path, "rb") as handle:
        try:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(handle)
            else:
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(handle)
        except ValueError as error:
            raise DataError(f"{path}: not a readable .npy file ({error})") from None
        if dtype.kind not in "biuf" or dtype.hasobject:
            raise DataError(f"{path}: array dtype {dtype} is not numeric")
        if fortran_order:  # rare; numpy's reader handles the layout
            return np.ascontiguousarray(np.load(path, allow_pickle=False), dtype=np.float32)
        out = np.empty(shape, dtype=np.float32)
        flat = out.reshape(-1)
        per_chunk = max(1, _CHUNK_BYTES // dtype.itemsize)
        buffer = None if dtype == np.float32 else np.empty(per_chunk, dtype=dtype)
        for start in range(0, flat.size, per_chunk):
            count = min(per_chunk, flat.size - start)
            target = flat[start : start + count] if buffer is None else buffer[:count]
            got = handle.readinto(target.data.cast("B"))
            if got != count * dtype.itemsize:
                raise DataError(f"{path}: file is truncated: header promises shape {shape} of {dtype}, data ends after {start * dtype.itemsize + got} bytes")
            if buffer is not None:
                flat[start : start + count] = target
    return out


def open_npy_float32(path) -> np.ndarray:
    """A float32 view of a ``.npy`` file: memory-mapped read-only when it is float32 already, else read.

    Mapping costs nothing up front and never duplicates the data (pages come from the file
    cache as they are touched); other dtypes are converted by :func:`read_npy_float32`.
    """
    path = Path(path)
    if not path.exists():
        raise DataFileNotFoundError(f"{path}: no such file")
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as error:
        message = str(error)
        if "truncated" in message or "larger than" in message or "mmap length" in message:
            raise DataError(f"{path}: file is truncated ({message})") from None
        raise DataError(f"{path}: not a readable .npy file ({message})") from None
    if mapped.dtype == np.float32 and mapped.flags.c_contiguous:
        return mapped
    del mapped
    return read_npy_float32(path)


def load_npy(
    x_path,
    y_path=None,
    *,
    bands=None,
    pixel_scale_arcsec: float | None = None,
    nonfinite: str = "fill",
) -> ImageSet:
    """Load DeepMerge-style arrays into an ImageSet.

    A float32 file is memory-mapped read-only rather than read (see :func:`open_npy_float32`);
    the set's images are then a read-only view of the file.

    Parameters
    ----------
    x_path : path
        ``.npy`` of shape (N, bands, H, W), channels first, any real dtype.
    y_path : path, optional
        ``.npy`` of shape (N,) holding 0/1 (1 = merger). Without it the set is unlabelled.
    bands : sequence of str, optional
        Band names, e.g. ``("F814W", "F356W", "F160W")`` for the DeepMerge sim-to-sim set.
    pixel_scale_arcsec : float, optional
    nonfinite : {"fill", "raise"}
        Policy for NaN/inf pixels (see :mod:`galmerge.data.nonfinite`).
    """
    x_path = Path(x_path)
    images = open_npy_float32(x_path)
    if images.ndim != 4:
        hint = ""
        if images.ndim == 3:
            hint = " (a single band? use X[:, None])"
        raise DataError(f"{x_path}: expected 4 dimensions (N, bands, height, width), got shape {images.shape}{hint}")
    if images.shape[1] > 16 and images.shape[3] <= 16:
        raise DataError(f"{x_path}: shape {images.shape} looks channels-last; galmerge wants (N, bands, height, width): use X.transpose(0, 3, 1, 2)")
    labels = None
    if y_path is not None:
        y_path = Path(y_path)
        if not y_path.exists():
            raise DataFileNotFoundError(f"{y_path}: no such file")
        try:
            labels = np.load(y_path, allow_pickle=False)
        except ValueError as error:
            raise DataError(f"{y_path}: not a readable .npy file ({error})") from None
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if labels.ndim != 1:
            raise DataError(f"{y_path}: labels must have shape (N,), got {labels.shape}")
        if len(labels) != len(images):
            raise DataError(f"{x_path} has {len(images)} images but {y_path} has {len(labels)} labels")
    images, fractions = fill_nonfinite(images, source=str(x_path), bands=bands, policy=nonfinite)
    meta = Table({"id": np.arange(len(images), dtype=np.int64), "nonfinite_fraction": fractions})
    source = str(x_path) if y_path is None else f"{x_path},{y_path}"
    return ImageSet(images, bands=bands, labels=labels, meta=meta, pixel_scale_arcsec=pixel_scale_arcsec, source=source)
