"""Survey-style colour pictures: Lupton et al. (2004) asinh RGB, 8-bit, JPEG, read back like real ones."""

from __future__ import annotations

import io

import numpy as np

__all__ = ["to_colour_jpeg", "colour_picture"]


def to_colour_jpeg(red: np.ndarray, green: np.ndarray, blue: np.ndarray, *, stretch: float, q: float, minimum: float = 0.0, quality: int = 80) -> bytes:
    """JPEG bytes of a Lupton asinh RGB composite (astropy's ``make_lupton_rgb``) of three fluxes.

    Inputs are stored bottom row first (FITS order); the picture is written top row first, as a
    survey's cutout service shows the sky.
    """
    from astropy.visualization import make_lupton_rgb
    from PIL import Image

    with np.errstate(invalid="ignore", divide="ignore"):  # astropy divides 0 by 0 on black pixels
        rgb = make_lupton_rgb(red[::-1], green[::-1], blue[::-1], minimum=minimum, stretch=stretch, Q=q)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def colour_picture(red, green, blue, *, stretch: float, q: float, minimum: float = 0.0, quality: int = 80, size: int | None = None) -> np.ndarray:
    """The picture as galmerge reads real survey JPEGs: float32 (3, size, size) in [0, 1], bands R, G, B."""
    from galmerge.data.pictures import decode_picture

    data = to_colour_jpeg(red, green, blue, stretch=stretch, q=q, minimum=minimum, quality=quality)
    pixels, _ = decode_picture(io.BytesIO(data), size=size, source="mock JPEG")
    return pixels
