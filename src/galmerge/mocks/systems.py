"""Mock systems: merging pairs and remnants, and the non-mergers that can be mistaken for them.

A system is drawn on a :class:`~galmerge.mocks.light.Grid` in kpc as an *ideal* image per band
(flux in nanomaggies per pixel, before the telescope), together with two component images that
define the ground-truth masks: the light of tidal features and the light of the companion.

Both classes are built from the same galaxies (particle disks with arms, Sersic bulges, bars,
star-forming clumps) drawn by the same functions; the only differences are the physics: a
merger's disks have been through an encounter (:mod:`galmerge.mocks.encounters`).

Colours come from a curved spectrum, log10 f_nu = slope x + curvature x^2 with x the log10 of
the rest-frame wavelength over 0.55 um, whose two coefficients move together with one *colour*
number: 1 is a passive (red-sequence) population, 0 a star-forming (blue-cloud) disk, below 0
young light (outer disks, arms, clumps, streams). Each galaxy draws its own colour by type, so a
sample has a red sequence and a blue cloud with scatter, as a survey does, and its bulge is
redder and its young light bluer than its disk. A crude but redshift-aware stand-in for stellar
population synthesis.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from galmerge.mocks.cosmology import distance_modulus, kpc_per_arcsec
from galmerge.mocks.encounters import EncounterRun, rotation_matrix, sample_disk, time_unit_myr
from galmerge.mocks.framing import petrosian_radius_kpc
from galmerge.mocks.light import Grid, add_gaussian, add_sersic, add_shells, add_stream, render_particles

__all__ = ["GalaxyLook", "RenderedSystem", "GALAXY_TYPES", "draw_look", "render_merger", "render_isolated", "render_projected_pair", "band_fluxes", "random_view", "edge_on_view"]

REFERENCE_WAVELENGTH_UM = 0.55
# (slope, curvature) of the colour-1 (passive) and colour-0 (star-forming) spectra, solved so that
# at z = 0.08 they give SDSS's red sequence (g-r 0.77, r-i 0.41) and blue cloud (g-r 0.45,
# r-i 0.25) (Strateva et al. 2001; Blanton & Moustakas 2009). A pure power law cannot: it makes
# g-r too small for its r-i.
PASSIVE_SPECTRUM = (2.366, -3.887)
STAR_FORMING_SPECTRUM = (1.400, -2.040)
YOUNG_OFFSET = 1.2  # a galaxy's young light is this much bluer in colour than its disk
GALAXY_TYPES = ("spheroid", "lenticular", "disk", "clumpy")


def band_fluxes(abs_mag: float, colour: float, z: float, wavelengths_um: np.ndarray) -> np.ndarray:
    """Observed flux (nmgy) per band of a component of rest-frame 0.55 um absolute AB magnitude ``abs_mag``.

    m = M + DM(z) - 2.5 log10(1+z) - 2.5 (slope x + curvature x^2), x = log10(lambda_obs / (1+z) / 0.55 um):
    the distance modulus, the bandwidth term of an AB magnitude, and the spectrum of ``colour``
    (1 passive, 0 star-forming, negative younger; see the module docstring) sampled at the
    rest-frame wavelength the band sees.
    """
    slope, curvature = (blue + colour * (red - blue) for red, blue in zip(PASSIVE_SPECTRUM, STAR_FORMING_SPECTRUM))
    x = np.log10(np.asarray(wavelengths_um) / (1.0 + z) / REFERENCE_WAVELENGTH_UM)
    mag = abs_mag + distance_modulus(z) - 2.5 * np.log10(1.0 + z) - 2.5 * (slope * x + curvature * x * x)
    return 10.0 ** (-0.4 * (mag - 22.5))


@dataclass
class GalaxyLook:
    """What one galaxy looks like: luminosity, sizes and structure.

    ``disk_kpc`` is the exponential scale length; ``bulge_fraction`` the bulge share of the
    light and ``bulge_kpc`` its half-light radius; ``galaxy_type`` one of :data:`GALAXY_TYPES`;
    ``colour`` the disk's spectrum (1 passive, 0 star-forming; see :func:`band_fluxes`).
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
    galaxy_type: str = "disk"
    colour: float = 0.5

    @property
    def old_colour(self) -> float:
        """Colour of the bulge and halo: redder than the disk, passive in a red galaxy."""
        return 0.75 + 0.25 * self.colour

    @property
    def young_colour(self) -> float:
        """Colour of the young light: outer disk, arms, clumps."""
        return self.colour - YOUNG_OFFSET

    def scaled(self, factor: float) -> "GalaxyLook":
        """The same galaxy with every length multiplied by ``factor``."""
        return GalaxyLook(**{**self.__dict__, "disk_kpc": self.disk_kpc * factor, "bulge_kpc": self.bulge_kpc * factor, "halo_kpc": self.halo_kpc * factor})


def draw_look(rng: np.random.Generator, *, abs_mag: float, z: float, kind: str = "disk") -> GalaxyLook:
    """A galaxy of type ``kind`` (:data:`GALAXY_TYPES`) and absolute magnitude ``abs_mag`` at redshift ``z``.

    - Disks follow R_d = 3 kpc (L / L(M=-21))^0.25 with 0.15 dex scatter, shrinking as
      (1 + z)^-0.75 (van der Wel et al. 2014); bulge-to-total 0-0.35, two-armed spirals in 75 %,
      bars in a third; ``clumpy`` disks carry 3-8 star-forming clumps.
    - Lenticulars: bulge-to-total 0.35-0.65, no arms.
    - Spheroids (ellipticals): Sersic n 3-5.5 holding 85-98 % of the light, the rest a faint
      particle disk. Their Petrosian half-light radius follows Shen et al. (2003)'s early types,
      2.5 kpc (L / L(M=-21))^0.65 with 0.12 dex scatter, shrinking as (1 + z)^-1. Those are
      SDSS Petrosian sizes, which fall short of a concentrated profile's effective radius (0.72
      R_e at n = 4, 0.56 at n = 5.5; Graham et al. 2005), so the whole galaxy is scaled until
      its own Petrosian R50 is the drawn size.
    - Every galaxy has a faint stellar halo (1-5 % of its light, n = 4, 4-8 scale lengths); half
      the disks are lopsided.
    - Colours (:func:`band_fluxes`): spheroids on the red sequence (colour 1.0 +- 0.07),
      lenticulars near it (0.9 +- 0.1), disks redder the larger their bulge (0.3 + B/T, +- 0.25),
      clumpy disks in the blue cloud (-0.4 to 0.3).
    """
    if kind not in GALAXY_TYPES:
        raise ValueError(f"unknown galaxy type {kind!r}; choose one of {GALAXY_TYPES}")
    luminosity = 10 ** (-0.4 * (abs_mag + 21.0))
    scale = 3.0 * luminosity**0.25 * (1.0 + z) ** -0.75 * 10 ** rng.normal(0, 0.15)
    disky = kind in ("disk", "clumpy")
    petrosian_r50 = None
    if kind == "spheroid":
        petrosian_r50 = 2.5 * luminosity**0.65 * (1.0 + z) ** -1.0 * 10 ** rng.normal(0, 0.12)
        bulge_fraction, bulge_n, bulge_kpc, scale = float(rng.uniform(0.85, 0.98)), float(rng.uniform(3.0, 5.5)), petrosian_r50, 0.8 * petrosian_r50
    elif kind == "lenticular":
        bulge_fraction, bulge_n, bulge_kpc = float(rng.uniform(0.35, 0.65)), float(rng.uniform(2.5, 4.0)), float(scale * rng.uniform(0.2, 0.45))
    else:
        bulge_fraction, bulge_n, bulge_kpc = float(rng.uniform(0.0, 0.35)), float(rng.uniform(1.5, 4.0)), float(scale * rng.uniform(0.15, 0.35))
    if kind == "spheroid":
        colour = rng.normal(1.0, 0.07)
    elif kind == "lenticular":
        colour = rng.normal(0.9, 0.1)
    elif kind == "disk":
        colour = rng.normal(0.3 + bulge_fraction, 0.25)
    else:
        colour = rng.uniform(-0.4, 0.3)
    look = GalaxyLook(
        abs_mag=abs_mag,
        disk_kpc=float(scale),
        bulge_fraction=bulge_fraction,
        bulge_n=bulge_n,
        bulge_kpc=bulge_kpc,
        arm_fraction=float(rng.choice([0.0, 0.3], p=[0.25, 0.75])) if disky else 0.0,
        bar_fraction=float(rng.uniform(0.05, 0.12)) if (disky and rng.random() < 0.3) else 0.0,
        bar_angle=float(rng.uniform(0, np.pi)),
        clumps=int(rng.integers(3, 9)) if kind == "clumpy" else 0,
        halo_fraction=float(rng.uniform(0.01, 0.05)),
        halo_kpc=float(scale * rng.uniform(4.0, 8.0)),
        lopsidedness=float(rng.uniform(0.05, 0.35)) if (disky and rng.random() < 0.5) else 0.0,
        galaxy_type=kind,
        colour=float(np.clip(colour, -0.5, 1.2)),
    )
    if petrosian_r50 is None:
        return look
    return look.scaled(petrosian_r50 / petrosian_radius_kpc(look, fraction=0.5))


def random_view(rng: np.random.Generator) -> np.ndarray:
    """A rotation to a line of sight uniform on the sphere, with a random roll."""
    return rotation_matrix(float(np.arccos(rng.uniform(-1, 1))), float(rng.uniform(0, 2 * np.pi))) @ rotation_matrix(0.0, float(rng.uniform(0, 2 * np.pi)))


def edge_on_view(rng: np.random.Generator, *, max_tilt_deg: float = 10.0) -> np.ndarray:
    """A rotation that shows a disk in the x-y plane within ``max_tilt_deg`` of edge-on."""
    inclination = np.pi / 2 + np.radians(rng.uniform(-max_tilt_deg, max_tilt_deg))
    return rotation_matrix(float(inclination), float(rng.uniform(0, 2 * np.pi))) @ rotation_matrix(0.0, float(rng.uniform(0, 2 * np.pi)))


@dataclass
class RenderedSystem:
    """An ideal image per band (nmgy per output pixel) and the light of tidal features and companions."""

    ideal: np.ndarray
    tidal: np.ndarray
    companion: np.ndarray
    meta: dict = field(default_factory=dict)


class _Canvas:
    """Collects particles and analytic components of one system, then renders them at once.

    Each particle carries a spectrum (an index into the canvas's colours: a galaxy's disk and its
    young light). Within a stamp every galaxy is at one redshift, so a spectrum's flux ratios
    between bands are fixed: particles are smoothed once per spectrum (in the first band) and the
    bands are scaled copies, or once per band where that is fewer. The light of tidal and
    companion particles, which only defines masks, is smoothed at one fixed scale.
    """

    def __init__(self, grid: Grid, z: float, wavelengths: np.ndarray):
        self.grid, self.z, self.wavelengths = grid, z, wavelengths
        self.ideal = grid.blank((len(wavelengths),))
        self.tidal = grid.blank()
        self.companion = grid.blank()
        self.points = []  # (xy (N, 2), spectrum index (N,), first-band flux (N,), tidal (N,), companion)
        self.spectra: list[float] = []  # the colour of each spectrum index

    def colours(self, abs_mag: float, colour: float) -> np.ndarray:
        return band_fluxes(abs_mag, colour, self.z, self.wavelengths)

    def spectrum(self, colour: float) -> int:
        """The spectrum index of particles of this colour."""
        if colour not in self.spectra:
            self.spectra.append(colour)
        return self.spectra.index(colour)

    def add_particles(self, xy: np.ndarray, spectrum: np.ndarray, flux: np.ndarray, *, tidal: np.ndarray, companion: bool) -> None:
        self.points.append((xy, spectrum, flux, tidal, companion))

    def add_component(self, draw, flux: np.ndarray, *, role: str = "main", **kwargs) -> None:
        """Draw an analytic component (``add_sersic``, ``add_gaussian``, ...) into the image and the role masks."""
        if role == "main":
            draw(self.ideal, self.grid, flux=flux, **kwargs)
            return
        part = self.grid.blank((len(flux),))
        draw(part, self.grid, flux=flux, **kwargs)
        self.ideal += part
        (self.tidal if role == "tidal" else self.companion)[...] += part.sum(axis=0)

    def render(self) -> RenderedSystem:
        if self.points:
            xy = np.concatenate([p[0] for p in self.points])
            spectrum = np.concatenate([p[1] for p in self.points])
            flux = np.concatenate([p[2] for p in self.points])
            tidal = np.concatenate([p[3] for p in self.points])
            companion = np.concatenate([np.full(len(p[0]), p[4]) for p in self.points])
            reference = np.array([self.colours(0.0, colour) for colour in self.spectra])
            band_ratio = reference / reference[:, :1]  # (spectra, bands)
            all_bands = flux * band_ratio[spectrum].sum(axis=1)
            by_spectrum = len(self.spectra) <= len(self.wavelengths)
            channels = [flux * (spectrum == k) for k in range(len(self.spectra))] if by_spectrum else list((flux[:, None] * band_ratio[spectrum]).T)
            smoothed = render_particles(self.grid, xy[:, 0], xy[:, 1], np.stack(channels + [all_bands * tidal, all_bands * (companion & ~tidal)]))
            count = len(channels)
            self.ideal += np.einsum("sb,shw->bhw", band_ratio, smoothed[:count]) if by_spectrum else smoothed[:count]
            self.tidal += smoothed[count]
            self.companion += smoothed[count + 1]
        return RenderedSystem(self.ideal, self.tidal, self.companion)


def _galaxy_particles(canvas: _Canvas, look: GalaxyLook, radius_in_scale: np.ndarray, arm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spectrum index and first-band flux of a disk's particles: the disk light shared equally,
    outer and arm particles young (bluer)."""
    disk_share = 1.0 - look.bulge_fraction - look.bar_fraction - look.halo_fraction
    n = len(radius_in_scale)
    young = (arm | (radius_in_scale > look.young_radius)).astype(np.int64)
    disk_mag = look.abs_mag - 2.5 * np.log10(max(disk_share, 1e-3))
    colours = (look.colour, look.young_colour)
    per_particle = np.array([canvas.colours(disk_mag, colour)[0] for colour in colours]) / n
    return np.array([canvas.spectrum(colour) for colour in colours])[young], per_particle[young]


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


def _projected_axis_ratio(spin_axis: np.ndarray, intrinsic: float) -> float:
    """Sky axis ratio of an oblate spheroid of intrinsic ratio ``intrinsic`` whose axis is ``spin_axis``."""
    cos_i = abs(spin_axis[2]) / np.linalg.norm(spin_axis)
    return float(np.sqrt(cos_i**2 + intrinsic**2 * (1 - cos_i**2)))


def _add_galaxy_parts(canvas: _Canvas, look: GalaxyLook, *, x: float, y: float, spin_axis: np.ndarray, role: str, rng: np.random.Generator, clump_xy: np.ndarray | None = None) -> None:
    """Bulge, halo, bar and clumps of a galaxy centred at (x, y); ``spin_axis`` is the disk normal seen by the viewer."""
    position_angle = float(np.arctan2(spin_axis[1], spin_axis[0]) + np.pi / 2)
    if look.halo_fraction > 0:
        flux = canvas.colours(look.abs_mag - 2.5 * np.log10(look.halo_fraction), look.old_colour)
        canvas.add_component(add_sersic, flux, role=role, x=x, y=y, half_light_kpc=look.halo_kpc, n=4.0, axis_ratio=float(rng.uniform(0.6, 1.0)), angle=position_angle)
    if look.bulge_fraction > 0:
        flux = canvas.colours(look.abs_mag - 2.5 * np.log10(look.bulge_fraction), look.old_colour)
        # bulges and ellipticals are oblate (intrinsic axis ratio 0.5-0.9) and share the disk's axis
        axis_ratio = _projected_axis_ratio(spin_axis, float(rng.uniform(0.5, 0.9)))
        canvas.add_component(add_sersic, flux, role=role, x=x, y=y, half_light_kpc=look.bulge_kpc, n=look.bulge_n, axis_ratio=axis_ratio, angle=position_angle)
    if look.bar_fraction > 0:
        flux = canvas.colours(look.abs_mag - 2.5 * np.log10(look.bar_fraction), look.colour)
        canvas.add_component(add_gaussian, flux, role=role, x=x, y=y, covariance=_bar_covariance(spin_axis, length_kpc=1.2 * look.disk_kpc, angle=look.bar_angle))
    if look.clumps and clump_xy is not None:
        for cx, cy in clump_xy[: look.clumps]:
            flux = canvas.colours(look.abs_mag - 2.5 * np.log10(rng.uniform(0.02, 0.06)), look.young_colour)
            canvas.add_component(add_gaussian, flux, role=role, x=float(cx), y=float(cy), sigma_kpc=float(rng.uniform(0.2, 0.5)))


def _add_undisturbed(canvas, look, *, x, y, rng, n_particles, role, view):
    positions, radius, arm = sample_disk(n_particles, rng, scale=1.0, arm_fraction=look.arm_fraction, lopsidedness=look.lopsidedness)
    seen = positions @ view.T * look.disk_kpc
    spin_axis = view @ np.array([0.0, 0.0, 1.0])
    spectrum, flux = _galaxy_particles(canvas, look, radius, arm)
    canvas.add_particles(seen[:, :2] + [x, y], spectrum, flux, tidal=np.zeros(n_particles, bool), companion=role == "companion")
    clump_xy = seen[rng.permutation(n_particles)[:10], :2] + [x, y]
    _add_galaxy_parts(canvas, look, x=x, y=y, spin_axis=spin_axis, role=role, rng=rng, clump_xy=clump_xy)


def render_isolated(look: GalaxyLook, grid: Grid, *, z: float, wavelengths: np.ndarray, rng: np.random.Generator, n_particles: int, view: np.ndarray | None = None) -> RenderedSystem:
    """One undisturbed galaxy with its nucleus at (0, 0) kpc, seen along ``view`` (default: a random direction).

    Its disk is a particle disk drawn like the disks of mergers.
    """
    canvas = _Canvas(grid, z, wavelengths)
    _add_undisturbed(canvas, look, x=0.0, y=0.0, rng=rng, n_particles=n_particles, role="main", view=random_view(rng) if view is None else view)
    return canvas.render()


def render_projected_pair(look: GalaxyLook, other: GalaxyLook, grid: Grid, *, z: float, other_z: float, offset_kpc, wavelengths: np.ndarray, rng: np.random.Generator, n_particles: int) -> RenderedSystem:
    """A galaxy at (0, 0) and an unrelated one at redshift ``other_z``, seen ``offset_kpc`` away on the sky.

    The neighbour is drawn at its own distance and scaled to this galaxy's angular scale (so it is
    smaller, fainter and redder or bluer); it has no tidal feature, and its light counts as
    "companion".
    """
    canvas = _Canvas(grid, z, wavelengths)
    _add_undisturbed(canvas, look, x=0.0, y=0.0, rng=rng, n_particles=n_particles, role="main", view=random_view(rng))
    size_factor = kpc_per_arcsec(z) / kpc_per_arcsec(other_z)
    dimming = distance_modulus(other_z) - distance_modulus(z) + 2.5 * np.log10((1 + other_z) / (1 + z))
    seen = other.scaled(size_factor)
    seen.abs_mag = other.abs_mag + dimming
    particles = max(200, int(n_particles * min(1.0, np.sqrt(size_factor))))
    _add_undisturbed(canvas, seen, x=float(offset_kpc[0]), y=float(offset_kpc[1]), rng=rng, n_particles=particles, role="companion", view=random_view(rng))
    return canvas.render()


def render_merger(run: EncounterRun, snapshot: int, view: np.ndarray, grid: Grid, *, look: GalaxyLook, companion_look: GalaxyLook, z: float, wavelengths: np.ndarray, rng: np.random.Generator) -> RenderedSystem:
    """One snapshot of an encounter seen along ``view``, the primary's disk scale length set by ``look``.

    The primary's nucleus (its core) is at (0, 0) kpc, as an isolated galaxy's is. The
    secondary's particles, bulge and clumps count as "companion"; particles pulled out of their
    disks (:meth:`EncounterRun.tidal`) and the parametric shells and streams of minor-merger
    remnants count as "tidal".
    """
    params = run.parameters
    canvas = _Canvas(grid, z, wavelengths)
    unit = look.disk_kpc  # code length unit in kpc
    positions = run.positions[snapshot].astype(np.float64) @ view.T * unit
    cores = run.cores[snapshot].astype(np.float64) @ view.T * unit
    shift = -cores[0, :2]
    tidal = run.tidal(snapshot)
    for which, galaxy in ((0, look), (1, companion_look)):
        members = run.host == which
        scale = 1.0 if which == 0 else params.secondary_scale
        spectrum, flux = _galaxy_particles(canvas, galaxy, run.initial_radius[members] / scale, run.arm[members])
        canvas.add_particles(positions[members, :2] + shift, spectrum, flux, tidal=tidal[members], companion=which == 1)
        spin = rotation_matrix(*(params.spin_primary if which == 0 else params.spin_secondary)) @ np.array([0.0, 0.0, 1.0])
        clump_xy = positions[members][rng.permutation(members.sum())[:10], :2] + shift
        _add_galaxy_parts(canvas, galaxy, x=float(cores[which, 0] + shift[0]), y=float(cores[which, 1] + shift[1]), spin_axis=view @ spin, role="main" if which == 0 else "companion", rng=rng, clump_xy=clump_xy)
    stage = run.stage(snapshot)
    if stage == "remnant" and params.mass_ratio < 0.35:
        total = look.abs_mag - 2.5 * np.log10(1 + params.mass_ratio)
        if rng.random() < 0.6:
            flux = canvas.colours(total - 2.5 * np.log10(rng.uniform(0.02, 0.06)), look.colour)
            canvas.add_component(add_shells, flux, role="tidal", x=0.0, y=0.0, first_radius_kpc=float(rng.uniform(1.5, 3.0) * unit), axis_angle=float(rng.uniform(0, 2 * np.pi)), count=int(rng.integers(3, 7)), rng=rng)
        if rng.random() < 0.4:
            flux = canvas.colours(total - 2.5 * np.log10(rng.uniform(0.01, 0.04)), look.young_colour)
            canvas.add_component(add_stream, flux, role="tidal", x=0.0, y=0.0, radius_kpc=float(rng.uniform(3, 6) * unit), start_angle=float(rng.uniform(0, 2 * np.pi)), length_rad=float(rng.uniform(1.0, 2.5)), width_kpc=float(rng.uniform(0.15, 0.35) * unit))
    rendered = canvas.render()
    separation_3d = float(np.linalg.norm(run.cores[snapshot, 1] - run.cores[snapshot, 0]) * unit)
    rendered.meta = {
        "stage": stage,
        "mass_ratio": params.mass_ratio,
        "separation_kpc": separation_3d,
        "projected_separation_kpc": float(np.linalg.norm(cores[1, :2] - cores[0, :2])),
        "time_since_pericentre_myr": float(run.times[snapshot] * time_unit_myr(unit, galaxy_mass_msun(look))),
    }
    return rendered


def galaxy_mass_msun(look: GalaxyLook) -> float:
    """Dynamical mass of a galaxy for converting code time to Myr: 5e10 Msun at M = -21, proportional to light."""
    return 5e10 * 10 ** (-0.4 * (look.abs_mag + 21.0))
