"""The framing rule: SDSS's Petrosian R90 and one centring law."""

import numpy as np
import pytest

from galmerge.mocks.framing import centre_offset_px, enclosed_light, petrosian_r90_kpc
from galmerge.mocks.recipes import Framing
from galmerge.mocks.systems import GalaxyLook


def exponential_disk(scale_kpc=3.0):
    return GalaxyLook(abs_mag=-21.0, disk_kpc=scale_kpc, bulge_fraction=0.0, bulge_n=1.0, bulge_kpc=1.0, arm_fraction=0.0, halo_fraction=0.0)


def test_an_exponential_disk_has_the_textbook_petrosian_r90():
    # an exponential disk holds 90 % of its light within 3.89 scale lengths; the Petrosian flux
    # (within twice the eta = 0.2 radius) misses ~1 %, so its R90 is a little smaller
    look = exponential_disk(2.0)
    assert enclosed_light(look, 3.89 * 2.0) == pytest.approx(0.9, abs=0.002)
    r90 = petrosian_r90_kpc(look)
    assert 3.7 * 2.0 < r90 < 3.89 * 2.0


def test_a_de_vaucouleurs_profile_loses_more_light_to_the_petrosian_aperture():
    spheroid = GalaxyLook(abs_mag=-21.0, disk_kpc=1.0, bulge_fraction=1.0, bulge_n=4.0, bulge_kpc=2.0, arm_fraction=0.0, halo_fraction=0.0)
    true_r90 = np.interp(0.9, enclosed_light(spheroid, np.geomspace(0.01, 200, 4000)), np.geomspace(0.01, 200, 4000))
    assert petrosian_r90_kpc(spheroid) < 0.9 * true_r90


def test_centre_offsets_follow_the_framing_law():
    rng = np.random.default_rng(0)
    offsets = np.array([centre_offset_px(rng, Framing(centre_jitter_px=0.5)) for _ in range(4000)])
    assert np.abs(offsets).max() <= 0.5
    assert offsets.std(axis=0) == pytest.approx([1 / np.sqrt(12)] * 2, rel=0.05)  # uniform over one pixel
    wider = np.array([centre_offset_px(rng, Framing(centre_jitter_px=0.0, centre_scatter_px=0.3)) for _ in range(4000)])
    assert wider.std(axis=0) == pytest.approx([0.3, 0.3], rel=0.05)


def test_a_centre_shift_moves_every_nucleus_the_same_way():
    rng = np.random.default_rng(1)
    offsets = np.array([centre_offset_px(rng, Framing(centre_jitter_px=0.5, centre_shift_px=(0.3, -0.2))) for _ in range(4000)])
    assert offsets.mean(axis=0) == pytest.approx([0.3, -0.2], abs=0.02)
    assert offsets.std(axis=0) == pytest.approx([1 / np.sqrt(12)] * 2, rel=0.05)
