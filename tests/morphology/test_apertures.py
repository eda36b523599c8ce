"""Aperture photometry at the stamp centre, the morphometry network's photometric anchor."""

import numpy as np
import pytest

from galmerge.errors import CheckpointError, ModelMismatchError
from galmerge.morphology.apertures import Apertures, aperture_fluxes, asinh_magnitude, default_radii_px


def _gaussian_stamps(fluxes, *, size=41, sigma_px=2.0, sky_sigma=0.0, seed=0):
    """Circular Gaussians on the centre pixel, integrated over each pixel (error functions)."""
    from scipy.special import erf

    edges = np.arange(size + 1) - (size - 1) // 2 - 0.5
    cumulative = 0.5 * (1 + erf(edges / (np.sqrt(2) * sigma_px)))
    profile = np.diff(cumulative)
    unit = np.outer(profile, profile)
    noise = np.random.default_rng(seed).normal(0, sky_sigma, (len(fluxes), 1, size, size)) if sky_sigma else 0
    return np.asarray(fluxes, dtype=np.float64)[:, None, None, None] * unit[None, None] + noise


def test_asinh_magnitude_is_pogson_for_bright_sources_and_finite_for_negative_flux():
    flux = np.array([1e2, 1e4, 1e6])
    np.testing.assert_allclose(asinh_magnitude(flux, 1.0), -2.5 * np.log10(flux), atol=1e-3)
    faint = asinh_magnitude(np.array([-5.0, 0.0, 5.0]), 1.0)
    assert np.isfinite(faint).all() and faint[0] > faint[1] > faint[2]  # fainter means larger, through zero flux


def test_aperture_sums_are_circle_areas_and_a_gaussian_curve_of_growth():
    radii = [1.5, 3.0, 6.0, 12.0]
    flat = np.ones((1, 1, 41, 41))
    np.testing.assert_allclose(aperture_fluxes(flat, radii)[0], np.pi * np.square(radii), rtol=1e-6)
    sigma = 3.0
    enclosed = aperture_fluxes(_gaussian_stamps([1.0], sigma_px=sigma), radii)[0]
    np.testing.assert_allclose(enclosed[1:], 1 - np.exp(-np.square(radii[1:]) / (2 * sigma**2)), atol=0.01)


def test_the_anchor_is_an_aperture_whose_magnitude_tracks_the_true_one():
    rng = np.random.default_rng(1)
    fluxes = 10 ** rng.uniform(2, 4, 400)
    magnitudes = 25.0 - 2.5 * np.log10(fluxes)
    # one size: any aperture holds the same share of every source's light, so the anchor's
    # magnitude is the true one plus a constant
    images = _gaussian_stamps(fluxes, sky_sigma=0.05, seed=2)
    apertures = Apertures.fit(images, magnitudes)
    inputs, anchor = apertures.inputs(images)
    offset = magnitudes - anchor
    assert np.median(np.abs(offset - np.median(offset))) < 0.01
    assert inputs.shape == (400, len(apertures.radii_px)) and inputs.dtype == np.float32
    assert Apertures.from_dict(apertures.to_dict()) == apertures
    # sizes from 1 to 4 px: only an aperture of more than 3 sigma of the largest holds nearly all
    # the light of every source
    mixed = np.concatenate([_gaussian_stamps(fluxes[k::4], sigma_px=s, sky_sigma=0.05, seed=k) for k, s in enumerate((1.0, 2.0, 3.0, 4.0))])
    truth = np.concatenate([magnitudes[k::4] for k in range(4)])
    apertures = Apertures.fit(mixed, truth)
    assert apertures.radii_px[apertures.anchor] > 12


def test_stamps_too_small_for_the_apertures_and_broken_records_are_refused():
    radii = default_radii_px(75)
    assert max(radii) == 37
    with pytest.raises(ModelMismatchError, match="stamps of 24 x 24 px; the network's apertures reach a radius of 37"):
        aperture_fluxes(np.zeros((2, 1, 24, 24)), radii)
    with pytest.raises(ModelMismatchError, match="too small"):
        default_radii_px(3)
    record = Apertures(radii_px=radii, softening=[1.0] * 8, anchor=8, mean=[0.0] * 8, std=[1.0] * 8).to_dict()
    with pytest.raises(CheckpointError, match="anchor"):
        Apertures.from_dict(record)
    with pytest.raises(CheckpointError, match="another galmerge version"):
        Apertures.from_dict({**record, "centre": 3})
