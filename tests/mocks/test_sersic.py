"""The k-space Sersic renderer against GalSim, and the morphometry mocks."""

from __future__ import annotations

import numpy as np
import pytest

from galmerge.errors import ConfigError
from galmerge.mocks.morphometry import MorphometryOptions, generate_morphometry, psf_images_for
from galmerge.mocks.realism.noise import sky_sigma_from_depth
from galmerge.mocks.recipes import load_recipe
from galmerge.mocks.sersic import SersicParameters, render_sersic_galsim, render_sersic_kspace


def _parameters(n_galaxies: int, seed: int, pixel: float) -> SersicParameters:
    rng = np.random.default_rng(seed)
    return SersicParameters(
        flux=np.ones(n_galaxies), r_e_arcsec=pixel * np.exp(rng.uniform(0, np.log(10), n_galaxies)),
        n=np.linspace(0.3, 6.2, n_galaxies), q=rng.uniform(0.15, 1, n_galaxies), pa_deg=rng.uniform(0, 180, n_galaxies),
        dx_arcsec=rng.uniform(-0.5, 0.5, n_galaxies) * pixel, dy_arcsec=rng.uniform(-0.5, 0.5, n_galaxies) * pixel,
    )


def test_kspace_renderer_matches_galsim_within_half_the_sky_noise():
    """At the brightest the training sets go (optimal S/N 1000 against the sky), the renderers differ by < 0.5 sigma_sky."""
    recipe = load_recipe("hst-f160w")
    pixel = recipe.pixel_scale_arcsec
    psf = recipe.bands[0].psf.image(pixel_scale_arcsec=pixel)
    params = _parameters(12, seed=4, pixel=pixel)
    sky = sky_sigma_from_depth(recipe.bands[0].depth_mu_lim, pixel_scale_arcsec=pixel)
    unit = render_sersic_kspace(SersicParameters(**{**vars(params), "flux": np.ones(12)}), psf, stamp_size=40, pixel_scale_arcsec=pixel)
    params.flux = 1000 * sky / np.sqrt((unit.astype(np.float64) ** 2).sum(axis=(1, 2)))
    fast = render_sersic_kspace(params, psf, stamp_size=40, pixel_scale_arcsec=pixel)
    reference = render_sersic_galsim(params, psf, stamp_size=40, pixel_scale_arcsec=pixel)
    assert np.abs(fast - reference).max() < 0.5 * sky
    # the same light in the stamp (light wrapping around the padded grid costs the largest n ~ 6 galaxies a few %)
    flux_difference = np.abs(fast.sum(axis=(1, 2)) / reference.sum(axis=(1, 2)) - 1)
    assert np.median(flux_difference) < 0.005 and flux_difference.max() < 0.05


def test_sersic_parameters_refuse_n_outside_galsims_range():
    with pytest.raises(ConfigError, match="0.3, 6.2"):
        SersicParameters(flux=1, r_e_arcsec=0.1, n=7.0, q=0.5, pa_deg=0, dx_arcsec=0, dy_arcsec=0)


def test_morphometry_set_holds_truth_spans_the_snr_range_and_has_the_stated_noise():
    options = MorphometryOptions(stamp_size=32, r_e_pixels=(1, 6), snr_range=(10, 1000))
    imageset = generate_morphometry("hst-f160w", 200, seed=3, options=options, progress=False)
    meta = imageset.meta
    assert imageset.images.shape == (200, 1, 32, 32) and imageset.pixel_scale_arcsec == 0.06
    for column in ("mag", "r_e_arcsec", "r_e_circ_arcsec", "n", "q", "pa_deg", "snr", "sky_sigma", "psf_fwhm_arcsec"):
        assert np.isfinite(np.asarray(meta[column])).all(), column
    np.testing.assert_allclose(meta["r_e_circ_arcsec"], meta["r_e_arcsec"] * np.sqrt(meta["q"]))
    assert meta["snr"].min() >= 10 and meta["snr"].max() <= 1000 and np.median(meta["snr"]) > 50
    # the border of each stamp is mostly sky: its scatter is the recorded noise level
    border = np.concatenate([imageset.images[:, 0, :3].reshape(200, -1), imageset.images[:, 0, -3:].reshape(200, -1)], axis=1)
    faint = meta["r_e_arcsec"] < 0.15
    ratio = np.median(border[faint].std(axis=1) / np.asarray(meta["sky_sigma"])[faint])
    assert 0.9 < ratio < 1.15
    # brighter at the same noise means higher S/N: magnitudes follow from the S/N draw, not the other way
    assert np.corrcoef(meta["mag"], np.log10(meta["snr"]))[0, 1] < -0.5
    assert len(psf_images_for(imageset)) == 8


def test_real_psf_file_domain(tmp_path):
    from astropy.io import fits

    yy, xx = np.mgrid[-7:8, -7:8]
    narrow, wide = (np.exp(-(xx**2 + yy**2) / (2 * s**2)) for s in (1.0, 2.0))
    fits.HDUList([fits.PrimaryHDU(narrow), fits.ImageHDU(wide)]).writeto(tmp_path / "psfs.fits")
    options = MorphometryOptions(stamp_size=24, psf_file=str(tmp_path / "psfs.fits"), psf_pixel_scale_arcsec=0.03)
    imageset = generate_morphometry("hst-f160w", 20, seed=1, options=options, progress=False)
    fwhm = {int(i): f for i, f in zip(imageset.meta["psf_index"], imageset.meta["psf_fwhm_arcsec"])}
    assert fwhm[1] > 1.5 * fwhm[0]  # the wider PSF image is the wider PSF, after resampling to 0.06"/px
    assert len(psf_images_for(imageset)) == 2
