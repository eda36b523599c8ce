"""Galaxy colours: SDSS's red sequence and blue cloud from one colour number, drawn by type, and
particles rendered the same whichever way the canvas groups them."""

import numpy as np
import pytest

from galmerge.mocks.framing import petrosian_radius_kpc
from galmerge.mocks.light import Grid
from galmerge.mocks.systems import _Canvas, band_fluxes, draw_look, render_isolated

SDSS_GRI_UM = np.array([0.477, 0.623, 0.763])


def _gr_ri(colour: float, z: float) -> tuple[float, float]:
    mag = -2.5 * np.log10(band_fluxes(-21.0, colour, z, SDSS_GRI_UM))
    return mag[0] - mag[1], mag[1] - mag[2]


def test_colour_one_is_the_red_sequence_and_zero_the_blue_cloud():
    # SDSS at z ~ 0.08: red sequence g-r 0.77, r-i 0.41; blue cloud g-r 0.45, r-i 0.25
    # (Strateva et al. 2001; Blanton & Moustakas 2009)
    for colour, (gr, ri) in ((1.0, (0.77, 0.41)), (0.0, (0.45, 0.25))):
        measured = _gr_ri(colour, 0.08)
        assert measured == pytest.approx((gr, ri), abs=0.03)
    # redder with redshift (the k-correction of a red spectrum), and monotonic in colour
    assert _gr_ri(1.0, 0.15)[0] > _gr_ri(1.0, 0.02)[0]
    assert np.all(np.diff([_gr_ri(c, 0.08)[0] for c in np.linspace(-0.5, 1.2, 8)]) > 0)


def test_galaxy_types_draw_their_own_colours():
    rng = np.random.default_rng(0)
    colours = {kind: np.array([draw_look(rng, abs_mag=-21.0, z=0.05, kind=kind).colour for _ in range(300)]) for kind in ("spheroid", "lenticular", "disk", "clumpy")}
    assert np.median(colours["spheroid"]) > np.median(colours["lenticular"]) > np.median(colours["disk"]) > np.median(colours["clumpy"])
    assert colours["spheroid"].std() < 0.1 < colours["disk"].std()  # a tight red sequence, a broad disk population
    look = draw_look(rng, abs_mag=-21.0, z=0.05, kind="disk")
    assert look.young_colour < look.colour < look.old_colour


def test_spheroids_take_shens_sizes_as_petrosian_radii():
    # Shen et al. (2003)'s early types: SDSS Petrosian R50 of 2.5 kpc at M = -21, growing as
    # L^0.65, with 0.12 dex scatter; the effective radius of the Sersic body is larger
    rng = np.random.default_rng(1)
    for abs_mag in (-21.0, -22.0):
        looks = [draw_look(rng, abs_mag=abs_mag, z=1e-3, kind="spheroid") for _ in range(400)]
        sizes = np.array([petrosian_radius_kpc(look, fraction=0.5) for look in looks])
        assert np.median(sizes) == pytest.approx(2.5 * 10 ** (-0.4 * 0.65 * (abs_mag + 21.0)), rel=0.05)
        assert np.std(np.log10(sizes)) == pytest.approx(0.12, abs=0.02)
        assert np.median([look.bulge_kpc for look in looks]) > 1.15 * np.median(sizes)


def test_a_red_galaxy_renders_redder_than_a_blue_one():
    grid = Grid(size=41, pixel_kpc=0.5)
    ratios = []
    for colour in (0.0, 1.0):
        rng = np.random.default_rng(1)
        look = draw_look(rng, abs_mag=-21.0, z=0.05, kind="disk")
        look.colour = colour
        ideal = render_isolated(look, grid, z=0.05, wavelengths=SDSS_GRI_UM, rng=rng, n_particles=400).ideal
        ratios.append(ideal[2].sum() / ideal[0].sum())  # i over g
    assert ratios[1] > 1.2 * ratios[0]


def test_particles_render_the_same_by_spectrum_or_by_band():
    rng = np.random.default_rng(2)
    xy = rng.normal(scale=3.0, size=(600, 2))
    colour_of = rng.integers(0, 3, 600)
    flux = rng.uniform(0.5, 1.5, 600)
    images = []
    for wavelengths in (SDSS_GRI_UM, SDSS_GRI_UM[:2]):  # three spectra: smoothed per spectrum, then per band
        canvas = _Canvas(Grid(size=33, pixel_kpc=0.5), 0.05, wavelengths)
        spectrum = np.array([canvas.spectrum(c) for c in (-0.6, 0.2, 1.0)])[colour_of]
        canvas.add_particles(xy, spectrum, flux, tidal=np.zeros(600, bool), companion=False)
        images.append(canvas.render().ideal)
    # each band holds the same light; pixels agree to within the scale blend's flux
    # redistribution, which render_particles undoes per channel, so the two groupings differ by
    # a part of it (0.6 % at most here)
    np.testing.assert_allclose(images[1].sum(axis=(1, 2)), images[0][:2].sum(axis=(1, 2)), rtol=1e-9)
    np.testing.assert_allclose(images[1], images[0][:2], rtol=1e-2, atol=1e-6 * images[0].max())
    assert not np.allclose(images[0][0] / images[0][0].sum(), images[0][1] / images[0][1].sum())  # the spectra differ in shape
