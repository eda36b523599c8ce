"""Generation: deterministic across workers, consistent labels/metadata/masks, matched classes, leak check."""

import numpy as np
import pytest

from galmerge.data import ImageSet
from galmerge.errors import ConfigError
from galmerge.mocks import MASK_BITS, MockOptions, generate_mocks, load_recipe
from galmerge.mocks.benchmarks import leak_check

SMALL = MockOptions(encounters_per_task=2, stamps_per_encounter=20, candidate_factor=2.5)


@pytest.fixture(scope="module")
def pristine():
    return generate_mocks(load_recipe("deepmerge-hst").replace(noise=False), 120, seed=5, options=SMALL, workers=1, progress=False)


def test_same_seed_same_set_whatever_the_number_of_workers(pristine):
    parallel = generate_mocks(load_recipe("deepmerge-hst").replace(noise=False), 120, seed=5, options=SMALL, workers=2, progress=False)
    np.testing.assert_array_equal(parallel.images, pristine.images)
    np.testing.assert_array_equal(parallel.labels, pristine.labels)
    np.testing.assert_array_equal(parallel.masks, pristine.masks)
    assert list(parallel.meta["group"]) == list(pristine.meta["group"])


def test_labels_metadata_and_masks_agree(pristine):
    meta, labels = pristine.meta, pristine.labels
    assert len(pristine) == 120 and labels.sum() == 60
    mergers = labels == 1
    assert set(meta["kind"][mergers]) == {"merger"}
    assert set(meta["stage"][mergers]) <= {"pair", "coalescing", "remnant"}
    assert set(meta["stage"][~mergers]) == {"none"}
    ratios = np.asarray(meta["mass_ratio"])
    assert np.all((ratios[mergers] >= 0.1) & (ratios[mergers] <= 1.0)) and np.all(np.isnan(ratios[~mergers]))
    assert np.all(np.isfinite(np.asarray(meta["time_since_pericentre_myr"])[mergers]))
    assert np.all(np.asarray(meta["projected_separation_kpc"])[mergers] <= np.asarray(meta["separation_kpc"])[mergers] + 1e-6)
    assert pristine.masks.shape == (120, 75, 75)
    # only mergers have tidal features; isolated galaxies have neither tidal nor companion pixels
    assert not (pristine.masks[~mergers] & MASK_BITS["tidal"]).any()
    isolated = np.isin(np.asarray(meta["kind"]), ["disk", "spheroid", "clumpy"])
    assert not pristine.masks[isolated].any()
    assert (pristine.masks[mergers] & MASK_BITS["tidal"]).any(axis=(1, 2)).mean() > 0.3
    groups = np.asarray(meta["group"])
    for group in set(groups):
        assert len(set(labels[groups == group])) == 1


def test_matching_brings_the_class_distributions_together(pristine):
    ks = pristine.meta.meta["ks_statistics"]
    assert max(ks["after"].values()) < 0.2
    assert sum(ks["after"].values()) < sum(ks["before"].values())


def test_noise_changes_the_images_but_not_the_systems(pristine):
    noisy = generate_mocks(load_recipe("deepmerge-hst"), 120, seed=5, options=SMALL, workers=1, progress=False)
    np.testing.assert_array_equal(noisy.labels, pristine.labels)
    np.testing.assert_array_equal(noisy.masks, pristine.masks)
    residual = noisy.images - pristine.images
    assert residual.std() > 0 and abs(residual.mean()) < 0.2 * residual.std()


def test_saved_mocks_round_trip(pristine, tmp_path):
    loaded = ImageSet.load(pristine.save(tmp_path / "mocks.h5"))
    np.testing.assert_array_equal(loaded.masks, pristine.masks)
    assert loaded.meta.meta["ks_statistics"] == pristine.meta.meta["ks_statistics"]
    assert loaded.bands == ("F814W", "F356W", "F160W")


def test_leak_check_passes_on_matched_mocks_and_catches_a_planted_leak(pristine):
    check = leak_check(pristine)
    assert check["roc_auc"] <= 0.70 and check["passed"]
    leaky = ImageSet(pristine.images * np.where(pristine.labels == 1, 20.0, 1.0)[:, None, None, None], labels=pristine.labels)
    assert leak_check(leaky)["roc_auc"] > 0.9


def test_bad_options():
    with pytest.raises(ConfigError, match="flybys"):
        MockOptions(flybys="sometimes")
    with pytest.raises(ConfigError, match="n must be"):
        generate_mocks("deepmerge-hst", 1, progress=False)


def test_flybys_can_be_kept_as_their_own_kind():
    mocks = generate_mocks("hst-f160w", 40, seed=1, options=MockOptions(encounters_per_task=1, stamps_per_encounter=20, flybys="own-label", match=False), workers=1, progress=False)
    kinds = np.asarray(mocks.meta["kind"])
    assert (kinds == "flyby").any()
    assert set(mocks.labels[kinds == "flyby"]) == {0}
