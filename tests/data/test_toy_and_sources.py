import numpy as np
import pytest
from scipy.stats import ks_2samp

from galmerge.data import ImageSet, load_imageset, make_toy_mergers
from galmerge.errors import DataError, DataFileNotFoundError


def test_toy_set_is_deterministic_and_balanced():
    a = make_toy_mergers(400, seed=7)
    b = make_toy_mergers(400, seed=7)
    np.testing.assert_array_equal(a.images, b.images)
    assert 0.4 < a.labels.mean() < 0.6
    assert not np.array_equal(a.images, make_toy_mergers(400, seed=8).images)


def test_toy_total_flux_does_not_give_the_label_away():
    toy = make_toy_mergers(2000, seed=0)
    flux = toy.images.sum(axis=(1, 2, 3))
    statistic = ks_2samp(flux[toy.labels == 1], flux[toy.labels == 0]).statistic
    assert statistic < 0.1


def test_toy_non_mergers_include_projected_pairs():
    toy = make_toy_mergers(1000, seed=1)
    kinds = np.asarray(toy.meta["kind"])
    assert set(kinds[toy.labels == 1]) == {"merger"}
    assert (kinds == "projected_pair").sum() > 100


def test_load_imageset_dispatches_on_the_argument(tmp_path):
    np.save(tmp_path / "X.npy", np.ones((4, 3, 8, 8)))
    np.save(tmp_path / "y.npy", np.array([0.0, 1.0, 0.0, 1.0]))
    assert load_imageset(f"{tmp_path}/X.npy,{tmp_path}/y.npy").labels.tolist() == [0, 1, 0, 1]
    assert load_imageset(tmp_path / "X.npy").labels is None
    ImageSet(np.zeros((2, 1, 4, 4)), labels=[0, 1]).save(tmp_path / "s.h5")
    assert len(load_imageset(tmp_path / "s.h5")) == 2
    assert len(load_imageset("toy:30")) == 30


def test_load_imageset_errors(tmp_path):
    with pytest.raises(DataFileNotFoundError, match="nothing.h5"):
        load_imageset(tmp_path / "nothing.h5")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="unknown kind of data"):
        load_imageset(tmp_path / "notes.txt")
    with pytest.raises(DataError, match="two .npy files"):
        load_imageset("a.npy,b.npy,c.npy")
    with pytest.raises(DataError, match="toy:N"):
        load_imageset("toy:many")
