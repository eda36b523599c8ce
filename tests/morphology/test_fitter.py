"""The Imfit Sersic fit recovers known parameters; bad input gives flagged rows, never a crash."""

from __future__ import annotations

import numpy as np
import pytest

from galmerge.data.imageset import ImageSet
from galmerge.mocks.morphometry import MorphometryOptions, generate_morphometry, psf_images_for
from galmerge.morphology import fitter as fitter_module
from galmerge.morphology.fitter import FIT_FLAGS, fit_sersic


@pytest.fixture(scope="module")
def bright():
    options = MorphometryOptions(stamp_size=32, r_e_pixels=(3, 6), snr_range=(800, 1000), q_range=(0.4, 0.8), n_range=(1.0, 3.0))
    return generate_morphometry("hst-f160w", 3, seed=11, options=options, progress=False)


def test_fit_recovers_bright_galaxies(bright):
    fits = fit_sersic(bright, psf_images_for(bright), progress=False)
    truth = bright.meta
    np.testing.assert_allclose(fits["mag"], truth["mag"], atol=0.05)
    np.testing.assert_allclose(fits["r_e_arcsec"], truth["r_e_arcsec"], rtol=0.1)
    np.testing.assert_allclose(fits["n"], truth["n"], atol=0.3)
    np.testing.assert_allclose(fits["q"], truth["q"], atol=0.05)
    difference = (np.asarray(fits["pa_deg"]) - np.asarray(truth["pa_deg"]) + 90) % 180 - 90
    assert np.abs(difference).max() < 3  # Imfit measures PA from +y; the table from +x
    assert np.all(fits["cpu_seconds"] > 0)


def test_bad_stamps_and_failed_fits_are_flagged_rows(bright, monkeypatch):
    images = bright.images.copy()
    images[0, 0, 5, 5] = np.nan
    broken = ImageSet(images, meta=bright.meta, pixel_scale_arcsec=bright.pixel_scale_arcsec)
    real_fit = fitter_module._fit_one
    calls = []

    def flaky(*args):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("solver blew up")
        values, _, at_bound = real_fit(*args)
        return values, False, at_bound  # the solver says it did not converge

    monkeypatch.setattr(fitter_module, "_fit_one", flaky)
    fits = fit_sersic(broken, psf_images_for(bright), progress=False)
    assert fits["flag"][0] == FIT_FLAGS["nonfinite_pixels"] and np.isnan(fits["n"][0])
    assert fits["flag"][1] & FIT_FLAGS["fit_failed"] and "solver blew up" in fits["flag_reason"][1]
    assert fits["flag"][2] & FIT_FLAGS["not_converged"] and not fits["converged"][2]


def test_psf_of_another_pixel_scale_flags_every_row(bright):
    fits = fit_sersic(bright, psf_images_for(bright), psf_pixel_scale_arcsec=0.03, progress=False)
    assert np.all(fits["flag"] == FIT_FLAGS["psf_pixel_scale"]) and "0.03" in fits["flag_reason"][0]
    assert np.isnan(fits["mag"]).all()
