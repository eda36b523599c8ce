"""The restricted three-body model: conservation without drag, coalescence with it, tails for the right reasons."""

import numpy as np
import pytest

from galmerge.mocks.encounters import PLUMMER_SCALE, EncounterParameters, draw_encounter_parameters, simulate_encounters, time_unit_myr


def orbit_energy_and_momentum(run):
    mu = run.parameters.mass_ratio
    d = run.cores[:, 1].astype(np.float64) - run.cores[:, 0]
    v = run.core_velocities[:, 1] - run.core_velocities[:, 0]
    softening2 = PLUMMER_SCALE**2 * (1 + mu)  # a1^2 + a2^2 with a2 = a1 sqrt(mu)
    reduced = mu / (1 + mu)
    energy = reduced * (0.5 * (v * v).sum(axis=1)) - mu / np.sqrt((d * d).sum(axis=1) + softening2)
    momentum = reduced * np.cross(d, v)
    return energy, momentum


def test_without_drag_the_orbit_conserves_energy_and_angular_momentum():
    params = EncounterParameters(mass_ratio=0.5, pericentre=2.5, eccentricity=0.7, drag=0.0, n_particles=50, duration_after_pericentre=60)
    run = simulate_encounters([params], np.random.default_rng(0))[0]
    energy, momentum = orbit_energy_and_momentum(run)
    assert np.abs(energy - energy[0]).max() < 1e-3 * abs(energy[0])
    assert np.abs(momentum - momentum[0]).max() < 1e-3 * np.linalg.norm(momentum[0])
    assert run.coalescence_time is None  # a bound orbit without friction never merges
    assert run.separation.min() == pytest.approx(2.5, rel=0.25)  # the pericentre it was set on


def test_with_drag_the_cores_coalesce_and_lose_energy():
    params = EncounterParameters(mass_ratio=0.5, pericentre=2.0, drag=0.2, n_particles=50)
    run = simulate_encounters([params], np.random.default_rng(1))[0]
    energy, _ = orbit_energy_and_momentum(run)
    assert run.coalescence_time is not None
    assert run.separation[-1] < 0.5
    assert energy[-1] < energy[0] - 0.1
    stages = {run.stage(i) for i in range(len(run.times))}
    assert stages == {"pair", "coalescing", "remnant"}


def test_an_unperturbed_disk_keeps_its_circular_orbits():
    params = EncounterParameters(mass_ratio=0.1, pericentre=200.0, drag=0.0, n_particles=500, start_separation=400.0, duration_after_pericentre=0.0)
    run = simulate_encounters([params], np.random.default_rng(2))[0]
    primary = run.host == 0
    start = np.linalg.norm(run.positions[0, primary, :2] - run.cores[0, 0, :2], axis=1)
    late = np.linalg.norm(run.positions[len(run.times) // 2, primary, :2] - run.cores[len(run.times) // 2, 0, :2], axis=1)
    assert np.median(np.abs(late - start) / np.maximum(start, 0.3)) < 0.02
    assert not run.tidal(len(run.times) // 2)[primary].mean() > 0.01


def tidal_share(spin):
    params = EncounterParameters(mass_ratio=1.0, pericentre=2.5, drag=0.0, spin_primary=spin, spin_secondary=(0.0, 0.0), n_particles=1500, duration_after_pericentre=25)
    run = simulate_encounters([params], np.random.default_rng(3))[0]
    return run.tidal(len(run.times) - 1)[run.host == 0].mean()


def test_prograde_encounters_raise_tails_and_retrograde_ones_do_not():
    # Toomre & Toomre (1972): disks spinning with the orbit are torn into long tails; against it, barely.
    prograde, retrograde = tidal_share((0.0, 0.0)), tidal_share((np.pi, 0.0))
    assert prograde > 0.15
    assert prograde > 3 * retrograde


def test_drawn_parameters_span_the_intended_ranges():
    rng = np.random.default_rng(4)
    drawn = [draw_encounter_parameters(rng) for _ in range(300)]
    ratios = np.array([p.mass_ratio for p in drawn])
    assert ratios.min() >= 0.1 and ratios.max() <= 1.0 and (ratios < 0.25).mean() > 0.2
    flyby = draw_encounter_parameters(rng, flyby=True)
    assert flyby.eccentricity > 1 and flyby.drag == 0


def test_time_unit():
    # 3 kpc and 1e11 Msun: sqrt(R^3 / G M) ~ 7.8 Myr
    assert time_unit_myr(3.0, 1e11) == pytest.approx(7.8, rel=0.05)
