"""Distances of the mocks against the flat Lambda-CDM integrals computed here with scipy."""

import math

import pytest
from scipy.integrate import quad

from galmerge.errors import GalmergeError
from galmerge.mocks.cosmology import distance_modulus, kpc_per_arcsec

C_KM_S = 299_792.458
H0, OMEGA_M = 70.0, 0.3


def comoving_distance_mpc(z):
    integral, _ = quad(lambda x: 1.0 / math.sqrt(OMEGA_M * (1 + x) ** 3 + 1 - OMEGA_M), 0.0, z)
    return C_KM_S / H0 * integral


@pytest.mark.parametrize("z", [0.05, 0.7, 2.0])
def test_scale_and_distance_modulus_follow_the_integrals(z):
    angular_kpc = comoving_distance_mpc(z) / (1 + z) * 1000.0
    assert kpc_per_arcsec(z) == pytest.approx(angular_kpc * math.pi / (180 * 3600), rel=1e-4)
    luminosity_pc = comoving_distance_mpc(z) * (1 + z) * 1e6
    assert distance_modulus(z) == pytest.approx(5 * math.log10(luminosity_pc / 10.0), abs=1e-3)


@pytest.mark.parametrize("z", [0.0, -0.5, float("nan")])
def test_a_redshift_that_is_not_positive_is_a_clear_error(z):
    with pytest.raises(GalmergeError, match="redshift must be > 0"):
        kpc_per_arcsec(z)


def test_tabulated_distances_match_astropy_on_and_off_the_grid():
    import numpy as np
    from astropy.cosmology import FlatLambdaCDM

    cosmology = FlatLambdaCDM(H0=H0, Om0=OMEGA_M)
    redshifts = np.r_[np.exp(np.random.default_rng(0).uniform(np.log(1e-4), np.log(20.0), 200)), 5e-5, 30.0]  # the last two off the grid
    distmod = np.array([distance_modulus(z) for z in redshifts])
    scale = np.array([kpc_per_arcsec(z) for z in redshifts])
    assert np.abs(distmod - cosmology.distmod(redshifts).value).max() < 1e-5
    assert np.abs(scale / (cosmology.kpc_proper_per_arcmin(redshifts).value / 60.0) - 1).max() < 1e-5
