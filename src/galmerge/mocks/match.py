"""Noiseless statistics of each mock (magnitude, size, concentration, colour) and their KS distances between classes."""

from __future__ import annotations

import numpy as np

from galmerge.mocks.image_statistics import light_radii

__all__ = ["measure_statistics", "ks_statistics", "STATISTICS"]

STATISTICS = ("magnitude", "r50_arcsec", "concentration", "colour")


def measure_statistics(noiseless: np.ndarray, *, pixel_scale_arcsec: float) -> np.ndarray:
    """Total magnitude, half-light radius, concentration and colour of one noiseless stamp (bands, H, W) in nmgy.

    Magnitude: of the in-stamp flux in the middle band. Half-light radius: of the circle about
    the light-weighted centre holding half of the band-summed flux. Concentration: r80 / r20 of
    such circles. Colour: bluest minus reddest band magnitude (0 for one band).
    """
    middle = noiseless[len(noiseless) // 2]
    total = noiseless.sum(axis=0)
    flux = max(total.sum(), 1e-30)
    yy, xx = np.indices(total.shape)
    cy, cx = (total * yy).sum() / flux, (total * xx).sum() / flux
    r20, r50, r80 = (float(r[0]) for r in light_radii(total[None], np.array([cy]), np.array([cx]), (0.2, 0.5, 0.8)))
    colour = 0.0
    if len(noiseless) > 1:
        blue, red = max(noiseless[0].sum(), 1e-30), max(noiseless[-1].sum(), 1e-30)
        colour = -2.5 * np.log10(blue / red)
    return np.array([22.5 - 2.5 * np.log10(max(middle.sum(), 1e-30)), r50 * pixel_scale_arcsec, r80 / max(r20, 0.5), colour])


def ks_statistics(a: np.ndarray, b: np.ndarray, names=STATISTICS) -> dict:
    """Two-sample Kolmogorov-Smirnov statistic per column."""
    from scipy.stats import ks_2samp

    return {name: float(ks_2samp(a[:, i], b[:, i]).statistic) for i, name in enumerate(names)}
