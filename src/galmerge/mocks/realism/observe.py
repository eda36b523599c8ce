"""The realism layer (RealSim-style): from an ideal image in physical units to what a survey records.

Chain: pixel scale from kpc to arcsec at the redshift (astropy cosmology) -> flux-conserving
resampling to the output pixels -> field galaxies and stars from number counts -> PSF per band
-> shot noise of the sources and sky noise from the depth, or real sky from a bank of survey
backgrounds (:mod:`galmerge.mocks.realism.sky`) -> optionally the survey's colour picture
(Lupton asinh RGB, 8 bits, optionally JPEG), made at the output size.

Ideal images from any simulation (TNG, Illustris, SKIRT) can enter through :func:`observe` or
:func:`observe_fits`, as fluxes in nanomaggies per pixel or AB mag/arcsec^2 (RealSim's input).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galmerge.errors import DataFileNotFoundError, RecipeError
from galmerge.mocks.cosmology import kpc_per_arcsec
from galmerge.mocks.realism.background import add_field_sources
from galmerge.mocks.realism.noise import box_noise_factor, correlated_gaussian_noise, electrons_per_nanomaggy, nanomaggies_from_mag, sky_sigma_from_depth
from galmerge.mocks.realism.resample import resample_flux
from galmerge.mocks.recipes import Recipe, load_recipe

__all__ = ["ObservedStamp", "Observer", "observe", "observe_fits", "convolve_bands", "UNITS"]

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


_SKY_BANKS: dict = {}  # loaded once per process


def _sky_bank(path: str):
    from galmerge.mocks.realism.sky import SkyBank

    if path not in _SKY_BANKS:
        _SKY_BANKS[path] = SkyBank.load(path)
    return _SKY_BANKS[path]


def convolve_bands(cube: np.ndarray, kernels, *, kernel_transform: np.ndarray | None = None) -> np.ndarray:
    """Convolve each plane of ``cube`` (bands, H, W) with its own centred odd kernel, keeping the size (one batched FFT).

    ``kernel_transform`` (from :func:`_kernel_transform`) saves transforming the kernels again.
    The result is float32 when the cube and the transform are single precision.
    """
    from scipy import fft

    bands, height, width = cube.shape
    if kernel_transform is None:
        kernel_transform = _kernel_transform(kernels, (height, width))
    shape = _fft_shape(kernels, (height, width))
    full = fft.irfft2(fft.rfft2(cube, s=shape) * kernel_transform, s=shape)
    half = max(kernel.shape[0] for kernel in kernels) // 2
    return full[:, half : half + height, half : half + width]


def _fft_shape(kernels, image_shape) -> tuple[int, int]:
    """FFT grid of a same-size convolution: image side + half the kernel side (not + the whole
    kernel side): the wrapped-around part of the circular convolution then lands only on output
    pixels that are cropped away."""
    from scipy import fft

    half = max(kernel.shape[0] for kernel in kernels) // 2
    return (fft.next_fast_len(image_shape[0] + half), fft.next_fast_len(image_shape[1] + half))


def _kernel_transform(kernels, image_shape, *, single: bool = False) -> np.ndarray:
    """The kernels' FFT for :func:`convolve_bands`; ``single``: complex64, for float32 cubes."""
    from scipy import fft

    k = max(kernel.shape[0] for kernel in kernels)
    shape = _fft_shape(kernels, image_shape)
    padded = np.zeros((len(kernels), k, k))
    for i, kernel in enumerate(kernels):
        pad = (k - kernel.shape[0]) // 2
        padded[i, pad : pad + kernel.shape[0], pad : pad + kernel.shape[1]] = kernel
    transform = fft.rfft2(padded, s=shape)
    return transform.astype(np.complex64) if single else transform


class Observer:
    """Applies a recipe to ideal images; caches PSF images per pixel scale (in 1 % bins)."""

    def __init__(self, recipe: Recipe):
        self.recipe = recipe
        self.wavelengths = np.array([b.wavelength_um for b in recipe.bands])
        self._psfs: dict[int, list[np.ndarray]] = {}
        self._transforms: dict = {}
        self._correlation = None
        self.mapping = recipe.display.mapping() if recipe.display is not None else None
        self.sky_bank = _sky_bank(recipe.sky_bank) if recipe.sky_bank is not None else None
        if self.sky_bank is not None and self.sky_bank.size != recipe.stamp_size:
            raise RecipeError(f"{recipe.source}: sky bank {recipe.sky_bank} holds {self.sky_bank.size} px backgrounds, the recipe makes {recipe.stamp_size} px stamps")
        if recipe.correlated_noise:
            from astropy.io import fits

            path = Path(recipe.correlated_noise)
            if not path.is_absolute():
                path = Path(recipe.source).parent / path
            if not path.exists():
                raise DataFileNotFoundError(f"{recipe.source}: correlated-noise file {path} not found")
            self._correlation = np.asarray(fits.getdata(path), dtype=np.float64)

    @functools.cached_property
    def seeing_blur(self):
        """The middle band's PSF as it blurs a galaxy's enclosed light (:class:`~galmerge.mocks.framing.SeeingBlur`)."""
        from galmerge.mocks.framing import SeeingBlur

        return SeeingBlur(self.recipe.bands[len(self.recipe.bands) // 2].psf)

    def pixel_scale(self, *, r90_arcsec: float | None = None) -> float:
        """Output pixel size in arcsec: the recipe's, or ``fov_r90 * R90 / size`` for object-scaled cutouts."""
        if self.recipe.fov_r90 is not None:
            if r90_arcsec is None:
                raise RecipeError(f"recipe {self.recipe.name} scales cutouts to each object: give its R90")
            return self.recipe.fov_r90 * r90_arcsec / self.recipe.stamp_size
        return self.recipe.pixel_scale_arcsec

    def psfs(self, pixel_scale_arcsec: float) -> list[np.ndarray]:
        """Pixel-integrated PSF images of every band at (within 1 % of) this pixel scale, no wider than the stamp."""
        key = int(round(np.log(pixel_scale_arcsec) / 0.02))
        if key not in self._psfs:
            if len(self._psfs) > 256:
                self._psfs.clear()
                self._transforms.clear()
            scale = float(np.exp(key * 0.02))
            widest = 2 * (self.recipe.stamp_size // 2) + 1
            self._psfs[key] = [b.psf.image(pixel_scale_arcsec=scale, size=min(b.psf.default_size(scale), widest)) for b in self.recipe.bands]
        return self._psfs[key]

    def smoothed_light(self, ideal: np.ndarray, pixel_scale_arcsec: float) -> np.ndarray:
        """The band-summed light as SDSS's pipeline looks for peaks: blurred by the middle band's
        PSF, then smoothed by a Gaussian as wide at half maximum as that PSF."""
        key = (int(round(np.log(pixel_scale_arcsec) / 0.02)), "peaks")
        if key not in self._transforms:
            from scipy.ndimage import gaussian_filter

            psf = self.psfs(pixel_scale_arcsec)[len(self.recipe.bands) // 2]
            fwhm_px = 2.0 * np.sqrt((psf >= 0.5 * psf.max()).sum() / np.pi)  # its core: a Moffat's wings would widen a second moment
            kernel = gaussian_filter(psf, fwhm_px / 2.3548, mode="constant")
            kernel /= kernel.sum()
            self._transforms[key] = ([kernel], _kernel_transform([kernel], ideal.shape[1:], single=True))
        kernels, transform = self._transforms[key]
        return convolve_bands(ideal.sum(axis=0, dtype=np.float32)[None], kernels, kernel_transform=transform)[0]

    def _blur(self, stacked: np.ndarray, pixel_scale_arcsec: float, planes: int, *, with_roles: bool) -> np.ndarray:
        """Blur ``planes`` copies of the bands by their PSFs and (``with_roles``) two band-summed role images by the middle band's."""
        psfs = self.psfs(pixel_scale_arcsec)
        kernels = psfs * planes + ([psfs[len(psfs) // 2]] * 2 if with_roles else [])
        key = (int(round(np.log(pixel_scale_arcsec) / 0.02)), planes, with_roles)
        if key not in self._transforms:
            self._transforms[key] = _kernel_transform(kernels, stacked.shape[1:], single=True)
        # in single precision: 2.6 times faster, and its rounding (~1e-7 of the brightest pixel)
        # lies far below any noise and below the float32 the stamps are stored in
        return convolve_bands(stacked.astype(np.float32), kernels, kernel_transform=self._transforms[key])

    def observe(self, ideal: np.ndarray, *, pixel_scale_arcsec_in: float, pixel_scale_arcsec: float, rng: np.random.Generator, tidal=None, companion=None, noise: bool | None = None, field_sources: bool | None = None) -> ObservedStamp:
        """Observe an ideal image (bands, H, W) of per-pixel fluxes (nmgy) sampled at ``pixel_scale_arcsec_in``.

        The image is resampled to the output pixels (unless it is already on them), blurred by
        each band's PSF, given field sources, noise or real sky, and for display recipes turned
        into the survey's colour picture.
        """
        recipe = self.recipe
        size = recipe.stamp_size
        noise = recipe.noise if noise is None else noise
        with_bank = self.sky_bank is not None and noise
        field_sources = (recipe.background_sources and not with_bank) if field_sources is None else field_sources
        if ideal.shape[0] != len(recipe.bands):
            raise RecipeError(f"recipe {recipe.name} has {len(recipe.bands)} bands, the image {ideal.shape[0]}")

        def to_output(image):
            if image.shape[-1] == size and image.shape[-2] == size and abs(pixel_scale_arcsec_in / pixel_scale_arcsec - 1) < 1e-9:
                return image
            return resample_flux(image, scale_in=pixel_scale_arcsec_in, scale_out=pixel_scale_arcsec, shape_out=(size, size))

        resampled = to_output(ideal)
        planes = [resampled]
        n_field_sources = 0
        if field_sources:
            extra = np.zeros_like(resampled)
            depth = min(b.depth_mu_lim for b in recipe.bands if b.depth_mu_lim is not None) if noise else 28.0
            n_field_sources = add_field_sources(extra, pixel_scale_arcsec=pixel_scale_arcsec, wavelengths_um=self.wavelengths, faint_limit=depth - 2.0, rng=rng)
            planes.append(extra)
        roles = [np.zeros((size, size)) if c is None else to_output(np.asarray(c)[None])[0] for c in (tidal, companion)]
        with_roles = any(role.any() for role in roles)  # isolated galaxies have none: nothing to blur
        blurred = self._blur(np.concatenate(planes + ([np.stack(roles)] if with_roles else [])), pixel_scale_arcsec, len(planes), with_roles=with_roles)
        bands = len(recipe.bands)
        noiseless = blurred[:bands]
        observed = noiseless + (blurred[bands : 2 * bands] if field_sources else 0.0)
        components = [blurred[-2], blurred[-1]] if with_roles else roles
        sky_sigma = np.zeros(bands)
        native = recipe.display.native_pixel_arcsec if recipe.display is not None else None
        to_native = (native / pixel_scale_arcsec) ** 2 if native is not None else 1.0  # pictures show flux per native pixel
        if noise:
            electrons = np.array([electrons_per_nanomaggy(zeropoint=b.zeropoint, exptime_s=recipe.exptime_s) for b in recipe.bands])
            variance = np.clip(observed, 0, None) / electrons[:, None, None]  # shot noise of the sources, Gaussian (counts are large)
            if not with_bank:
                sky_sigma = np.array([sky_sigma_from_depth(b.depth_mu_lim, pixel_scale_arcsec=pixel_scale_arcsec) for b in recipe.bands])
                if native is not None:
                    observed = observed + self._native_sky_noise(size, pixel_scale_arcsec, native, rng)
                elif self._correlation is not None:
                    box = max(1, int(round(10.0 / pixel_scale_arcsec)))
                    factor = box_noise_factor(self._correlation, box_pixels=box)
                    observed = observed + np.stack([correlated_gaussian_noise((size, size), self._correlation, sigma=s / factor, rng=rng) for s in sky_sigma])
                else:  # white sky noise: its variance adds to the shot noise's, one draw for both
                    variance = variance + sky_sigma[:, None, None] ** 2
            observed = observed + rng.standard_normal(observed.shape, dtype=np.float32) * np.sqrt(variance)
        if recipe.display is not None:
            observed = self._display(observed * to_native, rng, with_bank=with_bank)
        return ObservedStamp(
            images=observed.astype(np.float32), noiseless=noiseless, tidal=components[0], companion=components[1],
            sky_sigma=sky_sigma, pixel_scale_arcsec=pixel_scale_arcsec, bands=("R", "G", "B") if recipe.display else recipe.band_names,
            n_field_sources=n_field_sources,
        )

    def _native_sky_noise(self, size: int, pixel_scale_arcsec: float, native: float, rng) -> np.ndarray:
        """Sky noise of the detector's pixels as seen on the output pixels, in nmgy per output pixel.

        Per native pixel the noise has the depth's sigma at the native scale. An output pixel
        larger than a native one averages (pixel / native)^2 independent native pixels; a
        smaller one sees native-pixel noise interpolated, correlated over a native pixel (a
        Gaussian blur of that width here). The result is divided by (native / output pixel)^2
        so that, after the conversion to flux per native pixel for display, it has the right
        sigma again.
        """
        from scipy.ndimage import gaussian_filter

        ratio = native / pixel_scale_arcsec
        sigmas = np.array([sky_sigma_from_depth(band.depth_mu_lim, pixel_scale_arcsec=native) for band in self.recipe.bands])
        white = rng.normal(size=(len(sigmas), size, size))
        if ratio > 1:
            width = ratio / 2.3548
            white = gaussian_filter(white, (0, width, width), mode="wrap")
            white /= np.sqrt(1.0 / (4 * np.pi * width**2))  # back to unit variance
            per_native = sigmas
        else:
            per_native = sigmas * ratio
        return white * per_native[:, None, None] / ratio**2

    def _display(self, observed: np.ndarray, rng, *, with_bank: bool) -> np.ndarray:
        """The colour picture (3, S, S) in [0, 1] of fluxes per native pixel, on real sky when the recipe has a bank."""
        display = self.recipe.display
        index = {name: i for i, name in enumerate(self.recipe.band_names)}
        rgb = np.stack([observed[index[name]] for name in display.rgb])
        if display.scale_scatter_dex > 0:
            rgb = rgb * display.scale_gains(rng, 1)[:, :, None]
        if with_bank:
            sky, _ = self.mapping.inverse(self.sky_bank.draw(rng))
            rgb = rgb + sky
        picture = self.mapping.to_uint8(rgb)
        if display.jpeg_quality:
            picture = _jpeg_round_trip(picture, display.jpeg_quality)
        return picture.astype(np.float32) / 255.0


def _jpeg_round_trip(picture: np.ndarray, quality: int) -> np.ndarray:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture.transpose(1, 2, 0)[::-1])).save(buffer, format="JPEG", quality=quality)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB")).transpose(2, 0, 1)[:, ::-1]


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
