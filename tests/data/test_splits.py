import numpy as np
import pytest

from galmerge.data import Split, stratified_split
from galmerge.errors import ConfigError, LabelError

LABELS = np.array([1] * 300 + [0] * 700)


def test_parts_are_disjoint_and_cover_every_row():
    split = stratified_split(LABELS, seed=1)
    parts = [set(split.train), set(split.val), set(split.test)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert set().union(*parts) == set(range(len(LABELS)))


def test_sizes_and_class_balance_follow_the_fractions():
    split = stratified_split(LABELS, fractions=(0.7, 0.1, 0.2), seed=1)
    assert (len(split.train), len(split.val), len(split.test)) == (700, 100, 200)
    for part in (split.train, split.val, split.test):
        assert LABELS[part].mean() == pytest.approx(0.3, abs=0.01)


def test_same_seed_same_split_other_seed_other_split():
    a, b, c = (stratified_split(LABELS, seed=s) for s in (5, 5, 6))
    np.testing.assert_array_equal(a.test, b.test)
    assert not np.array_equal(a.test, c.test)


def test_save_and_load_round_trip(tmp_path):
    split = stratified_split(LABELS, seed=2)
    split.save(tmp_path / "split.npz", train_hashes=np.arange(3, dtype=np.uint64))
    loaded = Split.load(tmp_path / "split.npz")
    np.testing.assert_array_equal(loaded.val, split.val)
    assert loaded.seed == 2 and loaded.fractions == split.fractions


def test_overlapping_parts_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        Split(np.array([0, 1]), np.array([1]), np.array([2]), seed=0, fractions=(0.7, 0.1, 0.2))


def test_too_few_of_a_class_and_bad_fractions():
    with pytest.raises(LabelError, match=r"class 1 has only 1 image\(s\)"):
        stratified_split(np.array([1] + [0] * 50), seed=0)
    with pytest.raises(ConfigError):
        stratified_split(LABELS, fractions=(0.5, 0.1, 0.1))


def test_unlabelled_split():
    split = stratified_split(None, n_images=50, seed=0)
    assert len(split.train) + len(split.val) + len(split.test) == 50


def test_grouped_split_keeps_each_group_whole():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(60), rng.integers(1, 20, 60))
    labels = (groups % 2).astype(np.int8)  # a group shares a label
    split = stratified_split(labels, groups=groups, seed=3)
    owner = {}
    for name in ("train", "val", "test"):
        for group in set(groups[split.indices(name)]):
            assert owner.setdefault(group, name) == name  # never in two parts
    assert len(split.train) + len(split.val) + len(split.test) == len(groups)
    assert 0.55 < len(split.train) / len(groups) < 0.85
    with pytest.raises(LabelError, match="both mergers and non-mergers"):
        stratified_split(np.array([0, 1, 1]), groups=np.array([5, 5, 6]), seed=0)


def test_choosing_part_is_a_fixed_third_by_id():
    from galmerge.data.splits import choosing_part

    ids = np.arange(588848901537202306, 588848901537202306 + 3000)
    chosen = choosing_part(ids)
    assert 0.3 < chosen.mean() < 0.37  # a third, by a hash of the id
    np.testing.assert_array_equal(choosing_part(ids[::-1]), chosen[::-1])  # per id, not per position
    np.testing.assert_array_equal(choosing_part([str(i) for i in ids[:50]]), chosen[:50])  # ids as text too


@pytest.mark.real_data  # skipped by conftest.py when ../shared/data is absent
def test_choosing_part_of_galaxy_zoo_1():
    import csv
    from pathlib import Path

    from galmerge.data.splits import choosing_part

    labels_file = Path(__file__).resolve().parents[3] / "shared" / "data" / "gz1_dev" / "labels.csv"
    with open(labels_file, newline="") as handle:
        rows = list(csv.DictReader(handle))
    chosen = choosing_part([r["objid"] for r in rows])
    mergers = np.array([r["is_merger"] == "1" for r in rows])
    assert (chosen.sum(), (chosen & mergers).sum()) == (1060, 18)
