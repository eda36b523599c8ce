"""Synthetic survey mosaics made on the fly, for tests and benchmarks (never shipped as files).

Each band is one FITS image with a TAN WCS: Gaussian galaxies of known position and peak on a
noisy sky. A band may sit on its own pixel grid (another scale, shift or rotation) to exercise
reprojection.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["tan_header", "write_band", "random_positions"]


def tan_header(*, shape, centre_deg, pixel_scale_arcsec: float, rotation_deg: float = 0.0, reference_pixel=None):
    """A FITS header with a gnomonic (TAN) WCS; ``reference_pixel`` is 0-based (default: the centre)."""
    from astropy.io import fits

    height, width = shape
    x0, y0 = reference_pixel if reference_pixel is not None else ((width - 1) / 2, (height - 1) / 2)
    scale = pixel_scale_arcsec / 3600.0
    angle = np.radians(rotation_deg)
    header = fits.Header()
    header.update(
        {
            "CTYPE1": "RA---TAN",
            "CTYPE2": "DEC--TAN",
            "CRVAL1": centre_deg[0],
            "CRVAL2": centre_deg[1],
            "CRPIX1": x0 + 1,
            "CRPIX2": y0 + 1,
            "CUNIT1": "deg",
            "CUNIT2": "deg",
            "CD1_1": -scale * np.cos(angle),
            "CD1_2": scale * np.sin(angle),
            "CD2_1": scale * np.sin(angle),
            "CD2_2": scale * np.cos(angle),
        }
    )
    return header


def write_band(path, header, *, shape, ra_deg, dec_deg, peak, sigma_arcsec: float = 1.0, noise: float = 0.01, band: str = "g", seed: int = 0):
    """Write one band: a Gaussian of the given peak at each sky position, plus Gaussian sky noise."""
    from astropy.io import fits
    from astropy.wcs import WCS

    rng = np.random.default_rng(seed)
    image = rng.normal(0.0, noise, size=shape).astype(np.float32)
    wcs = WCS(header)
    x, y = wcs.world_to_pixel_values(ra_deg, dec_deg)
    scale_arcsec = float(np.sqrt(abs(np.linalg.det(wcs.pixel_scale_matrix))) * 3600.0)
    sigma = sigma_arcsec / scale_arcsec
    half = int(np.ceil(4 * sigma))
    offsets = np.arange(-half, half + 1)
    for xi, yi, amplitude in zip(x, y, np.broadcast_to(peak, np.shape(x))):
        cx, cy = int(round(xi)), int(round(yi))
        if not (-half <= cx < shape[1] + half and -half <= cy < shape[0] + half):
            continue
        xs, ys = cx + offsets, cy + offsets
        keep_x, keep_y = (xs >= 0) & (xs < shape[1]), (ys >= 0) & (ys < shape[0])
        gx = np.exp(-0.5 * ((xs[keep_x] - xi) / sigma) ** 2)
        gy = np.exp(-0.5 * ((ys[keep_y] - yi) / sigma) ** 2)
        image[np.ix_(ys[keep_y], xs[keep_x])] += (amplitude * np.outer(gy, gx)).astype(np.float32)
    header = header.copy()
    header["FILTER"] = band
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(image, header=header).writeto(path, overwrite=True)
    return Path(path)


def random_positions(n: int, *, centre_deg, half_width_deg: float, seed: int = 0):
    """(ra, dec) in degrees, uniform over a small square around ``centre_deg``."""
    rng = np.random.default_rng(seed)
    dec = centre_deg[1] + rng.uniform(-half_width_deg, half_width_deg, n)
    ra = centre_deg[0] + rng.uniform(-half_width_deg, half_width_deg, n) / np.cos(np.radians(dec))
    return ra, dec
