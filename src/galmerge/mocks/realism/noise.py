"""Sky and shot noise: from a surface-brightness limit, with gain and exposure time, optionally correlated.

Units: images are fluxes in nanomaggies per pixel (nmgy; 1 nmgy is AB magnitude 22.5). A
band's zeropoint is the AB magnitude that gives 1 electron per second, so a flux F in nmgy
yields F * 10**(0.4 * (zeropoint - 22.5)) electrons per second.

Depth is given as a surface-brightness limit mu_lim: the AB mag/arcsec^2 at which the mean of a
``box_arcsec`` x ``box_arcsec`` box (default 10") is ``nsigma`` (default 3) times its noise, the
convention of low-surface-brightness studies (e.g. Roman et al. 2020; Martin et al. 2022).
"""

from __future__ import annotations

import numpy as np

from galmerge.errors import RecipeError

__all__ = [
    "nanomaggies_from_mag",
    "electrons_per_nanomaggy",
    "sky_sigma_from_depth",
    "depth_from_sky_sigma",
    "measure_depth",
    "add_noise",
    "correlated_gaussian_noise",
    "box_noise_factor",
]


def nanomaggies_from_mag(mag):
    """Flux in nanomaggies of an AB magnitude."""
    return 10.0 ** (-0.4 * (np.asarray(mag, dtype=np.float64) - 22.5))


def electrons_per_nanomaggy(*, zeropoint: float, exptime_s: float) -> float:
    """Electrons collected in ``exptime_s`` seconds per nanomaggy of flux."""
    if not exptime_s > 0:
        raise RecipeError(f"exposure time must be > 0 s, got {exptime_s}")
    return 10.0 ** (0.4 * (zeropoint - 22.5)) * exptime_s


def sky_sigma_from_depth(mu_lim: float, *, pixel_scale_arcsec: float, nsigma: float = 3.0, box_arcsec: float = 10.0) -> float:
    """Standard deviation of uncorrelated sky noise per pixel (nmgy) that gives the limit ``mu_lim``.

    A box of n = (box / pixel)^2 pixels has a mean with noise sigma / sqrt(n) per pixel, i.e.
    sigma / (sqrt(n) pixel^2) per arcsec^2; setting nsigma times that to the flux of mu_lim per
    arcsec^2 gives sigma = F(mu_lim) * pixel * box / nsigma.
    """
    if not pixel_scale_arcsec > 0:
        raise RecipeError(f"pixel scale must be > 0 arcsec, got {pixel_scale_arcsec}")
    return float(nanomaggies_from_mag(mu_lim) * pixel_scale_arcsec * box_arcsec / nsigma)


def depth_from_sky_sigma(sigma: float, *, pixel_scale_arcsec: float, nsigma: float = 3.0, box_arcsec: float = 10.0) -> float:
    """The inverse of :func:`sky_sigma_from_depth`."""
    return float(22.5 - 2.5 * np.log10(sigma * nsigma / (pixel_scale_arcsec * box_arcsec)))


def measure_depth(noise: np.ndarray, *, pixel_scale_arcsec: float, nsigma: float = 3.0, box_arcsec: float = 10.0) -> float:
    """Surface-brightness limit of a noise image, measured from the scatter of box means.

    Tiles the image with ``box_arcsec`` boxes (or the largest that fit) and scales the scatter of
    their means to a 10" box, so correlated noise is measured correctly.
    """
    box = max(1, int(round(box_arcsec / pixel_scale_arcsec)))
    box = min(box, noise.shape[0] // 4, noise.shape[1] // 4) or 1
    ny, nx = noise.shape[0] // box, noise.shape[1] // box
    means = noise[: ny * box, : nx * box].reshape(ny, box, nx, box).mean(axis=(1, 3))
    box_side_arcsec = box * pixel_scale_arcsec
    # the scatter of the mean falls as 1/side for white or short-range correlated noise
    sigma_box = means.std() * box_side_arcsec / box_arcsec
    flux_per_arcsec2 = nsigma * sigma_box / pixel_scale_arcsec**2
    return float(22.5 - 2.5 * np.log10(flux_per_arcsec2))


def add_noise(
    image: np.ndarray,
    *,
    sky_sigma: np.ndarray,
    electrons_per_unit: np.ndarray,
    rng: np.random.Generator,
    sky_noise: np.ndarray | None = None,
) -> np.ndarray:
    """Add shot noise of the sources and sky noise to noiseless images (bands, H, W) in nmgy.

    Parameters
    ----------
    sky_sigma : array (bands,)
        Sky noise per pixel in nmgy (the background itself is taken as subtracted).
    electrons_per_unit : array (bands,)
        Electrons per nmgy (gain and exposure time), for the Poisson noise of the sources.
    sky_noise : ndarray (bands, H, W), optional
        A ready noise field (e.g. correlated) used instead of white sky noise.
    """
    image = np.asarray(image, dtype=np.float64)
    scale = np.asarray(electrons_per_unit, dtype=np.float64).reshape(-1, 1, 1)
    electrons = np.clip(image, 0, None) * scale
    shot = (rng.poisson(electrons) - electrons) / scale
    if sky_noise is None:
        sky_noise = rng.normal(size=image.shape) * np.asarray(sky_sigma).reshape(-1, 1, 1)
    return image + shot + sky_noise


def correlated_gaussian_noise(shape: tuple[int, int], correlation: np.ndarray, *, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """A Gaussian noise field with the given 2-D correlation function, scaled to ``sigma`` per pixel.

    The correlation image (e.g. the ACS F814W one in ``shared/data/sky``) is centred on its
    zero-lag pixel; its Fourier transform is the power spectrum, whose square root filters white
    noise. Wrap-around at the edges is avoided by drawing on a padded grid.
    """
    correlation = np.asarray(correlation, dtype=np.float64)
    if correlation.ndim != 2:
        raise RecipeError(f"a noise correlation function must be 2-D, got shape {correlation.shape}")
    pad_y, pad_x = shape[0] + correlation.shape[0], shape[1] + correlation.shape[1]
    kernel = np.zeros((pad_y, pad_x))
    cy, cx = np.array(correlation.shape) // 2
    kernel[: correlation.shape[0], : correlation.shape[1]] = correlation
    kernel = np.roll(kernel, (-cy, -cx), axis=(0, 1))
    power = np.clip(np.fft.rfft2(kernel).real, 0, None)
    white = rng.normal(size=(pad_y, pad_x))
    field = np.fft.irfft2(np.fft.rfft2(white) * np.sqrt(power), s=(pad_y, pad_x))[: shape[0], : shape[1]]
    return field * (sigma / field.std())


def box_noise_factor(correlation: np.ndarray, *, box_pixels: int) -> float:
    """How much more the mean of a ``box_pixels`` square box scatters under this correlation than under white noise.

    Exact for a stationary field: the variance of a box mean is (1/n^2) sum over pixel pairs of
    the covariance, i.e. the correlation at each lag weighted by the number of pairs at that lag,
    (B - |dx|)(B - |dy|). Dividing a white-noise depth's sigma by this factor gives correlated
    noise of the same surface-brightness limit.
    """
    correlation = np.asarray(correlation, dtype=np.float64)
    cy, cx = np.array(correlation.shape) // 2
    rho = correlation / correlation[cy, cx]
    dy = np.abs(np.arange(correlation.shape[0]) - cy)[:, None]
    dx = np.abs(np.arange(correlation.shape[1]) - cx)[None, :]
    pairs = np.clip(box_pixels - dy, 0, None) * np.clip(box_pixels - dx, 0, None)
    return float(np.sqrt(max((rho * pairs).sum(), 1e-12) / box_pixels**2))
