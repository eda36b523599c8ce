"""The Fisher forecast matches the scatter of a maximum-likelihood fit, and falls back to the prior when the data say nothing."""

from __future__ import annotations

import numpy as np
import pytest

from galmerge.data.imageset import ImageSet
from galmerge.errors import DataError
from galmerge.mocks.morphometry import MorphometryOptions, electrons_per_unit_for, generate_morphometry, psf_images_for
from galmerge.mocks.sersic import SersicParameters, render_sersic_kspace
from galmerge.morphology.information import FORECAST_PARAMETERS, fisher_forecast

SIZE = 25


def _one_galaxy(snr: float, seed: int) -> ImageSet:
    options = MorphometryOptions(stamp_size=SIZE, r_e_pixels=(3, 3.5), snr_range=(snr, snr), q_range=(0.6, 0.7), n_range=(1.5, 2.5))
    return generate_morphometry("hst-f160w", 1, seed=seed, options=options, progress=False)


def _model_of(imageset: ImageSet):
    """The galaxy's model image as a function of the seven forecast parameters, and their true values."""
    truth = imageset.meta[0]
    psf = psf_images_for(imageset)[int(truth["psf_index"])]
    scale = imageset.pixel_scale_arcsec

    def model(theta):
        ln_flux, ln_r_e, n, q, pa, x, y = theta
        params = SersicParameters(flux=np.exp(ln_flux), r_e_arcsec=np.exp(ln_r_e), n=np.clip(n, 0.3, 6.2), q=np.clip(q, 0.05, 1.0), pa_deg=np.rad2deg(pa), dx_arcsec=x * scale, dy_arcsec=y * scale)
        return render_sersic_kspace(params, psf, stamp_size=SIZE, pixel_scale_arcsec=scale)[0].astype(np.float64)

    ln_flux = np.log(10 ** ((22.5 - truth["mag"]) / 2.5))
    true = np.array([ln_flux, np.log(truth["r_e_arcsec"]), truth["n"], truth["q"], np.deg2rad(truth["pa_deg"]), truth["x_offset_arcsec"] / scale, truth["y_offset_arcsec"] / scale])
    return model, true


def test_forecast_matches_the_scatter_of_a_maximum_likelihood_fit():
    from scipy.optimize import least_squares

    galaxy = _one_galaxy(300.0, seed=3)
    electrons = electrons_per_unit_for(galaxy)
    forecast = fisher_forecast(galaxy, progress=False)
    model, true = _model_of(galaxy)
    noiseless = model(true)
    sigma = np.sqrt(galaxy.meta["sky_sigma"][0] ** 2 + np.clip(noiseless, 0, None) / electrons)
    images = noiseless + np.random.default_rng(0).normal(size=(60, SIZE, SIZE)) * sigma
    fits = []
    for image in images:  # maximum-likelihood fits of all seven parameters, scipy's own finite differences

        def residual(theta, image=image):
            return ((image - model(theta)) / sigma).ravel()

        # relative steps of 1e-3: the renderer draws in float32, where scipy's default steps see no change
        fits.append(least_squares(residual, true, diff_step=1e-3).x)
    scatter = np.std(fits, axis=0, ddof=1)
    # 60 fits measure a standard deviation to about +-9 % (1 sigma); the Cramer-Rao bound of an
    # efficient estimator at S/N 300 must agree within 30 % for every parameter.
    for k, name in enumerate(FORECAST_PARAMETERS):
        assert scatter[k] == pytest.approx(forecast.cramer_rao[0, k], rel=0.3), name


def test_without_signal_the_forecast_is_the_prior():
    faint = generate_morphometry("hst-f160w", 30, seed=4, options=MorphometryOptions(stamp_size=SIZE, snr_range=(1e-3, 1e-3)), progress=False)
    forecast = fisher_forecast(faint, progress=False)
    n = FORECAST_PARAMETERS.index("n")
    spread = np.std(np.asarray(faint.meta["n"]))
    np.testing.assert_allclose(forecast.sigma[:, n], spread, rtol=1e-3)
    assert forecast.r2_ceiling("n", faint.meta["n"]) == pytest.approx(0.0, abs=2e-3)
    bright = fisher_forecast(_one_galaxy(1000.0, seed=4), progress=False)
    assert bright.sigma[0, n] < 0.1 * spread


def test_a_set_without_truth_is_refused_by_name():
    images = ImageSet(np.zeros((2, 1, SIZE, SIZE), dtype=np.float32), pixel_scale_arcsec=0.06, source="cutouts.h5")
    with pytest.raises(DataError, match=r"cutouts.h5: no column\(s\) mag"):
        fisher_forecast(images, progress=False)
