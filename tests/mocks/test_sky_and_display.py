"""The Lupton mapping both ways, and real sky backgrounds cut from pictures."""

import numpy as np
import pytest

from galmerge.errors import DataError, DataFileNotFoundError
from galmerge.mocks.realism.display import LuptonMapping
from galmerge.mocks.realism.sky import SkyBank, central_object_mask


def test_the_forward_mapping_is_astropys_lupton_rgb():
    from astropy.visualization import make_lupton_rgb

    rng = np.random.default_rng(0)
    flux = rng.lognormal(-1, 2, (3, 40, 40)) * rng.choice([1, -0.1], size=(3, 40, 40), p=[0.8, 0.2])
    for stretch, q in ((0.5, 10.0), (2.0, 3.0)):
        expected = make_lupton_rgb(*flux, stretch=stretch, Q=q, minimum=0).transpose(2, 0, 1).astype(int)
        assert np.abs(LuptonMapping(stretch, q).to_uint8(flux).astype(int) - expected).max() <= 1


def test_the_inverse_recovers_fluxes_where_no_channel_is_clipped():
    rng = np.random.default_rng(1)
    flux = rng.lognormal(-1, 1.5, (3, 40, 40))
    mapping = LuptonMapping(2.5, 8.0, scales=(1.2, 1.0, 0.8), minimum=(-0.01, 0.0, 0.01))
    recovered, known = mapping.inverse(mapping.forward(flux) / 255.0)
    assert known.mean() > 0.5
    np.testing.assert_allclose(recovered[:, known], flux[:, known], rtol=1e-9)
    # after 8-bit rounding the round trip is exact in display values
    picture = mapping.to_uint8(flux) / 255.0
    again = mapping.to_uint8(mapping.inverse(picture)[0])
    assert np.abs(again.astype(int) - (picture * 255).round().astype(int))[:, known].max() <= 1


def pictures_with_a_central_galaxy(n=30, seed=2):
    rng = np.random.default_rng(seed)
    yy, xx = np.indices((75, 75))
    galaxy = 0.8 * np.exp(-0.5 * ((xx - 37) ** 2 + (yy - 37) ** 2) / 16.0)
    sky = np.clip(0.02 + rng.normal(0, 0.01, (n, 3, 75, 75)), 0, 1)
    return np.clip(sky + galaxy, 0, 1)


def test_backgrounds_keep_the_sky_and_lose_the_central_galaxy(tmp_path):
    pictures = pictures_with_a_central_galaxy()
    assert central_object_mask(pictures)[:, 37, 37].all()
    bank = SkyBank.from_pictures(pictures, source="test")
    centre = bank.pictures[:, :, 30:45, 30:45].astype(float) / 255
    corner = bank.pictures[:, :, :15, :15].astype(float) / 255
    assert abs(centre.mean() - corner.mean()) < 0.003 and abs(centre.std() - corner.std()) < 0.003
    loaded = SkyBank.load(bank.save(tmp_path / "bank.npz"))
    np.testing.assert_array_equal(loaded.pictures, bank.pictures)
    drawn = loaded.draw(np.random.default_rng(0))
    assert drawn.shape == (3, 75, 75) and 0 <= drawn.min() and drawn.max() <= 1


def test_bad_sky_banks_are_named():
    with pytest.raises(DataFileNotFoundError, match="no such sky bank"):
        SkyBank.load("/nonexistent/bank.npz")
    with pytest.raises(DataError, match="colour pictures"):
        SkyBank.from_pictures(np.zeros((3, 1, 75, 75)))
    yy, xx = np.indices((75, 75))
    huge = 0.9 * np.exp(-0.5 * ((xx - 37) ** 2 + (yy - 37) ** 2) / 30.0**2)  # fills the frame
    noise = np.random.default_rng(3).normal(0, 0.002, (4, 3, 75, 75))
    with pytest.raises(DataError, match="enough sky"):
        SkyBank.from_pictures(np.clip(huge + noise, 0, 1))


def test_a_bank_that_keeps_only_noisy_skies_says_so(two_skies):
    with pytest.warns(UserWarning, match="two skies: only 10 of 20 pictures"):
        bank = SkyBank.from_pictures(two_skies(20), source="two skies")
    # kept: the noisy half; all: the median falls between the halves, (0.004 + 0.03) / 2 per
    # channel, so the ratio is near 2 x 0.03 / 0.034 = 1.8
    assert len(bank) == 10 and bank.noise_ratio > 1.5 and bank.biased
    assert bank.source == "two skies"
    even = SkyBank.from_pictures(pictures_with_a_central_galaxy(), source="even")
    assert even.noise_ratio == pytest.approx(1.0) and not even.biased and even.source == "even"


def test_a_sky_clipped_at_black_is_sky_not_an_object():
    # 62 % of the pixels black: the pixels' median is the clip, below the smoothed sky, which
    # used to make the whole frame one "central object" and leave no picture for the bank
    skies = np.clip(np.random.default_rng(5).normal(-0.006, 0.02, (60, 3, 75, 75)), 0, 1)
    assert (skies == 0).mean() > 0.5
    assert np.median(central_object_mask(skies).mean(axis=(1, 2))) < 0.05
    with pytest.warns(UserWarning, match="clipped: 6[0-9]% of the sky is black in one channel"):
        bank = SkyBank.from_pictures(skies, source="clipped")
    assert len(bank) == 60 and not bank.biased


def test_a_bank_says_how_much_of_its_sky_is_black():
    from scipy.stats import norm

    # a sky 3 sigma above the black point in two channels and 1 sigma below it in the third;
    # stored as 8 bits, a value is black below half a level
    rng = np.random.default_rng(6)
    levels, sigma = np.array([0.03, 0.03, -0.01]), 0.01
    bank = SkyBank(np.clip(levels[None, :, None, None] + rng.normal(0, sigma, (5, 3, 75, 75)), 0, 1))
    assert bank.black_share == pytest.approx(norm.cdf((0.5 / 255 + 0.01) / sigma), abs=0.01)  # the third channel's
    assert bank.black_share > SkyBank.MOSTLY_BLACK_SHARE
    quiet = SkyBank(np.clip(levels[None, :, None, None] + 0.04 + rng.normal(0, sigma, (5, 3, 75, 75)), 0, 1))
    assert quiet.black_share == pytest.approx(norm.cdf((0.5 / 255 - 0.03) / sigma), abs=0.002)
