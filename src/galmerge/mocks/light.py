"""Light of mock galaxies on a fine grid in physical units: Sersic components, particle disks,
clumps, bars, shells and streams.

Every function adds flux (in any linear unit, per pixel) into an image of a :class:`Grid`.
Mergers and non-mergers are drawn with the same functions, so a network cannot learn the
label from rendering artefacts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Grid", "add_sersic", "add_gaussian", "render_particles", "add_shells", "add_stream", "sersic_b"]


@dataclass(frozen=True)
class Grid:
    """A square pixel grid in kpc, centred on (``centre_x``, ``centre_y``)."""

    size: int
    pixel_kpc: float
    centre_x: float = 0.0
    centre_y: float = 0.0

    def coordinates(self):
        """Pixel-centre x and y in kpc, shape (size, size) each (row = y, column = x)."""
        axis = (np.arange(self.size) - (self.size - 1) / 2) * self.pixel_kpc
        return np.meshgrid(axis + self.centre_x, axis + self.centre_y)

    def blank(self, leading=()) -> np.ndarray:
        return np.zeros((*leading, self.size, self.size))


def sersic_b(n):
    """b_n with Gamma(2n) = 2 gamma(2n, b_n): half the light inside the effective radius (Ciotti & Bertin 1999)."""
    return 2 * n - 1 / 3 + 4 / (405 * n) + 46 / (25515 * n**2)


def _galsim():
    try:
        import galsim
    except ImportError:
        return None
    return galsim


def add_sersic(image: np.ndarray, grid: Grid, *, x: float, y: float, flux, half_light_kpc: float, n: float, axis_ratio: float = 1.0, angle: float = 0.0) -> None:
    """Add a Sersic profile of total ``flux`` (one value per band along the image's leading axis).

    ``half_light_kpc`` is the circularised half-light radius (GalSim's convention: an elliptical
    profile of axis ratio q has major-axis radius r/sqrt(q)); ``angle`` is the major axis from
    +x, counter-clockwise, in radians. Sampled at pixel centres; GalSim draws it when installed
    (n is kept within its range 0.3-6.2), numpy otherwise.
    """
    n = float(np.clip(n, 0.3, 6.2))
    half_light_kpc = max(half_light_kpc, 0.25 * grid.pixel_kpc)
    profile = _sersic_unit(grid, x=x, y=y, half_light_kpc=half_light_kpc, n=n, axis_ratio=axis_ratio, angle=angle)
    image += np.multiply.outer(np.atleast_1d(flux), profile).reshape(image.shape)


def _sersic_unit(grid: Grid, *, x, y, half_light_kpc, n, axis_ratio, angle) -> np.ndarray:
    galsim = _galsim()
    if galsim is not None:
        profile = galsim.Sersic(n, half_light_radius=half_light_kpc, gsparams=galsim.GSParams(maximum_fft_size=8192))
        profile = profile.shear(q=float(np.clip(axis_ratio, 0.05, 1.0)), beta=float(angle) * galsim.radians)
        drawn = galsim.ImageD(grid.size, grid.size, scale=grid.pixel_kpc)
        # GalSim centres profiles on the image's true centre, as Grid does, so offsets are relative to it
        offset = ((x - grid.centre_x) / grid.pixel_kpc, (y - grid.centre_y) / grid.pixel_kpc)
        profile.drawImage(image=drawn, method="no_pixel", offset=offset)
        return drawn.array
    return _sersic_numpy(grid, x=x, y=y, half_light_kpc=half_light_kpc, n=n, axis_ratio=axis_ratio, angle=angle)


def _sersic_numpy(grid: Grid, *, x, y, half_light_kpc, n, axis_ratio, angle) -> np.ndarray:
    from scipy.special import gamma

    xx, yy = grid.coordinates()
    dx, dy = xx - x, yy - y
    cos, sin = np.cos(angle), np.sin(angle)
    q = float(np.clip(axis_ratio, 0.05, 1.0))
    major = (dx * cos + dy * sin) * np.sqrt(q)
    minor = (-dx * sin + dy * cos) / np.sqrt(q)
    radius = np.hypot(major, minor)
    b = sersic_b(n)
    # total flux of I0 exp(-b (r/re)^(1/n)): 2 pi n re^2 Gamma(2n) e^b / b^(2n)
    norm = 2 * np.pi * n * half_light_kpc**2 * gamma(2 * n) * np.exp(b) / b ** (2 * n)
    return np.exp(-b * ((radius / half_light_kpc) ** (1 / n) - 1)) / norm * grid.pixel_kpc**2


def add_gaussian(image: np.ndarray, grid: Grid, *, x: float, y: float, flux, sigma_kpc: float = 1.0, axis_ratio: float = 1.0, angle: float = 0.0, covariance: np.ndarray | None = None) -> None:
    """Add an elliptical Gaussian (clumps, bars) of total ``flux`` per band.

    The shape is ``sigma_kpc``, ``axis_ratio`` and ``angle`` (major axis from +x), or a 2x2
    ``covariance`` in kpc^2 (e.g. a 3-D ellipsoid projected on the sky).
    """
    xx, yy = grid.coordinates()
    dx, dy = xx - x, yy - y
    if covariance is None:
        cos, sin = np.cos(angle), np.sin(angle)
        rotation = np.array([[cos, -sin], [sin, cos]])
        covariance = rotation @ np.diag([sigma_kpc**2, (sigma_kpc * axis_ratio) ** 2]) @ rotation.T
    inverse = np.linalg.inv(np.asarray(covariance) + np.eye(2) * (0.25 * grid.pixel_kpc) ** 2)
    profile = np.exp(-0.5 * (inverse[0, 0] * dx * dx + 2 * inverse[0, 1] * dx * dy + inverse[1, 1] * dy * dy))
    total = profile.sum()
    if total > 0:
        image += np.multiply.outer(np.atleast_1d(flux), profile / total).reshape(image.shape)


def _gaussian_filter(array: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(array, sigma, mode="constant", truncate=3.0)


def render_particles(grid: Grid, x: np.ndarray, y: np.ndarray, weights: np.ndarray, *, scales_px=(0.8, 2.2, 6.0), min_neighbours: float = 10.0) -> np.ndarray:
    """Smooth point masses onto the grid with a kernel that widens where particles are sparse.

    Parameters
    ----------
    x, y : ndarray (N,)
        Particle positions in kpc.
    weights : ndarray (K, N)
        K flux weights per particle (e.g. one per stellar population); all share one kernel.
    scales_px : sequence of float
        Gaussian kernel widths tried, in grid pixels.
    min_neighbours : float
        A pixel is smoothed at the finest scale whose kernel holds about this many particles.

    Returns
    -------
    ndarray (K, size, size)
        Flux is conserved apart from particles outside the grid.

    Notes
    -----
    Adaptive smoothing keeps dense disks sharp and turns a sparse tidal tail into a smooth,
    faint stream instead of a spray of dots (the look of restricted three-body models). The
    kernel is chosen per pixel by blending the smoothed images of a few fixed scales, weighted
    by how many particles each scale's kernel holds there (a cheap stand-in for per-particle
    k-nearest-neighbour kernels).
    """
    size = grid.size
    column = np.floor((x - grid.centre_x) / grid.pixel_kpc + size / 2).astype(np.int64)
    row = np.floor((y - grid.centre_y) / grid.pixel_kpc + size / 2).astype(np.int64)
    inside = (column >= 0) & (column < size) & (row >= 0) & (row < size)
    flat = row[inside] * size + column[inside]
    counts = np.bincount(flat, minlength=size * size).reshape(size, size).astype(np.float64)
    fluxes = np.stack([np.bincount(flat, weights=w[inside], minlength=size * size).reshape(size, size) for w in np.atleast_2d(weights)])
    out = np.zeros_like(fluxes)
    remaining = np.ones((size, size))
    for index, sigma in enumerate(scales_px):
        last = index == len(scales_px) - 1
        if last:
            share = remaining
        else:
            held = _gaussian_filter(counts, sigma) * (2 * np.pi * sigma**2)
            share = remaining * np.clip(held / min_neighbours, 0.0, 1.0)
        # smooth the flux, then keep the part of each pixel that this scale is responsible for
        for k in range(len(fluxes)):
            out[k] += share * _gaussian_filter(fluxes[k], sigma)
        remaining = remaining - share
        if remaining.max() <= 1e-6:
            break
    # the blend redistributes flux slightly; restore each population's in-grid total
    totals = fluxes.sum(axis=(1, 2))
    rendered = out.sum(axis=(1, 2))
    scale = np.divide(totals, rendered, out=np.zeros_like(totals), where=rendered > 0)
    return out * scale[:, None, None]


def add_shells(image: np.ndarray, grid: Grid, *, x: float, y: float, flux, first_radius_kpc: float, axis_angle: float, count: int, rng: np.random.Generator) -> None:
    """Add interleaved shells: arcs on alternating sides of a remnant, radii growing by ~1.4.

    Shells form when a minor companion on a radial orbit is shredded and its stars pile up at
    the turning points of successive orbits (Quinn 1984); restricted three-body models do not
    form them, so they are drawn here. Each arc spans 100-160 degrees, is ~8 % of its radius
    thick and fainter the larger it is.
    """
    xx, yy = grid.coordinates()
    dx, dy = xx - x, yy - y
    radius = np.hypot(dx, dy)
    azimuth = np.arctan2(dy, dx)
    total = np.zeros((grid.size, grid.size))
    shell_radius = first_radius_kpc
    for k in range(count):
        side = axis_angle + (np.pi if k % 2 else 0.0)
        half_opening = np.radians(rng.uniform(50, 80))
        offset = (azimuth - side + np.pi) % (2 * np.pi) - np.pi
        ring = (radius - shell_radius) / (0.08 * shell_radius)
        near = np.abs(ring) < 4  # only pixels close to the shell carry light
        arc = np.zeros_like(radius)
        arc[near] = np.exp(-0.5 * ring[near] ** 2 - 0.5 * (offset[near] / half_opening) ** 6)
        # a sharp outer edge: shells are brighter just inside their turning radius
        arc[near & (radius > shell_radius)] *= 0.4
        total += arc / max(arc.sum(), 1e-12) / shell_radius**1.5
        shell_radius *= rng.uniform(1.3, 1.55)
    total /= max(total.sum(), 1e-12)
    image += np.multiply.outer(np.atleast_1d(flux), total).reshape(image.shape)


def add_stream(image: np.ndarray, grid: Grid, *, x: float, y: float, flux, radius_kpc: float, start_angle: float, length_rad: float, width_kpc: float) -> None:
    """Add a stellar stream: a thin arc of a circle about (x, y), brightest in its middle."""
    xx, yy = grid.coordinates()
    dx, dy = xx - x, yy - y
    distance = np.hypot(dx, dy)
    along = np.mod(np.arctan2(dy, dx) - start_angle, 2 * np.pi)
    profile = np.exp(-0.5 * ((distance - radius_kpc) / width_kpc) ** 2) * np.exp(-0.5 * ((along - length_rad / 2) / (length_rad / 3)) ** 2)
    total = profile.sum()
    if total > 0:
        image += np.multiply.outer(np.atleast_1d(flux), profile / total).reshape(image.shape)
