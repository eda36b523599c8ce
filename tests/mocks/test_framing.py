"""The framing rule: SDSS's Petrosian R90 and one centring law."""

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import gammaincinv

from galmerge.mocks.framing import centre_offset_px, enclosed_light, light_peak_px, petrosian_r90_kpc, petrosian_radius_kpc
from galmerge.mocks.light import sersic_b
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


def test_the_petrosian_half_light_radius_of_a_de_vaucouleurs_profile_is_short_of_its_effective_radius():
    # Graham et al. (2005): the Petrosian aperture misses 0.20 mag of an R^1/4 profile, so its
    # Petrosian R50 encloses half of 83 % of the light (their eta is the ratio to the intensity
    # at R; SDSS's annulus of 0.8-1.25 R differs by ~0.02 R_e)
    spheroid = GalaxyLook(abs_mag=-21.0, disk_kpc=1.0, bulge_fraction=1.0, bulge_n=4.0, bulge_kpc=2.0, arm_fraction=0.0, halo_fraction=0.0)
    graham = (gammaincinv(8.0, 0.5 * 10 ** (-0.4 * 0.20)) / sersic_b(4.0)) ** 4
    assert petrosian_radius_kpc(spheroid, fraction=0.5) / 2.0 == pytest.approx(graham, abs=0.03)
    # an exponential disk loses ~1 %: its Petrosian R50 is just inside its 1.678 scale lengths
    assert 1.60 * 2.0 < petrosian_radius_kpc(exponential_disk(2.0), fraction=0.5) < 1.678 * 2.0


def _root_found_petrosian_r90(look) -> float:
    def excess(radius):
        light, outer, inner = enclosed_light(look, np.array([radius, 1.25 * radius, 0.8 * radius]))
        return (outer - inner) / (1.25**2 - 0.8**2) / light - 0.2

    petrosian = brentq(excess, 0.05, 200.0, xtol=1e-9)
    flux = enclosed_light(look, 2.0 * petrosian)
    return brentq(lambda radius: enclosed_light(look, radius) - 0.9 * flux, 1e-3, 2.0 * petrosian, xtol=1e-9)


@pytest.mark.parametrize(
    "look",
    [
        exponential_disk(2.3),
        GalaxyLook(abs_mag=-21.0, disk_kpc=1.0, bulge_fraction=1.0, bulge_n=4.7, bulge_kpc=2.1, arm_fraction=0.0, halo_fraction=0.0),
        GalaxyLook(abs_mag=-21.0, disk_kpc=3.1, bulge_fraction=0.4, bulge_n=3.3, bulge_kpc=0.8, arm_fraction=0.0, halo_fraction=0.03, halo_kpc=17.0),
    ],
)
def test_the_petrosian_r90_agrees_with_one_solved_for_directly(look):
    # the Petrosian radius falls between the radii where the profile is sampled
    assert petrosian_r90_kpc(look) == pytest.approx(_root_found_petrosian_r90(look), rel=2e-3)


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


def _gaussians(*centres_xy, sigma=2.0, size=41):
    yy, xx = np.indices((size, size))
    return sum(np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)) for x, y in centres_xy)


def test_the_light_peak_of_one_galaxy_is_its_centre():
    for x, y in [(20.0, 20.0), (20.3, 19.6), (18.8, 21.45)]:
        np.testing.assert_allclose(light_peak_px(_gaussians((x, y)), (x, y)), [x, y], atol=0.1)
        # climbing from two pixels away ends on the same peak
        np.testing.assert_allclose(light_peak_px(_gaussians((x, y)), (x + 2, y - 2)), [x, y], atol=0.1)


def test_two_nuclei_closer_than_the_seeing_share_one_peak_and_distant_ones_keep_their_own():
    # equal Gaussians of sigma 2 px, 3 px apart, blend into one peak midway; 12 px apart they do not
    blended = light_peak_px(_gaussians((18.0, 20.0), (21.0, 20.0)), (18.0, 20.0))
    np.testing.assert_allclose(blended, [19.5, 20.0], atol=0.1)
    apart = light_peak_px(_gaussians((14.0, 20.0), (26.0, 20.0)), (14.0, 20.0))
    np.testing.assert_allclose(apart, [14.0, 20.0], atol=0.1)


def _petrosian_r90_of_image(image: np.ndarray, pixel: float) -> float:
    """SDSS's Petrosian R90 measured on an image centred on its galaxy: eta = 0.2 radius from
    the annulus 0.8-1.25 R against the mean within R, flux within twice it, 90 % of that."""
    side = image.shape[0]
    y, x = np.mgrid[:side, :side] - (side - 1) / 2
    radius = np.hypot(x, y).ravel() * pixel
    order = np.argsort(radius)
    radius, cumulative = radius[order], np.cumsum(image.ravel()[order])
    radii = np.geomspace(3 * pixel, radius.max() / 2.6, 400)

    def within(r):
        return np.interp(r, radius, cumulative)

    ratio = (within(1.25 * radii) - within(0.8 * radii)) / (1.25**2 - 0.8**2) / within(radii)
    k = np.flatnonzero(ratio < 0.2)[0]
    petrosian = np.interp(0.2, ratio[[k, k - 1]], radii[[k, k - 1]])
    return float(np.interp(0.9 * within(2 * petrosian), cumulative, radius))


@pytest.mark.parametrize(
    "look",
    [
        GalaxyLook(abs_mag=-21.0, disk_kpc=0.6, bulge_fraction=1.0, bulge_n=4.0, bulge_kpc=0.6, arm_fraction=0.0, halo_fraction=0.0),
        GalaxyLook(abs_mag=-21.0, disk_kpc=1.5, bulge_fraction=1.0, bulge_n=4.0, bulge_kpc=1.5, arm_fraction=0.0, halo_fraction=0.0),
        GalaxyLook(abs_mag=-21.0, disk_kpc=0.8, bulge_fraction=0.5, bulge_n=3.0, bulge_kpc=0.3, arm_fraction=0.0, halo_fraction=0.0),
        exponential_disk(0.4),
        exponential_disk(1.0),
    ],
    ids=["compact spheroid", "spheroid", "lenticular", "compact disk", "disk"],
)
def test_the_petrosian_r90_under_seeing_is_the_one_measured_on_the_blurred_galaxy(look):
    """Rendered, blurred by a 1.35" Moffat PSF and measured here on the image, galaxies of R90
    1.4-4" (sizes in arcsec) have the R90 that :class:`SeeingBlur` predicts, within 3 %, where
    their intrinsic R90 falls short by 10-55 %."""
    from scipy.signal import fftconvolve

    from galmerge.mocks.framing import SeeingBlur
    from galmerge.mocks.light import Grid, add_sersic
    from galmerge.mocks.realism.psf import MoffatPSF

    psf, pixel = MoffatPSF(1.35, beta=3.0), 0.08
    grid = Grid(501, pixel)
    image = np.zeros((501, 501))
    add_sersic(image, grid, x=0.0, y=0.0, flux=look.bulge_fraction, half_light_kpc=look.bulge_kpc, n=look.bulge_n)
    add_sersic(image, grid, x=0.0, y=0.0, flux=1.0 - look.bulge_fraction, half_light_kpc=1.6783 * look.disk_kpc, n=1.0)
    blurred = fftconvolve(image, psf.image(pixel_scale_arcsec=pixel, size=201), mode="same")
    measured = _petrosian_r90_of_image(blurred, pixel)
    intrinsic = petrosian_r90_kpc(look)
    assert _petrosian_r90_of_image(image, pixel) == pytest.approx(intrinsic, rel=0.03)  # the measurement itself
    assert SeeingBlur(psf).petrosian_r90_kpc(look) == pytest.approx(measured, rel=0.03)
    assert intrinsic < 0.9 * measured
