"""Survey-style colour pictures: Lupton et al. (2004) asinh RGB, 8-bit, optionally JPEG, read back like real ones.

:class:`LuptonMapping` maps three flux images to display values and back. The forward map is
the one astropy's ``make_lupton_rgb`` applies (``AsinhMapping``: intensity I = mean of the three
channels after the minimum is taken off, each channel multiplied by asinh(Q I / stretch) x
slope / I, colours kept when a channel saturates). It is written here rather than called from
astropy because galmerge also needs its inverse, which astropy does not provide: real survey
pictures are turned back into fluxes to serve as real sky behind mocks
(:mod:`galmerge.mocks.realism.sky`), and the same parameters must map both ways.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

__all__ = ["LuptonMapping", "to_colour_jpeg", "colour_picture"]

_FRAC = 0.1  # astropy: the gradient at frac * stretch sets the slope


@dataclass(frozen=True)
class LuptonMapping:
    """Lupton asinh RGB with per-channel colour scales and minima.

    Parameters
    ----------
    stretch, q : float
        The linear range and the asinh softening (astropy's ``stretch`` and ``Q``).
    scales : (float, float, float)
        Multipliers of the red, green and blue fluxes before the mapping (colour balance).
    minimum : (float, float, float)
        Subtracted from each scaled channel (a negative minimum adds a pedestal).
    """

    stretch: float
    q: float
    scales: tuple = (1.0, 1.0, 1.0)
    minimum: tuple = (0.0, 0.0, 0.0)

    @property
    def _soften(self) -> float:
        return self.q / self.stretch

    @property
    def _slope(self) -> float:
        return _FRAC * 255.0 / np.arcsinh(_FRAC * self.q)

    def _prepare(self, rgb: np.ndarray) -> np.ndarray:
        scales = np.asarray(self.scales, dtype=np.float64).reshape(3, *([1] * (rgb.ndim - 1)))
        minimum = np.asarray(self.minimum, dtype=np.float64).reshape(3, *([1] * (rgb.ndim - 1)))
        return np.asarray(rgb, dtype=np.float64) * scales - minimum

    def forward(self, rgb: np.ndarray) -> np.ndarray:
        """Display values in [0, 255] (float, not yet rounded) of fluxes ``rgb`` (3, ...)."""
        x = self._prepare(rgb)
        intensity = x.mean(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(intensity > 0, np.arcsinh(intensity * self._soften) * self._slope / intensity, 0.0)
        out = np.clip(x * factor, 0.0, None)
        brightest = out.max(axis=0)
        over = brightest > 255.0
        if over.any():
            out = np.where(over, out * 255.0 / np.where(over, brightest, 1.0), out)
        return out

    def to_uint8(self, rgb: np.ndarray) -> np.ndarray:
        """The 8-bit picture (3, ...) of fluxes ``rgb``, rounded as astropy rounds (truncation)."""
        return np.clip(self.forward(rgb), 0, 255).astype(np.uint8)

    def inverse(self, display: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fluxes (3, ...) of display values in [0, 1], and where they are known.

        Exact (up to the 8-bit rounding) where every channel is above 0 and below 255; a
        channel at 0 was clipped (its flux is at or below its minimum) and one at 255 saturated,
        so there ``known`` is False and the flux returned is only a bound.
        """
        d = np.asarray(display, dtype=np.float64) * 255.0
        level = d.mean(axis=0)  # = I * factor(I) = asinh(soften I) * slope
        intensity = np.sinh(level / self._slope) / self._soften
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(intensity > 0, np.arcsinh(intensity * self._soften) * self._slope / intensity, 1.0)
        x = d / factor
        scales = np.asarray(self.scales, dtype=np.float64).reshape(3, *([1] * (d.ndim - 1)))
        minimum = np.asarray(self.minimum, dtype=np.float64).reshape(3, *([1] * (d.ndim - 1)))
        known = (d.min(axis=0) > 0) & (d.max(axis=0) < 254.5)
        return (x + minimum) / scales, known


def to_colour_jpeg(red: np.ndarray, green: np.ndarray, blue: np.ndarray, *, stretch: float, q: float, minimum: float = 0.0, quality: int = 80) -> bytes:
    """JPEG bytes of a Lupton asinh RGB composite of three fluxes.

    Inputs are stored bottom row first (FITS order); the picture is written top row first, as a
    survey's cutout service shows the sky.
    """
    from PIL import Image

    mapping = LuptonMapping(stretch=stretch, q=q, minimum=(minimum,) * 3)
    rgb = mapping.to_uint8(np.stack([red[::-1], green[::-1], blue[::-1]])).transpose(1, 2, 0)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def colour_picture(red, green, blue, *, stretch: float, q: float, minimum: float = 0.0, quality: int = 80, size: int | None = None) -> np.ndarray:
    """The picture as galmerge reads real survey JPEGs: float32 (3, size, size) in [0, 1], bands R, G, B."""
    from galmerge.data.pictures import decode_picture

    data = to_colour_jpeg(red, green, blue, stretch=stretch, q=q, minimum=minimum, quality=quality)
    pixels, _ = decode_picture(io.BytesIO(data), size=size, source="mock JPEG")
    return pixels
