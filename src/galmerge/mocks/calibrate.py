"""Calibrating a survey recipe to real pictures of that survey (``galmerge calibrate``).

Given unlabelled real stamps (e.g. the Galaxy Zoo 2 subjects in ``sdss_gz_unlabeled``), the
calibration

1. cuts a bank of real sky backgrounds from them (:class:`~galmerge.mocks.realism.sky.SkyBank`):
   the mocks are then injected into real sky, so the per-channel sky level and noise, their
   correlation and clipping, saturation and field sources are the survey's own;
2. fits the display (Lupton ``stretch``, ``q`` and the red and blue colour scales), the field of
   view in units of R90, and the population shares of non-merger kinds, so that the apparent
   size, brightness, colours, concentration, ellipticity, asymmetry and peaks of the central
   objects match the real ones. The display is fitted by Nelder-Mead on the mean Wasserstein
   distance (in units of the real spread) over those statistics; the shares of galaxy types by
   non-negative least squares of per-type shape histograms against the real ones; the share of
   projected pairs from the rate of frames with a bright neighbour (a second object with a
   quarter of the central object's light within 2 R90), real against mocks without and with
   pairs (the recipe's share is kept where the mock rates cannot tell pairs from single
   galaxies); the field of view by the ratio of median sizes; in a few rounds;
3. writes the calibrated recipe, the sky bank beside it, ``calibration.json`` and a figure of
   every statistic (real, before, after, with KS and Wasserstein distances), and the realism
   score before and after (:mod:`galmerge.mocks.realism_score`).

No label of the real pictures is used. Mock stamps for the fit are made with the survey's small
merger share (the real pictures are mostly non-mergers).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from galmerge.errors import DataError, OutputExistsError, RecipeError
from galmerge.mocks.image_statistics import StatisticTable, measure_image_statistics, neighbour_fraction
from galmerge.mocks.recipes import Recipe, load_recipe, recipe_to_toml

__all__ = ["CalibrationResult", "calibrate_recipe", "load_real_pictures", "CALIBRATED_STATISTICS", "FITTED_KINDS"]

CALIBRATED_STATISTICS = ("centre_brightness", "centre_colour", "centre_colour_middle", "total_flux", "r50_px", "r90_px", "concentration", "ellipticity", "asymmetry", "area_5sigma_px", "n_peaks", "second_peak_ratio")
FITTED_KINDS = ("spheroid", "lenticular", "disk", "edge_on", "clumpy")  # galaxy types, by their shapes
PAIR_KIND = "projected_pair"  # by the rate of bright neighbours
_SHAPE_STATISTICS = ("ellipticity", "concentration", "centre_colour", "asymmetry", "second_peak_ratio", "r50_px")


@dataclass
class CalibrationResult:
    """What :func:`calibrate_recipe` fitted and wrote."""

    recipe: Recipe
    path: Path
    sky_bank: Path
    report: Path
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)


def load_real_pictures(path, *, size: int, progress: bool = True):
    """Real stamps from a folder of pictures, a folder with an ``index.csv``/``labels.csv`` or
    ``images/``, a catalog CSV or an ImageSet file, resized to ``size`` (labels are dropped).

    A corrupt picture is refused with its name (the loaders never skip silently).
    """
    from galmerge.data import load_imageset
    from galmerge.errors import DataFileNotFoundError

    path = Path(path)
    if not path.exists():
        raise DataFileNotFoundError(f"{path}: no such file or folder of real pictures")
    if path.is_dir():
        for name in ("index.csv", "labels.csv"):
            if (path / name).exists():
                path = path / name
                break
        else:
            if (path / "images").is_dir():
                path = path / "images"
    images = load_imageset(str(path), size=size, progress=progress)
    if images.images.shape[1] != 3:
        raise DataError(f"{path}: calibration needs colour pictures (3 bands), got {images.images.shape[1]}")
    if len(images) < 50:
        raise DataError(f"{path}: {len(images)} pictures; calibration needs at least 50")
    return images.images


def _mock_fluxes(recipe: Recipe, kinds, per_kind: int, seed: int, workers, progress: bool):
    """Noiseless flux stamps (bands, nmgy per output pixel) of each kind, their pixel scales and kinds."""
    from galmerge.mocks.generate import MockOptions, generate_mocks

    flux_recipe = recipe.replace(display=None, noise=False, background_sources=False, sky_bank=None)
    images, scales, labels = [], [], []
    for number, kind in enumerate(kinds):
        mocks = generate_mocks(flux_recipe.replace(population={kind: 1.0}), per_kind, seed=seed + 101 * number, options=MockOptions(merger_fraction=0.0), workers=workers, progress=False)
        images.append(mocks.images)
        scales.append(np.asarray(mocks.meta["pixel_scale_arcsec"], dtype=np.float64))
        labels += [kind] * len(mocks)
    return np.concatenate(images), np.concatenate(scales), np.array(labels)


class _Displayer:
    """Turns flux stamps into pictures for a display, on fixed draws of real sky and shot noise."""

    def __init__(self, recipe: Recipe, fluxes: np.ndarray, scales: np.ndarray, bank, seed: int):
        from galmerge.mocks.realism.noise import electrons_per_nanomaggy

        display = recipe.display
        index = {name: i for i, name in enumerate(recipe.band_names)}
        order = [index[name] for name in display.rgb]
        rng = np.random.default_rng(seed)
        electrons = np.array([electrons_per_nanomaggy(zeropoint=recipe.band(name).zeropoint, exptime_s=recipe.exptime_s) for name in display.rgb])
        rgb = fluxes[:, order].astype(np.float64)
        rgb = rgb + rng.normal(size=rgb.shape) * np.sqrt(np.clip(rgb, 0, None) / electrons[None, :, None, None])
        self.rgb = np.moveaxis(rgb * ((display.native_pixel_arcsec or 1.0) / scales)[:, None, None, None] ** 2, 1, 0)  # (3, N, H, W)
        self.skies = np.moveaxis(np.stack([bank.draw(rng) for _ in range(len(fluxes))]), 1, 0)
        if display.scale_scatter_dex > 0:  # each picture's own colour balance, as the generator draws it
            self.rgb = self.rgb * display.scale_gains(rng, len(fluxes))[:, :, None, None]

    def pictures(self, display) -> np.ndarray:
        mapping = display.mapping()
        sky, _ = mapping.inverse(self.skies)
        return np.moveaxis(mapping.to_uint8(self.rgb + sky), 0, 1).astype(np.float32) / 255.0


def _distance(mock: StatisticTable, real: StatisticTable, weights=None) -> dict:
    """Per statistic: Wasserstein-1 distance in units of the real spread (the larger of the
    inter-quartile range / 1.35 and the standard deviation, so a statistic that is mostly one
    value cannot blow it up), and the KS statistic."""
    from scipy.stats import ks_2samp, wasserstein_distance

    out = {}
    for name in CALIBRATED_STATISTICS:
        m, r = mock.column(name), real.column(name)
        spread = max(np.subtract(*np.percentile(r, [75, 25])) / 1.349, r.std(), 1e-6)
        out[name] = {"wasserstein_iqr": float(wasserstein_distance(m, r, u_weights=weights) / spread), "ks": float(ks_2samp(m, r).statistic) if weights is None else None}
    return out


def _histograms(table: StatisticTable, edges: dict, rows=None) -> np.ndarray:
    rows = slice(None) if rows is None else rows
    parts = []
    for name in _SHAPE_STATISTICS:
        counts, _ = np.histogram(np.clip(table.column(name)[rows], edges[name][0], edges[name][-1]), bins=edges[name])
        parts.append(counts / max(counts.sum(), 1))
    return np.concatenate(parts)


def _population_weights(mock: StatisticTable, kinds: np.ndarray, real: StatisticTable, *, pair_share: float) -> dict:
    """Shares of the galaxy types whose mixture of shape histograms is nearest the real one
    (non-negative least squares), scaled to leave ``pair_share`` to projected pairs."""
    from scipy.optimize import nnls

    edges = {name: np.unique(np.percentile(real.column(name), np.linspace(1, 99, 13))) for name in _SHAPE_STATISTICS}
    names = [k for k in FITTED_KINDS if (kinds == k).any()]
    matrix = np.stack([_histograms(mock, edges, kinds == k) for k in names], axis=1)
    weights, _ = nnls(matrix, _histograms(real, edges))
    weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(names), 1 / len(names))
    return {**dict(zip(names, (weights * (1 - pair_share)).tolist())), PAIR_KIND: pair_share}


def _pair_share(pictures: np.ndarray, kinds: np.ndarray, real_rate: float, shares: dict, *, current: float) -> float:
    """The share of projected pairs that makes the mocks' bright-neighbour rate the real one.

    ``current`` (the recipe's share) is kept where the mock pairs' rate does not exceed the
    single galaxies' by two binomial standard errors: with a few dozen stamps per kind and
    rates of about 1 % (SDSS pictures), the fitted share jumped between 0 and the cap of 0.5
    from one round to the next.
    """
    singles = np.isin(kinds, FITTED_KINDS)
    weights = np.array([shares.get(k, 0.0) for k in FITTED_KINDS])
    base = sum(w * neighbour_fraction(pictures[kinds == k]) for k, w in zip(FITTED_KINDS, weights / max(weights.sum(), 1e-12)) if (kinds == k).any()) if singles.any() else 0.0
    n_pairs = int((kinds == PAIR_KIND).sum())
    if n_pairs == 0:
        return current
    pairs = neighbour_fraction(pictures[kinds == PAIR_KIND])
    error = np.sqrt(pairs * (1 - pairs) / n_pairs + base * (1 - base) / max(int(singles.sum()), 1))
    if pairs - base <= 2 * error:
        return current
    return float(np.clip((real_rate - base) / (pairs - base), 0.0, 0.5))


def _fit_display(displayer: _Displayer, display, kinds: np.ndarray, real: StatisticTable, shares: dict, max_evaluations: int):
    from scipy.optimize import minimize

    weights = np.array([shares.get(k, 0.0) for k in kinds])
    counts = {k: max((kinds == k).sum(), 1) for k in set(kinds)}
    weights = weights / np.array([counts[k] for k in kinds])

    def make(x):
        return dataclasses.replace(display, stretch=float(np.exp(x[0])), q=float(np.exp(x[1])), scales=(float(np.exp(x[2])), 1.0, float(np.exp(x[3]))))

    def objective(x):
        stats = measure_image_statistics(displayer.pictures(make(x)), names=CALIBRATED_STATISTICS)
        return float(np.mean([d["wasserstein_iqr"] for d in _distance(stats, real, weights).values()]))

    start = np.log([display.stretch, display.q, display.scales[0], display.scales[2]])
    result = minimize(objective, start, method="Nelder-Mead", options={"maxfev": max_evaluations, "xatol": 0.02, "fatol": 1e-3, "initial_simplex": start + np.vstack([np.zeros(4), 0.4 * np.eye(4)])})
    return make(result.x), float(result.fun)


def calibrate_recipe(recipe, real, out, *, rounds: int = 2, per_kind: int = 80, check_n: int = 800, merger_fraction: float = 0.02, seed: int = 0, max_evaluations: int = 40, cnn: bool = True, workers: int | None = None, overwrite: bool = False, progress: bool = True) -> CalibrationResult:
    """Fit a recipe with a display to real unlabelled pictures and write the calibrated recipe.

    Parameters
    ----------
    recipe : Recipe or str
        A recipe with a ``[display]`` and object-scaled framing (``fov_r90``), e.g. ``sdss-gri``.
    real : path
        Real pictures of the survey (folder, catalog CSV or ImageSet file); labels are ignored.
    out : path
        The calibrated recipe (``.toml``); the sky bank is written beside it
        (``<stem>-sky.npz``) and the report into ``<stem>-calibration/``.
    rounds : int
        Rounds of (population shares, display, field of view).
    per_kind : int
        Mock stamps of each non-merger kind per round.
    check_n : int
        Mock stamps for the before/after comparison and realism scores.
    merger_fraction : float
        Mergers among the comparison mocks (the survey's share: real pictures are mostly
        non-mergers).

    Raises
    ------
    RecipeError
        A recipe without a display or without ``fov_r90``.
    OutputExistsError
        ``out`` (or its sky bank or report folder) exists and ``overwrite`` is off.
    """
    from galmerge.mocks.generate import MockOptions, generate_mocks
    from galmerge.mocks.realism.sky import SkyBank
    from galmerge.mocks.realism_score import realism_score

    recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    if recipe.display is None or recipe.fov_r90 is None:
        raise RecipeError(f"{recipe.source}: calibration fits a display and an object-scaled field of view; the recipe needs [display] and fov_r90")
    out = Path(out)
    if out.suffix != ".toml":
        raise RecipeError(f"{out}: the calibrated recipe is a .toml file")
    bank_path, report_dir = out.with_name(f"{out.stem}-sky.npz"), out.with_name(f"{out.stem}-calibration")
    for path in (out, bank_path, report_dir):
        if path.exists() and not overwrite:
            raise OutputExistsError(f"{path}: already exists; choose another --out or pass --overwrite")
    pictures = load_real_pictures(real, size=recipe.stamp_size, progress=progress)
    real_stats = measure_image_statistics(pictures)
    real_neighbours = neighbour_fraction(pictures)
    bank = SkyBank.from_pictures(pictures, source=str(real), seed=seed)

    def log(message):
        if progress:
            print(f"calibrate: {message}", flush=True)

    log(f"{len(pictures)} real pictures, {len(bank)} sky backgrounds (their sky noise {bank.noise_ratio:.2f}x the pictures' median, {bank.black_share:.0%} of their sky black in one channel)")
    current = recipe
    history = []
    for round_number in range(rounds):
        fluxes, scales, kinds = _mock_fluxes(current, FITTED_KINDS + (PAIR_KIND,), per_kind, seed + 1000 * round_number, workers, progress)
        displayer = _Displayer(current, fluxes, scales, bank, seed + round_number)
        stats = measure_image_statistics(displayer.pictures(current.display))
        recipe_pair_share = current.population_shares().get(PAIR_KIND, 0.0)
        shares = _population_weights(stats, kinds, real_stats, pair_share=recipe_pair_share)
        display, distance = _fit_display(displayer, current.display, kinds, real_stats, shares, max_evaluations)
        pictures_now = displayer.pictures(display)
        stats = measure_image_statistics(pictures_now)
        pair_share = _pair_share(pictures_now, kinds, real_neighbours, shares, current=recipe_pair_share)
        shares = _population_weights(stats, kinds, real_stats, pair_share=pair_share)
        weights = np.array([shares.get(k, 0.0) / max((kinds == k).sum(), 1) for k in kinds])
        mock_size = _weighted_median(stats.column("r90_px"), weights)
        fov = float(np.clip(current.fov_r90 * mock_size / np.median(real_stats.column("r90_px")), 1.0, 100.0))
        others = {k: v for k, v in current.population.items() if k not in FITTED_KINDS + (PAIR_KIND,)}  # flybys, bound pairs: kept
        kept = sum(others.values()) / max(sum(current.population.values()), 1e-12)
        population = {**others, **{k: v * (1 - kept) * sum(current.population.values()) for k, v in shares.items()}}
        current = current.replace(display=display, population=population, framing=dataclasses.replace(current.framing, fov_r90=fov))
        history.append({"round": round_number, "distance": distance, "display": dataclasses.asdict(display), "fov_r90": fov, "population": shares, "neighbour_rate_real": real_neighbours})
        log(f"round {round_number + 1}/{rounds}: mean distance {distance:.3f} spreads, stretch {display.stretch:.3g}, q {display.q:.3g}, fov {fov:.2f} R90")

    report_dir.mkdir(parents=True, exist_ok=True)
    bank.save(bank_path)
    calibrated = current.replace(name=out.stem, description=f"{recipe.description}, calibrated to {Path(real).name}", sky_bank=str(bank_path.resolve()))
    text = recipe_to_toml(calibrated.replace(sky_bank=bank_path.name), header=f"# Calibrated by galmerge calibrate from {recipe.name} against {real} ({len(pictures)} pictures).\n")
    out.write_text(text)
    calibrated = load_recipe(out)

    options = MockOptions(merger_fraction=merger_fraction)
    comparison = {}
    for label, check in (("before", recipe), ("after", calibrated)):
        mocks = generate_mocks(check, check_n, seed=seed + 7, options=options, workers=workers, progress=False)
        stats = measure_image_statistics(mocks.images)
        score = realism_score(mocks.images, pictures, seed=seed, cnn=cnn, mock_statistics=stats, real_statistics=real_stats)
        comparison[label] = {"distances": _distance(stats, real_stats), "realism_statistics_auc": score.statistics_auc, "realism_cnn_auc": score.cnn_auc, "stats": stats}
        log(f"{label}: realism (mock vs real) statistics AUC {score.statistics_auc:.3f}" + (f", CNN AUC {score.cnn_auc:.3f}" if score.cnn_auc is not None else ""))
    _plot(real_stats, comparison, report_dir / "calibration.png")
    record = {
        "recipe": recipe.name, "real": str(real), "n_real": len(pictures), "n_backgrounds": len(bank), "sky_bank_noise_ratio": bank.noise_ratio, "sky_bank_black_share": bank.black_share, "calibrated_recipe": str(out), "sky_bank": str(bank_path),
        "rounds": history, "merger_fraction_of_checks": merger_fraction,
        **{label: {k: v for k, v in entry.items() if k != "stats"} for label, entry in comparison.items()},
    }
    report = report_dir / "calibration.json"
    report.write_text(json.dumps(record, indent=2, default=float))
    return CalibrationResult(calibrated, out, bank_path, report, before=record["before"], after=record["after"])


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def _plot(real: StatisticTable, comparison: dict, path: Path) -> Path:
    from matplotlib.figure import Figure

    names = CALIBRATED_STATISTICS
    columns = 4
    rows = int(np.ceil(len(names) / columns))
    figure = Figure(figsize=(3.0 * columns, 2.3 * rows), dpi=100, layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes, name in zip(grid.ravel(), names):
        values = real.column(name)
        low, high = np.percentile(values, [1, 99])
        bins = np.linspace(low, high, 30) if high > low else 30
        # values beyond the real range fall into the end bins, so that no histogram is empty
        axes.hist(np.clip(values, low, high), bins=bins, density=True, histtype="stepfilled", color="0.8", label="real")
        title = []
        for label, colour in (("before", "tab:red"), ("after", "tab:blue")):
            entry = comparison[label]
            axes.hist(np.clip(entry["stats"].column(name), low, high), bins=bins, density=True, histtype="step", color=colour, label=label)
            distance = entry["distances"][name]
            title.append(f"{label[0]}: W {distance['wasserstein_iqr']:.2f} KS {distance['ks']:.2f}")
        axes.set_title(f"{name}\n" + "  ".join(title), fontsize=7)
        axes.tick_params(labelsize=6)
    for axes in grid.ravel()[len(names) :]:
        axes.set_axis_off()
    grid.ravel()[0].legend(fontsize=6)
    figure.suptitle(f"real vs mock before / after calibration; realism AUC (statistics) {comparison['before']['realism_statistics_auc']:.2f} -> {comparison['after']['realism_statistics_auc']:.2f}", fontsize=9)
    figure.savefig(path)
    return path
