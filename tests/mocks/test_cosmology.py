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


# from nearby to far beyond the mocks' redshifts
@pytest.mark.parametrize("z", [0.0005, 0.001, 0.0123457, 0.05, 0.7, 1.234567, 2.0, 20.0, 25.0])
def test_scale_and_distance_modulus_follow_the_integrals(z):
    angular_kpc = comoving_distance_mpc(z) / (1 + z) * 1000.0
    assert kpc_per_arcsec(z) == pytest.approx(angular_kpc * math.pi / (180 * 3600), rel=1e-6)
    luminosity_pc = comoving_distance_mpc(z) * (1 + z) * 1e6
    assert distance_modulus(z) == pytest.approx(5 * math.log10(luminosity_pc / 10.0), abs=1e-6)


@pytest.mark.parametrize("z", [0.0, -0.5, float("nan")])
def test_a_redshift_that_is_not_positive_is_a_clear_error(z):
    with pytest.raises(GalmergeError, match="redshift must be > 0"):
        kpc_per_arcsec(z)
