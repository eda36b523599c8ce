"""Galaxy encounters in the restricted three-body approximation (Toomre & Toomre 1972).

Two Plummer potentials (the galaxies' cores and haloes) move on a Keplerian orbit about their
common centre of mass; each carries an exponential disk of massless test particles on circular
orbits. The particles feel both potentials, so tidal forces pull out tails, bridges and
plumes; the cores feel each other and a drag on their relative velocity standing in for
dynamical friction, so bound pairs lose orbital energy and coalesce. Restricted models are fast
(a few hundred milliseconds per encounter here) and reproduce the morphology of tidal features,
but not their self-gravity: shells of minor mergers are added parametrically elsewhere
(:mod:`galmerge.mocks.light`).

Units: G = 1, the primary's mass = 1 and its disk scale length = 1. With a scale length of 3
kpc and a mass of 1e11 Msun, one time unit is ~7.8 Myr and one velocity unit ~380 km/s
(:func:`time_unit_myr` converts).

Integration is kick-drift-kick leapfrog with a fixed step, vectorised over the particles of
several encounters at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["EncounterParameters", "EncounterRun", "simulate_encounters", "draw_encounter_parameters", "sample_disk", "time_unit_myr", "rotation_matrix"]

PLUMMER_SCALE = 1.0  # the primary's Plummer scale radius, in its disk scale lengths
HALO_SCALE = 4.0  # dynamical friction acts across the dark halo, far beyond the disk
DISK_EXTENT = 5.0  # disks are truncated at 5 scale lengths


@dataclass(frozen=True)
class EncounterParameters:
    """One encounter.

    Attributes
    ----------
    mass_ratio : float
        Secondary / primary mass, in (0, 1].
    pericentre : float
        Pericentric distance of the initial Keplerian orbit, in primary disk scale lengths.
    eccentricity : float
        1 for a parabolic orbit, < 1 bound, > 1 hyperbolic (flybys).
    drag : float
        Strength of the dynamical-friction drag on the cores (0: none; 0.04-0.25 gives coalescence
        5-100 time units after the first pericentre).
    spin_primary, spin_secondary : (float, float)
        Disk orientations relative to the orbital plane: inclination (0 prograde, pi
        retrograde) and the angle of the line of nodes, in radians.
    n_particles : int
        Test particles in the primary disk; the secondary gets n * sqrt(mass_ratio) (at least n / 3).
    start_separation : float
        Initial core separation.
    duration_after_pericentre : float
        How long to integrate past the first pericentre, in time units.
    """

    mass_ratio: float
    pericentre: float
    eccentricity: float = 1.0
    drag: float = 0.1
    spin_primary: tuple = (0.0, 0.0)
    spin_secondary: tuple = (0.0, 0.0)
    n_particles: int = 2400
    start_separation: float = 12.0
    duration_after_pericentre: float = 90.0

    @property
    def secondary_scale(self) -> float:
        """The secondary's disk scale length (and Plummer radius) relative to the primary's: mass^0.5."""
        return float(np.sqrt(self.mass_ratio))

    @property
    def n_secondary(self) -> int:
        return max(self.n_particles // 3, int(round(self.n_particles * np.sqrt(self.mass_ratio))))


@dataclass
class EncounterRun:
    """Snapshots of one encounter.

    Attributes
    ----------
    parameters : EncounterParameters
    times : ndarray (S,)
        Snapshot times since the first pericentre (negative before it), in time units.
    positions : ndarray (S, N, 3) float32
        Particle positions (primary's particles first), centre-of-mass frame.
    cores : ndarray (S, 2, 3)
        Core positions.
    core_velocities : ndarray (S, 2, 3)
        Core velocities.
    host : ndarray (N,) int8
        0 for the primary's particles, 1 for the secondary's.
    initial_radius : ndarray (N,)
        Each particle's starting radius in its disk, in primary scale lengths.
    arm : ndarray (N,) bool
        Particles that started in a spiral arm (drawn bluer).
    coalescence_time : float or None
        Time since first pericentre after which the cores stay within 0.5 scale lengths.
    """

    parameters: EncounterParameters
    times: np.ndarray
    positions: np.ndarray
    cores: np.ndarray
    core_velocities: np.ndarray
    host: np.ndarray
    initial_radius: np.ndarray
    arm: np.ndarray
    coalescence_time: float | None = None
    separation: np.ndarray = field(default=None)

    def stage(self, index: int) -> str:
        """``pair``, ``coalescing`` or ``remnant`` at snapshot ``index``.

        A pair until the cores come within 1.5 scale lengths for good; coalescing from then
        until 10 time units (~80 Myr) after coalescence; a remnant afterwards.
        """
        t = self.times[index]
        if self.coalescence_time is None or t < self.coalescence_time:
            return "pair" if self.separation[index] >= 1.5 else "coalescing"
        return "coalescing" if t < self.coalescence_time + 10.0 else "remnant"

    def tidal(self, index: int) -> np.ndarray:
        """Particles pulled out of their disks at snapshot ``index`` (tails, bridges, plumes).

        A particle is tidal when its distance from the nearer core exceeds 1.8 times its starting
        radius plus one host scale length: material in tails and bridges, not material captured
        by the other galaxy.
        """
        positions = self.positions[index]
        distance = np.linalg.norm(positions[:, None, :] - self.cores[index][None], axis=2).min(axis=1)
        scale = np.where(self.host == 0, 1.0, self.parameters.secondary_scale)
        return distance > 1.8 * self.initial_radius + scale


def time_unit_myr(scale_length_kpc: float, mass_msun: float) -> float:
    """Myr per code time unit for a primary of this disk scale length and mass."""
    g = 4.30091e-6  # kpc (km/s)^2 / Msun
    velocity = np.sqrt(g * mass_msun / scale_length_kpc)  # km/s
    return float(scale_length_kpc * 3.0857e16 / velocity / 3.15576e13)


def rotation_matrix(inclination: float, node: float) -> np.ndarray:
    """Rotation taking the z axis to a disk spin of the given inclination and line of nodes."""
    ci, si = np.cos(inclination), np.sin(inclination)
    cn, sn = np.cos(node), np.sin(node)
    tilt = np.array([[1, 0, 0], [0, ci, -si], [0, si, ci]])
    turn = np.array([[cn, -sn, 0], [sn, cn, 0], [0, 0, 1]])
    return turn @ tilt


def _plummer_speed(radius, mass, scale):
    return np.sqrt(mass * radius**2 / (radius**2 + scale**2) ** 1.5)


def sample_disk(n: int, rng: np.random.Generator, *, scale: float = 1.0, arm_fraction: float = 0.0, arm_pitch_deg: float = 20.0, thickness: float = 0.05, lopsidedness: float = 0.0):
    """Positions (n, 3) of an exponential disk in its own plane, and which particles are in arms.

    Radii follow the exponential surface density (a Gamma(2) distribution) truncated at 5
    scale lengths. A fraction ``arm_fraction`` of the particles is moved onto a two-armed
    logarithmic spiral of the given pitch angle, so isolated disks and merging disks show arms
    drawn the same way. ``lopsidedness`` (A1, 0-0.5) makes the outer disk brighter on one side,
    Sigma ~ 1 + A1 cos(phi) min(R, 3) / 3: most real disks are lopsided at some level
    (Rix & Zaritsky 1995), so an asymmetric outskirt alone must not mean "merger".
    """
    radius = rng.gamma(2.0, 1.0, size=n)
    while (over := radius > DISK_EXTENT).any():
        radius[over] = rng.gamma(2.0, 1.0, size=over.sum())
    angle = rng.uniform(0, 2 * np.pi, n)
    if lopsidedness > 0:
        weight = 1.0 + lopsidedness * np.cos(angle) * np.minimum(radius, 3.0) / 3.0
        redraw = rng.random(n) * (1.0 + lopsidedness) > weight
        angle[redraw] = np.mod(angle[redraw] + np.pi, 2 * np.pi)  # move the rejected to the heavy side
    arm = rng.random(n) < arm_fraction
    if arm.any():
        winding = 1.0 / np.tan(np.radians(arm_pitch_deg))
        arm_angle = np.log(np.maximum(radius[arm], 0.2)) * winding + rng.integers(0, 2, arm.sum()) * np.pi
        angle[arm] = arm_angle + rng.normal(0, 0.25, arm.sum())
    positions = np.stack([radius * np.cos(angle), radius * np.sin(angle), rng.normal(0, thickness, n)], axis=1) * scale
    return positions, radius * scale, arm


def _initial_orbit(params: EncounterParameters):
    """Relative position and velocity of the secondary on the Keplerian orbit at the start separation."""
    total = 1.0 + params.mass_ratio
    e, rp = params.eccentricity, params.pericentre
    p = rp * (1.0 + e)
    start = params.start_separation
    if e < 1.0:
        start = min(start, p / (1.0 - e) * 0.999)  # no further than apocentre
    cos_f = np.clip((p / start - 1.0) / e, -1.0, 1.0)
    f = -np.arccos(cos_f)  # approaching
    r = p / (1.0 + e * np.cos(f))
    h = np.sqrt(total * p)
    v_r, v_t = total / h * e * np.sin(f), h / r
    position = r * np.array([np.cos(f), np.sin(f), 0.0])
    velocity = v_r * np.array([np.cos(f), np.sin(f), 0.0]) + v_t * np.array([-np.sin(f), np.cos(f), 0.0])
    return position, velocity


def _disk_particles(params: EncounterParameters, rng: np.random.Generator, which: int):
    mass = 1.0 if which == 0 else params.mass_ratio
    scale = 1.0 if which == 0 else params.secondary_scale
    n = params.n_particles if which == 0 else params.n_secondary
    lopsided = float(rng.uniform(0.05, 0.35)) if rng.random() < 0.5 else 0.0
    local, radius, arm = sample_disk(n, rng, scale=scale, arm_fraction=rng.choice([0.0, 0.3], p=[0.4, 0.6]), lopsidedness=lopsided)
    speed = _plummer_speed(np.hypot(local[:, 0], local[:, 1]), mass, PLUMMER_SCALE * scale)
    azimuth = np.arctan2(local[:, 1], local[:, 0])
    velocity = np.stack([-np.sin(azimuth) * speed, np.cos(azimuth) * speed, np.zeros(n)], axis=1)
    rotation = rotation_matrix(*(params.spin_primary if which == 0 else params.spin_secondary))
    return local @ rotation.T, velocity @ rotation.T, radius, arm


def _particle_acceleration(x, y, z, core_x, core_y, core_z, mass, plummer2, out, work):
    """Acceleration of test particles (E, W) from both Plummer cores, written into ``out`` (3 arrays).

    Structure-of-arrays float32 with preallocated work arrays: the step is bound by memory
    traffic over (encounters x particles) arrays, so contiguous single-component arrays and no
    temporaries are what make it fast.
    """
    ax, ay, az = out
    dx, dy, dz, r2, t = work
    ax.fill(0.0)
    ay.fill(0.0)
    az.fill(0.0)
    for k in (0, 1):
        np.subtract(x, core_x[:, k, None], out=dx)
        np.subtract(y, core_y[:, k, None], out=dy)
        np.subtract(z, core_z[:, k, None], out=dz)
        np.multiply(dx, dx, out=r2)
        np.multiply(dy, dy, out=t)
        r2 += t
        np.multiply(dz, dz, out=t)
        r2 += t
        r2 += plummer2[:, k, None]
        np.sqrt(r2, out=t)
        r2 *= t  # r^3
        np.divide(mass[:, k, None], r2, out=r2)  # m / r^3
        dx *= r2
        dy *= r2
        dz *= r2
        ax -= dx
        ay -= dy
        az -= dz


def simulate_encounters(parameters: list[EncounterParameters], rng: np.random.Generator, *, dt: float = 0.1, snapshot_every: float = 2.0) -> list[EncounterRun]:
    """Integrate several encounters together and return their snapshots.

    Particle arrays of all encounters are padded to one length and stepped as one array, which
    keeps numpy's per-call overhead small; an encounter that has reached its end (its
    ``duration_after_pericentre``) leaves the arrays at the next snapshot, so short runs do not
    pay for long ones. ``dt`` = 0.1 time units resolves the innermost disk orbits (periods of 6+
    units) with 60 or more kick-drift-kick steps.
    """
    count = len(parameters)
    sizes = [params.n_particles + params.n_secondary for params in parameters]
    width = max(sizes)
    pos = np.zeros((count, width, 3))
    vel = np.zeros((count, width, 3))
    host = np.zeros((count, width), np.int8)
    radius = np.zeros((count, width))
    arm = np.zeros((count, width), bool)
    for e, params in enumerate(parameters):
        offset = 0
        for which in (0, 1):
            p, v, r, a = _disk_particles(params, rng, which)
            n = len(p)
            pos[e, offset : offset + n], vel[e, offset : offset + n], radius[e, offset : offset + n], arm[e, offset : offset + n] = p, v, r, a
            host[e, offset : offset + n] = which
            offset += n

    mass = np.array([[1.0, p.mass_ratio] for p in parameters])  # (E, 2)
    plummer = np.array([[PLUMMER_SCALE, PLUMMER_SCALE * p.secondary_scale] for p in parameters])
    drag = np.array([p.drag for p in parameters])
    core_pos = np.zeros((count, 2, 3))
    core_vel = np.zeros((count, 2, 3))
    for e, params in enumerate(parameters):
        d, v = _initial_orbit(params)
        share = params.mass_ratio / (1.0 + params.mass_ratio)
        core_pos[e] = [-share * d, (1 - share) * d]
        core_vel[e] = [-share * v, (1 - share) * v]
    # each galaxy's particles start around its own core, moving with it
    gather = host[..., None].astype(np.int64).repeat(3, axis=2)
    pos += np.take_along_axis(core_pos, gather, axis=1)
    vel += np.take_along_axis(core_vel, gather, axis=1)
    softening2 = (plummer**2).sum(axis=1)  # core-core interaction softening
    duration = np.array([p.duration_after_pericentre for p in parameters])

    def core_acceleration(cores, velocities, live):
        d = cores[:, 1] - cores[:, 0]
        separation2 = (d * d).sum(axis=1)
        pull = d * (separation2 + softening2[live])[:, None] ** -1.5
        v_rel = velocities[:, 1] - velocities[:, 0]
        density = (1.0 + separation2 / HALO_SCALE**2) ** -2.0
        friction = -drag[live, None] * density[:, None] * v_rel  # decelerates the relative motion
        total = 1.0 + mass[live, 1]
        acc = np.zeros_like(cores)
        acc[:, 0] = mass[live, 1, None] * pull - (mass[live, 1] / total)[:, None] * friction
        acc[:, 1] = -mass[live, 0, None] * pull + (1.0 / total)[:, None] * friction
        return acc

    # structure of arrays, float32, in a compacted set of live encounters
    live = np.arange(count)
    xyz = [np.ascontiguousarray(pos[..., i], dtype=np.float32) for i in range(3)]
    vxyz = [np.ascontiguousarray(vel[..., i], dtype=np.float32) for i in range(3)]
    plummer2 = (plummer**2).astype(np.float32)
    mass32 = mass.astype(np.float32)

    def work_arrays(shape):
        return [np.empty(shape, np.float32) for _ in range(3)], [np.empty(shape, np.float32) for _ in range(5)]

    acc, work = work_arrays(xyz[0].shape)

    def accelerate():
        cores32 = core_pos.astype(np.float32)
        _particle_acceleration(*xyz, cores32[..., 0], cores32[..., 1], cores32[..., 2], mass32[live], plummer2[live], acc, work)

    steps_per_snapshot = max(1, int(round(snapshot_every / dt)))
    times = [[] for _ in range(count)]
    snapshots = [[] for _ in range(count)]
    core_snapshots = [[] for _ in range(count)]
    velocity_snapshots = [[] for _ in range(count)]
    separation = np.linalg.norm(core_pos[:, 1] - core_pos[:, 0], axis=1)
    pericentre_time = np.full(count, np.nan)
    previous = separation.copy()
    falling = np.ones(count, bool)
    t, step = 0.0, 0
    accelerate()
    core_acc = core_acceleration(core_pos, core_vel, live)
    half, full = np.float32(0.5 * dt), np.float32(dt)
    while len(live):
        if step % steps_per_snapshot == 0:
            frame = np.stack(xyz, axis=-1)
            for row, e in enumerate(live):
                times[e].append(t)
                snapshots[e].append(frame[row, : sizes[e]].copy())
                core_snapshots[e].append(core_pos[row].copy())
                velocity_snapshots[e].append(core_vel[row].copy())
            finished = np.isfinite(pericentre_time[live]) & (t > pericentre_time[live] + duration[live])
            if finished.any():
                keep = ~finished
                live = live[keep]
                xyz = [np.ascontiguousarray(a[keep]) for a in xyz]
                vxyz = [np.ascontiguousarray(a[keep]) for a in vxyz]
                core_pos, core_vel, core_acc = core_pos[keep], core_vel[keep], core_acc[keep]
                previous, falling = previous[keep], falling[keep]
                acc, work = work_arrays(xyz[0].shape)
                if not len(live):
                    break
                accelerate()
        for v, a in zip(vxyz, acc):
            v += half * a
        core_vel += 0.5 * dt * core_acc
        for p, v in zip(xyz, vxyz):
            p += full * v
        core_pos += dt * core_vel
        accelerate()
        core_acc = core_acceleration(core_pos, core_vel, live)
        for v, a in zip(vxyz, acc):
            v += half * a
        core_vel += 0.5 * dt * core_acc
        t += dt
        step += 1
        separation = np.linalg.norm(core_pos[:, 1] - core_pos[:, 0], axis=1)
        turned = falling & (separation > previous) & np.isnan(pericentre_time[live])
        pericentre_time[live[turned]] = t - dt
        falling = separation <= previous
        previous = separation
        if t > 400:  # a hyperbolic or wide orbit that never turned: stop anyway
            pericentre_time[live[np.isnan(pericentre_time[live])]] = 0.0

    runs = []
    for e, params in enumerate(parameters):
        n = sizes[e]
        relative = np.asarray(times[e]) - pericentre_time[e]
        keep = relative <= params.duration_after_pericentre + 1e-9
        cores = np.stack(core_snapshots[e])[keep]
        sep = np.linalg.norm(cores[:, 1] - cores[:, 0], axis=1)
        runs.append(
            EncounterRun(
                parameters=params,
                times=relative[keep],
                positions=np.stack(snapshots[e])[keep],
                cores=cores.astype(np.float32),
                core_velocities=np.stack(velocity_snapshots[e])[keep],
                host=host[e, :n],
                initial_radius=radius[e, :n],
                arm=arm[e, :n],
                coalescence_time=_coalescence_time(relative[keep], sep),
                separation=sep,
            )
        )
    return runs


def _coalescence_time(times: np.ndarray, separation: np.ndarray, threshold: float = 0.5) -> float | None:
    """The first time after which the cores stay within ``threshold`` for the rest of the run."""
    outside = np.flatnonzero(separation >= threshold)
    if len(outside) == 0:
        return float(times[0])
    last = outside[-1]
    if last == len(times) - 1:
        return None
    return float(times[last + 1])


def draw_encounter_parameters(rng: np.random.Generator, *, flyby: bool = False, n_particles: int = 2400, mass_ratio: tuple = (0.1, 1.0), duration_after_pericentre: float | None = None) -> EncounterParameters:
    """Random merger (or flyby) parameters.

    Mergers: mass ratio log-uniform in ``mass_ratio`` (default 1:10 to 1:1), pericentre 1-3.5
    scale lengths, parabolic or bound orbits (eccentricity 0.6-1), drag 0.02-0.1 log-uniform,
    random disk orientations (uniform on the sphere), integrated for 120 time units (~0.9 Gyr)
    after the first pericentre. With that drag the median pair coalesces ~80 units (~600 Myr)
    after the first pericentre and a third take longer than 120, like the 0.3-1.5 Gyr from
    first passage to coalescence of major mergers in full N-body models (Lotz et al. 2008);
    stronger drag made them coalesce within ~300 Myr, and pairs were then rare. Flybys:
    pericentre 5-10, hyperbolic (eccentricity 1.2-2), no drag.
    """

    def spin():
        return (float(np.arccos(rng.uniform(-1, 1))), float(rng.uniform(0, 2 * np.pi)))

    ratio = float(np.exp(rng.uniform(np.log(mass_ratio[0]), np.log(mass_ratio[1]))))
    if flyby:
        return EncounterParameters(
            mass_ratio=ratio, pericentre=float(rng.uniform(5, 10)),
            eccentricity=float(rng.uniform(1.2, 2.0)), drag=0.0, spin_primary=spin(), spin_secondary=spin(),
            n_particles=n_particles, duration_after_pericentre=40.0 if duration_after_pericentre is None else duration_after_pericentre,
        )
    return EncounterParameters(
        mass_ratio=ratio, pericentre=float(rng.uniform(1.0, 3.5)),
        eccentricity=float(rng.choice([1.0, rng.uniform(0.6, 1.0)])), drag=float(np.exp(rng.uniform(np.log(0.02), np.log(0.1)))),
        spin_primary=spin(), spin_secondary=spin(), n_particles=n_particles,
        duration_after_pericentre=120.0 if duration_after_pericentre is None else duration_after_pericentre,
    )
