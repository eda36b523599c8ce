"""Cosmological distances for mocks: flat Lambda-CDM with H0 = 70 km/s/Mpc and Omega_m = 0.3,
without radiation (astropy's ``FlatLambdaCDM(H0=70, Om0=0.3)``, as RealSim; Bottrell et al. 2019).

A flat universe of matter and Lambda has a closed-form comoving distance: with
r = Omega_m / Omega_Lambda and F(x) = 2F1(1/3, 1/2; 4/3; x),

    D_C(z) = c / H0 / sqrt(Omega_Lambda) * [(1 + z) F(-r (1 + z)^3) - F(-r)],

since u F(-r u^3) is an antiderivative of 1 / sqrt(1 + r u^3). Written here rather than called
from ``astropy.cosmology``: importing it took 0.4 s in every mock worker process (2 % of a
4,000-stamp ``galmerge mock`` on 2 cores), and its per-call units overhead, paid several times
per stamp, had needed a lookup table. The tests check it against the integral.
"""

from __future__ import annotations

import math

from scipy.special import hyp2f1

from galmerge.errors import RecipeError

__all__ = ["kpc_per_arcsec", "distance_modulus", "DEFAULT_COSMOLOGY"]

DEFAULT_COSMOLOGY = {"H0": 70.0, "Om0": 0.3}
_C_KM_S = 299_792.458
_HUBBLE_DISTANCE_MPC = _C_KM_S / DEFAULT_COSMOLOGY["H0"]
_OMEGA_LAMBDA = 1.0 - DEFAULT_COSMOLOGY["Om0"]
_RATIO = DEFAULT_COSMOLOGY["Om0"] / _OMEGA_LAMBDA
_ARCSEC_RAD = math.pi / (180.0 * 3600.0)


def _antiderivative(u: float) -> float:
    """u F(-r u^3), whose derivative in u is 1 / sqrt(1 + r u^3) (see above)."""
    return u * hyp2f1(1 / 3, 0.5, 4 / 3, -_RATIO * u**3)


_AT_ZERO = _antiderivative(1.0)


def _comoving_distance_mpc(z: float) -> float:
    if not z > 0:
        raise RecipeError(f"redshift must be > 0, got {z}")
    return _HUBBLE_DISTANCE_MPC / math.sqrt(_OMEGA_LAMBDA) * (_antiderivative(1.0 + z) - _AT_ZERO)


def kpc_per_arcsec(z: float) -> float:
    """Proper kiloparsecs per arcsecond at redshift ``z`` (the angular-diameter distance)."""
    return _comoving_distance_mpc(z) / (1.0 + z) * 1000.0 * _ARCSEC_RAD


def distance_modulus(z: float) -> float:
    """5 log10(D_L / 10 pc): apparent minus absolute magnitude before any K-correction.

    Surface-brightness dimming, (1+z)^4 bolometric, follows from the luminosity distance and the
    angular size together, so no separate factor is applied to fluxes.
    """
    return 5.0 * math.log10(_comoving_distance_mpc(z) * (1.0 + z) * 1e5)
