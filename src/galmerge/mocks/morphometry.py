"""Training and test sets for morphometry: single Sersic galaxies with PSF and noise, truth in the table.

Every stamp draws n uniform over GalSim's range [0.3, 6.2], a major-axis r_e log-uniform over
``r_e_pixels``, q uniform, a position angle, a sub-pixel offset, a PSF (the recipe's, stretched
by a factor drawn from ``psf_scale``, or one of the images of ``psf_file``) and a sky noise level
(the recipe's depth moved by ``depth_offset_mag``); the flux is then set so that the optimal S/N
(sky plus the galaxy's own shot noise) is log-uniform over ``snr_range``. The noise level, PSF
FWHM and S/N go into the table, so a network can take them as inputs and a benchmark can bin by
them. Images are in nanomaggies per pixel.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from astropy.table import Table

from galmerge.data.imageset import ImageSet
from galmerge.errors import ConfigError, RecipeError
from galmerge.mocks.realism.noise import electrons_per_nanomaggy, sky_sigma_from_depth
from galmerge.mocks.recipes import Recipe, load_recipe
from galmerge.mocks.sersic import N_RANGE, SersicParameters, render_sersic_galsim, render_sersic_kspace

__all__ = ["MorphometryOptions", "generate_morphometry", "TRUTH_COLUMNS", "load_psf_images", "psf_images_for", "electrons_per_unit_for"]

TRUTH_COLUMNS = ("mag", "r_e_arcsec", "n", "q", "pa_deg")


@dataclass
class MorphometryOptions:
    """How a morphometry set is drawn (see the module docstring).

    Attributes
    ----------
    snr_range : (float, float)
        Optimal S/N, drawn log-uniform.
    r_e_pixels : (float, float)
        Major-axis half-light radius in output pixels, log-uniform (1-20 px: 0.4 to 8 PSF FWHM at F160W).
    q_range : (float, float)
    n_range : (float, float)
        Within [0.3, 6.2].
    psf_scale : (float, float)
        The recipe PSF stretched by a factor uniform in this range (quantised to 8 steps).
    psf_file : str or None
        FITS file of PSF images (one per HDU, e.g. the 100 ACS PSFs), used instead of the recipe's;
        ``psf_pixel_scale_arcsec`` gives their sampling; each is resampled to the recipe's pixel.
    depth_offset_mag : (float, float)
        Added to the recipe's depth (negative: noisier).
    max_offset_pixels : float
    stamp_size : int or None
        Stamp side in pixels (default the recipe's).
    renderer : {"kspace", "galsim"}
    pad : int
        Grid padding of the k-space renderer.
    """

    snr_range: tuple = (10.0, 1000.0)
    r_e_pixels: tuple = (1.0, 20.0)
    q_range: tuple = (0.1, 1.0)
    n_range: tuple = N_RANGE
    psf_scale: tuple = (0.8, 1.5)
    psf_file: str | None = None
    psf_pixel_scale_arcsec: float | None = None
    depth_offset_mag: tuple = (-1.0, 1.0)
    max_offset_pixels: float = 1.0
    stamp_size: int | None = None
    renderer: str = "kspace"
    pad: int = 2

    def __post_init__(self):
        if self.renderer not in ("kspace", "galsim"):
            raise ConfigError(f"renderer must be 'kspace' or 'galsim', got {self.renderer!r}")
        if not N_RANGE[0] <= self.n_range[0] <= self.n_range[1] <= N_RANGE[1]:
            raise ConfigError(f"n_range must lie within {N_RANGE}, got {self.n_range}")
        if not 0 < self.snr_range[0] <= self.snr_range[1]:
            raise ConfigError(f"snr_range must be positive and ordered, got {self.snr_range}")


def load_psf_images(path, *, pixel_scale_arcsec: float | None, output_scale_arcsec: float) -> list[np.ndarray]:
    """Every image HDU of a FITS file as a PSF resampled to ``output_scale_arcsec``."""
    from astropy.io import fits

    from galmerge.mocks.realism.psf import ImagePSF

    with fits.open(path) as hdul:
        arrays = [(np.asarray(h.data, dtype=np.float64), h.header.get("PIXSCALE")) for h in hdul if h.data is not None and np.ndim(h.data) == 2]
    if not arrays:
        raise RecipeError(f"{path}: no 2-D PSF image in any HDU")
    psfs = []
    for array, header_scale in arrays:
        scale = pixel_scale_arcsec or header_scale
        if scale is None:
            raise RecipeError(f"{path}: no PIXSCALE in the header; give the PSF pixel scale")
        psfs.append(ImagePSF(array, pixel_scale_arcsec=float(scale), source=str(path)).image(pixel_scale_arcsec=output_scale_arcsec))
    return psfs


def _psf_fwhm_arcsec(psf: np.ndarray, pixel_scale_arcsec: float) -> float:
    """FWHM from the area above half the peak (exact for a Gaussian sampled finely enough)."""
    return float(2 * np.sqrt((psf >= 0.5 * psf.max()).sum() / np.pi) * pixel_scale_arcsec)


def _solve_flux(unit: np.ndarray, snr: np.ndarray, sky_sigma: np.ndarray, electrons: float) -> np.ndarray:
    """Flux giving optimal S/N ``snr`` = sqrt(sum F^2 u^2 / (sigma^2 + F u / e)) for unit-flux stamps u (fixed point)."""
    u = np.clip(unit, 0, None).reshape(len(unit), -1).astype(np.float64)
    var_sky = (sky_sigma**2)[:, None]
    flux = snr * sky_sigma / np.sqrt((u**2).sum(axis=1))
    for _ in range(6):
        flux = snr / np.sqrt((u**2 / (var_sky + flux[:, None] * u / electrons)).sum(axis=1))
    return flux


def generate_morphometry(recipe, n: int, *, seed: int = 0, options: MorphometryOptions | None = None, progress: bool = True) -> ImageSet:
    """``n`` single-Sersic stamps with their truth (see the module docstring).

    Returns
    -------
    ImageSet
        One band (the recipe's first), unlabelled (no merger label); the table holds the truth
        ``mag`` (AB, total), ``r_e_arcsec`` (major axis), ``r_e_circ_arcsec``, ``n``, ``q``,
        ``pa_deg``, the offsets, ``snr`` (optimal), ``sky_sigma`` (nmgy/px), ``psf_fwhm_arcsec``,
        ``psf_index`` and ``kind`` (``"sersic"``).
    """
    from galmerge.display import progress_bar

    recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    options = options or MorphometryOptions()
    if n < 1:
        raise ConfigError(f"n must be >= 1, got {n}")
    if recipe.pixel_scale_arcsec is None:
        raise RecipeError(f"recipe {recipe.name}: morphometry needs a fixed pixel scale (not fov_r90)")
    band = recipe.bands[0]
    scale = recipe.pixel_scale_arcsec
    size = options.stamp_size or recipe.stamp_size
    rng = np.random.default_rng(np.random.SeedSequence([seed, 13]))
    psfs = _psf_images(recipe, options)
    psf_index = rng.integers(len(psfs), size=n)
    r_e = scale * np.exp(rng.uniform(*np.log(options.r_e_pixels), n))
    params = SersicParameters(
        flux=np.ones(n), r_e_arcsec=r_e, n=rng.uniform(*options.n_range, n), q=rng.uniform(*options.q_range, n),
        pa_deg=rng.uniform(0, 180, n), dx_arcsec=rng.uniform(-1, 1, n) * options.max_offset_pixels * scale,
        dy_arcsec=rng.uniform(-1, 1, n) * options.max_offset_pixels * scale,
    )
    snr = np.exp(rng.uniform(*np.log(options.snr_range), n))
    depth = band.depth_mu_lim if band.depth_mu_lim is not None else 27.0
    sky_sigma = np.array([sky_sigma_from_depth(depth + d, pixel_scale_arcsec=scale) for d in rng.uniform(*options.depth_offset_mag, n)])
    electrons = electrons_per_nanomaggy(zeropoint=band.zeropoint, exptime_s=recipe.exptime_s)
    images = np.empty((n, 1, size, size), dtype=np.float32)
    chunk = 512
    for first in progress_bar(range(0, n, chunk), desc="rendering Sersic stamps", unit="chunk", enabled=progress):
        rows = np.arange(first, min(n, first + chunk))
        unit = np.empty((len(rows), size, size), dtype=np.float32)
        for index in np.unique(psf_index[rows]):
            members = rows[psf_index[rows] == index]
            render = render_sersic_galsim if options.renderer == "galsim" else render_sersic_kspace
            extra = {} if options.renderer == "galsim" else {"pad": options.pad}
            unit[np.searchsorted(rows, members)] = render(params.take(members), psfs[index], stamp_size=size, pixel_scale_arcsec=scale, **extra)
        flux = _solve_flux(unit, snr[rows], sky_sigma[rows], electrons)
        noiseless = unit * flux[:, None, None]
        expected = np.clip(noiseless, 0, None) * electrons
        shot = (rng.poisson(expected) - expected) / electrons
        images[rows, 0] = noiseless + shot + rng.normal(size=noiseless.shape) * sky_sigma[rows, None, None]
        params.flux[rows] = flux
    meta = Table()
    meta["id"] = np.arange(n, dtype=np.int64)
    meta["kind"] = np.full(n, "sersic")
    meta["mag"] = 22.5 - 2.5 * np.log10(params.flux)
    meta["r_e_arcsec"] = params.r_e_arcsec
    meta["r_e_circ_arcsec"] = params.r_e_circ_arcsec
    meta["n"] = params.n
    meta["q"] = params.q
    meta["pa_deg"] = params.pa_deg
    meta["x_offset_arcsec"] = params.dx_arcsec
    meta["y_offset_arcsec"] = params.dy_arcsec
    meta["snr"] = snr
    meta["sky_sigma"] = sky_sigma
    meta["psf_index"] = psf_index
    meta["psf_fwhm_arcsec"] = np.array([_psf_fwhm_arcsec(psfs[i], scale) for i in range(len(psfs))])[psf_index]
    meta["recipe"] = recipe.name
    meta.meta.update({"task": "morphometry", "recipe": recipe.name, "renderer": options.renderer, "zeropoint": band.zeropoint, "exptime_s": recipe.exptime_s, "psf_file": None if options.psf_file is None else os.fspath(options.psf_file), "psf_scale": list(options.psf_scale), "psf_pixel_scale_arcsec": options.psf_pixel_scale_arcsec, "r_e_definition": "major axis", "pa_definition": "degrees from +x, counter-clockwise, [0, 180)"})
    return ImageSet(images, bands=(band.name,), meta=meta, pixel_scale_arcsec=scale, source=f"morphometry({recipe.name}, n={n}, seed={seed})")


def psf_images_for(imageset: ImageSet) -> list[np.ndarray]:
    """The PSF images a morphometry set was drawn with, indexed by its ``psf_index`` column (for fitters).

    Rebuilt from the recipe and PSF options recorded in the set's table metadata.
    """
    info = imageset.meta.meta
    if info.get("task") != "morphometry":
        raise RecipeError(f"{imageset.source}: not a morphometry set (no PSF record); give the PSF images")
    return _psf_images(load_recipe(info["recipe"]), MorphometryOptions(psf_scale=tuple(info["psf_scale"]), psf_file=info["psf_file"], psf_pixel_scale_arcsec=info["psf_pixel_scale_arcsec"]))


def electrons_per_unit_for(imageset: ImageSet) -> float | None:
    """Electrons per image unit of a morphometry set (for the shot noise), from its recorded zeropoint and exposure; None if unrecorded."""
    info = imageset.meta.meta
    if info.get("zeropoint") is None or info.get("exptime_s") is None:
        return None
    return electrons_per_nanomaggy(zeropoint=info["zeropoint"], exptime_s=info["exptime_s"])


def _psf_images(recipe: Recipe, options: MorphometryOptions) -> list[np.ndarray]:
    scale = recipe.pixel_scale_arcsec
    if options.psf_file is not None:
        return load_psf_images(os.fspath(options.psf_file), pixel_scale_arcsec=options.psf_pixel_scale_arcsec, output_scale_arcsec=scale)
    psf = recipe.bands[0].psf
    stretch = np.linspace(*options.psf_scale, 8) if options.psf_scale[1] > options.psf_scale[0] else np.array([options.psf_scale[0]])
    return [psf.image(pixel_scale_arcsec=scale / s, size=psf.default_size(scale / s)) for s in stretch]
