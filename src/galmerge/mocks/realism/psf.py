"""Point-spread functions: analytic (Gaussian, Moffat, Airy x Gaussian) or images from FITS.

Every PSF draws itself as a normalised, pixel-integrated image (an "effective PSF") on a
requested pixel grid, so that convolving a pixelised scene with it blurs by the optics and the
pixel at once. Analytic profiles are evaluated on a grid 5x finer and summed into pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galmerge.errors import DataFileNotFoundError, RecipeError

__all__ = ["PSF", "GaussianPSF", "MoffatPSF", "AiryGaussianPSF", "ImagePSF", "psf_from_spec", "convolve"]

_OVERSAMPLE = 5
_ARCSEC_PER_RADIAN = 206264.806


def _odd(n: float) -> int:
    n = int(np.ceil(n))
    return n if n % 2 else n + 1


class PSF:
    """Base class: subclasses implement :meth:`profile` (surface brightness at radii in arcsec)."""

    fwhm_arcsec: float

    def profile(self, radius_arcsec: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def default_size(self, pixel_scale_arcsec: float) -> int:
        return min(_odd(8 * self.fwhm_arcsec / pixel_scale_arcsec), 101)

    def image(self, *, pixel_scale_arcsec: float, size: int | None = None) -> np.ndarray:
        """The pixel-integrated PSF on an odd ``size`` x ``size`` grid, centred, summing to 1."""
        if not pixel_scale_arcsec > 0:
            raise RecipeError(f"pixel scale must be > 0 arcsec, got {pixel_scale_arcsec}")
        size = _odd(size) if size is not None else self.default_size(pixel_scale_arcsec)
        fine = size * _OVERSAMPLE
        axis = (np.arange(fine) - (fine - 1) / 2) * pixel_scale_arcsec / _OVERSAMPLE
        radius = np.hypot(axis[:, None], axis[None, :])
        values = self.profile(radius).reshape(size, _OVERSAMPLE, size, _OVERSAMPLE).sum(axis=(1, 3))
        return values / values.sum()


@dataclass
class GaussianPSF(PSF):
    """A circular Gaussian of full width at half maximum ``fwhm_arcsec``."""

    fwhm_arcsec: float

    def __post_init__(self):
        if not self.fwhm_arcsec > 0:
            raise RecipeError(f"Gaussian PSF FWHM must be > 0 arcsec, got {self.fwhm_arcsec}")

    def profile(self, radius_arcsec):
        sigma = self.fwhm_arcsec / 2.3548200450309493
        return np.exp(-0.5 * (radius_arcsec / sigma) ** 2)


@dataclass
class MoffatPSF(PSF):
    """A Moffat profile (1 + (r/alpha)^2)^-beta, the usual model of seeing-limited PSFs.

    ``beta`` of 2.5-4.5 describes ground-based seeing (lower values, broader wings).
    """

    fwhm_arcsec: float
    beta: float = 3.5

    def __post_init__(self):
        if not self.fwhm_arcsec > 0 or not self.beta > 1:
            raise RecipeError(f"Moffat PSF needs FWHM > 0 and beta > 1, got {self.fwhm_arcsec}, {self.beta}")

    def profile(self, radius_arcsec):
        alpha = self.fwhm_arcsec / (2 * np.sqrt(2 ** (1 / self.beta) - 1))
        return (1 + (radius_arcsec / alpha) ** 2) ** (-self.beta)

    def default_size(self, pixel_scale_arcsec: float) -> int:
        # 8 FWHM across holds all but ~1 % of a beta = 3 Moffat's light
        return min(_odd(8 * self.fwhm_arcsec / pixel_scale_arcsec), 101)


@dataclass
class AiryGaussianPSF(PSF):
    """A diffraction-limited space-telescope PSF: an obscured Airy pattern convolved with a Gaussian.

    Parameters
    ----------
    wavelength_um : float
        Effective wavelength of the band in micron.
    diameter_m : float
        Primary mirror diameter (HST 2.4 m, JWST 6.5 m).
    obscuration : float
        Linear central obscuration as a fraction of the diameter (HST 0.33).
    gaussian_fwhm_arcsec : float
        Extra blur (pointing jitter, charge diffusion, drizzling); 0 for none.
    """

    wavelength_um: float
    diameter_m: float
    obscuration: float = 0.0
    gaussian_fwhm_arcsec: float = 0.0

    def __post_init__(self):
        if not (self.wavelength_um > 0 and self.diameter_m > 0 and 0 <= self.obscuration < 1 and self.gaussian_fwhm_arcsec >= 0):
            raise RecipeError(f"invalid Airy PSF parameters {self}")
        airy = 1.028 * self.wavelength_um * 1e-6 / self.diameter_m * _ARCSEC_PER_RADIAN
        self.fwhm_arcsec = float(np.hypot(airy, self.gaussian_fwhm_arcsec))

    def profile(self, radius_arcsec):
        from scipy.special import j1

        scale = np.pi * self.diameter_m / (self.wavelength_um * 1e-6) / _ARCSEC_PER_RADIAN
        x = np.maximum(radius_arcsec * scale, 1e-9)
        eps = self.obscuration

        def amplitude(u):
            return 2 * j1(u) / u

        airy = (amplitude(x) - eps**2 * amplitude(eps * x)) ** 2 / (1 - eps**2) ** 2
        return airy

    def image(self, *, pixel_scale_arcsec: float, size: int | None = None) -> np.ndarray:
        psf = super().image(pixel_scale_arcsec=pixel_scale_arcsec, size=size)
        if self.gaussian_fwhm_arcsec > 0:
            kernel = GaussianPSF(self.gaussian_fwhm_arcsec).image(pixel_scale_arcsec=pixel_scale_arcsec, size=psf.shape[0])
            psf = np.clip(convolve(psf, kernel), 0, None)
            psf /= psf.sum()
        return psf

    def default_size(self, pixel_scale_arcsec: float) -> int:
        return min(_odd(16 * self.fwhm_arcsec / pixel_scale_arcsec), 101)


class ImagePSF(PSF):
    """A PSF given as an image (a real PSF from FITS), resampled to the requested pixel scale.

    Parameters
    ----------
    array : ndarray (H, W)
        The PSF; normalised to unit sum here.
    pixel_scale_arcsec : float
        Its sampling.
    source : str
        Where it came from, for messages.
    """

    def __init__(self, array, *, pixel_scale_arcsec: float, source: str = "PSF image"):
        array = np.asarray(array, dtype=np.float64)
        if array.ndim != 2:
            raise RecipeError(f"{source}: a PSF image must be 2-D, got shape {array.shape}")
        if not np.isfinite(array).all() or not array.sum() > 0:
            raise RecipeError(f"{source}: PSF image has non-finite pixels or no positive flux")
        if not pixel_scale_arcsec > 0:
            raise RecipeError(f"{source}: PSF pixel scale must be > 0 arcsec, got {pixel_scale_arcsec}")
        self.array = array / array.sum()
        self.pixel_scale_arcsec = float(pixel_scale_arcsec)
        self.source = source
        half = 0.5 * self.array.max()
        self.fwhm_arcsec = float(2 * np.sqrt((self.array >= half).sum() / np.pi) * pixel_scale_arcsec)

    @classmethod
    def from_fits(cls, path, *, pixel_scale_arcsec: float | None = None, hdu: int = 0, plane: int | None = None) -> "ImagePSF":
        """Read a PSF from FITS (``plane`` picks one band of a cube, e.g. the HSC grizy cube)."""
        from astropy.io import fits

        path = Path(path)
        if not path.exists():
            raise DataFileNotFoundError(f"{path}: no such PSF file")
        with fits.open(path) as hdul:
            data = np.asarray(hdul[hdu].data, dtype=np.float64)
            header = hdul[hdu].header
        if plane is not None:
            if data.ndim != 3:
                raise RecipeError(f"{path}: plane {plane} asked for, but the PSF is {data.ndim}-D")
            data = data[plane]
        if pixel_scale_arcsec is None:
            pixel_scale_arcsec = header.get("PIXSCALE")
            if pixel_scale_arcsec is None:
                raise RecipeError(f"{path}: no PIXSCALE in the header; give pixel_scale_arcsec")
        return cls(data, pixel_scale_arcsec=float(pixel_scale_arcsec), source=str(path))

    def image(self, *, pixel_scale_arcsec: float, size: int | None = None) -> np.ndarray:
        from galmerge.mocks.realism.resample import resample_flux

        if not pixel_scale_arcsec > 0:
            raise RecipeError(f"pixel scale must be > 0 arcsec, got {pixel_scale_arcsec}")
        centred = _recentre(self.array)
        side = self.array.shape[0] * self.pixel_scale_arcsec / pixel_scale_arcsec
        size = _odd(size) if size is not None else min(_odd(side), 101)
        out = resample_flux(centred, scale_in=self.pixel_scale_arcsec, scale_out=pixel_scale_arcsec, shape_out=(size, size))
        return out / out.sum()


def _recentre(array: np.ndarray) -> np.ndarray:
    """Pad to an odd square with the brightest pixel in the middle."""
    peak = np.unravel_index(np.argmax(array), array.shape)
    half = max(peak[0], array.shape[0] - 1 - peak[0], peak[1], array.shape[1] - 1 - peak[1])
    out = np.zeros((2 * half + 1, 2 * half + 1))
    top, left = half - peak[0], half - peak[1]
    out[top : top + array.shape[0], left : left + array.shape[1]] = array
    return out


def convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve the last two axes of ``image`` with a centred odd kernel, keeping the image size."""
    from scipy.signal import fftconvolve

    kernel = kernel.reshape((1,) * (image.ndim - 2) + kernel.shape)
    return fftconvolve(image, kernel, mode="same", axes=(-2, -1))


def psf_from_spec(spec: dict, *, base_dir: Path | None = None) -> PSF:
    """A PSF from a recipe entry: ``{kind = "gaussian" | "moffat" | "airy_gaussian" | "image", ...}``."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    try:
        if kind == "gaussian":
            return GaussianPSF(**spec)
        if kind == "moffat":
            return MoffatPSF(**spec)
        if kind == "airy_gaussian":
            return AiryGaussianPSF(**spec)
        if kind == "image":
            path = Path(spec.pop("file"))
            if base_dir is not None and not path.is_absolute():
                path = base_dir / path
            return ImagePSF.from_fits(path, **spec)
    except TypeError as error:
        raise RecipeError(f"PSF {kind!r}: {error}") from None
    raise RecipeError(f"unknown PSF kind {kind!r}; choose gaussian, moffat, airy_gaussian or image")
