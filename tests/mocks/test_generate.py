"""Generation: deterministic across workers, one framing rule for both classes, the recipe's
merger definition and population, consistent labels/metadata/masks."""


import dataclasses

import numpy as np
import pytest
from scipy.stats import ks_2samp

from galmerge.data import ImageSet
from galmerge.errors import ConfigError
from galmerge.mocks import MASK_BITS, MockOptions, generate_mocks, load_recipe
from galmerge.mocks.generate import plan_counts

SMALL = MockOptions(encounters_per_task=2, systems_per_task=40)


@pytest.fixture(scope="module")
def pristine():
    return generate_mocks(load_recipe("deepmerge-hst").replace(noise=False), 160, seed=5, options=SMALL, workers=1, progress=False)


def test_same_seed_same_set_whatever_the_number_of_workers(pristine):
    parallel = generate_mocks(load_recipe("deepmerge-hst").replace(noise=False), 160, seed=5, options=SMALL, workers=2, progress=False)
    np.testing.assert_array_equal(parallel.images, pristine.images)
    np.testing.assert_array_equal(parallel.labels, pristine.labels)
    np.testing.assert_array_equal(parallel.masks, pristine.masks)
    assert list(parallel.meta["group"]) == list(pristine.meta["group"])


def test_labels_metadata_and_masks_agree(pristine):
    meta, labels = pristine.meta, pristine.labels
    assert len(pristine) == 160 and labels.sum() == 80
    mergers = labels == 1
    kinds = np.asarray(meta["kind"])
    assert set(kinds[mergers]) == {"merger"} and "merger" not in set(kinds[~mergers])
    assert set(meta["stage"][mergers]) <= {"pair", "coalescing", "remnant"}
    assert set(np.asarray(meta["stage"])[~mergers & (kinds != "flyby")]) == {"none"}
    assert np.all(np.isfinite(np.asarray(meta["time_since_pericentre_myr"])[mergers]))
    assert np.all(np.asarray(meta["projected_separation_kpc"])[mergers] <= np.asarray(meta["separation_kpc"])[mergers] + 1e-6)
    assert pristine.masks.shape == (160, 75, 75)
    # isolated galaxies have neither tidal nor companion pixels; mergers often have tidal ones
    isolated = np.isin(kinds, ["disk", "spheroid", "lenticular", "edge_on", "clumpy"])
    assert isolated.sum() > 20 and not pristine.masks[isolated].any()
    flybys = kinds == "flyby"  # flybys are non-mergers that raise tides
    assert not (pristine.masks[~mergers & ~flybys] & MASK_BITS["tidal"]).any()
    assert (pristine.masks[mergers] & MASK_BITS["tidal"]).any(axis=(1, 2)).mean() > 0.3
    groups = np.asarray(meta["group"])
    for group in set(groups):
        assert len(set(labels[groups == group])) == 1


def test_both_classes_are_centred_by_one_law(pristine):
    recipe = load_recipe("deepmerge-hst")
    mergers = pristine.labels == 1
    for axis in ("centre_x_px", "centre_y_px"):
        offsets = np.asarray(pristine.meta[axis])
        assert np.abs(offsets).max() <= recipe.framing.centre_jitter_px + 1e-9
        # the same distribution for both classes (and not the old "non-mergers exactly centred")
        assert ks_2samp(offsets[mergers], offsets[~mergers]).pvalue > 0.01
        assert np.std(offsets[~mergers]) > 0.2
    # framed on their light, some merger nuclei (blended with a close companion's) lie off it
    moved = np.hypot(*(np.asarray(pristine.meta[f"nucleus_{a}_px"]) - np.asarray(pristine.meta[f"centre_{a}_px"]) for a in "xy"))
    assert (moved[mergers] > 0.25).mean() > (moved[~mergers] > 0.25).mean()


def test_cutouts_are_framed_on_the_r90_measured_on_the_blurred_galaxy():
    """With ``seeing_blurred_r90`` the field of view follows the R90 of the
    galaxy blurred by the seeing: wider than the intrinsic R90 makes it for galaxies not much
    larger than the PSF, hardly so for large ones; without it, the intrinsic R90."""
    from galmerge.mocks.cosmology import kpc_per_arcsec

    recipe = load_recipe("sdss-gz").replace(noise=False, background_sources=False, sky_bank=None)
    fwhm = recipe.bands[1].psf.fwhm_arcsec
    options = MockOptions(merger_fraction=0.0, systems_per_task=60)
    ratios = {}
    for blurred in (True, False):
        framing = dataclasses.replace(recipe.framing, seeing_blurred_r90=blurred)
        mocks = generate_mocks(recipe.replace(framing=framing), 60, seed=3, options=options, workers=1, progress=False)
        meta = mocks.meta
        intrinsic = np.asarray(meta["r90_kpc"]) / np.array([kpc_per_arcsec(z) for z in meta["redshift"]])
        framed = np.asarray(meta["pixel_scale_arcsec"]) * recipe.stamp_size / recipe.fov_r90
        ratios[blurred] = (intrinsic, framed / intrinsic)
    np.testing.assert_allclose(ratios[False][1], 1.0, rtol=1e-9)
    intrinsic, ratio = ratios[True]
    assert (ratio >= 1.0).all()
    assert (ratio[intrinsic < 2 * fwhm] > 1.2).all() and (ratio[intrinsic > 6 * fwhm] < 1.1).all()
    assert (intrinsic < 2 * fwhm).any() and (intrinsic > 6 * fwhm).any()


def test_a_centre_shift_puts_the_light_where_the_metadata_says():
    recipe = load_recipe("deepmerge-hst").replace(noise=False, background_sources=False)
    recipe = recipe.replace(framing=dataclasses.replace(recipe.framing, centre_jitter_px=0.0, centre_shift_px=(1.5, -1.5)))
    mocks = generate_mocks(recipe, 40, seed=2, options=MockOptions(merger_fraction=0.0, systems_per_task=40), workers=1, progress=False)
    np.testing.assert_allclose(mocks.meta["centre_x_px"], 1.5, atol=1e-9)
    np.testing.assert_allclose(mocks.meta["centre_y_px"], -1.5, atol=1e-9)
    light = mocks.images.sum(axis=1)  # (N, rows, columns); rows are y, bottom-up
    centre = light.shape[-1] // 2
    core = light[:, centre - 3 : centre + 4, centre - 3 : centre + 4]
    offsets = np.arange(-3, 4)
    column = (core.sum(axis=1) * offsets).sum(axis=1) / core.sum(axis=(1, 2))
    row = (core.sum(axis=2) * offsets).sum(axis=1) / core.sum(axis=(1, 2))
    assert np.median(column) > 0.5 and np.median(row) < -0.5  # light right of and below the centre



@pytest.mark.parametrize("light_offset_kpc", [0.3, 0.02])
def test_a_stamp_is_framed_on_its_light_peak_and_rendered_again_with_the_same_draws(light_offset_kpc):
    from types import SimpleNamespace

    from galmerge.mocks.generate import RECENTRE_PX, _observer, _render_centred
    from galmerge.mocks.light import Grid

    draws = []

    def render(grid):  # a galaxy whose light peaks light_offset_kpc right of its nucleus (at kpc 0)
        draws.append(rng.random())
        yy, xx = np.indices((grid.size, grid.size))
        x = (light_offset_kpc - grid.centre_x) / grid.pixel_kpc + (grid.size - 1) / 2
        y = -grid.centre_y / grid.pixel_kpc + (grid.size - 1) / 2
        blob = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.0**2))
        return SimpleNamespace(ideal=np.stack([blob, blob, blob]))

    rng = np.random.default_rng(3)
    frame = Grid(75, 0.5, centre_x=-0.1, centre_y=0.2)  # the nucleus 0.2 px right of and 0.4 px below the centre
    rendered, grid = _render_centred(_observer(load_recipe("sdss-gri")), render, frame, 0.4, rng)
    moved = light_offset_kpc / frame.pixel_kpc > RECENTRE_PX
    assert len(draws) == (2 if moved else 1) and len(set(draws)) == 1  # rendered again from the same draws
    assert rng.random() == np.random.default_rng(3).random(2)[1]  # and the stream goes on as after one rendering
    # the light's peak now sits where the nucleus was to be: the grid moved with it
    assert grid.centre_x == pytest.approx(-0.1 + (light_offset_kpc if moved else 0.0), abs=0.05 * frame.pixel_kpc)
    assert grid.centre_y == pytest.approx(0.2, abs=0.05 * frame.pixel_kpc)

def test_mergers_follow_the_recipes_definition(pristine):
    recipe = load_recipe("deepmerge-hst")
    mergers = pristine.labels == 1
    ratios = np.asarray(pristine.meta["mass_ratio"])[mergers]
    low, high = recipe.mergers.mass_ratio
    assert np.all((ratios >= low) & (ratios <= high))
    assert np.all(np.asarray(pristine.meta["time_since_pericentre_myr"])[mergers] >= 0)  # pre-pericentre pairs excluded
    encounters = len(set(np.asarray(pristine.meta["group"])[mergers]))
    assert encounters == pristine.meta.meta["n_encounters"]
    # a small set (80 mergers) still holds 10 encounters, each drawn at most stamps_per_encounter times
    _, per_encounter = np.unique(np.asarray(pristine.meta["group"])[mergers], return_counts=True)
    assert encounters >= 10 and per_encounter.max() <= recipe.mergers.stamps_per_encounter


def test_population_follows_the_recipe_and_projected_pairs_take_the_merger_separations(pristine):
    recipe = load_recipe("deepmerge-hst")
    counts = plan_counts(recipe, 160, 0.5)
    kinds = np.asarray(pristine.meta["kind"])
    assert {k: int((kinds == k).sum()) for k in counts} == counts
    assert sum(counts.values()) == 160
    meta = pristine.meta
    ratio = np.asarray(meta["projected_separation_kpc"]) / np.asarray(meta["r90_kpc"])
    merger_pairs = set(np.round(ratio[(kinds == "merger") & (np.asarray(meta["stage"]) == "pair")], 9))
    projected = np.round(ratio[kinds == "projected_pair"], 9)
    assert len(projected) > 0 and set(projected) <= merger_pairs


def test_pre_pericentre_pairs_can_be_non_mergers():
    base = load_recipe("hst-f160w")
    recipe = base.replace(mergers=base.mergers.__class__(**{**base.mergers.__dict__, "pre_pericentre": "non-merger", "stamps_per_encounter": 10}), population={"bound_pair": 1.0})
    mocks = generate_mocks(recipe, 20, seed=2, options=SMALL, workers=1, progress=False)
    others = mocks.labels == 0
    assert set(np.asarray(mocks.meta["kind"])[others]) == {"bound_pair"}
    assert np.all(np.asarray(mocks.meta["time_since_pericentre_myr"])[others] < 0)


def test_stage_weights_choose_which_stages_are_drawn_as_mergers(pristine):
    base = load_recipe("deepmerge-hst").replace(noise=False)
    only_pairs = base.replace(mergers=dataclasses.replace(base.mergers, stage_weights={"pair": 1.0}))
    mocks = generate_mocks(only_pairs, 160, seed=5, options=SMALL, workers=1, progress=False)
    stages = np.asarray(mocks.meta["stage"])[mocks.labels == 1]
    uniform = np.asarray(pristine.meta["stage"])[pristine.labels == 1]
    assert (uniform != "pair").mean() > 0.2  # equal weights draw every stage
    # an encounter with no pair snapshot inside the window falls back to its whole window
    assert (stages == "pair").mean() > 0.9


def test_noise_changes_the_images_but_not_the_systems(pristine):
    noisy = generate_mocks(load_recipe("deepmerge-hst"), 160, seed=5, options=SMALL, workers=1, progress=False)
    np.testing.assert_array_equal(noisy.labels, pristine.labels)
    np.testing.assert_array_equal(noisy.masks, pristine.masks)
    residual = noisy.images - pristine.images
    assert residual.std() > 0 and abs(residual.mean()) < 0.2 * residual.std()


def test_saved_mocks_round_trip(pristine, tmp_path):
    loaded = ImageSet.load(pristine.save(tmp_path / "mocks.h5"))
    np.testing.assert_array_equal(loaded.masks, pristine.masks)
    assert loaded.meta.meta["ks_statistics"] == pristine.meta.meta["ks_statistics"]
    assert loaded.bands == ("F814W", "F356W", "F160W")


def test_bad_options():
    with pytest.raises(ConfigError, match="merger_fraction"):
        MockOptions(merger_fraction=1.5)
    with pytest.raises(ConfigError, match="n must be"):
        generate_mocks("deepmerge-hst", 1, progress=False)
