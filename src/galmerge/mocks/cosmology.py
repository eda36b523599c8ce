"""Cosmological distances for mocks (astropy), tabulated once per process."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from galmerge.errors import RecipeError

__all__ = ["kpc_per_arcsec", "distance_modulus", "DEFAULT_COSMOLOGY"]

DEFAULT_COSMOLOGY = {"H0": 70.0, "Om0": 0.3}  # as RealSim (Bottrell et al. 2019)

# astropy's per-call overhead (units, quantities) is paid for every stamp, several times in the
# flux-limited draw. Both distances are smooth in log z, so they are tabulated once on a uniform
# grid in log z and interpolated linearly in plain floats (numpy's overhead on scalars would cost
# more than the arithmetic): the error is below 1e-6 (relative) from z = 1e-3 to 20; outside,
# astropy is called directly.
_LOG_Z_FIRST, _LOG_Z_LAST, _TABLE_SIZE = math.log(1e-3), math.log(20.0), 8001
_LOG_Z_STEP = (_LOG_Z_LAST - _LOG_Z_FIRST) / (_TABLE_SIZE - 1)


@lru_cache(maxsize=1)
def _cosmology():
    from astropy.cosmology import FlatLambdaCDM

    return FlatLambdaCDM(**DEFAULT_COSMOLOGY)


@lru_cache(maxsize=1)
def _tables() -> tuple[list[float], list[float]]:
    """log(kpc per arcsec) and the distance modulus on the grid in log z."""
    z = np.exp(_LOG_Z_FIRST + _LOG_Z_STEP * np.arange(_TABLE_SIZE))
    return np.log(_cosmology().kpc_proper_per_arcmin(z).value / 60.0).tolist(), _cosmology().distmod(z).value.tolist()


def _interpolated(table: list[float], log_z: float) -> float:
    position = min((log_z - _LOG_Z_FIRST) / _LOG_Z_STEP, _TABLE_SIZE - 1.0)
    index = min(int(position), _TABLE_SIZE - 2)
    weight = position - index
    return table[index] * (1.0 - weight) + table[index + 1] * weight


def _log_z_in_table(z: float) -> float | None:
    """log z, or None for a redshift outside the table (or a clear error for one that is not > 0)."""
    if not z > 0:
        raise RecipeError(f"redshift must be > 0, got {z}")
    log_z = math.log(z)
    return log_z if _LOG_Z_FIRST <= log_z <= _LOG_Z_LAST else None


def kpc_per_arcsec(z: float) -> float:
    """Proper kiloparsecs per arcsecond at redshift ``z`` (flat LambdaCDM, H0 = 70, Omega_m = 0.3)."""
    log_z = _log_z_in_table(z)
    if log_z is None:
        return float(_cosmology().kpc_proper_per_arcmin(float(z)).value / 60.0)
    return math.exp(_interpolated(_tables()[0], log_z))


def distance_modulus(z: float) -> float:
    """5 log10(D_L / 10 pc): apparent minus absolute magnitude before any K-correction.

    Surface-brightness dimming, (1+z)^4 bolometric, follows from the luminosity distance and the
    angular size together, so no separate factor is applied to fluxes.
    """
    log_z = _log_z_in_table(z)
    if log_z is None:
        return float(_cosmology().distmod(float(z)).value)
    return _interpolated(_tables()[1], log_z)
