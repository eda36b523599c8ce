import numpy as np
import pytest

from galmerge.mocks import light
from galmerge.mocks.light import Grid


@pytest.mark.parametrize("n", [0.8, 1.0, 2.5, 4.0])
def test_numpy_sersic_matches_galsim(n):
    import galsim  # the mocks extra is part of the test set-up: missing, this fails

    grid = Grid(size=120, pixel_kpc=0.15, centre_x=0.4)
    drawn = grid.blank((1,))
    light.add_sersic(drawn, grid, x=0.7, y=-0.3, flux=1.0, half_light_kpc=1.5, n=n, axis_ratio=0.5, angle=1.0)
    profile = galsim.Sersic(n=n, half_light_radius=1.5, flux=1.0).shear(q=0.5, beta=1.0 * galsim.radians)
    # GalSim's point samples at the pixel centres (units: kpc), the profile moved by (0.3, -0.3) kpc from the stamp centre
    sampled = profile.drawImage(nx=120, ny=120, scale=0.15, method="no_pixel", offset=(0.3 / 0.15, -0.3 / 0.15)).array
    centre = np.zeros_like(sampled, dtype=bool)
    row, column = np.unravel_index(np.argmax(sampled), sampled.shape)
    centre[row - 2 : row + 3, column - 2 : column + 3] = True  # where add_sersic sub-samples the cusp instead
    assert np.abs(drawn[0] - sampled)[~centre].max() <= 1e-4 * sampled.max()
    assert drawn[0][centre].sum() == pytest.approx(sampled[centre].sum(), rel=0.15)  # the cusp, averaged over sub-pixels


def test_sersic_holds_half_its_light_inside_the_half_light_radius():
    grid = Grid(size=401, pixel_kpc=0.05)
    drawn = grid.blank((1,))
    light.add_sersic(drawn, grid, x=0.0, y=0.0, flux=1.0, half_light_kpc=1.0, n=1.5, axis_ratio=1.0, angle=0.0)
    xx, yy = grid.coordinates()
    assert drawn[0][np.hypot(xx, yy) <= 1.0].sum() == pytest.approx(0.5, abs=0.02)
    assert drawn[0].sum() == pytest.approx(1.0, abs=0.02)


def test_particles_keep_their_flux_and_smooth_sparse_regions_more():
    rng = np.random.default_rng(0)
    grid = Grid(size=100, pixel_kpc=0.2)
    dense = rng.normal(0, 0.5, (4000, 2))
    angle, radius = rng.uniform(0, 2 * np.pi, 60), rng.uniform(4, 8, 60)
    sparse = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)  # a sparse ring round the core
    xy = np.concatenate([dense, sparse])
    weights = np.stack([np.ones(len(xy)), np.r_[np.zeros(4000), np.ones(60)]])
    image = light.render_particles(grid, xy[:, 0], xy[:, 1], weights)
    assert image[0].sum() == pytest.approx(len(xy), rel=1e-6)
    assert image[1].sum() == pytest.approx(60, rel=1e-6)
    # sparse particles are spread wide: no pixel holds most of one particle's light
    assert image[1].max() < 0.2
    # the dense core stays sharp: its peak is far above the sparse level
    assert image[0].max() > 50 * image[1].max()


def test_shells_and_streams_are_normalised_and_lie_where_asked():
    rng = np.random.default_rng(1)
    grid = Grid(size=150, pixel_kpc=0.2)
    image = grid.blank((2,))
    light.add_shells(image, grid, x=0.0, y=0.0, flux=np.array([1.0, 2.0]), first_radius_kpc=3.0, axis_angle=0.0, count=4, rng=rng)
    np.testing.assert_allclose(image.sum(axis=(1, 2)), [1.0, 2.0])
    xx, yy = grid.coordinates()
    radius = np.hypot(xx, yy)
    assert image[0][radius < 2.0].sum() < 0.02  # nothing inside the first shell
    stream = grid.blank((1,))
    light.add_stream(stream, grid, x=0.0, y=0.0, flux=1.0, radius_kpc=8.0, start_angle=0.0, length_rad=1.0, width_kpc=0.3)
    assert stream.sum() == pytest.approx(1.0)
    assert stream[0][np.abs(radius - 8.0) < 1.0].sum() > 0.9


def test_an_edge_on_particle_disk_stays_thin():
    from galmerge.mocks.encounters import sample_disk

    # an SDSS disk at Galaxy Zoo's framing: scale length 2.7 px of a 75 px stamp, 700 particles
    positions, _, _ = sample_disk(700, np.random.default_rng(0), scale=2.7)
    image = light.render_particles(Grid(size=75, pixel_kpc=1.0), positions[:, 0], positions[:, 2], np.ones((1, 700)))[0]
    yy, xx = np.indices(image.shape) - 37
    moments = np.array([[(image * xx * xx).sum(), (image * xx * yy).sum()], [(image * xx * yy).sum(), (image * yy * yy).sum()]]) / image.sum()
    minor, major = np.linalg.eigvalsh(moments)
    # the disk is 0.05 scale lengths thick: only the smoothing kernel widens it (a 6 px kernel gave 0.75)
    assert np.sqrt(minor / major) < 0.5
