"""A small built-in synthetic merger set: one galaxy versus two blended galaxies with a tidal arc.

This is the default data of ``make demo`` and of the tests until the mock generator
(:mod:`galmerge.mocks`) lands. It is not a physical simulation: light profiles are smooth
Sersic-like ellipses, the "tidal arc" is a curved streak, and noise is Gaussian sky plus a
Poisson-like term. A third of the non-mergers are projected pairs, so "two blobs" alone does
not give the label away. It is made so that the label is learnable from morphology but not from
total brightness: the total flux of both classes is drawn from the same distribution.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from galmerge.data.imageset import ImageSet

__all__ = ["make_toy_mergers"]


def _profile(yy, xx, *, x0, y0, r_eff, axis_ratio, angle, sersic_n):
    """Unit-sum Sersic-like ellipses for a batch; every argument has shape (n, 1, 1)."""
    dx, dy = xx - x0, yy - y0
    cos, sin = np.cos(angle), np.sin(angle)
    major = dx * cos + dy * sin
    minor = (-dx * sin + dy * cos) / axis_ratio
    radius = np.sqrt(major**2 + minor**2)
    b_n = 2.0 * sersic_n - 1.0 / 3.0
    image = np.exp(-b_n * (radius / r_eff) ** (1.0 / sersic_n))
    return image / image.sum(axis=(1, 2), keepdims=True)


def _arc(yy, xx, *, x0, y0, radius, start, length, width):
    """Unit-sum curved streaks: a Gaussian ridge along part of a circle."""
    dx, dy = xx - x0, yy - y0
    distance = np.sqrt(dx**2 + dy**2)
    angle = np.mod(np.arctan2(dy, dx) - start, 2 * np.pi)
    along = np.exp(-0.5 * ((angle - length / 2) / (length / 3)) ** 2)
    image = np.exp(-0.5 * ((distance - radius) / width) ** 2) * along
    return image / np.maximum(image.sum(axis=(1, 2), keepdims=True), 1e-12)


def make_toy_mergers(
    n_images: int = 2000,
    *,
    size: int = 75,
    n_bands: int = 3,
    merger_fraction: float = 0.5,
    sky_sigma: float = 1.0,
    seed: int = 0,
) -> ImageSet:
    """Make a labelled toy set of isolated galaxies (label 0) and blended pairs (label 1).

    Parameters
    ----------
    n_images : int
        Number of images.
    size : int
        Side of each square image in pixels.
    n_bands : int
        Number of bands; components get slightly different colours across bands.
    merger_fraction : float
        Expected fraction of mergers.
    sky_sigma : float
        Standard deviation of the Gaussian sky noise, in image units (a pixel's flux).
    seed : int
        Same seed, same images.

    Returns
    -------
    ImageSet
        With metadata columns ``kind`` (``merger``, ``isolated``, ``projected_pair``: a
        non-merger with a compact, redder companion and no tidal feature), ``separation_px`` (0
        for single galaxies), ``flux_ratio`` (mergers) and ``has_star``.
    """
    rng = np.random.default_rng(seed)
    n = n_images
    shape = (n, 1, 1)
    labels = (rng.random(n) < merger_fraction).astype(np.int8)
    is_merger = labels.astype(bool).reshape(shape)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    centre = (size - 1) / 2
    scale = size / 75.0

    def uniform(low, high):
        return rng.uniform(low, high, n).reshape(shape)

    # Confusers among the non-mergers: a third are projected pairs (a compact, mostly redder
    # companion at a different distance, no tidal feature) and some have a field star.
    projected = (~is_merger) & (rng.random(shape) < 0.35)
    is_pair = is_merger | projected
    total_flux = np.exp(uniform(np.log(400.0), np.log(4000.0)))
    flux_ratio = np.where(is_merger, uniform(1.0, 8.0), np.nan)
    secondary_share = np.where(is_merger, 1.0 / (1.0 + np.nan_to_num(flux_ratio, nan=1.0)), np.where(projected, uniform(0.1, 0.3), 0.0))
    separation = np.where(is_pair, uniform(6.0, 18.0) * scale, 0.0)
    direction = uniform(0, 2 * np.pi)
    cx = centre + uniform(-1.5, 1.5) - np.cos(direction) * separation * secondary_share
    cy = centre + uniform(-1.5, 1.5) - np.sin(direction) * separation * secondary_share

    primary = _profile(
        yy,
        xx,
        x0=cx,
        y0=cy,
        r_eff=uniform(3.0, 7.0) * scale,
        axis_ratio=uniform(0.4, 1.0),
        angle=uniform(0, np.pi),
        sersic_n=uniform(0.8, 2.5),
    )
    secondary = _profile(
        yy,
        xx,
        x0=cx + np.cos(direction) * separation,
        y0=cy + np.sin(direction) * separation,
        r_eff=np.where(projected, uniform(1.0, 2.5), uniform(2.0, 5.0)) * scale,
        axis_ratio=uniform(0.4, 1.0),
        angle=uniform(0, np.pi),
        sersic_n=uniform(0.8, 2.5),
    )
    tail = _arc(
        yy,
        xx,
        x0=cx,
        y0=cy,
        radius=uniform(10.0, 20.0) * scale,
        start=direction + uniform(-0.5, 0.5),
        length=uniform(1.0, 2.5),
        width=uniform(1.5, 3.0) * scale,
    )
    tail_share = np.where(is_merger, uniform(0.0, 0.08), 0.0)
    has_star = (~is_merger) & (rng.random(shape) < 0.3)
    star_angle = uniform(0, 2 * np.pi)
    star_distance = uniform(20.0, 30.0) * scale
    star = _profile(
        yy,
        xx,
        x0=centre + np.cos(star_angle) * star_distance,
        y0=centre + np.sin(star_angle) * star_distance,
        r_eff=np.full(shape, 1.0),
        axis_ratio=np.ones(shape),
        angle=np.zeros(shape),
        sersic_n=np.full(shape, 0.5),
    )

    companion_redness = uniform(-0.2, 0.6)
    images = np.empty((n, n_bands, size, size), dtype=np.float32)
    body_flux = total_flux * (1.0 - tail_share)
    for band in range(n_bands):
        # Redder primaries, bluer merging companions and tails, mostly redder projected companions.
        tilt = (band - (n_bands - 1) / 2) / max(n_bands - 1, 1)
        companion_colour = np.where(projected, 1.0 + companion_redness * tilt, 1.0 - 0.2 * tilt)
        light = (
            body_flux * (1.0 - secondary_share) * primary * (1.0 + 0.3 * tilt)
            + body_flux * secondary_share * secondary * companion_colour
            + total_flux * tail_share * tail * (1.0 - 0.4 * tilt)
            + has_star * 0.1 * total_flux * star
        )
        noise = rng.normal(0.0, 1.0, light.shape) * np.sqrt(sky_sigma**2 + np.maximum(light, 0) / 50.0)
        images[:, band] = (light + noise).astype(np.float32)

    kind = np.where(is_merger.ravel(), "merger", np.where(projected.ravel(), "projected_pair", "isolated"))
    meta = Table(
        {
            "id": np.arange(n, dtype=np.int64),
            "kind": kind,
            "separation_px": separation.ravel(),
            "flux_ratio": flux_ratio.ravel(),
            "has_star": has_star.ravel(),
        }
    )
    bands = tuple(f"band{i}" for i in range(n_bands))
    return ImageSet(images, bands=bands, labels=labels, meta=meta, source=f"toy(n={n_images}, seed={seed})")
