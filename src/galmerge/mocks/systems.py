"""Mock systems: merging pairs and remnants, and the non-mergers that can be mistaken for them.

A system is drawn on a :class:`~galmerge.mocks.light.Grid` in kpc as an *ideal* image per band
(flux in nanomaggies per pixel, before the telescope), together with two component images that
define the ground-truth masks: the light of tidal features and the light of the companion.

Both classes are built from the same galaxies (particle disks with arms, Sersic bulges, bars,
star-forming clumps) drawn by the same functions; the only differences are the physics: a
merger's disks have been through an encounter (:mod:`galmerge.mocks.encounters`).

Colours use a power-law spectrum per stellar population, f_nu ~ lambda^beta with beta = 1.8
(bulges), 1.0 (disks), 0.0 (young: outer disks, arms, clumps): a crude but redshift-aware
stand-in for stellar population synthesis that makes tails and clumps bluer than bulges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from galmerge.mocks.cosmology import distance_modulus, kpc_per_arcsec
from galmerge.mocks.encounters import EncounterRun, rotation_matrix, sample_disk, time_unit_myr
from galmerge.mocks.light import Grid, add_gaussian, add_sersic, add_shells, add_stream, render_particles

__all__ = ["GalaxyLook", "RenderedSystem", "NON_MERGER_KINDS", "draw_look", "render_merger", "render_non_merger", "band_fluxes", "random_view"]

BETA = {"bulge": 1.8, "disk": 1.0, "young": 0.0}
REFERENCE_WAVELENGTH_UM = 0.55
NON_MERGER_KINDS = ("disk", "spheroid", "clumpy", "projected_pair")


def band_fluxes(abs_mag: float, beta: float, z: float, wavelengths_um: np.ndarray) -> np.ndarray:
    """Observed flux (nmgy) per band of a component of rest-frame 0.55 um absolute AB magnitude ``abs_mag``.

    m = M + DM(z) - 2.5 log10(1+z) - 2.5 beta log10(lambda_obs / (1+z) / 0.55 um): the
    distance modulus, the bandwidth term of an AB magnitude, and the power-law spectrum sampled
    at the rest-frame wavelength the band sees.
    """
    rest = np.asarray(wavelengths_um) / (1.0 + z) / REFERENCE_WAVELENGTH_UM
    mag = abs_mag + distance_modulus(z) - 2.5 * np.log10(1.0 + z) - 2.5 * beta * np.log10(rest)
    return 10.0 ** (-0.4 * (mag - 22.5))


@dataclass
class GalaxyLook:
    """What one galaxy looks like: luminosity, sizes and structure.

    ``disk_kpc`` is the exponential scale length; ``bulge_fraction`` the bulge share of the light.
    """

    abs_mag: float
    disk_kpc: float
    bulge_fraction: float
    bulge_n: float
    bulge_kpc: float
    arm_fraction: float
    bar_fraction: float = 0.0
    bar_angle: float = 0.0
    clumps: int = 0
    young_radius: float = 2.0  # particles beyond this many scale lengths are young (bluer)
    halo_fraction: float = 0.02  # a faint stellar halo, as every real galaxy has
    halo_kpc: float = 10.0
    lopsidedness: float = 0.0


def draw_look(rng: np.random.Generator, *, abs_mag: float, z: float, kind: str = "disk") -> GalaxyLook:
    """A galaxy of absolute magnitude ``abs_mag`` at redshift ``z``.

    Sizes follow a size-luminosity relation, R_d = 3 kpc (L / L(M=-21))^0.25 with 0.15 dex
    scatter, shrinking as (1 + z)^-0.75 (van der Wel et al. 2014's evolution of disks). Spheroids
    are bulge-dominated; clumpy disks carry 3-8 clumps; a third of disks have a bar; half are
    lopsided; every galaxy has a faint stellar halo (1-5 % of its light, n = 4, 4-8 scale lengths).
    """
    scale = 3.0 * 10 ** (-0.1 * (abs_mag + 21.0)) * (1.0 + z) ** -0.75 * 10 ** rng.normal(0, 0.15)
    spheroid = kind == "spheroid"
    return GalaxyLook(
        abs_mag=abs_mag,
        disk_kpc=scale,
        bulge_fraction=float(rng.uniform(0.7, 0.95) if spheroid else rng.uniform(0.0, 0.4)),
        bulge_n=float(rng.uniform(3.0, 5.0) if spheroid else rng.uniform(1.5, 4.0)),
        bulge_kpc=float(scale * (rng.uniform(0.8, 1.6) if spheroid else rng.uniform(0.15, 0.35))),
        arm_fraction=0.0 if spheroid else float(rng.choice([0.0, 0.3], p=[0.4, 0.6])),
        bar_fraction=float(rng.uniform(0.05, 0.12)) if (not spheroid and rng.random() < 0.3) else 0.0,
        bar_angle=float(rng.uniform(0, np.pi)),
        clumps=int(rng.integers(3, 9)) if kind == "clumpy" else 0,
        halo_fraction=float(rng.uniform(0.01, 0.05)),
        halo_kpc=float(scale * rng.uniform(4.0, 8.0)),
        lopsidedness=float(rng.uniform(0.05, 0.35)) if rng.random() < 0.5 else 0.0,
    )


def random_view(rng: np.random.Generator) -> np.ndarray:
    """A rotation to a line of sight uniform on the sphere, with a random roll."""
    return rotation_matrix(float(np.arccos(rng.uniform(-1, 1))), float(rng.uniform(0, 2 * np.pi))) @ rotation_matrix(0.0, float(rng.uniform(0, 2 * np.pi)))


@dataclass
class RenderedSystem:
    """An ideal image per band (nmgy per pixel on the grid) and the light of tidal features and companions."""

    ideal: np.ndarray
    tidal: np.ndarray
    companion: np.ndarray
    meta: dict = field(default_factory=dict)


class _Canvas:
    """Collects particles and analytic components of one system, then renders them at once.

    Particles belong to one of two populations, ``disk`` and ``young``. Within a stamp every
    galaxy is at one redshift, so a population's flux ratios between bands are fixed by its
    spectral slope: particles are smoothed once per population (in the first band) and the bands
    are scaled copies. The light of tidal and companion particles, which only defines masks, is
    smoothed at one fixed scale.
    """

    POPULATIONS = ("disk", "young")

    def __init__(self, grid: Grid, z: float, wavelengths: np.ndarray):
        self.grid, self.z, self.wavelengths = grid, z, wavelengths
        self.ideal = grid.blank((len(wavelengths),))
        self.tidal = grid.blank()
        self.companion = grid.blank()
        self.points = []  # (xy (N, 2), population index (N,), first-band flux (N,), tidal (N,), companion)
        reference = np.array([band_fluxes(0.0, BETA[p], z, wavelengths) for p in self.POPULATIONS])
        self.band_ratio = reference / reference[:, :1]  # (populations, bands)

    def colours(self, abs_mag: float, population: str) -> np.ndarray:
        return band_fluxes(abs_mag, BETA[population], self.z, self.wavelengths)

    def add_particles(self, xy: np.ndarray, population: np.ndarray, flux: np.ndarray, *, tidal: np.ndarray, companion: bool) -> None:
        self.points.append((xy, population, flux, tidal, companion))

    def add_component(self, draw, flux: np.ndarray, *, role: str = "main", **kwargs) -> None:
        """Draw an analytic component (``add_sersic``, ``add_gaussian``, ...) into the image and the role masks."""
        part = self.grid.blank((len(flux),))
        draw(part, self.grid, flux=flux, **kwargs)
        self.ideal += part
        if role == "tidal":
            self.tidal += part.sum(axis=0)
        elif role == "companion":
            self.companion += part.sum(axis=0)

    def render(self) -> RenderedSystem:
        if self.points:
            xy = np.concatenate([p[0] for p in self.points])
            population = np.concatenate([p[1] for p in self.points])
            flux = np.concatenate([p[2] for p in self.points])
            tidal = np.concatenate([p[3] for p in self.points])
            companion = np.concatenate([np.full(len(p[0]), p[4]) for p in self.points])
            weights = np.stack([flux * (population == k) for k in range(len(self.POPULATIONS))])
            smoothed = render_particles(self.grid, xy[:, 0], xy[:, 1], weights)  # (populations, H, W)
            self.ideal += np.einsum("pb,phw->bhw", self.band_ratio, smoothed)
            all_bands = flux * self.band_ratio[population].sum(axis=1)
            roles = render_particles(self.grid, xy[:, 0], xy[:, 1], np.stack([all_bands * tidal, all_bands * (companion & ~tidal)]), scales_px=(2.0,))
            self.tidal += roles[0]
            self.companion += roles[1]
        return RenderedSystem(self.ideal, self.tidal, self.companion)


def _galaxy_particles(canvas: _Canvas, look: GalaxyLook, radius_in_scale: np.ndarray, arm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Population index and first-band flux of a disk's particles: the disk light shared equally,
    outer and arm particles young (bluer)."""
    disk_share = 1.0 - look.bulge_fraction - look.bar_fraction - look.halo_fraction
    n = len(radius_in_scale)
    young = arm | (radius_in_scale > look.young_radius)
    disk_mag = look.abs_mag - 2.5 * np.log10(max(disk_share, 1e-3))
    per_particle = np.array([canvas.colours(disk_mag, p)[0] for p in _Canvas.POPULATIONS]) / n
    population = young.astype(np.int64)
    return population, per_particle[population]


def _bar_covariance(spin_axis: np.ndarray, *, length_kpc: float, angle: float) -> np.ndarray:
    """Sky covariance (kpc^2) of a bar lying in the disk plane at ``angle`` from the line of nodes.

    The bar is an ellipsoid with axes (length, 0.3 length, 0.1 length) along the bar, across it
    in the plane and along the disk normal; its 3-D covariance is projected onto the sky.
    """
    normal = spin_axis / np.linalg.norm(spin_axis)
    node = np.cross([0.0, 0.0, 1.0], normal)
    node = node / np.linalg.norm(node) if np.linalg.norm(node) > 1e-6 else np.array([1.0, 0.0, 0.0])
    across = np.cross(normal, node)
    along = np.cos(angle) * node + np.sin(angle) * across
    side = np.cross(normal, along)
    axes = np.stack([along, side, normal], axis=1)
    covariance = axes @ np.diag(np.array([1.0, 0.3, 0.1]) ** 2 * length_kpc**2) @ axes.T
    return covariance[:2, :2]


def _add_galaxy_parts(canvas: _Canvas, look: GalaxyLook, *, x: float, y: float, spin_axis: np.ndarray, role: str, rng: np.random.Generator, clump_xy: np.ndarray | None = None) -> None:
    """Bulge, bar and clumps of a galaxy centred at (x, y); ``spin_axis`` is the disk normal seen by the viewer."""
    position_angle = float(np.arctan2(spin_axis[1], spin_axis[0]) + np.pi / 2)
    if look.halo_fraction > 0:
        flux = canvas.colours(look.abs_mag - 2.5 * np.log10(look.halo_fraction), "bulge")
        canvas.add_component(add_sersic, flux, role=role, x=x, y=y, half_light_kpc=look.halo_kpc, n=4.0, axis_ratio=float(rng.uniform(0.6, 1.0)), angle=position_angle)
    if look.bulge_fraction > 0:
        flux = canvas.colours(look.abs_mag - 2.5 * np.log10(look.bulge_fraction), "bulge")
        canvas.add_component(add_sersic, flux, role=role, x=x, y=y, half_light_kpc=look.bulge_kpc, n=look.bulge_n, axis_ratio=float(rng.uniform(0.7, 1.0)), angle=position_angle)
    if look.bar_fraction > 0:
        flux = canvas.colours(look.abs_mag - 2.5 * np.log10(look.bar_fraction), "disk")
        canvas.add_component(add_gaussian, flux, role=role, x=x, y=y, covariance=_bar_covariance(spin_axis, length_kpc=1.2 * look.disk_kpc, angle=look.bar_angle))
    if look.clumps and clump_xy is not None:
        for cx, cy in clump_xy[: look.clumps]:
            flux = canvas.colours(look.abs_mag - 2.5 * np.log10(rng.uniform(0.02, 0.06)), "young")
            canvas.add_component(add_gaussian, flux, role=role, x=float(cx), y=float(cy), sigma_kpc=float(rng.uniform(0.2, 0.5)))


def render_non_merger(kind: str, look: GalaxyLook, grid: Grid, *, z: float, wavelengths: np.ndarray, rng: np.random.Generator, n_particles: int = 2400, neighbour: tuple | None = None) -> RenderedSystem:
    """An undisturbed galaxy (``disk``, ``spheroid``, ``clumpy``), or a ``projected_pair``.

    The disk is a particle disk drawn like the disks of mergers, seen from a random direction.
    A projected pair adds ``neighbour = (look, z, dx_kpc, dy_kpc)``: an unrelated galaxy at
    another redshift, drawn at its own distance and scaled to this one's grid (so it is smaller,
    fainter and redder or bluer), with no tidal feature; its light counts as "companion".
    """
    canvas = _Canvas(grid, z, wavelengths)
    _add_undisturbed(canvas, look, z=z, x=0.0, y=0.0, rng=rng, n_particles=n_particles, role="main", size_factor=1.0)
    if kind == "projected_pair" and neighbour is not None:
        other_look, other_z, dx, dy = neighbour
        # the neighbour's kpc seen at our redshift's angular scale
        size_factor = kpc_per_arcsec(z) / kpc_per_arcsec(other_z)
        distance_dimming = distance_modulus(other_z) - distance_modulus(z) + 2.5 * np.log10((1 + other_z) / (1 + z))
        dimmed = GalaxyLook(**{**other_look.__dict__, "abs_mag": other_look.abs_mag + distance_dimming})
        _add_undisturbed(canvas, dimmed, z=z, x=dx, y=dy, rng=rng, n_particles=max(400, n_particles // 2), role="companion", size_factor=size_factor)
    return canvas.render()


def _add_undisturbed(canvas, look, *, z, x, y, rng, n_particles, role, size_factor):
    positions, radius, arm = sample_disk(n_particles, rng, scale=1.0, arm_fraction=look.arm_fraction, lopsidedness=look.lopsidedness)
    view = random_view(rng)
    seen = positions @ view.T * look.disk_kpc * size_factor
    spin_axis = view @ np.array([0.0, 0.0, 1.0])
    population, flux = _galaxy_particles(canvas, look, radius, arm)
    canvas.add_particles(seen[:, :2] + [x, y], population, flux, tidal=np.zeros(n_particles, bool), companion=role == "companion")
    scaled = GalaxyLook(**{**look.__dict__, "disk_kpc": look.disk_kpc * size_factor, "bulge_kpc": look.bulge_kpc * size_factor, "halo_kpc": look.halo_kpc * size_factor})
    clump_xy = seen[rng.permutation(n_particles)[:10], :2] + [x, y]
    _add_galaxy_parts(canvas, scaled, x=x, y=y, spin_axis=spin_axis, role=role, rng=rng, clump_xy=clump_xy)


def render_merger(run: EncounterRun, snapshot: int, view: np.ndarray, grid: Grid, *, look: GalaxyLook, companion_look: GalaxyLook, z: float, wavelengths: np.ndarray, rng: np.random.Generator, centre: np.ndarray | None = None) -> RenderedSystem:
    """One snapshot of an encounter seen along ``view``, the primary's disk scale length set by ``look``.

    The secondary's particles, bulge and clumps count as "companion"; particles pulled out of
    their disks (:meth:`EncounterRun.tidal`) and the parametric shells and streams of minor-merger
    remnants count as "tidal". ``centre`` (kpc, projected) is placed at the grid centre.
    """
    params = run.parameters
    canvas = _Canvas(grid, z, wavelengths)
    unit = look.disk_kpc  # code length unit in kpc
    positions = run.positions[snapshot].astype(np.float64) @ view.T * unit
    cores = run.cores[snapshot].astype(np.float64) @ view.T * unit
    shift = -(centre if centre is not None else cores[0, :2])
    tidal = run.tidal(snapshot)
    for which, galaxy in ((0, look), (1, companion_look)):
        members = run.host == which
        scale = 1.0 if which == 0 else params.secondary_scale
        population, flux = _galaxy_particles(canvas, galaxy, run.initial_radius[members] / scale, run.arm[members])
        canvas.add_particles(positions[members, :2] + shift, population, flux, tidal=tidal[members], companion=which == 1)
        spin = rotation_matrix(*(params.spin_primary if which == 0 else params.spin_secondary)) @ np.array([0.0, 0.0, 1.0])
        clump_xy = positions[members][rng.permutation(members.sum())[:10], :2] + shift
        _add_galaxy_parts(canvas, galaxy, x=float(cores[which, 0] + shift[0]), y=float(cores[which, 1] + shift[1]), spin_axis=view @ spin, role="main" if which == 0 else "companion", rng=rng, clump_xy=clump_xy)
    stage = run.stage(snapshot)
    if stage == "remnant" and params.mass_ratio < 0.35:
        total = look.abs_mag - 2.5 * np.log10(1 + params.mass_ratio)
        remnant_x, remnant_y = float(cores[0, 0] + shift[0]), float(cores[0, 1] + shift[1])
        if rng.random() < 0.6:
            flux = canvas.colours(total - 2.5 * np.log10(rng.uniform(0.02, 0.06)), "disk")
            canvas.add_component(add_shells, flux, role="tidal", x=remnant_x, y=remnant_y, first_radius_kpc=float(rng.uniform(1.5, 3.0) * unit), axis_angle=float(rng.uniform(0, 2 * np.pi)), count=int(rng.integers(3, 7)), rng=rng)
        if rng.random() < 0.4:
            flux = canvas.colours(total - 2.5 * np.log10(rng.uniform(0.01, 0.04)), "young")
            canvas.add_component(add_stream, flux, role="tidal", x=remnant_x, y=remnant_y, radius_kpc=float(rng.uniform(3, 6) * unit), start_angle=float(rng.uniform(0, 2 * np.pi)), length_rad=float(rng.uniform(1.0, 2.5)), width_kpc=float(rng.uniform(0.15, 0.35) * unit))
    rendered = canvas.render()
    mass = 5e10 * 10 ** (-0.4 * (look.abs_mag + 21.0))
    separation_3d = float(np.linalg.norm(run.cores[snapshot, 1] - run.cores[snapshot, 0]) * unit)
    rendered.meta = {
        "stage": stage,
        "mass_ratio": params.mass_ratio,
        "separation_kpc": separation_3d,
        "projected_separation_kpc": float(np.linalg.norm(cores[1, :2] - cores[0, :2])),
        "time_since_pericentre_myr": float(run.times[snapshot] * time_unit_myr(unit, mass)),
    }
    return rendered
