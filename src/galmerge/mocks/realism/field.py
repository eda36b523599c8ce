"""Insertion of mock galaxies into real survey images, at sky positions chosen from a segmentation map."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from galmerge.errors import DataFileNotFoundError, RecipeError

__all__ = ["FieldImage", "insert_into_field"]


class FieldImage:
    """A real single-band field (e.g. the CTIO I-band CDF-S exposure), background-subtracted, in nmgy.

    Parameters
    ----------
    pixels : ndarray (H, W)
        The field in the units the zeropoint refers to (counts or counts/s).
    pixel_scale_arcsec : float
    zeropoint : float
        AB magnitude of one unit of ``pixels``.
    border : float
        Fraction of the field on each side where no stamp centre is placed (RealSim: 10 %).

    Notes
    -----
    The sky is removed with a global sigma-clipped median, and a segmentation map marks every
    pixel more than 2 sigma above it (grown by 3 pixels) as a source. Stamp centres are drawn
    among the remaining sky pixels, as RealSim does (Bottrell et al. 2019), so a mock may still
    overlap real neighbours, as real galaxies do.
    """

    def __init__(self, pixels, *, pixel_scale_arcsec: float, zeropoint: float, border: float = 0.1, source: str = "field"):
        from scipy.ndimage import binary_dilation

        pixels = np.asarray(pixels, dtype=np.float64)
        if pixels.ndim != 2:
            raise RecipeError(f"{source}: a field image must be 2-D, got shape {pixels.shape}")
        if not pixel_scale_arcsec > 0:
            raise RecipeError(f"{source}: pixel scale must be > 0 arcsec, got {pixel_scale_arcsec}")
        finite = pixels[np.isfinite(pixels)]
        sky = np.median(finite)
        for _ in range(3):  # sigma-clip away the sources
            sigma = 1.4826 * np.median(np.abs(finite - sky))
            finite = finite[np.abs(finite - sky) < 3 * sigma]
            sky = np.median(finite)
        self.sigma = float(1.4826 * np.median(np.abs(finite - sky)))
        to_nmgy = 10 ** (-0.4 * (zeropoint - 22.5))
        self.pixels = np.nan_to_num(pixels - sky) * to_nmgy
        self.sigma_nmgy = self.sigma * to_nmgy
        self.segmentation = binary_dilation(np.nan_to_num(pixels - sky) > 2 * self.sigma, iterations=3)
        self.pixel_scale_arcsec = float(pixel_scale_arcsec)
        self.border = border
        self.source = source

    @classmethod
    def from_fits(cls, path, *, zeropoint: float, hdu: int = 0, border: float = 0.1) -> "FieldImage":
        from astropy.io import fits
        from astropy.wcs import WCS
        from astropy.wcs.utils import proj_plane_pixel_scales

        path = Path(path)
        if not path.exists():
            raise DataFileNotFoundError(f"{path}: no such field image")
        with fits.open(path) as hdul:
            pixels, header = hdul[hdu].data, hdul[hdu].header
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wcs = WCS(header)
        if not wcs.has_celestial:
            raise RecipeError(f"{path}: no celestial WCS to give the pixel scale")
        scale = float(np.mean(proj_plane_pixel_scales(wcs.celestial)) * 3600)
        return cls(pixels, pixel_scale_arcsec=scale, zeropoint=zeropoint, border=border, source=str(path))

    def sky_position(self, rng: np.random.Generator, size: int) -> tuple[int, int]:
        """Row and column of a stamp's lower-left corner whose centre is a sky pixel away from the border."""
        height, width = self.pixels.shape
        margin_y = max(int(self.border * height), size // 2 + 1)
        margin_x = max(int(self.border * width), size // 2 + 1)
        allowed = ~self.segmentation[margin_y : height - margin_y, margin_x : width - margin_x]
        rows, columns = np.nonzero(allowed)
        if len(rows) == 0:
            raise RecipeError(f"{self.source}: no sky pixel far enough from the border for a {size} px stamp")
        pick = rng.integers(len(rows))
        return int(rows[pick] + margin_y - size // 2), int(columns[pick] + margin_x - size // 2)


def insert_into_field(stamp: np.ndarray, field: FieldImage, *, pixel_scale_arcsec: float, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int]]:
    """Add a noiseless single-band stamp (nmgy, H x W) to a random sky position of a real field.

    The field supplies the real noise, sky residuals and neighbours. Returns the combined stamp
    and the field position (row, column) of its corner.
    """
    if abs(pixel_scale_arcsec - field.pixel_scale_arcsec) > 1e-3 * field.pixel_scale_arcsec:
        raise RecipeError(
            f"{field.source}: field pixels are {field.pixel_scale_arcsec:.4f} arcsec, the stamp's {pixel_scale_arcsec:.4f}; "
            "render the mock at the field's pixel scale"
        )
    size = stamp.shape[-1]
    row, column = field.sky_position(rng, size)
    cutout = field.pixels[row : row + size, column : column + size]
    return stamp + cutout, (row, column)
