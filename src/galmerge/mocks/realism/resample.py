"""Flux-conserving resampling of images between pixel scales."""

from __future__ import annotations

import numpy as np

from galmerge.errors import RecipeError

__all__ = ["resample_flux", "overlap_matrix"]


def overlap_matrix(n_in: int, scale_in: float, n_out: int, scale_out: float) -> np.ndarray:
    """Fraction of each input pixel falling in each output pixel along one axis, shape (n_out, n_in).

    Both grids are centred on the same point. Input pixel ``i`` spans
    ``[(i - n_in/2) * scale_in, (i + 1 - n_in/2) * scale_in]``, and likewise for the output.
    """
    edges_in = (np.arange(n_in + 1) - n_in / 2) * scale_in
    edges_out = (np.arange(n_out + 1) - n_out / 2) * scale_out
    low = np.maximum(edges_out[:-1, None], edges_in[None, :-1])
    high = np.minimum(edges_out[1:, None], edges_in[None, 1:])
    return np.clip(high - low, 0.0, None) / scale_in


def resample_flux(image: np.ndarray, *, scale_in: float, scale_out: float, shape_out: tuple[int, int] | None = None) -> np.ndarray:
    """Resample an image of per-pixel fluxes to another pixel scale, conserving flux.

    Each input pixel is treated as uniform over its area and its flux is shared among the
    output pixels it overlaps, in proportion to the overlap area (area-weighted rebinning).
    The sum of the output equals the sum of the input wherever the output grid covers it.

    Parameters
    ----------
    image : ndarray, shape (..., H, W)
        Fluxes per pixel (not surface brightness); leading axes (bands) are carried along.
    scale_in, scale_out : float
        Pixel sizes in any one unit (arcsec or kpc), > 0.
    shape_out : (int, int), optional
        Output (H, W); default the same field of view, rounded to whole output pixels. The two
        grids share their centre.

    Raises
    ------
    RecipeError
        If a scale is not > 0.
    """
    if not (scale_in > 0 and scale_out > 0):
        raise RecipeError(f"pixel scales must be > 0, got {scale_in} and {scale_out}")
    height, width = image.shape[-2:]
    if shape_out is None:
        shape_out = (max(1, round(height * scale_in / scale_out)), max(1, round(width * scale_in / scale_out)))
    rows = overlap_matrix(height, scale_in, shape_out[0], scale_out)
    columns = overlap_matrix(width, scale_in, shape_out[1], scale_out)
    # Separable: out = R_y @ image @ R_x^T, batched over leading axes.
    return np.matmul(np.matmul(rows, image), columns.T)
