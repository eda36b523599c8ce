"""Sersic parameters as network targets, and back; the Euclid Morphology Challenge's measures of accuracy.

Targets: ``mag`` (AB), ``log_r_e`` (log10 of the major-axis r_e in arcsec), ``n``, ``q``,
``cos2pa``, ``sin2pa``. The angle is learned as (cos 2 pa, sin 2 pa) because pa and pa + 180 are
the same ellipse.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from galmerge.errors import DataError

__all__ = ["TARGETS", "PARAMETERS", "targets_from_table", "parameters_from_targets", "regression_metrics", "wrap_pa"]

TARGETS = ("mag", "log_r_e", "n", "q", "cos2pa", "sin2pa")
PARAMETERS = ("mag", "r_e", "n", "q", "pa")  # what a catalog and a benchmark report
TRUTH_COLUMNS = {"mag": "mag", "r_e": "r_e_arcsec", "n": "n", "q": "q", "pa": "pa_deg"}


def targets_from_table(table: Table, *, source: str = "table") -> np.ndarray:
    """(N, 6) float32 targets from truth columns ``mag``, ``r_e_arcsec``, ``n``, ``q``, ``pa_deg``."""
    missing = [c for c in TRUTH_COLUMNS.values() if c not in table.colnames]
    if missing:
        raise DataError(f"{source}: no truth column(s) {', '.join(missing)} (make a set with `galmerge mock --task morphometry`)")
    pa = np.deg2rad(np.asarray(table["pa_deg"], dtype=np.float64))
    columns = [table["mag"], np.log10(np.asarray(table["r_e_arcsec"], dtype=np.float64)), table["n"], table["q"], np.cos(2 * pa), np.sin(2 * pa)]
    return np.stack([np.asarray(c, dtype=np.float64) for c in columns], axis=1).astype(np.float32)


def parameters_from_targets(mean: np.ndarray, sigma: np.ndarray | None = None) -> dict:
    """Catalog values (and 1-sigma uncertainties ``<name>_err``) from predicted targets.

    r_e's uncertainty is propagated from log10 r_e; the position angle's from the spread of
    (cos 2 pa, sin 2 pa) around the unit circle (half the angle's, in degrees).
    """
    mean = np.asarray(mean, dtype=np.float64)
    values = {
        "mag": mean[:, 0],
        "r_e": 10.0 ** mean[:, 1],
        "n": mean[:, 2],
        "q": mean[:, 3],
        "pa": np.rad2deg(0.5 * np.arctan2(mean[:, 5], mean[:, 4])) % 180.0,
    }
    if sigma is not None:
        sigma = np.asarray(sigma, dtype=np.float64)
        radius = np.maximum(np.hypot(mean[:, 4], mean[:, 5]), 1e-3)
        values.update(
            {
                "mag_err": sigma[:, 0],
                "r_e_err": values["r_e"] * np.log(10) * sigma[:, 1],
                "n_err": sigma[:, 2],
                "q_err": sigma[:, 3],
                "pa_err": np.rad2deg(0.5 * np.minimum(0.5 * (sigma[:, 4] + sigma[:, 5]) / radius, np.pi)),
            }
        )
    return values


def wrap_pa(predicted_deg, true_deg) -> np.ndarray:
    """Predicted angles moved by multiples of 180 deg to within +-90 deg of the truth."""
    difference = (np.asarray(predicted_deg) - np.asarray(true_deg) + 90.0) % 180.0 - 90.0
    return np.asarray(true_deg) + difference


def regression_metrics(predicted, true, *, outlier_threshold: float | None = None) -> dict:
    """R^2, bias (median of predicted - true), NMAD (1.4826 x median |residual - median|) and outlier fraction.

    Outliers are residuals beyond ``outlier_threshold`` (default 5 NMAD) from the median
    residual, the Euclid Morphology Challenge's convention (Bretonniere et al. 2023). Non-finite
    predictions count as outliers and are left out of the other measures.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    finite = np.isfinite(predicted) & np.isfinite(true)
    if finite.sum() < 2:
        return {"r2": float("nan"), "bias": float("nan"), "nmad": float("nan"), "outlier_fraction": float("nan"), "n": int(finite.sum())}
    residual = predicted[finite] - true[finite]
    bias = float(np.median(residual))
    nmad = float(1.4826 * np.median(np.abs(residual - bias)))
    variance = np.var(true[finite])
    r2 = float(1 - np.mean(residual**2) / variance) if variance > 0 else float("nan")
    threshold = outlier_threshold if outlier_threshold is not None else 5 * nmad
    outliers = (np.abs(residual - bias) > threshold).sum() + (~finite).sum()
    return {"r2": r2, "bias": bias, "nmad": nmad, "outlier_fraction": float(outliers / len(predicted)), "n": int(finite.sum())}
