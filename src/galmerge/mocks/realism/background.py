"""Field galaxies and stars from number counts, drawn into a stamp before the PSF."""

from __future__ import annotations

import numpy as np

from galmerge.mocks.light import Grid, add_gaussian, add_sersic
from galmerge.mocks.realism.noise import nanomaggies_from_mag

__all__ = ["add_field_sources", "expected_counts"]

# Differential counts per deg^2 per mag at the reference magnitude and their log slopes:
# faint galaxies rise as ~10^(0.33 m) (e.g. Metcalfe et al. 2001 in optical/NIR bands); stars
# at high Galactic latitude are flatter and fewer.
GALAXY_COUNTS = (20.0, 1.5e3, 0.33)  # (m_ref, dN/dm at m_ref, slope)
STAR_COUNTS = (20.0, 5.0e2, 0.10)
BRIGHT_LIMIT = 16.0


def expected_counts(area_deg2: float, faint_limit: float, counts=GALAXY_COUNTS) -> float:
    """Expected number of sources brighter than ``faint_limit`` (and fainter than mag 16) in ``area_deg2``."""
    m_ref, density, slope = counts
    integral = density / (slope * np.log(10)) * (10 ** (slope * (faint_limit - m_ref)) - 10 ** (slope * (BRIGHT_LIMIT - m_ref)))
    return float(area_deg2 * integral)


def _draw_magnitudes(rng, number, faint_limit, counts):
    m_ref, _, slope = counts
    low, high = 10 ** (slope * (BRIGHT_LIMIT - m_ref)), 10 ** (slope * (faint_limit - m_ref))
    return m_ref + np.log10(rng.uniform(low, high, number)) / slope


def add_field_sources(image: np.ndarray, *, pixel_scale_arcsec: float, wavelengths_um: np.ndarray, faint_limit: float, rng: np.random.Generator) -> int:
    """Add Poisson-drawn field galaxies and stars (nmgy) to a (bands, H, W) stamp; returns how many.

    Magnitudes are drawn from the counts above down to ``faint_limit`` in the middle band;
    colours from power-law spectra (slopes -1 to 2); galaxies are Sersic profiles whose size
    shrinks with magnitude (r_e ~ 0.6" at m = 22), stars near-point sources that the PSF turns
    into PSFs.
    """
    bands, height, width = image.shape
    area = height * width * (pixel_scale_arcsec / 3600.0) ** 2
    grid = Grid(size=height, pixel_kpc=pixel_scale_arcsec)  # "kpc" here are arcsec
    reference = np.asarray(wavelengths_um) / wavelengths_um[len(wavelengths_um) // 2]
    half = height * pixel_scale_arcsec / 2
    added = 0
    for counts, is_star in ((GALAXY_COUNTS, False), (STAR_COUNTS, True)):
        number = rng.poisson(expected_counts(area, faint_limit, counts))
        for mag in _draw_magnitudes(rng, number, faint_limit, counts):
            flux = nanomaggies_from_mag(mag) * reference ** rng.uniform(-1.0, 2.0)
            x, y = rng.uniform(-half, half, 2)
            if is_star:
                add_gaussian(image, grid, x=x, y=y, flux=flux, sigma_kpc=0.3 * pixel_scale_arcsec)
            else:
                size = 0.6 * 10 ** (-0.1 * (mag - 22.0)) * 10 ** rng.normal(0, 0.15)
                add_sersic(image, grid, x=x, y=y, flux=flux, half_light_kpc=size, n=float(rng.uniform(0.8, 4.0)), axis_ratio=float(rng.uniform(0.3, 1.0)), angle=float(rng.uniform(0, np.pi)))
            added += 1
    return added
