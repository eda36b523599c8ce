"""Labelled mock sets: mergers and non-mergers drawn, observed with a recipe, and matched in flux, size and colour.

Work is split into tasks with seeds spawned from the user's seed and the task's index, and
results are assembled in task order, so the output is the same whatever the number of worker
processes. Each merger task integrates a few encounters and renders each of them many times
(snapshot, viewing angle, redshift, galaxy look): reusing an encounter is what makes mergers
as cheap as non-mergers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from dataclasses import dataclass, field

import numpy as np
from astropy.table import Table

from galmerge.data.imageset import ImageSet
from galmerge.data.masks import MASK_BITS
from galmerge.errors import ConfigError
from galmerge.mocks.cosmology import kpc_per_arcsec
from galmerge.mocks.encounters import draw_encounter_parameters, simulate_encounters
from galmerge.mocks.light import Grid
from galmerge.mocks.match import STATISTICS, ks_statistics, match_distributions, measure_statistics
from galmerge.mocks.realism.observe import Observer
from galmerge.mocks.recipes import Recipe, load_recipe
from galmerge.mocks.systems import draw_look, random_view, render_merger, render_non_merger

__all__ = ["generate_mocks", "MockOptions", "MASK_BITS", "render_candidates"]

FLYBY_POLICIES = ("exclude", "non-merger", "own-label")
KIND_PROBABILITIES = {"disk": 0.40, "spheroid": 0.25, "clumpy": 0.15, "projected_pair": 0.20}
# Merging galaxies are mostly disks, but early types merge too ("dry" mergers, which show
# shells); drawing both classes from similar galaxies keeps colour from giving the label away.
PROGENITOR_PROBABILITIES = {"disk": 0.70, "spheroid": 0.20, "clumpy": 0.10}


@dataclass
class MockOptions:
    """How a mock set is drawn.

    Attributes
    ----------
    merger_fraction : float
        Share of mergers in the output.
    match : bool
        Match the class-conditional distributions of magnitude, half-light radius, concentration
        and colour (caliper matching; see :mod:`galmerge.mocks.match`).
    flybys : {"exclude", "non-merger", "own-label"}
        Whether close flybys (hyperbolic encounters that do not merge) appear: not at all, as
        non-mergers, or as non-mergers with ``kind = "flyby"`` kept apart for analysis.
    encounters_per_task, stamps_per_encounter : int
    candidate_factor : float
        Candidates drawn per output image before matching.
    n_particles : int
        Test particles per primary disk.
    """

    merger_fraction: float = 0.5
    match: bool = True
    flybys: str = "exclude"
    encounters_per_task: int = 3
    stamps_per_encounter: int = 80
    candidate_factor: float = 2.2
    n_particles: int = 1400

    def __post_init__(self):
        if self.flybys not in FLYBY_POLICIES:
            raise ConfigError(f"flybys must be one of {FLYBY_POLICIES}, got {self.flybys!r}")
        if not 0 < self.merger_fraction < 1:
            raise ConfigError(f"merger_fraction must be in (0, 1), got {self.merger_fraction}")


@dataclass
class _Batch:
    images: list = field(default_factory=list)
    masks: list = field(default_factory=list)
    stats: list = field(default_factory=list)
    meta: list = field(default_factory=list)


def _stamp_grid(observer: Observer, *, z: float, r90_kpc: float) -> tuple[Grid, float]:
    """The fine grid an object is drawn on, and the observed pixel scale."""
    recipe = observer.recipe
    pixel_arcsec = observer.pixel_scale(r90_arcsec=r90_kpc / kpc_per_arcsec(z))
    pixel_kpc = pixel_arcsec * kpc_per_arcsec(z) / recipe.oversample
    return Grid(size=observer.render_size * recipe.oversample, pixel_kpc=pixel_kpc), pixel_arcsec


def _finish(batch: _Batch, observer: Observer, rendered, pixel_arcsec: float, rng, meta: dict) -> None:
    recipe = observer.recipe
    # Observation draws from its own stream (one number taken from the system's), so the same
    # systems come out at any depth: the number of field sources depends on the depth.
    observation_rng = np.random.default_rng(int(rng.integers(2**63)))
    stamp = observer.observe(rendered.ideal, pixel_scale_arcsec_in=pixel_arcsec / recipe.oversample, pixel_scale_arcsec=pixel_arcsec, rng=observation_rng, tidal=rendered.tidal, companion=rendered.companion)
    total = stamp.noiseless.sum(axis=0)
    visible = _visibility(observer, pixel_arcsec, total)
    mask = np.zeros(total.shape, np.uint8)
    mask[(stamp.tidal >= visible) & (stamp.tidal >= 0.3 * total)] |= MASK_BITS["tidal"]
    mask[(stamp.companion >= visible) & (stamp.companion >= 0.5 * total)] |= MASK_BITS["companion"]
    stats = measure_statistics(stamp.noiseless, pixel_scale_arcsec=stamp.pixel_scale_arcsec)
    batch.images.append(stamp.images)
    batch.masks.append(mask)
    batch.stats.append(stats)
    batch.meta.append({**meta, "pixel_scale_arcsec": stamp.pixel_scale_arcsec, "n_field_sources": stamp.n_field_sources, **dict(zip(STATISTICS, stats))})


def _visibility(observer: Observer, pixel_arcsec: float, total: np.ndarray) -> float:
    """Band-summed light per output pixel at which a feature counts as visible.

    A pixel is part of a visible feature when its surface brightness exceeds the recipe's
    surface-brightness limit (what the depth means: such light is detected over 10" boxes),
    also for noiseless renderings; without depths, 1e-4 of the brightest pixel.
    """
    from galmerge.mocks.realism.noise import nanomaggies_from_mag

    depths = [b.depth_mu_lim for b in observer.recipe.bands if b.depth_mu_lim is not None]
    if not depths:
        return 1e-4 * float(total.max())
    output_pixel = pixel_arcsec * observer.render_size / observer.recipe.stamp_size
    return float(sum(nanomaggies_from_mag(d) for d in depths) * output_pixel**2)


def _system_magnitudes(rng, recipe: Recipe, mass_ratio: float = 0.0):
    """System, primary and companion absolute magnitudes: the system's light split in the mass ratio."""
    system = rng.uniform(*recipe.abs_mag)
    primary = system + 2.5 * np.log10(1.0 + mass_ratio)
    return system, primary, primary - 2.5 * np.log10(mass_ratio) if mass_ratio > 0 else None


def _merger_task(recipe: Recipe, options: MockOptions, seed: int, task: int, flyby: bool = False) -> _Batch:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0 if not flyby else 2, task]))
    observer = Observer(recipe)
    params = [draw_encounter_parameters(rng, flyby=flyby, n_particles=options.n_particles) for _ in range(options.encounters_per_task)]
    runs = simulate_encounters(params, rng)
    batch = _Batch()
    wavelengths = observer.wavelengths
    for number, run in enumerate(runs):
        mu = run.parameters.mass_ratio
        group = f"{'flyby' if flyby else 'merger'}-{seed}-{task}-{number}"
        for _ in range(options.stamps_per_encounter):
            z = float(rng.uniform(*recipe.redshift))
            system, primary_mag, companion_mag = _system_magnitudes(rng, recipe, mu)
            progenitors, weights = zip(*PROGENITOR_PROBABILITIES.items())
            look = draw_look(rng, abs_mag=primary_mag, z=z, kind=str(rng.choice(progenitors, p=weights)))
            companion = draw_look(rng, abs_mag=companion_mag, z=z, kind=str(rng.choice(progenitors, p=weights)))
            companion.disk_kpc = look.disk_kpc * run.parameters.secondary_scale  # the dynamics fix its size
            companion.bulge_kpc = min(companion.bulge_kpc, 0.35 * companion.disk_kpc)
            grid, pixel_arcsec = _stamp_grid(observer, z=z, r90_kpc=3.9 * look.disk_kpc)
            half_width = 0.45 * grid.size * grid.pixel_kpc
            for _attempt in range(10):  # a pair's companion must be in the stamp
                snapshot = int(rng.integers(len(run.times)))
                view = random_view(rng)
                cores = run.cores[snapshot].astype(np.float64) @ view.T * look.disk_kpc
                if np.all(np.abs(cores[1, :2] - cores[0, :2]) < half_width):
                    break
            jitter = rng.uniform(-1, 1, 2) * grid.pixel_kpc * recipe.oversample
            rendered = render_merger(run, snapshot, view, grid, look=look, companion_look=companion, z=z, wavelengths=wavelengths, rng=rng, centre=cores[0, :2] + jitter)
            label = 0 if flyby else 1
            kind = "flyby" if flyby else "merger"
            meta = {"kind": kind, "is_merger": label, "group": group, "redshift": z, "abs_mag": system, **rendered.meta}
            if flyby:
                meta["stage"] = "flyby"
            _finish(batch, observer, rendered, pixel_arcsec, rng, meta)
    return batch


def _non_merger_task(recipe: Recipe, options: MockOptions, seed: int, task: int, count: int) -> _Batch:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1, task]))
    observer = Observer(recipe)
    batch = _Batch()
    kinds, weights = zip(*KIND_PROBABILITIES.items())
    for number in range(count):
        z = float(rng.uniform(*recipe.redshift))
        kind = str(rng.choice(kinds, p=weights))
        system, magnitude, _ = _system_magnitudes(rng, recipe)
        look = draw_look(rng, abs_mag=magnitude, z=z, kind=kind)
        grid, pixel_arcsec = _stamp_grid(observer, z=z, r90_kpc=3.9 * look.disk_kpc)
        neighbour = None
        if kind == "projected_pair":
            other_z = z * float(rng.uniform(1.4, 3.0)) if rng.random() < 0.7 else z / float(rng.uniform(1.4, 3.0))
            other = draw_look(rng, abs_mag=float(rng.uniform(*recipe.abs_mag)), z=other_z, kind=str(rng.choice(["disk", "spheroid"])))
            distance = float(rng.uniform(0.6, 2.5)) * 3.9 * look.disk_kpc * 0.5
            distance = min(distance, 0.4 * grid.size * grid.pixel_kpc)
            angle = float(rng.uniform(0, 2 * np.pi))
            neighbour = (other, other_z, distance * np.cos(angle), distance * np.sin(angle))
        rendered = render_non_merger(kind, look, grid, z=z, wavelengths=observer.wavelengths, rng=rng, n_particles=options.n_particles, neighbour=neighbour)
        meta = {"kind": kind, "is_merger": 0, "group": f"single-{seed}-{task}-{number}", "redshift": z, "abs_mag": system, "stage": "none", "mass_ratio": np.nan, "separation_kpc": np.nan, "projected_separation_kpc": np.nan, "time_since_pericentre_myr": np.nan}
        _finish(batch, observer, rendered, pixel_arcsec, rng, meta)
    return batch


def _run_task(arguments):
    kind, recipe, options, seed, task, count = arguments
    if kind == "merger":
        return _merger_task(recipe, options, seed, task)
    if kind == "flyby":
        return _merger_task(recipe, options, seed, task, flyby=True)
    return _non_merger_task(recipe, options, seed, task, count)


def render_candidates(tasks, *, pool=None, progress: bool = True) -> list[_Batch]:
    """Run candidate tasks (in ``pool`` when given), returning results in task order."""
    from galmerge.display import progress_bar

    results = []
    mapped = pool.imap(_run_task, tasks) if pool is not None and len(tasks) > 1 else map(_run_task, tasks)
    for result in progress_bar(mapped, total=len(tasks), desc="rendering mocks", unit="task", enabled=progress):
        results.append(result)
    return results


@contextlib.contextmanager
def _worker_pool(workers: int):
    if workers <= 1:
        yield None
        return
    import multiprocessing

    # fork where the platform has it: workers start at once and the caller needs no
    # ``if __name__ == "__main__"`` guard. Workers use numpy, scipy and GalSim, never torch, so a
    # parent's torch threads do not matter to them.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(workers, initializer=_single_threaded) as pool:
        yield pool


def _single_threaded():
    """One BLAS/OpenMP thread per worker: the workers already fill the cores."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def generate_mocks(
    recipe,
    n: int,
    *,
    seed: int = 0,
    options: MockOptions | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> ImageSet:
    """A labelled, class-balanced set of ``n`` mock images as a survey recipe sees them.

    Parameters
    ----------
    recipe : Recipe or str
        A recipe or a recipe name / file (:func:`galmerge.mocks.load_recipe`).
    n : int
        Images in the output.
    seed : int
        Same seed, same images, whatever ``workers``.
    options : MockOptions, optional
    workers : int, optional
        Processes (default: all cores).

    Returns
    -------
    ImageSet
        Labels ``is_merger``; ground-truth masks (bit 1 tidal features, bit 2 companions);
        metadata per image: ``kind`` (merger, disk, spheroid, clumpy, projected_pair, flyby),
        ``stage`` (pair, coalescing, remnant, none), ``mass_ratio``, ``separation_kpc`` (3-D),
        ``projected_separation_kpc``, ``time_since_pericentre_myr``, ``redshift``, ``abs_mag``,
        ``recipe``, ``depth_mu_lim``, ``pixel_scale_arcsec``, ``n_field_sources`` (field galaxies
        and stars added around the system), the matched statistics
        (``magnitude``, ``r50_arcsec``, ``colour``) and ``group`` (the encounter or galaxy an
        image shows, for group-aware splits). The metadata table's ``meta`` holds the KS
        statistics between classes before and after matching.
    """
    recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    options = options or MockOptions()
    if n < 2:
        raise ConfigError(f"n must be >= 2, got {n}")
    n_merger = int(round(n * options.merger_fraction))
    n_other = n - n_merger
    pools = {"merger": _Batch(), "other": _Batch()}
    rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
    with _worker_pool(workers or os.cpu_count() or 1) as pool:
        merger_rows, other_rows, report = _draw_rounds(recipe, options, seed, n_merger, n_other, pools, pool, rng, progress)
    return _assemble(recipe, pools, merger_rows, other_rows, report, seed)


def _draw_rounds(recipe, options, seed, n_merger, n_other, pools, pool, rng, progress):
    """Draw candidates until matching leaves enough of both classes (at most 6 rounds)."""
    factor = options.candidate_factor if options.match else 1.0
    per_task = options.encounters_per_task * options.stamps_per_encounter
    next_task = {"merger": 0, "other": 0, "flyby": 0}
    for _round in range(6):
        need_merger = max(0, math.ceil(n_merger * factor) - len(pools["merger"].stats))
        need_other = max(0, math.ceil(n_other * factor) - len(pools["other"].stats))
        # small requests get small tasks: no more stamps per encounter than a round needs
        merger_options = dataclasses.replace(options, stamps_per_encounter=max(1, min(options.stamps_per_encounter, math.ceil(need_merger / options.encounters_per_task))))
        tasks = []
        for _ in range(math.ceil(need_merger / per_task)):
            tasks.append(("merger", recipe, merger_options, seed, next_task["merger"], 0))
            next_task["merger"] += 1
        if options.flybys != "exclude" and need_other:
            tasks.append(("flyby", recipe, merger_options, seed, next_task["flyby"], 0))
            next_task["flyby"] += 1
        for _ in range(math.ceil(need_other / per_task)):
            tasks.append(("other", recipe, options, seed, next_task["other"], min(per_task, need_other)))
            next_task["other"] += 1
        for task, result in zip(tasks, render_candidates(tasks, pool=pool, progress=progress)):
            target = pools["merger" if task[0] == "merger" else "other"]
            for name in ("images", "masks", "stats", "meta"):
                getattr(target, name).extend(getattr(result, name))
        merger_rows, other_rows, report = _select(pools, n_merger, n_other, options, rng)
        if merger_rows is not None:
            return merger_rows, other_rows, report
        factor *= 1.3  # matching rejected too many: draw more candidates
    raise ConfigError("could not match the class distributions after 6 rounds; try match=False")


def _select(pools, n_merger, n_other, options, rng):
    stats_m, stats_o = np.array(pools["merger"].stats), np.array(pools["other"].stats)
    report = {"before": ks_statistics(stats_m, stats_o)}
    if options.match:
        keep_m, keep_o = match_distributions(stats_m, stats_o, rng=rng)
    else:
        keep_m, keep_o = np.arange(len(stats_m)), np.arange(len(stats_o))
    if len(keep_m) < n_merger or len(keep_o) < n_other:
        return None, None, report
    rows_m = np.sort(rng.choice(keep_m, n_merger, replace=False))
    rows_o = np.sort(rng.choice(keep_o, n_other, replace=False))
    report["after"] = ks_statistics(stats_m[rows_m], stats_o[rows_o])
    return rows_m, rows_o, report


def _assemble(recipe, pools, merger_rows, other_rows, report, seed) -> ImageSet:
    chosen = [("merger", r) for r in merger_rows] + [("other", r) for r in other_rows]
    order = np.random.default_rng(np.random.SeedSequence([seed, 4])).permutation(len(chosen))
    chosen = [chosen[i] for i in order]
    images = np.stack([pools[p].images[r] for p, r in chosen]).astype(np.float32)
    masks = np.stack([pools[p].masks[r] for p, r in chosen])
    rows = [pools[p].meta[r] for p, r in chosen]
    meta = Table(rows=[[row[k] for k in rows[0]] for row in rows], names=list(rows[0]))
    meta["id"] = np.arange(len(rows))
    meta.columns.move_to_end("id", last=False)
    meta["recipe"] = recipe.name
    depths = [b.depth_mu_lim for b in recipe.bands]
    meta["depth_mu_lim"] = np.nan if (not recipe.noise or None in depths) else float(np.median(depths))
    meta.meta["ks_statistics"] = report
    meta.meta["recipe"] = recipe.name
    labels = np.asarray(meta["is_merger"], dtype=np.int8)
    meta.remove_column("is_merger")
    scale = None if recipe.fov_r90 is not None else (recipe.pixel_scale_arcsec if recipe.display is None else None)
    bands = ("R", "G", "B") if recipe.display else recipe.band_names
    return ImageSet(images, bands=bands, labels=labels, meta=meta, pixel_scale_arcsec=scale, masks=masks, source=f"mocks({recipe.name}, n={len(chosen)}, seed={seed})")
