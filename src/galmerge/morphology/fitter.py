"""The classical baseline: a PSF-convolved single-Sersic fit of every stamp with Imfit (pyimfit).

Why Imfit: on the same stamps it was the most accurate of the fitters tried (R^2 mag 0.999, r_e
0.972, n 0.738 at 1.6 CPU-s per galaxy), a GALFIT-like Levenberg-Marquardt fit with light
dependencies; statmorph's Sersic fit lets n run away without bounds and scored R^2(n) < 0.
Initial guesses come from image moments; n starts at 2 within GalSim's range [0.3, 6.2].

Every stamp gets a row: a fit that raises, does not converge or ends on a bound, a stamp with
non-finite pixels and a PSF sampled at another pixel scale are flagged with the reason.
"""

from __future__ import annotations

import time

import numpy as np
from astropy.table import Table
from scipy.special import gamma, gammaincinv

from galmerge.data.imageset import ImageSet
from galmerge.errors import DataError
from galmerge.morphology.statistics import border_background

__all__ = ["fit_sersic", "FIT_FLAGS", "sersic_total_flux"]

FIT_FLAGS = {"nonfinite_pixels": 1, "psf_pixel_scale": 2, "fit_failed": 4, "not_converged": 8, "at_bound": 16, "no_signal": 32}
_N_BOUNDS = (0.3, 6.2)
_ELL_MAX = 0.95


def sersic_total_flux(i_e, r_e, n, q):
    """Total flux of an elliptical Sersic profile: 2 pi n I_e r_e^2 q e^b b^(-2n) Gamma(2n) (r_e major axis, in pixels)."""
    b = gammaincinv(2 * n, 0.5)
    return 2 * np.pi * n * i_e * r_e**2 * q * np.exp(b) * b ** (-2 * n) * gamma(2 * n)


def _moments(image: np.ndarray, sigma: float) -> dict:
    """Starting values: centroid, total flux, axis ratio, angle and half-light radius of the pixels above 2 sigma."""
    from scipy.ndimage import gaussian_filter

    smooth = gaussian_filter(image, 1.0)
    mask = smooth > 2 * sigma / 2.0
    if mask.sum() < 3:
        return {}
    weights = np.where(mask, np.clip(image, 0, None), 0.0)
    total = weights.sum()
    y, x = np.indices(image.shape)
    xc, yc = (weights * x).sum() / total, (weights * y).sum() / total
    dx, dy = x - xc, y - yc
    mxx, myy, mxy = (weights * dx * dx).sum() / total, (weights * dy * dy).sum() / total, (weights * dx * dy).sum() / total
    root = np.sqrt(max(((mxx - myy) / 2) ** 2 + mxy**2, 0.0))
    major, minor = (mxx + myy) / 2 + root, max((mxx + myy) / 2 - root, 1e-6)
    q = float(np.clip(np.sqrt(minor / major), 0.1, 1.0))
    pa = float(np.rad2deg(0.5 * np.arctan2(2 * mxy, mxx - myy)) % 180.0)  # from +x, counter-clockwise
    radius = np.hypot(dx, dy)
    order = np.argsort(radius[mask])
    cumulative = np.cumsum(weights[mask][order])
    r_half = float(radius[mask][order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])
    return {"x": xc, "y": yc, "flux": float(image[mask].sum()), "q": q, "pa": pa, "r_e": max(r_half / np.sqrt(q), 0.5)}


def _fit_psf(psf: np.ndarray, size: int) -> np.ndarray:
    """The PSF cut to at most the stamp (Imfit refuses a PSF larger than the image), renormalised."""
    side = psf.shape[0]
    limit = size if size % 2 else size - 1
    if side > limit:
        cut = (side - limit) // 2
        psf = psf[cut : cut + limit, cut : cut + limit]
    return psf / psf.sum()


def _fit_one(image, psf, sigma_map, start, size):
    import pyimfit

    n0 = 2.0
    i_e0 = max(start["flux"], 1e-12) / sersic_total_flux(1.0, start["r_e"], n0, start["q"])
    description = pyimfit.SimpleModelDescription()
    description.x0.setValue(start["x"] + 1, [start["x"] - 3 + 1, start["x"] + 3 + 1])  # Imfit pixels start at 1
    description.y0.setValue(start["y"] + 1, [start["y"] - 3 + 1, start["y"] + 3 + 1])
    sersic = pyimfit.make_imfit_function("Sersic")
    pa_imfit = (start["pa"] - 90.0) % 180.0  # Imfit's PA is measured from +y
    sersic.PA.setValue(pa_imfit, [pa_imfit - 180.0, pa_imfit + 180.0])
    sersic.ell.setValue(min(1 - start["q"], _ELL_MAX - 0.01), [0.0, _ELL_MAX])
    sersic.n.setValue(n0, list(_N_BOUNDS))
    sersic.I_e.setValue(i_e0, [i_e0 * 1e-4, i_e0 * 1e4])
    sersic.r_e.setValue(min(start["r_e"], 2.0 * size), [0.2, 4.0 * size])
    description.addFunction(sersic)
    # One thread: stamps are small, and parallel stamps (not threads within one) use the cores.
    fitter = pyimfit.Imfit(description, psf=_fit_psf(psf, size), maxThreads=1)
    fitter.fit(image, error=sigma_map, solver="LM", ftol=1e-6)
    x0, y0, pa, ell, n, i_e, r_e = fitter.getRawParameters()
    q = 1 - ell
    values = {"flux": sersic_total_flux(i_e, r_e, n, q), "r_e_pixels": r_e, "n": n, "q": q, "pa_deg": (pa + 90.0) % 180.0, "x": x0 - 1, "y": y0 - 1}
    at_bound = [name for name, value, (low, high) in (("n", n, _N_BOUNDS), ("ell", ell, (0.0, _ELL_MAX))) if np.isclose(value, low, atol=1e-4) or np.isclose(value, high, atol=1e-4)]
    return values, bool(fitter.fitConverged), at_bound


def fit_sersic(
    imageset: ImageSet,
    psf_images,
    *,
    psf_pixel_scale_arcsec: float | None = None,
    sky_sigma=None,
    electrons_per_unit: float | None = None,
    band: int = 0,
    progress: bool = True,
) -> Table:
    """Fit a PSF-convolved Sersic profile to every stamp.

    Parameters
    ----------
    imageset : ImageSet
        Stamps in flux units (nanomaggies) with a known pixel scale.
    psf_images : ndarray (H, W) or list of them
        Pixel-integrated PSF(s); with a list, the table column ``psf_index`` says which per stamp.
    psf_pixel_scale_arcsec : float, optional
        Sampling of the PSF images; default the images'. A different scale flags every row
        ``psf_pixel_scale`` (the fit would measure sizes in the wrong units).
    sky_sigma : float or array, optional
        Sky noise per pixel; default the table's ``sky_sigma``, else measured on the stamp border.
    electrons_per_unit : float, optional
        Electrons per image unit, for the galaxy's own shot noise in the error map.

    Returns
    -------
    astropy.table.Table
        ``id``, ``mag``, ``r_e_arcsec`` (major axis), ``n``, ``q``, ``pa_deg`` (from +x,
        counter-clockwise), ``cpu_seconds``, ``converged``, ``flag`` (bits of :data:`FIT_FLAGS`)
        and ``flag_reason``.
    """
    from galmerge.display import progress_bar

    scale = imageset.pixel_scale_arcsec
    if scale is None:
        raise DataError(f"{imageset.source}: the fitter needs the pixel scale of the images")
    psfs = [np.asarray(psf_images, dtype=np.float64)] if isinstance(psf_images, np.ndarray) and psf_images.ndim == 2 else [np.asarray(p, dtype=np.float64) for p in psf_images]
    psf_index = np.asarray(imageset.meta["psf_index"], dtype=int) if len(psfs) > 1 else np.zeros(len(imageset), dtype=int)
    wrong_scale = psf_pixel_scale_arcsec is not None and not np.isclose(psf_pixel_scale_arcsec, scale, rtol=1e-3)
    if sky_sigma is None and "sky_sigma" in imageset.meta.colnames:
        sky_sigma = np.asarray(imageset.meta["sky_sigma"], dtype=np.float64)
    n = len(imageset)
    out = {name: np.full(n, np.nan) for name in ("mag", "r_e_arcsec", "n", "q", "pa_deg", "cpu_seconds")}
    converged = np.zeros(n, dtype=bool)
    flags = np.zeros(n, dtype=np.int32)
    reasons = [""] * n
    size = imageset.image_shape[0]
    for row in progress_bar(range(n), desc="Imfit Sersic fits", unit="stamp", enabled=progress):
        image = np.asarray(imageset.images[row, band], dtype=np.float64)
        if wrong_scale:
            flags[row], reasons[row] = FIT_FLAGS["psf_pixel_scale"], f"psf_pixel_scale: PSF sampled at {psf_pixel_scale_arcsec} arcsec/px, images at {scale}"
            continue
        if not np.isfinite(image).all():
            flags[row], reasons[row] = FIT_FLAGS["nonfinite_pixels"], f"nonfinite_pixels: {int((~np.isfinite(image)).sum())} non-finite pixels"
            continue
        sigma = float(np.broadcast_to(sky_sigma, (n,))[row]) if sky_sigma is not None else border_background(image)[1]
        start = _moments(image, sigma)
        if not start:
            flags[row], reasons[row] = FIT_FLAGS["no_signal"], "no_signal: fewer than 3 pixels above 2 sigma"
            continue
        shot = np.clip(image, 0, None) / electrons_per_unit if electrons_per_unit else np.zeros_like(image)
        sigma_map = np.sqrt(sigma**2 + shot)
        started = time.process_time()
        try:
            values, ok, at_bound = _fit_one(image, psfs[psf_index[row]], sigma_map, start, size)
        except Exception as error:  # pyimfit raises plain exceptions from C++; the batch goes on
            flags[row], reasons[row] = FIT_FLAGS["fit_failed"], f"fit_failed: {type(error).__name__}: {error}"
            out["cpu_seconds"][row] = time.process_time() - started
            continue
        out["cpu_seconds"][row] = time.process_time() - started
        converged[row] = ok
        out["mag"][row] = 22.5 - 2.5 * np.log10(values["flux"]) if values["flux"] > 0 else np.nan
        out["r_e_arcsec"][row] = values["r_e_pixels"] * scale
        out["n"][row], out["q"][row], out["pa_deg"][row] = values["n"], values["q"], values["pa_deg"]
        notes = []
        if not ok:
            flags[row] |= FIT_FLAGS["not_converged"]
            notes.append("not_converged: Levenberg-Marquardt stopped without converging")
        if at_bound:
            flags[row] |= FIT_FLAGS["at_bound"]
            notes.append(f"at_bound: {', '.join(at_bound)} on a limit")
        reasons[row] = "; ".join(notes)
    table = Table({"id": imageset.ids, **out, "converged": converged, "flag": flags, "flag_reason": reasons})
    return table
