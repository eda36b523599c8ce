"""The realism layer (RealSim-style): from an ideal image in physical units to what a survey records.

Chain: pixel scale from kpc to arcsec at the redshift (astropy cosmology) -> flux-conserving
resampling to the instrument's pixels -> field galaxies and stars from number counts -> PSF per
band -> sky noise from the depth and Poisson noise of the sources -> optionally the survey's
colour JPEG, read back as galmerge reads real ones.

Ideal images from any simulation (TNG, Illustris, SKIRT) can enter through :func:`observe` or
:func:`observe_fits`, as fluxes in nanomaggies per pixel or AB mag/arcsec^2 (RealSim's input).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galmerge.errors import DataFileNotFoundError, RecipeError
from galmerge.mocks.cosmology import kpc_per_arcsec
from galmerge.mocks.realism.background import add_field_sources
from galmerge.mocks.realism.display import colour_picture
from galmerge.mocks.realism.noise import add_noise, box_noise_factor, correlated_gaussian_noise, electrons_per_nanomaggy, nanomaggies_from_mag, sky_sigma_from_depth
from galmerge.mocks.realism.psf import convolve
from galmerge.mocks.realism.resample import resample_flux
from galmerge.mocks.recipes import Recipe, load_recipe

__all__ = ["ObservedStamp", "Observer", "observe", "observe_fits", "UNITS"]

UNITS = ("nanomaggies", "mag_arcsec2")


@dataclass
class ObservedStamp:
    """One observed stamp.

    Attributes
    ----------
    images : ndarray (bands, S, S) float32
        Fluxes in nmgy per pixel, or for display recipes the picture's R, G, B in [0, 1].
    noiseless : ndarray (bands, S, S)
        The same before noise and field sources (nmgy), for measuring sizes and colours.
    tidal, companion : ndarray (S, S)
        Light of tidal features and of companions after the PSF (nmgy, summed over bands).
    sky_sigma : ndarray (bands,)
        Sky noise per output pixel in nmgy (0 without noise).
    pixel_scale_arcsec : float
    bands : tuple of str
    n_field_sources : int
        Field galaxies and stars added around the system (how busy the field is).
    """

    images: np.ndarray
    noiseless: np.ndarray
    tidal: np.ndarray
    companion: np.ndarray
    sky_sigma: np.ndarray
    pixel_scale_arcsec: float
    bands: tuple
    n_field_sources: int = 0


class Observer:
    """Applies a recipe to ideal images; caches PSF images per pixel scale."""

    def __init__(self, recipe: Recipe):
        self.recipe = recipe
        self.wavelengths = np.array([b.wavelength_um for b in recipe.bands])
        self._psfs: dict[float, list[np.ndarray]] = {}
        self._correlation = None
        if recipe.correlated_noise:
            from astropy.io import fits

            path = Path(recipe.correlated_noise)
            if not path.is_absolute():
                path = Path(recipe.source).parent / path
            if not path.exists():
                raise DataFileNotFoundError(f"{recipe.source}: correlated-noise file {path} not found")
            self._correlation = np.asarray(fits.getdata(path), dtype=np.float64)

    @property
    def render_size(self) -> int:
        """Pixels across the stamp as observed (the picture size for display recipes)."""
        return self.recipe.display.render_size if self.recipe.display else self.recipe.stamp_size

    def pixel_scale(self, *, r90_arcsec: float | None = None) -> float:
        """Observed pixel size in arcsec: the recipe's, or ``fov_r90 * R90 / size`` for object-scaled cutouts."""
        if self.recipe.fov_r90 is not None:
            if r90_arcsec is None:
                raise RecipeError(f"recipe {self.recipe.name} scales cutouts to each object: give its R90")
            return self.recipe.fov_r90 * r90_arcsec / self.render_size
        return self.recipe.pixel_scale_arcsec

    def psfs(self, pixel_scale_arcsec: float) -> list[np.ndarray]:
        key = round(pixel_scale_arcsec, 5)
        if key not in self._psfs:
            if len(self._psfs) > 64:
                self._psfs.clear()
            self._psfs[key] = [b.psf.image(pixel_scale_arcsec=pixel_scale_arcsec) for b in self.recipe.bands]
        return self._psfs[key]

    def _blur(self, cube: np.ndarray, psfs: list[np.ndarray]) -> np.ndarray:
        return np.stack([convolve(plane, psf) for plane, psf in zip(cube, psfs)])

    def observe(self, ideal: np.ndarray, *, pixel_scale_arcsec_in: float, pixel_scale_arcsec: float, rng: np.random.Generator, tidal=None, companion=None, noise: bool | None = None, field_sources: bool | None = None) -> ObservedStamp:
        """Observe an ideal image (bands, H, W) of per-pixel fluxes (nmgy) sampled at ``pixel_scale_arcsec_in``."""
        recipe = self.recipe
        size = self.render_size
        noise = recipe.noise if noise is None else noise
        field_sources = recipe.background_sources if field_sources is None else field_sources
        if ideal.shape[0] != len(recipe.bands):
            raise RecipeError(f"recipe {recipe.name} has {len(recipe.bands)} bands, the image {ideal.shape[0]}")
        resampled = resample_flux(ideal, scale_in=pixel_scale_arcsec_in, scale_out=pixel_scale_arcsec, shape_out=(size, size))
        psfs = self.psfs(pixel_scale_arcsec)
        noiseless = self._blur(resampled, psfs)
        components = []
        for component in (tidal, companion):
            if component is None:
                components.append(np.zeros((size, size)))
                continue
            moved = resample_flux(component, scale_in=pixel_scale_arcsec_in, scale_out=pixel_scale_arcsec, shape_out=(size, size))
            components.append(convolve(moved, psfs[len(psfs) // 2]))  # a middle band's PSF for the band-summed light
        observed = noiseless
        sky_sigma = np.zeros(len(recipe.bands))
        n_field_sources = 0
        if field_sources:
            extra = np.zeros_like(resampled)
            depth = min(b.depth_mu_lim for b in recipe.bands if b.depth_mu_lim is not None) if noise else 28.0
            n_field_sources = add_field_sources(extra, pixel_scale_arcsec=pixel_scale_arcsec, wavelengths_um=self.wavelengths, faint_limit=depth - 2.0, rng=rng)
            observed = observed + self._blur(extra, psfs)
        native = recipe.display.native_pixel_arcsec if recipe.display is not None else None
        if noise:
            sky_sigma = np.array([sky_sigma_from_depth(b.depth_mu_lim, pixel_scale_arcsec=pixel_scale_arcsec) for b in recipe.bands])
            electrons = np.array([electrons_per_nanomaggy(zeropoint=b.zeropoint, exptime_s=recipe.exptime_s) for b in recipe.bands])
            sky_noise = None
            if native is not None:
                sky_noise = self._native_sky_noise(size, pixel_scale_arcsec, native, rng)
            elif self._correlation is not None:
                box = max(1, int(round(10.0 / pixel_scale_arcsec)))
                factor = box_noise_factor(self._correlation, box_pixels=box)
                sky_noise = np.stack([correlated_gaussian_noise((size, size), self._correlation, sigma=s / factor, rng=rng) for s in sky_sigma])
            observed = add_noise(observed, sky_sigma=sky_sigma, electrons_per_unit=electrons, rng=rng, sky_noise=sky_noise)
        if recipe.display is not None:
            if native is not None:  # pictures show flux per native detector pixel
                observed = observed * (native / pixel_scale_arcsec) ** 2
            observed, noiseless, components = self._display(observed, noiseless, components, pixel_scale_arcsec)
            pixel_scale_arcsec = pixel_scale_arcsec * size / recipe.stamp_size
        return ObservedStamp(
            images=observed.astype(np.float32), noiseless=noiseless, tidal=components[0], companion=components[1],
            sky_sigma=sky_sigma, pixel_scale_arcsec=pixel_scale_arcsec, bands=("R", "G", "B") if recipe.display else recipe.band_names,
            n_field_sources=n_field_sources,
        )

    def _native_sky_noise(self, size: int, pixel_scale_arcsec: float, native: float, rng) -> np.ndarray:
        """Sky noise drawn on the detector's pixels and interpolated onto the picture's, in nmgy per picture pixel.

        Per native pixel the noise has the depth's sigma at the native scale; bilinear
        interpolation makes it correlated over a native pixel, as in resampled survey frames.
        The result is divided by (native / picture pixel)^2 so that, after the conversion to
        flux per native pixel for display, it has the native sigma again.
        """
        from scipy.ndimage import map_coordinates

        cells = int(np.ceil(size * pixel_scale_arcsec / native)) + 3
        coordinates = (np.arange(size) + 0.5) * pixel_scale_arcsec / native + 1.0
        rows, columns = np.meshgrid(coordinates, coordinates, indexing="ij")
        planes = []
        for band in self.recipe.bands:
            sigma = sky_sigma_from_depth(band.depth_mu_lim, pixel_scale_arcsec=native)
            coarse = rng.normal(0.0, sigma, (cells, cells))
            planes.append(map_coordinates(coarse, [rows, columns], order=1))
        return np.stack(planes) / (native / pixel_scale_arcsec) ** 2

    def _display(self, observed, noiseless, components, pixel_scale_arcsec):
        display = self.recipe.display
        index = {name: i for i, name in enumerate(self.recipe.band_names)}
        red, green, blue = (observed[index[name]] for name in display.rgb)
        picture = colour_picture(red, green, blue, stretch=display.stretch, q=display.q, minimum=display.minimum, quality=display.jpeg_quality, size=self.recipe.stamp_size)
        shrink = self.recipe.stamp_size
        scale = pixel_scale_arcsec * display.render_size
        # noiseless light and masks follow the picture down to the stamp size, conserving flux
        noiseless = resample_flux(noiseless, scale_in=scale / display.render_size, scale_out=scale / shrink, shape_out=(shrink, shrink))
        components = [resample_flux(c, scale_in=scale / display.render_size, scale_out=scale / shrink, shape_out=(shrink, shrink)) for c in components]
        return picture, noiseless, components


def _ideal_in_nanomaggies(image: np.ndarray, units: str, pixel_scale_arcsec: float) -> np.ndarray:
    if units == "nanomaggies":
        return image
    if units == "mag_arcsec2":
        return np.where(np.isfinite(image), nanomaggies_from_mag(image), 0.0) * pixel_scale_arcsec**2
    raise RecipeError(f"unknown units {units!r}; choose one of {UNITS}")


def observe(image, *, recipe, redshift: float | None = None, pixel_scale_kpc: float | None = None, pixel_scale_arcsec: float | None = None, units: str = "nanomaggies", seed: int = 0, noise: bool | None = None) -> ObservedStamp:
    """Make an idealised image (from a simulation, or any model) look like a survey's.

    Parameters
    ----------
    image : ndarray (H, W) or (bands, H, W)
        One plane per recipe band (a 2-D image for one-band recipes).
    recipe : Recipe or str
        A :class:`~galmerge.mocks.recipes.Recipe` or a recipe name / file.
    redshift : float
        Where the object is placed; needed to turn a kpc scale into arcsec.
    pixel_scale_kpc, pixel_scale_arcsec : float
        The input's pixel size (one of them).
    units : {"nanomaggies", "mag_arcsec2"}
        Per-pixel flux (nmgy, already dimmed to the observer), or AB surface brightness.
    seed : int
    noise : bool, optional
        Override the recipe's noise switch.

    Raises
    ------
    RecipeError
        No scale, a scale <= 0, a kpc scale without a redshift, or the wrong number of bands.
    """
    recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        image = image[None]
    if image.ndim != 3:
        raise RecipeError(f"an ideal image must be (H, W) or (bands, H, W), got shape {image.shape}")
    if pixel_scale_arcsec is None:
        if pixel_scale_kpc is None:
            raise RecipeError("the image has no scale: give pixel_scale_kpc (with redshift) or pixel_scale_arcsec")
        if redshift is None:
            raise RecipeError("a kpc pixel scale needs a redshift to place the object at")
        if not pixel_scale_kpc > 0:
            raise RecipeError(f"pixel scale must be > 0 kpc, got {pixel_scale_kpc}")
        pixel_scale_arcsec = pixel_scale_kpc / kpc_per_arcsec(redshift)
    if not pixel_scale_arcsec > 0:
        raise RecipeError(f"pixel scale must be > 0 arcsec, got {pixel_scale_arcsec}")
    if recipe.fov_r90 is not None:
        raise RecipeError(f"recipe {recipe.name} scales cutouts to each object; use one with a fixed pixel scale")
    observer = Observer(recipe)
    ideal = _ideal_in_nanomaggies(image, units, pixel_scale_arcsec)
    return observer.observe(ideal, pixel_scale_arcsec_in=pixel_scale_arcsec, pixel_scale_arcsec=observer.pixel_scale(), rng=np.random.default_rng(seed), noise=noise)


def observe_fits(path, *, recipe, redshift: float | None = None, units: str = "nanomaggies", seed: int = 0, noise: bool | None = None) -> ObservedStamp:
    """:func:`observe` for a FITS image whose header gives its scale.

    The scale is read from ``CDELT1`` with ``CUNIT1`` of ``kpc``, ``arcsec`` or ``deg``, or from
    a ``PIXKPC`` (kpc) or ``PIXSCALE`` (arcsec) keyword. A cube is read as (bands, H, W).
    """
    from astropy.io import fits

    path = Path(path)
    if not path.exists():
        raise DataFileNotFoundError(f"{path}: no such file")
    with fits.open(path) as hdul:
        data = np.asarray(hdul[0].data, dtype=np.float64)
        header = hdul[0].header
    kpc = arcsec = None
    if "PIXKPC" in header:
        kpc = float(header["PIXKPC"])
    elif "PIXSCALE" in header:
        arcsec = float(header["PIXSCALE"])
    elif "CDELT1" in header:
        unit = str(header.get("CUNIT1", "")).strip().lower()
        value = abs(float(header["CDELT1"]))
        if unit == "kpc":
            kpc = value
        elif unit in ("arcsec", "asec"):
            arcsec = value
        elif unit in ("deg", "degree"):
            arcsec = value * 3600
    if kpc is None and arcsec is None:
        raise RecipeError(f"{path}: the image has no scale (CDELT1 with CUNIT1 kpc/arcsec/deg, PIXKPC or PIXSCALE)")
    try:
        return observe(data, recipe=recipe, redshift=redshift, pixel_scale_kpc=kpc, pixel_scale_arcsec=arcsec, units=units, seed=seed, noise=noise)
    except RecipeError as error:
        raise RecipeError(f"{path}: {error}") from None
