"""Cosmological distances for mocks (astropy), cached per redshift."""

from __future__ import annotations

from functools import lru_cache

from galmerge.errors import RecipeError

__all__ = ["kpc_per_arcsec", "distance_modulus", "DEFAULT_COSMOLOGY"]

DEFAULT_COSMOLOGY = {"H0": 70.0, "Om0": 0.3}  # as RealSim (Bottrell et al. 2019)


@lru_cache(maxsize=1)
def _cosmology():
    from astropy.cosmology import FlatLambdaCDM

    return FlatLambdaCDM(**DEFAULT_COSMOLOGY)


@lru_cache(maxsize=4096)
def _kpc_per_arcsec(z: float) -> float:
    return float(_cosmology().kpc_proper_per_arcmin(z).value / 60.0)


@lru_cache(maxsize=4096)
def _distance_modulus(z: float) -> float:
    return float(_cosmology().distmod(z).value)


def _quantised(z: float) -> float:
    # 1e-4 in redshift changes distances by < 0.01 %; quantising makes the caches effective.
    if not z > 0:
        raise RecipeError(f"redshift must be > 0, got {z}")
    return round(float(z), 4)


def kpc_per_arcsec(z: float) -> float:
    """Proper kiloparsecs per arcsecond at redshift ``z`` (flat LambdaCDM, H0 = 70, Omega_m = 0.3)."""
    return _kpc_per_arcsec(_quantised(z))


def distance_modulus(z: float) -> float:
    """5 log10(D_L / 10 pc): apparent minus absolute magnitude before any K-correction.

    Surface-brightness dimming, (1+z)^4 bolometric, follows from the luminosity distance and the
    angular size together, so no separate factor is applied to fluxes.
    """
    return _distance_modulus(_quantised(z))
