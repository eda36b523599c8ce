"""Labelled mock sets: mergers and non-mergers drawn, framed, centred and observed by one path.

Every stamp, whatever its class, is framed by the Petrosian R90 of its central galaxy and
centred on that galaxy's light (the peak a survey's pipeline would find) moved by one random
offset law (:mod:`galmerge.mocks.framing`);
it is drawn on the same grids with the same components, observed with the same PSF, noise or
real sky and display. What differs is only the physics: a merger's galaxies have been through
an encounter (:mod:`galmerge.mocks.encounters`), inside the recipe's merger definition
(:class:`~galmerge.mocks.recipes.MergerDefinition`). The non-mergers follow the recipe's
population: ellipticals, lenticulars, spirals, edge-on disks, clumpy disks, projected pairs at
the projected separations of the merging pairs (those of the first half of the merger tasks),
flybys and (optionally) bound pairs before their first pericentre.

Work is split into tasks with seeds spawned from the user's seed and the task's index, and
results are assembled in task order, so the output is the same whatever the number of worker
processes. A merger task integrates several encounters at once and renders each a few times
(snapshot, viewing angle, redshift, galaxy look), so the N-body cost is shared.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from astropy.table import Table

from galmerge.data.imageset import ImageSet
from galmerge.data.masks import MASK_BITS
from galmerge.errors import ConfigError
from galmerge.mocks.cosmology import kpc_per_arcsec
from galmerge.mocks.encounters import draw_encounter_parameters, simulate_encounters, time_unit_myr
from galmerge.mocks.framing import centre_offset_px, light_peak_px, petrosian_r90_kpc
from galmerge.mocks.light import Grid
from galmerge.mocks.match import STATISTICS, ks_statistics, measure_statistics
from galmerge.mocks.realism.observe import Observer
from galmerge.mocks.recipes import Recipe, load_recipe
from galmerge.mocks.systems import draw_look, edge_on_view, galaxy_mass_msun, random_view, render_isolated, render_merger, render_projected_pair

__all__ = ["generate_mocks", "MockOptions", "MASK_BITS", "plan_counts"]

GALAXY_TYPE_OF_KIND = {"spheroid": "spheroid", "lenticular": "lenticular", "disk": "disk", "edge_on": "disk", "clumpy": "clumpy"}
MIN_ENCOUNTERS = 10  # encounters a set holds at least (fewer stamps of each when it is small)
_ATTEMPTS = 12  # tries for a view that keeps a pair's companion inside the frame
RECENTRE_PX = 0.25  # a light peak this close to the nucleus keeps the first rendering (see _render_centred)


@dataclass
class MockOptions:
    """How a mock set is split into work; what is drawn comes from the recipe.

    Attributes
    ----------
    merger_fraction : float
        Share of mergers in the output.
    encounters_per_task : int
        Encounters integrated together in one merger task.
    systems_per_task : int
        Non-merger stamps per task.
    """

    merger_fraction: float = 0.5
    encounters_per_task: int = 20
    systems_per_task: int = 150

    def __post_init__(self):
        if not 0 <= self.merger_fraction <= 1:
            raise ConfigError(f"merger_fraction must be in [0, 1], got {self.merger_fraction}")
        if self.encounters_per_task < 1 or self.systems_per_task < 1:
            raise ConfigError("encounters_per_task and systems_per_task must be >= 1")


@dataclass
class _Batch:
    """One task's stamps (float32), masks and metadata, in the order drawn."""

    images: list = field(default_factory=list)
    masks: list = field(default_factory=list)
    meta: list = field(default_factory=list)


def _frame(observer: Observer, rng: np.random.Generator, look, z: float) -> tuple[Grid, float, float]:
    """The stamp's grid in kpc, its pixel scale in arcsec and the galaxy's R90 in kpc.

    The nucleus sits at kpc (0, 0); the grid is centred on minus the frame offset, so the
    nucleus lands at the offset from the stamp centre.
    """
    recipe = observer.recipe
    r90_kpc = petrosian_r90_kpc(look)
    scale = kpc_per_arcsec(z)
    framed_r90_kpc = observer.seeing_blur.petrosian_r90_kpc(look, kpc_per_arcsec=scale, intrinsic_kpc=r90_kpc) if recipe.fov_r90 is not None and recipe.framing.seeing_blurred_r90 else r90_kpc
    pixel_arcsec = observer.pixel_scale(r90_arcsec=framed_r90_kpc / scale)
    pixel_kpc = pixel_arcsec * scale
    offset_kpc = centre_offset_px(rng, recipe.framing) * pixel_kpc
    return Grid(recipe.stamp_size, pixel_kpc, -float(offset_kpc[0]), -float(offset_kpc[1])), pixel_arcsec, r90_kpc


def _render_centred(observer: Observer, render, grid: Grid, pixel_arcsec: float, rng: np.random.Generator):
    """``render(grid)``, framed on the central object's light rather than on its nucleus.

    A survey's pipeline centres an object where its smoothed light peaks; for a nucleus with a
    second one closer than the seeing that lies between them. So every stamp, of either class,
    is rendered once, the peak its smoothed light climbs to from the nucleus is found
    (:func:`~galmerge.mocks.framing.light_peak_px`), and where that lies more than
    :data:`RECENTRE_PX` from the nucleus the same system (the same random draws) is rendered
    again on a grid moved by the difference, so that the light's centre takes the frame offset
    the nucleus had. Returns the rendering and its grid.
    """
    state = rng.bit_generator.state
    rendered = render(grid)
    start = (grid.size - 1) / 2 - np.array([grid.centre_x, grid.centre_y]) / grid.pixel_kpc
    shift = light_peak_px(observer.smoothed_light(rendered.ideal, pixel_arcsec), start) - start
    if np.hypot(*shift) <= RECENTRE_PX:
        return rendered, grid
    grid = dataclasses.replace(grid, centre_x=grid.centre_x + float(shift[0]) * grid.pixel_kpc, centre_y=grid.centre_y + float(shift[1]) * grid.pixel_kpc)
    rng.bit_generator.state = state
    return render(grid), grid


def _placement_px(frame: Grid, grid: Grid) -> dict:
    """Where the central object's centre (its light's peak, the frame offset drawn) and its
    nucleus land, in output pixels from the stamp centre; ``frame`` is the grid drawn,
    ``grid`` the one rendered on (:func:`_render_centred`)."""
    return {"centre_x_px": -frame.centre_x / frame.pixel_kpc, "centre_y_px": -frame.centre_y / frame.pixel_kpc, "nucleus_x_px": -grid.centre_x / grid.pixel_kpc, "nucleus_y_px": -grid.centre_y / grid.pixel_kpc}


def _finish(batch: _Batch, observer: Observer, rendered, pixel_arcsec: float, rng, meta: dict) -> None:
    # Observation draws from its own stream (one number taken from the system's), so the same
    # systems come out at any depth: the number of field sources depends on the depth.
    observation_rng = np.random.default_rng(int(rng.integers(2**63)))
    stamp = observer.observe(rendered.ideal, pixel_scale_arcsec_in=pixel_arcsec, pixel_scale_arcsec=pixel_arcsec, rng=observation_rng, tidal=rendered.tidal, companion=rendered.companion)
    total = stamp.noiseless.sum(axis=0)
    visible = _visibility(observer, pixel_arcsec, total)
    mask = np.zeros(total.shape, np.uint8)
    mask[(stamp.tidal >= visible) & (stamp.tidal >= 0.3 * total)] |= MASK_BITS["tidal"]
    mask[(stamp.companion >= visible) & (stamp.companion >= 0.5 * total)] |= MASK_BITS["companion"]
    stats = measure_statistics(stamp.noiseless, pixel_scale_arcsec=pixel_arcsec)
    batch.images.append(stamp.images.astype(np.float32))  # as the set stores it: half the bytes to send back
    batch.masks.append(mask)
    batch.meta.append({**meta, "pixel_scale_arcsec": pixel_arcsec, "n_field_sources": stamp.n_field_sources, **dict(zip(STATISTICS, stats))})


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
    return float(sum(nanomaggies_from_mag(d) for d in depths) * pixel_arcsec**2)


# Schechter (1976) luminosity function of SDSS galaxies in r (Blanton et al. 2003: M* - 5 log h
# = -20.44, alpha = -1.05), with h = 0.7.
SCHECHTER_M_STAR, SCHECHTER_ALPHA = -21.21, -1.05


def _draw_central(rng: np.random.Generator, recipe: Recipe) -> tuple[float, float]:
    """Absolute magnitude and redshift of a stamp's central galaxy (or merging system), the same law for every class.

    Without a flux limit, both uniform in the recipe's ranges. With one: redshift uniform in
    volume (density ~ z^2 at these redshifts), magnitude from the Schechter function within the
    range, kept when the apparent magnitude M + DM(z) is within the limit (rejection).
    """
    from galmerge.mocks.cosmology import distance_modulus

    if recipe.apparent_mag_limit is None:
        return float(rng.uniform(*recipe.abs_mag)), float(rng.uniform(*recipe.redshift))
    bright, faint = recipe.abs_mag
    grid = np.linspace(bright, faint, 200)
    density = 10 ** (-0.4 * (SCHECHTER_ALPHA + 1) * (grid - SCHECHTER_M_STAR)) * np.exp(-(10 ** (-0.4 * (grid - SCHECHTER_M_STAR))))
    cumulative = np.cumsum(density) / density.sum()
    low, high = recipe.redshift
    for _ in range(10000):
        z = float(np.cbrt(rng.uniform(low**3, high**3)))
        magnitude = float(np.interp(rng.random(), cumulative, grid))
        if magnitude + distance_modulus(z) <= recipe.apparent_mag_limit:
            return magnitude, z
    raise ConfigError(f"recipe {recipe.name}: no galaxy in abs_mag {recipe.abs_mag} and redshift {recipe.redshift} is brighter than apparent_mag_limit {recipe.apparent_mag_limit}")


def _draw_type(rng: np.random.Generator, shares: dict) -> str:
    names, weights = zip(*shares.items())
    return str(rng.choice(names, p=np.asarray(weights) / sum(weights)))


def _base_meta(kind: str, label: int, group: str, z: float, look) -> dict:
    return {"kind": kind, "is_merger": label, "group": group, "redshift": z, "abs_mag": look.abs_mag, "galaxy_type": look.galaxy_type, "stage": "none", "mass_ratio": np.nan, "separation_kpc": np.nan, "projected_separation_kpc": np.nan, "time_since_pericentre_myr": np.nan}


def _galaxy_types(recipe: Recipe) -> dict:
    """Shares of galaxy types among the population's galaxies: both classes are drawn from them."""
    shares = {}
    for kind, share in recipe.population_shares().items():
        if kind in GALAXY_TYPE_OF_KIND:
            shares[GALAXY_TYPE_OF_KIND[kind]] = shares.get(GALAXY_TYPE_OF_KIND[kind], 0.0) + share
    return shares or {"disk": 1.0}


def _encounter_stamp(batch, observer, run, rng, *, kind: str, group: str, window, galaxy_types: dict) -> None:
    """One stamp of an encounter: galaxy looks, redshift, frame, a snapshot inside ``window`` and a view keeping the pair in the frame.

    ``window(times, time_unit_myr)`` returns each snapshot's weight in the draw (0 or False: not
    drawn). The central object (what a survey's pipeline would catalogue, and what sets its
    brightness) is the primary while the nuclei are apart and the whole system once they have
    coalesced, so its absolute magnitude is drawn from the recipe's range like any galaxy's.
    """
    recipe = observer.recipe
    mu = run.parameters.mass_ratio
    magnitude, z = _draw_central(rng, recipe)
    look = draw_look(rng, abs_mag=magnitude, z=z, kind=_draw_type(rng, galaxy_types))
    companion = draw_look(rng, abs_mag=magnitude - 2.5 * np.log10(mu), z=z, kind=_draw_type(rng, galaxy_types))
    companion = companion.scaled(look.disk_kpc * run.parameters.secondary_scale / companion.disk_kpc)  # the dynamics fix its size
    grid, pixel_arcsec, r90_kpc = _frame(observer, rng, look, z)
    weights = np.asarray(window(run.times, time_unit_myr(look.disk_kpc, galaxy_mass_msun(look))), dtype=np.float64)
    if not weights.any():
        weights = np.ones(len(run.times))
    allowed = np.flatnonzero(weights)
    chance = None if np.all(weights[allowed] == weights[allowed[0]]) else weights[allowed] / weights[allowed].sum()
    limit = 0.45 * grid.size * grid.pixel_kpc
    for _attempt in range(_ATTEMPTS):
        snapshot = int(rng.choice(allowed, p=chance))
        view = random_view(rng)
        cores = run.cores[snapshot].astype(np.float64) @ view.T * look.disk_kpc
        if np.all(np.abs(cores[1, :2] - cores[0, :2]) < limit):
            break
    if run.stage(snapshot) != "pair":  # one object: the system holds the drawn magnitude
        fainter = 2.5 * np.log10(1.0 + mu)
        look.abs_mag += fainter
        companion.abs_mag += fainter
    rendered, centred = _render_centred(observer, functools.partial(render_merger, run, snapshot, view, look=look, companion_look=companion, z=z, wavelengths=observer.wavelengths, rng=rng), grid, pixel_arcsec, rng)
    meta = {**_base_meta(kind, int(kind == "merger"), group, z, look), **rendered.meta, "abs_mag": magnitude, "r90_kpc": r90_kpc, **_placement_px(grid, centred)}
    if kind != "merger":
        meta["stage"] = kind
    _finish(batch, observer, rendered, pixel_arcsec, rng, meta)


_OBSERVERS: dict[str, Observer] = {}  # per worker process: PSF images and their transforms outlive a task


def _observer(recipe: Recipe) -> Observer:
    """The process's observer of ``recipe``. Its caches hold PSFs at binned pixel scales, which do
    not depend on which stamps came first, so sharing them keeps the output independent of the
    task order and the worker count."""
    key = repr(recipe)
    if key not in _OBSERVERS:
        if len(_OBSERVERS) > 8:
            _OBSERVERS.clear()
        _OBSERVERS[key] = Observer(recipe)
    return _OBSERVERS[key]


def _merger_task(recipe: Recipe, encounters: int, seed: int, task: int) -> _Batch:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0, task]))
    observer = _observer(recipe)
    definition = recipe.mergers
    params = [draw_encounter_parameters(rng, mass_ratio=definition.mass_ratio, n_particles=definition.n_particles) for _ in range(encounters)]
    runs = simulate_encounters(params, rng)
    galaxy_types = _galaxy_types(recipe)
    batch = _Batch()
    for number, run in enumerate(runs):
        end = run.coalescence_time

        stage_weight = np.array([definition.stage_weights.get(run.stage(i), 0.0) for i in range(len(run.times))])

        def window(times, unit_myr, end=end, stage_weight=stage_weight):
            inside = times >= 0.0
            if end is not None:
                inside &= times <= end + definition.after_coalescence_myr / unit_myr
            weighted = inside * stage_weight
            return weighted if weighted.any() else inside  # no snapshot of a weighted stage: the whole window

        for _ in range(definition.stamps_per_encounter):
            _encounter_stamp(batch, observer, run, rng, kind="merger", group=f"merger-{seed}-{task}-{number}", window=window, galaxy_types=galaxy_types)
    return batch


def _non_merger_task(recipe: Recipe, kinds: list, seed: int, task: int, pair_separations_r90: np.ndarray) -> _Batch:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1, task]))
    observer = _observer(recipe)
    definition = recipe.mergers
    batch = _Batch()
    galaxy_shares = _galaxy_types(recipe)
    # encounters for flybys and bound pairs, integrated together, a few stamps each
    runs = {}
    for kind, flyby in (("flyby", True), ("bound_pair", False)):
        count = kinds.count(kind)
        if count:
            per = definition.stamps_per_encounter
            params = [draw_encounter_parameters(rng, flyby=flyby, mass_ratio=definition.mass_ratio, n_particles=definition.n_particles, duration_after_pericentre=40.0 if flyby else 0.0) for _ in range(math.ceil(count / per))]
            runs[kind] = simulate_encounters(params, rng)
    used = {"flyby": 0, "bound_pair": 0}
    for number, kind in enumerate(kinds):
        group = f"single-{seed}-{task}-{number}"
        if kind in runs:
            which = used[kind] // definition.stamps_per_encounter
            used[kind] += 1
            window = (lambda times, unit: np.ones(len(times), bool)) if kind == "flyby" else (lambda times, unit: times < 0.0)
            _encounter_stamp(batch, observer, runs[kind][which], rng, kind=kind, group=f"{kind}-{seed}-{task}-{which}", window=window, galaxy_types=galaxy_shares)
            continue
        magnitude, z = _draw_central(rng, recipe)
        look = draw_look(rng, abs_mag=magnitude, z=z, kind=GALAXY_TYPE_OF_KIND.get(kind, _draw_type(rng, galaxy_shares)))
        grid, pixel_arcsec, r90_kpc = _frame(observer, rng, look, z)
        meta = {**_base_meta(kind, 0, group, z, look), "r90_kpc": r90_kpc}
        if kind == "projected_pair":
            other_z = z * float(rng.uniform(1.4, 3.0)) if rng.random() < 0.7 else z / float(rng.uniform(1.4, 3.0))
            other = draw_look(rng, abs_mag=float(rng.uniform(*recipe.abs_mag)), z=other_z, kind=_draw_type(rng, galaxy_shares))
            separation = float(rng.choice(pair_separations_r90)) * r90_kpc if len(pair_separations_r90) else float(rng.uniform(0.3, 2.0)) * r90_kpc
            angle = float(rng.uniform(0, 2 * np.pi))
            offset = (separation * np.cos(angle), separation * np.sin(angle))
            rendered, centred = _render_centred(observer, functools.partial(render_projected_pair, look, other, z=z, other_z=other_z, offset_kpc=offset, wavelengths=observer.wavelengths, rng=rng, n_particles=definition.n_particles), grid, pixel_arcsec, rng)
            meta["projected_separation_kpc"] = separation
        else:
            view = edge_on_view(rng) if kind == "edge_on" else None
            rendered, centred = _render_centred(observer, functools.partial(render_isolated, look, z=z, wavelengths=observer.wavelengths, rng=rng, n_particles=definition.n_particles, view=view), grid, pixel_arcsec, rng)
        _finish(batch, observer, rendered, pixel_arcsec, rng, {**meta, **_placement_px(grid, centred)})
    return batch


def _run_task(arguments):
    kind, *rest = arguments
    return _merger_task(*rest) if kind == "merger" else _non_merger_task(*rest)


def _run_tasks(tasks, *, pool, progress: bool, description: str) -> Iterator[_Batch]:
    """Start tasks (queued in ``pool`` when given; run as they are read otherwise) and yield
    their results in task order."""
    from galmerge.display import progress_bar

    mapped = pool.imap(_run_task, tasks) if pool is not None and len(tasks) > 1 else map(_run_task, tasks)
    return progress_bar(mapped, total=len(tasks), desc=description, unit="task", enabled=progress)


@contextlib.contextmanager
def _worker_pool(workers: int):
    if workers <= 1:
        yield None
        return
    import multiprocessing

    # fork where the platform has it: workers start at once and the caller needs no
    # ``if __name__ == "__main__"`` guard. Workers use numpy and scipy, never torch, so a
    # parent's torch threads do not matter to them.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(workers, initializer=_single_threaded) as pool:
        yield pool


def _single_threaded():
    """One BLAS/OpenMP thread per worker: the workers already fill the cores."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def plan_counts(recipe: Recipe, n: int, merger_fraction: float) -> dict:
    """How many stamps of each kind a set of ``n`` holds: mergers, then the population's kinds by largest remainder."""
    n_merger = int(round(n * merger_fraction))
    n_other = n - n_merger
    shares = recipe.population_shares()
    exact = {kind: share * n_other for kind, share in shares.items()}
    counts = {kind: int(math.floor(value)) for kind, value in exact.items()}
    for kind in sorted(exact, key=lambda k: counts[k] - exact[k])[: n_other - sum(counts.values())]:
        counts[kind] += 1
    return {"merger": n_merger, **{k: v for k, v in counts.items() if v > 0}}


def generate_mocks(
    recipe,
    n: int,
    *,
    seed: int = 0,
    options: MockOptions | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> ImageSet:
    """A labelled set of ``n`` mock images as a survey recipe sees them.

    Parameters
    ----------
    recipe : Recipe or str
        A recipe or a recipe name / file (:func:`galmerge.mocks.load_recipe`); its ``[mergers]``
        table defines the mergers and its ``[population]`` the non-mergers.
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
        metadata per image: ``kind`` (merger or a population kind), ``galaxy_type`` of the
        central galaxy, ``stage`` (pair, coalescing, remnant; flyby or bound_pair for those
        kinds; none), ``mass_ratio``, ``separation_kpc`` (3-D), ``projected_separation_kpc``,
        ``time_since_pericentre_myr``, ``redshift``, ``abs_mag`` (of the central galaxy),
        ``r90_kpc`` (its Petrosian R90, which frames the stamp), ``centre_x_px``, ``centre_y_px``,
        ``nucleus_x_px`` and ``nucleus_y_px`` (where its light's centre and its nucleus land,
        from the stamp centre), ``recipe``, ``depth_mu_lim``,
        ``pixel_scale_arcsec``, ``n_field_sources``, noiseless ``magnitude``, ``r50_arcsec``,
        ``concentration``, ``colour`` and ``group`` (the encounter or galaxy an image shows, for
        group-aware splits). The table's ``meta`` holds the KS statistics between the classes,
        the merger definition, the population and the number of encounters.
    """
    recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    options = options or MockOptions()
    if n < 2:
        raise ConfigError(f"n must be >= 2, got {n}")
    counts = plan_counts(recipe, n, options.merger_fraction)
    # Small sets draw fewer stamps per encounter, so that at least MIN_ENCOUNTERS encounters
    # (groups) exist and group-aware splits can give each split some of them.
    per_encounter = max(1, min(recipe.mergers.stamps_per_encounter, counts["merger"] // MIN_ENCOUNTERS))
    if per_encounter != recipe.mergers.stamps_per_encounter:
        recipe = recipe.replace(mergers=dataclasses.replace(recipe.mergers, stamps_per_encounter=per_encounter))
    encounters = math.ceil(counts["merger"] / recipe.mergers.stamps_per_encounter)
    merger_tasks = [("merger", recipe, min(options.encounters_per_task, encounters - start), seed, task) for task, start in enumerate(range(0, encounters, options.encounters_per_task))]
    kinds = [kind for kind, count in counts.items() if kind != "merger" for _ in range(count)]
    kinds = [kinds[i] for i in np.random.default_rng(np.random.SeedSequence([seed, 5])).permutation(len(kinds))]
    assembly = _Assembly(n, counts["merger"], seed)
    with _worker_pool(workers or os.cpu_count() or 1) as pool:
        merger_results = _run_tasks(merger_tasks, pool=pool, progress=progress, description="mergers")
        # Projected pairs take their separations from the pairs of the first half of the merger
        # tasks (in task order, so the output stays independent of the worker count). The
        # non-merger tasks are queued then, behind the other half: no worker waits for the last
        # merger task. (Waiting for all of them left one of two cores idle for ~1 s of a 20 s
        # `galmerge mock --n 4000`.)
        for result in itertools.islice(merger_results, math.ceil(len(merger_tasks) / 2)):
            assembly.add(result, merger=True)
        separations = np.sort([m["projected_separation_kpc"] / m["r90_kpc"] for m in assembly.meta[: assembly.n_mergers_in] if m["stage"] == "pair"])
        other_tasks = [("other", recipe, kinds[start : start + options.systems_per_task], seed, task, separations) for task, start in enumerate(range(0, len(kinds), options.systems_per_task))]
        other_results = _run_tasks(other_tasks, pool=pool, progress=progress, description="non-mergers")
        for result in merger_results:
            assembly.add(result, merger=True)
        for result in other_results:
            assembly.add(result, merger=False)
    return _assemble(recipe, assembly, seed, encounters=encounters)


class _Assembly:
    """The set being filled: each task's stamps go straight to their rows as its result comes in.

    Items are numbered mergers first (in task order, the first ``n_merger``), then non-mergers;
    item i lands in row ``row_of[i]`` of a seeded shuffle. Copying each result as it arrives
    overlaps the copy with the workers' rendering and frees the result at once: assembling 4,000
    `hsc-grizy` stamps at the end had taken 1.4 s of the main process (most of it first touches
    of the 450 MB array), and the set was held twice.
    """

    def __init__(self, n: int, n_merger: int, seed: int):
        self.order = np.random.default_rng(np.random.SeedSequence([seed, 4])).permutation(n)  # row -> item
        self.row_of = np.empty(n, dtype=np.int64)
        self.row_of[self.order] = np.arange(n)
        self.n_merger = n_merger
        self.images: np.ndarray | None = None
        self.masks: np.ndarray | None = None
        self.meta: list = [None] * n  # per item
        self.n_mergers_in, self.n_others_in = 0, 0

    def add(self, batch: _Batch, *, merger: bool) -> None:
        start = self.n_mergers_in if merger else self.n_merger + self.n_others_in
        count = min(len(batch.images), self.n_merger - self.n_mergers_in) if merger else len(batch.images)
        if self.images is None and count:
            self.images = np.empty((len(self.order), *batch.images[0].shape), dtype=np.float32)
            self.masks = np.empty((len(self.order), *batch.masks[0].shape), dtype=np.uint8)
        for k in range(count):
            row = self.row_of[start + k]
            self.images[row] = batch.images[k]  # type: ignore[index]
            self.masks[row] = batch.masks[k]  # type: ignore[index]
            self.meta[start + k] = batch.meta[k]
        if merger:
            self.n_mergers_in += count
        else:
            self.n_others_in += count


def _assemble(recipe: Recipe, assembly: _Assembly, seed: int, *, encounters: int) -> ImageSet:
    rows, order = assembly.meta, assembly.order
    if assembly.n_mergers_in != assembly.n_merger or assembly.n_merger + assembly.n_others_in != len(order):
        raise RuntimeError(f"tasks returned {assembly.n_mergers_in} + {assembly.n_others_in} stamps for a set of {assembly.n_merger} + {len(order) - assembly.n_merger}")
    names = list(dict.fromkeys(k for row in rows for k in row))
    meta = Table(rows=[[rows[i].get(k, np.nan) for k in names] for i in order], names=names)
    meta["id"] = np.arange(len(rows))
    meta.columns.move_to_end("id", last=False)
    meta["recipe"] = recipe.name
    depths = [b.depth_mu_lim for b in recipe.bands]
    meta["depth_mu_lim"] = np.nan if (not recipe.noise or None in depths) else float(np.median(depths))
    labels = np.asarray(meta["is_merger"], dtype=np.int8)
    stats = np.array([[row[s] for s in STATISTICS] for row in (rows[i] for i in order)])
    meta.meta["ks_statistics"] = ks_statistics(stats[labels == 1], stats[labels == 0]) if 0 < labels.sum() < len(labels) else {}
    meta.meta["recipe"] = recipe.name
    meta.meta["merger_definition"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in recipe.mergers.__dict__.items()}
    meta.meta["population"] = recipe.population_shares()
    meta.meta["n_encounters"] = int(encounters)
    meta.meta["sky"] = recipe.sky_bank or ("synthetic" if recipe.noise else "none")
    meta.remove_column("is_merger")
    scale = recipe.pixel_scale_arcsec if (recipe.fov_r90 is None and recipe.display is None) else None
    bands = ("R", "G", "B") if recipe.display else recipe.band_names
    return ImageSet(assembly.images, bands=bands, labels=labels, meta=meta, pixel_scale_arcsec=scale, masks=assembly.masks, source=f"mocks({recipe.name}, n={len(rows)}, seed={seed})")
