"""Matching the class-conditional distributions of simple statistics, so they cannot give the label away."""

from __future__ import annotations

import numpy as np

__all__ = ["measure_statistics", "match_distributions", "ks_statistics", "STATISTICS"]

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
    radius = np.hypot(yy - cy, xx - cx).ravel()
    order = np.argsort(radius)
    cumulative = np.cumsum(total.ravel()[order])
    r20, r50, r80 = (radius[order][np.searchsorted(cumulative, level * cumulative[-1])] for level in (0.2, 0.5, 0.8))
    colour = 0.0
    if len(noiseless) > 1:
        blue, red = max(noiseless[0].sum(), 1e-30), max(noiseless[-1].sum(), 1e-30)
        colour = -2.5 * np.log10(blue / red)
    return np.array([22.5 - 2.5 * np.log10(max(middle.sum(), 1e-30)), r50 * pixel_scale_arcsec, r80 / max(r20, 0.5), colour])


def match_distributions(a: np.ndarray, b: np.ndarray, *, rng: np.random.Generator, caliper: float = 0.25, neighbours: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``a`` and ``b`` (samples x statistics) to keep, in matched pairs.

    Statistics are standardised by their pooled spread (log of size and concentration); each
    row of ``a``, in random order, is paired with its nearest unused row of ``b`` if that lies
    within ``caliper`` standard deviations (greedy nearest-neighbour matching with a caliper).
    The kept rows of the two classes then share their joint distribution of the statistics up
    to the caliper. Returns sorted indices, as many for ``a`` as for ``b``.
    """
    from scipy.spatial import cKDTree

    def standardise(values):
        values = np.array(values, dtype=np.float64)
        values[:, 1:3] = np.log(np.clip(values[:, 1:3], 1e-6, None))  # sizes and concentrations are log-normal-ish
        return values

    pooled = standardise(np.concatenate([a, b]))
    centre, spread = pooled.mean(axis=0), pooled.std(axis=0)
    spread[spread == 0] = 1.0
    za, zb = (standardise(a) - centre) / spread, (standardise(b) - centre) / spread
    tree = cKDTree(zb)
    used = np.zeros(len(b), bool)
    keep_a, keep_b = [], []
    for row in rng.permutation(len(a)):
        distances, candidates = tree.query(za[row], k=min(neighbours, len(b)), distance_upper_bound=caliper * np.sqrt(za.shape[1]))
        for distance, candidate in zip(np.atleast_1d(distances), np.atleast_1d(candidates)):
            if not np.isfinite(distance):
                break
            if not used[candidate]:
                used[candidate] = True
                keep_a.append(row)
                keep_b.append(candidate)
                break
    return np.sort(np.array(keep_a, dtype=np.int64)), np.sort(np.array(keep_b, dtype=np.int64))


def ks_statistics(a: np.ndarray, b: np.ndarray, names=STATISTICS) -> dict:
    """Two-sample Kolmogorov-Smirnov statistic per column."""
    from scipy.stats import ks_2samp

    return {name: float(ks_2samp(a[:, i], b[:, i]).statistic) for i, name in enumerate(names)}
