"""CNN against the classical fitter on the same simulated stamps: one command, one table.

Per parameter (mag, r_e, n, q, pa): R^2, bias, NMAD and outlier fraction (the Euclid Morphology
Challenge's measures), overall and binned by S/N and by r_e / PSF FWHM, for the CNN and for the
Imfit Sersic fit; the CNN's 1- and 2-sigma coverage; CPU seconds per galaxy of each.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from galmerge.data.imageset import ImageSet
from galmerge.errors import DataError
from galmerge.morphology.targets import PARAMETERS, TARGETS, TRUTH_COLUMNS, regression_metrics, targets_from_table, wrap_pa

__all__ = ["benchmark_morphometry", "format_benchmark", "BenchmarkResult", "score_parameters", "SNR_BINS", "SIZE_BINS"]

SNR_BINS = (10, 30, 100, 300, 1000)
SIZE_BINS = (0, 1, 2, 4, np.inf)  # r_e (major axis) / PSF FWHM


@dataclass
class BenchmarkResult:
    """What :func:`benchmark_morphometry` measured (also written as ``benchmark.json``)."""

    path: Path
    record: dict


def _comparable(name: str, predicted: np.ndarray, truth: Table) -> tuple[np.ndarray, np.ndarray]:
    true = np.asarray(truth[TRUTH_COLUMNS[name]], dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if name == "pa":
        predicted = wrap_pa(predicted, true)
    return predicted, true


def score_parameters(predicted: dict, truth: Table, *, rows=None) -> dict:
    """:func:`regression_metrics` of every parameter (plus ``log_r_e``) on ``rows`` (default all)."""
    rows = np.arange(len(truth)) if rows is None else np.asarray(rows)
    scores = {}
    for name in PARAMETERS:
        p, t = _comparable(name, predicted[name], truth)
        scores[name] = regression_metrics(p[rows], t[rows])
    scores["log_r_e"] = regression_metrics(np.log10(np.clip(np.asarray(predicted["r_e"])[rows], 1e-6, None)), np.log10(np.asarray(truth["r_e_arcsec"])[rows]))
    return scores


def _bins(values: np.ndarray, edges):
    """(low, high, rows) of every bin [low, high) of ``values`` that holds at least 5 stamps."""
    for low, high in zip(edges[:-1], edges[1:]):
        rows = np.flatnonzero((values >= low) & (values < high))
        if len(rows) >= 5:
            yield float(low), float(high), rows


def _binned(predicted: dict, truth: Table, values: np.ndarray, edges) -> list[dict]:
    return [{"low": low, "high": high, "count": int(len(rows)), **score_parameters(predicted, truth, rows=rows)} for low, high, rows in _bins(values, edges)]


def _scores(predicted: dict, truth: Table) -> dict:
    snr = np.asarray(truth["snr"], dtype=np.float64)
    size = np.asarray(truth["r_e_arcsec"]) / np.asarray(truth["psf_fwhm_arcsec"])
    return {"all": score_parameters(predicted, truth), "by_snr": _binned(predicted, truth, snr, SNR_BINS), "by_size_over_psf": _binned(predicted, truth, size, SIZE_BINS)}


def _flat(scores: dict) -> dict:
    """The issue's keys: ``r2`` per parameter, ``bias``, ``nmad``, ``outlier_fraction``."""
    names = list(PARAMETERS) + ["log_r_e"]
    return {key: {name: scores["all"][name][key] for name in names} for key in ("r2", "bias", "nmad", "outlier_fraction")}


def _forecast_scores(imageset: ImageSet, *, progress: bool) -> dict:
    """R^2 that the Fisher forecast allows (:mod:`galmerge.morphology.information`), overall and per S/N and size bin."""
    from galmerge.morphology.information import REPORTED_SIGMA, fisher_forecast

    truth = imageset.meta
    forecast = fisher_forecast(imageset, progress=progress)
    values = {"mag": truth["mag"], "log_r_e": np.log10(np.asarray(truth["r_e_arcsec"], dtype=np.float64)), "n": truth["n"], "q": truth["q"], "pa": truth["pa_deg"]}

    def ceilings(rows):
        return {name: forecast.r2_ceiling(name, values[name], rows=rows) for name in REPORTED_SIGMA}

    def binned(column, edges):
        return [{"low": low, "high": high, "count": int(len(rows)), "r2": ceilings(rows)} for low, high, rows in _bins(column, edges)]

    size = np.asarray(truth["r_e_arcsec"]) / np.asarray(truth["psf_fwhm_arcsec"])
    return {
        "r2": ceilings(np.arange(len(imageset))),
        "by_snr": binned(np.asarray(truth["snr"], dtype=np.float64), SNR_BINS),
        "by_size_over_psf": binned(size, SIZE_BINS),
        "median_sigma": {name: float(np.median(forecast.reported_sigma(name))) for name in REPORTED_SIGMA},
        "method": "Fisher matrix of the noiseless model (k-space renderer) with the set's noise, plus the set's spread as a Gaussian prior",
    }


def benchmark_morphometry(
    run, data, *, out, fitter: bool = True, fitter_rows: int | None = None, fitter_catalog=None, forecast: bool = True, overwrite: bool = False, progress: bool = True
) -> BenchmarkResult:
    """Score a morphometry network and the Imfit fitter on the same stamps with known truth.

    Parameters
    ----------
    run : path
        Run directory (or model file) of ``galmerge morph train``.
    data : ImageSet or path
        A morphometry set (``galmerge mock --task morphometry``); its PSFs are rebuilt from its record.
    out : path
        New folder for ``benchmark.json``, ``predictions.ecsv`` and the figures (the output policy
        of :func:`galmerge.runs.new_output_folder`: ``overwrite`` replaces only an earlier benchmark folder).
    fitter : bool
        Run the fitter too.
    fitter_rows : int, optional
        Fit only the first N stamps (the fitter costs seconds per galaxy); both methods are then
        also scored on exactly those stamps (``same_stamps``).
    fitter_catalog : path, optional
        ``fitter.ecsv`` of an earlier benchmark on the same stamps: reused instead of fitting
        again (its ids must be the set's first rows).
    forecast : bool
        Also give the R^2 an efficient estimator could reach on these stamps (a Fisher forecast,
        about 30-60 ms per 75 px stamp; :mod:`galmerge.morphology.information`).
    """
    import torch

    from galmerge.data.sources import load_imageset
    from galmerge.mocks.morphometry import electrons_per_unit_for, psf_images_for
    from galmerge.morphology.catalog import predict_morphometry
    from galmerge.morphology.fitter import fit_sersic
    from galmerge.morphology.network import MorphometryModel
    from galmerge.runs import new_output_folder

    imageset = data if isinstance(data, ImageSet) else load_imageset(data, progress=progress)
    truth = imageset.meta
    targets_from_table(truth, source=imageset.source)  # refuses a set without truth
    model = MorphometryModel.load(run)
    # Read before the folder is made: an earlier benchmark's fitter.ecsv may lie in the folder --overwrite replaces.
    earlier_fits = Table.read(fitter_catalog, format="ascii.ecsv") if fitter and fitter_catalog is not None else None
    out = new_output_folder(out, kind="morphometry-benchmark", overwrite=overwrite, what="galmerge morphometry benchmark folder")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one core each, as the fitter: seconds per galaxy on the same CPU
    try:
        started = time.process_time()
        catalog = predict_morphometry(model, imageset)
        cnn_seconds = (time.process_time() - started) / len(imageset)
    finally:
        torch.set_num_threads(threads)
    cnn = {name: np.asarray(catalog[name if name != "r_e" else "r_e_arcsec"] if name != "pa" else catalog["pa_deg"]) for name in PARAMETERS}
    record: dict[str, Any] = {"data": str(imageset.source), "n": len(imageset), "cnn": {**_flat(_scores(cnn, truth)), "seconds_per_galaxy": cnn_seconds, "scores": _scores(cnn, truth)}}
    record["cnn"]["coverage"] = _coverage(catalog, truth)
    predictions = Table({"id": imageset.ids, **{f"true_{n}": truth[c] for n, c in TRUTH_COLUMNS.items()}, "snr": truth["snr"], **{f"cnn_{n}": v for n, v in cnn.items()}})
    if fitter:
        rows = np.arange(len(imageset) if fitter_rows is None else min(fitter_rows, len(imageset)))
        if earlier_fits is not None:
            fits = earlier_fits
            rows = np.arange(len(fits))
            if len(fits) > len(imageset) or not np.array_equal(np.asarray(fits["id"]), imageset.ids[rows]):
                raise DataError(f"{fitter_catalog}: its ids are not the first {len(fits)} stamps of {imageset.source}")
        else:
            fits = fit_sersic(imageset[rows], psf_images_for(imageset), electrons_per_unit=electrons_per_unit_for(imageset), progress=progress)
        fitted = {name: np.asarray(fits[name if name not in ("r_e", "pa") else {"r_e": "r_e_arcsec", "pa": "pa_deg"}[name]]) for name in PARAMETERS}
        sub_truth = truth[rows]
        cnn_sub = {k: v[rows] for k, v in cnn.items()}
        record["fitter"] = {
            **_flat(_scores(fitted, sub_truth)),
            "seconds_per_galaxy": float(np.nansum(fits["cpu_seconds"]) / len(rows)),
            "seconds_per_galaxy_median": float(np.nanmedian(fits["cpu_seconds"])),
            "n": int(len(rows)),
            "flagged_fraction": float(np.mean(fits["flag"] > 0)),
            "failed_fraction": float(np.mean(~np.isfinite(fitted["n"]))),
            "scores": _scores(fitted, sub_truth),
            "program": "Imfit (pyimfit), PSF-convolved single Sersic, Levenberg-Marquardt",
        }
        record["same_stamps"] = {"n": int(len(rows)), "cnn": _flat(_scores(cnn_sub, sub_truth)), "fitter": _flat(_scores(fitted, sub_truth))}
        record["speed_ratio"] = record["fitter"]["seconds_per_galaxy"] / max(cnn_seconds, 1e-12)
        for name, values in fitted.items():
            column = np.full(len(imageset), np.nan)
            column[rows] = values
            predictions[f"fitter_{name}"] = column
        fits.write(out / "fitter.ecsv", format="ascii.ecsv", overwrite=True)
    if forecast:
        record["forecast"] = _forecast_scores(imageset, progress=progress)
    predictions.write(out / "predictions.ecsv", format="ascii.ecsv", overwrite=True)
    catalog.write(out / "cnn_catalog.ecsv", format="ascii.ecsv", overwrite=True)
    (out / "benchmark.json").write_text(json.dumps(record, indent=2, default=float))
    _figures(predictions, out)
    return BenchmarkResult(path=out / "benchmark.json", record=record)


def _coverage(catalog: Table, truth: Table) -> dict:
    """Share of truths within 1 and 2 predicted sigma, per network target (68 % and 95 % if calibrated)."""
    true = targets_from_table(truth)
    coverage = {}
    for k, name in enumerate(TARGETS):
        residual = np.abs(np.asarray(catalog[f"target_{name}"]) - true[:, k])
        sigma = np.asarray(catalog[f"target_{name}_sigma"])
        coverage[name] = {"within_1sigma": float(np.mean(residual <= sigma)), "within_2sigma": float(np.mean(residual <= 2 * sigma))}
    return coverage


def _figures(predictions: Table, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = [m for m in ("cnn", "fitter") if f"{m}_n" in predictions.colnames]
    fig, axes = plt.subplots(len(methods), len(PARAMETERS), figsize=(3.2 * len(PARAMETERS), 3.2 * len(methods)), squeeze=False)
    snr = np.asarray(predictions["snr"])
    for i, method in enumerate(methods):
        for j, name in enumerate(PARAMETERS):
            true = np.asarray(predictions[f"true_{name}"], dtype=float)
            pred = np.asarray(predictions[f"{method}_{name}"], dtype=float)
            if name == "pa":
                pred = wrap_pa(pred, true)
            ax = axes[i, j]
            points = ax.scatter(true, pred, c=np.log10(snr), s=4, cmap="viridis", vmin=1, vmax=3)
            low, high = np.nanmin(true), np.nanmax(true)
            ax.plot([low, high], [low, high], "k--", lw=0.8)
            ax.set_xlabel(f"true {name}")
            ax.set_ylabel(f"{method} {name}")
            if name == "r_e":
                ax.set_xscale("log")
                ax.set_yscale("log")
    fig.colorbar(points, ax=axes, label="log10 S/N", shrink=0.6)
    fig.savefig(out / "predicted_vs_true.png", dpi=110)
    plt.close(fig)


def format_benchmark(record: dict) -> str:
    """The benchmark table as text: per method and parameter R^2, bias, NMAD, outliers; per S/N bin R^2."""
    lines: list[str] = []
    for method in ("cnn", "fitter"):
        if method not in record:
            continue
        entry = record[method]
        lines.append(f"{method}: {entry['seconds_per_galaxy']:.4g} CPU-s per galaxy, n = {entry.get('n', record['n'])}")
        lines.append(f"  {'':8s} {'R2':>7s} {'bias':>8s} {'NMAD':>8s} {'outl.':>6s}")
        for name in ("mag", "r_e", "log_r_e", "n", "q", "pa"):
            lines.append(f"  {name:8s} {entry['r2'][name]:7.3f} {entry['bias'][name]:8.4f} {entry['nmad'][name]:8.4f} {entry['outlier_fraction'][name]:6.3f}")
        for entry_bin in entry["scores"]["by_snr"]:
            values = "  ".join(f"{name} {entry_bin[name]['r2']:.3f}/{entry_bin[name]['bias']:+.3f}/{entry_bin[name]['nmad']:.3f}" for name in ("mag", "r_e", "n", "q", "pa"))
            lines.append(f"  S/N {entry_bin['low']:g}-{entry_bin['high']:g} (n={entry_bin['count']}) R2/bias/NMAD: {values}")
    if "coverage" in record.get("cnn", {}):
        lines.append("cnn coverage within 1 sigma (2 sigma): " + ", ".join(f"{k} {v['within_1sigma']:.2f} ({v['within_2sigma']:.2f})" for k, v in record["cnn"]["coverage"].items()))
    if "forecast" in record:
        ceiling = record["forecast"]
        lines.append("Fisher forecast, R2 an efficient estimator could reach: " + ", ".join(f"{k} {v:.3f}" for k, v in ceiling["r2"].items()))
        for entry_bin in ceiling["by_snr"]:
            lines.append(f"  S/N {entry_bin['low']:g}-{entry_bin['high']:g} (n={entry_bin['count']}): " + ", ".join(f"{k} {v:.3f}" for k, v in entry_bin["r2"].items()))
    if "same_stamps" in record:
        same = record["same_stamps"]
        lines.append(f"same {same['n']} stamps, R2 cnn / fitter: " + ", ".join(f"{k} {same['cnn']['r2'][k]:.3f} / {same['fitter']['r2'][k]:.3f}" for k in ("mag", "r_e", "log_r_e", "n", "q", "pa")))
        lines.append(f"fitter / cnn time per galaxy: {record['speed_ratio']:.0f}x")
    return "\n".join(lines)
