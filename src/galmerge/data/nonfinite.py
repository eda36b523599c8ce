"""The policy for NaN and infinite pixels: mask and fill, record the fraction, never pass them on.

Real cutouts have NaN pixels at detector edges, in masked stars and beyond the survey
footprint. A network given NaN returns NaN, and one given a zero-filled hole learns the hole.
galmerge fills each non-finite pixel with the median of the finite pixels of the same band
of the same image (a sky-like value for a cutout that is mostly sky), and records the filled
fraction per image in the metadata column ``nonfinite_fraction`` so a catalog can flag it.
An image with a band that has no finite pixel at all cannot be repaired and is an error.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from galmerge.errors import DataError

__all__ = ["fill_nonfinite", "NONFINITE_POLICIES"]

NONFINITE_POLICIES = ("fill", "raise")


def fill_nonfinite(
    images: np.ndarray,
    *,
    source: str,
    ids: Sequence | None = None,
    bands: Sequence[str] | None = None,
    policy: str = "fill",
    chunk_size: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """Fill non-finite pixels and return the images and the filled fraction of each image.

    Parameters
    ----------
    images : ndarray, shape (N, bands, H, W), float
        Filled in place when writable; a read-only array (e.g. a memory-mapped file) is copied
        only if some pixel needs filling.
    source : str
        File or set name used in error messages.
    ids, bands : sequence, optional
        Object ids and band names used in error messages.
    policy : {"fill", "raise"}
        ``"fill"`` (default) replaces each non-finite pixel by the median of the finite pixels
        of its band and image; ``"raise"`` refuses any non-finite pixel.
    chunk_size : int
        Images checked per pass; bounds the temporary memory.

    Returns
    -------
    images : ndarray
        The same array, or a filled copy of a read-only one.
    fractions : ndarray, shape (N,), float32
        Fraction of each image's pixels that were not finite (0 for clean images).

    Raises
    ------
    DataError
        If a band of an image has no finite pixel, or if ``policy="raise"`` and any pixel is
        not finite.
    """
    if policy not in NONFINITE_POLICIES:
        raise DataError(f"unknown non-finite pixel policy {policy!r}; choose one of {NONFINITE_POLICIES}")
    n = images.shape[0]
    fractions = np.zeros(n, dtype=np.float32)
    bad_rows = []
    for start in range(0, n, chunk_size):
        chunk = images[start : start + chunk_size]
        if np.isfinite(chunk).all():  # the common case: one read, no per-image work
            continue
        counts = (~np.isfinite(chunk)).reshape(len(chunk), -1).sum(axis=1)
        bad_rows.extend(start + np.flatnonzero(counts))
    if not bad_rows:
        return images, fractions
    if policy == "raise":
        index = bad_rows[0]
        count = int((~np.isfinite(images[index])).sum())
        raise DataError(f"{source}: {_describe(index, ids)} has {count} NaN or infinite pixels")
    if not images.flags.writeable:
        images = np.array(images)
    for index in bad_rows:
        image = images[index]
        bad = ~np.isfinite(image)
        for band_index, band in enumerate(image):
            if not bad[band_index].any():
                continue
            if bad[band_index].all():
                band_name = bands[band_index] if bands is not None else str(band_index)
                raise DataError(f"{source}: {_describe(index, ids)}: every pixel of band {band_name} is NaN or infinite")
            band[bad[band_index]] = np.median(band[~bad[band_index]])
        fractions[index] = bad.sum() / bad.size
    return images, fractions


def _describe(index: int, ids) -> str:
    if ids is None:
        return f"image {index}"
    return f"image {index} (id {ids[index]})"
