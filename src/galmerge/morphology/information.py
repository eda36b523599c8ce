"""How well any method could measure the Sersic parameters of a stamp: a Fisher-matrix forecast.

For each stamp of a morphometry set the noiseless model image mu(theta) is re-rendered with the
project's k-space renderer (checked against GalSim) and the set's PSF, its derivatives with respect to the seven parameters
theta = (ln flux, ln r_e, n, q, pa, x, y) are taken by central differences, and the Fisher matrix
F = J^T diag(1 / var) J is summed over the pixels, with the variance of the set's own noise
(sky plus the galaxy's shot noise). The Cramer-Rao bound of an unbiased estimator of theta_k is
(F^-1)_kk.

A set's parameters are drawn from broad priors, and at low S/N the data say less than the prior
does (an estimator that returns the prior mean for n has an error of sd(n) = 1.7, not infinity).
The forecast therefore adds the prior's precision: sigma^2 = ((F + P)^-1)_kk with P diagonal,
1 / the variance of each parameter over the set. This is the posterior variance of the Gaussian
(Laplace) approximation. Averaged over the set it gives the R^2 an estimator could reach,
1 - mean(sigma^2) / var(truth): a forecast, not a strict bound. It is optimistic at low S/N,
where the likelihood is far from Gaussian in n and the Cramer-Rao bound is not reached, and
the Gaussian prior approximates a uniform one. Written here because no library we use computes
Fisher matrices of PSF-convolved Sersic images (GalSim draws images; it does not differentiate them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from galmerge.data.imageset import ImageSet
from galmerge.errors import DataError
from galmerge.mocks.sersic import N_RANGE, SersicParameters, render_sersic_kspace

__all__ = ["FisherForecast", "fisher_forecast", "FORECAST_PARAMETERS", "REPORTED_SIGMA"]

FORECAST_PARAMETERS = ("ln_flux", "ln_r_e", "n", "q", "pa_rad", "x_px", "y_px")
# The benchmark's parameters as scaled forecast columns: mag = 22.5 - 2.5 log10 flux, log10 r_e, pa in degrees.
REPORTED_SIGMA = {"mag": ("ln_flux", 2.5 / np.log(10)), "log_r_e": ("ln_r_e", 1 / np.log(10)), "n": ("n", 1.0), "q": ("q", 1.0), "pa": ("pa_rad", np.rad2deg(1.0))}
_N_STEP = 0.05  # the renderer's table step in n (linear between nodes): a smaller step would see a kinked slope
_Q_RANGE = (0.02, 1.0)


@dataclass
class FisherForecast:
    """Per-stamp forecast uncertainties of :data:`FORECAST_PARAMETERS`.

    Attributes
    ----------
    sigma : ndarray (N, 7)
        sqrt(((F + P)^-1)_kk): with the set's prior (the Gaussian approximation of the posterior).
    cramer_rao : ndarray (N, 7)
        sqrt((F^-1)_kk): the unbiased estimator's bound, without the prior (pseudo-inverse where F is
        singular, as for the angle of a round galaxy).
    prior_sigma : ndarray (7,)
        The prior's spread of each parameter: its standard deviation over the set (the angle's:
        that of a uniform angle); a parameter with one value in the set gets no prior.
    """

    sigma: np.ndarray
    cramer_rao: np.ndarray
    prior_sigma: np.ndarray

    def reported_sigma(self, name: str) -> np.ndarray:
        """(N,) forecast sigma of a benchmark parameter (``mag``, ``log_r_e``, ``n``, ``q``, ``pa`` in degrees)."""
        parameter, factor = REPORTED_SIGMA[name]
        return factor * self.sigma[:, FORECAST_PARAMETERS.index(parameter)]

    def r2_ceiling(self, name: str, truth, *, rows=None) -> float:
        """1 - mean(sigma^2) / var(truth) of a benchmark parameter over ``rows`` (default all); ``truth`` (N,) in its units."""
        rows = np.arange(len(self.sigma)) if rows is None else np.asarray(rows)
        return float(1 - np.mean(self.reported_sigma(name)[rows] ** 2) / np.var(np.asarray(truth, dtype=np.float64)[rows]))


def _variants(params: SersicParameters, scale: float) -> tuple[list[SersicParameters], np.ndarray]:
    """Copies of ``params`` moved by -h and +h in each parameter after flux, and the steps 2h actually taken."""
    base = {k: getattr(params, k).copy() for k in ("flux", "r_e_arcsec", "n", "q", "pa_deg", "dx_arcsec", "dy_arcsec")}
    variants, widths = [], []

    def moved(name, low, high):
        for value in (low, high):
            changed = dict(base)
            changed[name] = value
            variants.append(SersicParameters(**changed))

    # ln r_e: 0.02 (0.0087 dex): close to the 0.01 dex step of the renderer's table in log10 k r_e, so no slope is of a sliver of one cell
    step = 0.02
    moved("r_e_arcsec", base["r_e_arcsec"] * np.exp(-step / 2), base["r_e_arcsec"] * np.exp(step / 2))
    widths.append(np.full(len(params), step))
    low, high = np.clip(base["n"] - _N_STEP / 2, *N_RANGE), np.clip(base["n"] + _N_STEP / 2, *N_RANGE)
    moved("n", low, high)
    widths.append(high - low)
    low, high = np.clip(base["q"] - 0.01, *_Q_RANGE), np.clip(base["q"] + 0.01, *_Q_RANGE)
    moved("q", low, high)
    widths.append(high - low)
    moved("pa_deg", base["pa_deg"] - 0.5, base["pa_deg"] + 0.5)
    widths.append(np.full(len(params), np.deg2rad(1.0)))
    for name in ("dx_arcsec", "dy_arcsec"):
        moved(name, base[name] - 0.025 * scale, base[name] + 0.025 * scale)
        widths.append(np.full(len(params), 0.05))
    return variants, np.stack(widths, axis=1)


def fisher_forecast(imageset: ImageSet, *, psf_images: list | None = None, electrons_per_unit: float | None = None, chunk: int = 128, progress: bool = True) -> FisherForecast:
    """The forecast (see the module docstring) for every stamp of a morphometry set.

    Parameters
    ----------
    imageset : ImageSet
        Made by ``galmerge mock --task morphometry``: its table holds the truth, ``sky_sigma``
        and ``psf_index``.
    psf_images : list of ndarray, optional
        The set's PSFs (default: rebuilt from its record, :func:`galmerge.mocks.morphometry.psf_images_for`).
    electrons_per_unit : float, optional
        For the shot noise (default from the table's zeropoint and exposure time; None there: sky only).
    """
    from galmerge.display import progress_bar
    from galmerge.mocks.morphometry import electrons_per_unit_for, psf_images_for

    table = imageset.meta
    needed = ("mag", "r_e_arcsec", "n", "q", "pa_deg", "x_offset_arcsec", "y_offset_arcsec", "sky_sigma", "psf_index")
    missing = [c for c in needed if c not in table.colnames]
    if missing:
        raise DataError(f"{imageset.source}: no column(s) {', '.join(missing)}; a forecast needs a morphometry set's truth")
    if imageset.pixel_scale_arcsec is None:
        raise DataError(f"{imageset.source}: no pixel scale")
    scale = float(imageset.pixel_scale_arcsec)
    psfs = psf_images if psf_images is not None else psf_images_for(imageset)
    if electrons_per_unit is None:
        electrons_per_unit = electrons_per_unit_for(imageset)
    column = lambda name: np.asarray(table[name], dtype=np.float64)  # noqa: E731
    params = SersicParameters(
        flux=10 ** ((22.5 - column("mag")) / 2.5),
        r_e_arcsec=column("r_e_arcsec"),
        n=column("n"),
        q=column("q"),
        pa_deg=column("pa_deg"),
        dx_arcsec=column("x_offset_arcsec"),
        dy_arcsec=column("y_offset_arcsec"),
    )
    sky_variance = column("sky_sigma") ** 2
    psf_index = np.asarray(table["psf_index"], dtype=np.int64)
    size = imageset.image_shape[0]
    fisher = np.empty((len(params), 7, 7))
    for first in progress_bar(range(0, len(params), chunk), desc="Fisher forecast", unit="chunk", enabled=progress):
        rows = np.arange(first, min(len(params), first + chunk))
        for index in np.unique(psf_index[rows]):
            members = rows[psf_index[rows] == index]
            part = params.take(members)
            variants, widths = _variants(part, scale)
            model, *moved = [render_sersic_kspace(p, psfs[index], stamp_size=size, pixel_scale_arcsec=scale).astype(np.float64) for p in [part, *variants]]
            jacobian = [model]  # d mu / d ln flux = mu
            for k in range(widths.shape[1]):
                jacobian.append((moved[2 * k + 1] - moved[2 * k]) / widths[:, k, None, None])
            j = np.stack([d.reshape(len(members), -1) for d in jacobian], axis=2)  # (m, pixels, 7)
            variance = sky_variance[members, None] + (np.clip(model.reshape(len(members), -1), 0, None) / electrons_per_unit if electrons_per_unit else 0.0)
            fisher[members] = np.einsum("mpi,mp,mpj->mij", j, 1.0 / variance, j)
    truth = np.stack([np.log(params.flux), np.log(params.r_e_arcsec), params.n, params.q], axis=1)
    prior_sigma = np.concatenate([truth.std(axis=0), [np.pi / np.sqrt(12)], [np.std(params.dx_arcsec / scale), np.std(params.dy_arcsec / scale)]])
    prior_precision = np.divide(1.0, prior_sigma**2, out=np.zeros(7), where=prior_sigma > 0)  # one value: no prior
    posterior = np.linalg.inv(fisher + np.diag(prior_precision))
    unbiased = np.linalg.pinv(fisher, hermitian=True)  # pseudo-inverse: pa of a round galaxy is not measurable
    cramer_rao = np.sqrt(np.clip(np.diagonal(unbiased, axis1=1, axis2=2), 0, None))
    return FisherForecast(sigma=np.sqrt(np.diagonal(posterior, axis1=1, axis2=2)), cramer_rao=cramer_rao, prior_sigma=prior_sigma)
