import numpy as np
import pytest
from astropy.table import Table

from galmerge.data import ImageSet, concatenate
from galmerge.errors import CheckpointError, DataError, LabelError, OutputExistsError


def small_set(n=6, bands=("g", "r", "i"), labels=True, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(n, len(bands), 8, 8))
    meta = Table({"id": [f"J{i:04d}+0000" for i in range(n)], "stage": np.arange(n) % 3, "ra": np.linspace(10, 11, n)})
    meta["ra"].unit = "deg"
    return ImageSet(images, bands=bands, labels=(np.arange(n) % 2) if labels else None, meta=meta, pixel_scale_arcsec=0.06, source="small")


def test_images_become_float32_with_default_names_and_ids():
    imageset = ImageSet(np.zeros((3, 2, 5, 5), dtype=np.float64))
    assert imageset.images.dtype == np.float32
    assert imageset.bands == ("band0", "band1")
    assert list(imageset.ids) == [0, 1, 2]
    assert imageset.labels is None and not imageset.has_labels


@pytest.mark.parametrize("shape", [(5, 5), (3, 5, 5), (1, 2, 3, 4, 5)])
def test_wrong_rank_is_refused(shape):
    with pytest.raises(DataError, match="dimensions"):
        ImageSet(np.zeros(shape), source="x.npy")


@pytest.mark.parametrize("labels", [[0, 1, 2], [0.0, 0.5, 1.0], [0, np.nan, 1], [-1, 0, 1]])
def test_labels_other_than_zero_one_are_refused(labels):
    with pytest.raises(LabelError, match="0 .*or 1"):
        ImageSet(np.zeros((3, 1, 4, 4)), labels=labels, source="y.npy")


def test_label_count_must_match():
    with pytest.raises(LabelError, match="2 labels for 3 images"):
        ImageSet(np.zeros((3, 1, 4, 4)), labels=[0, 1])


def test_band_names_and_pixel_scale_are_checked():
    with pytest.raises(DataError, match="band names"):
        ImageSet(np.zeros((1, 3, 4, 4)), bands=("g", "r"))
    with pytest.raises(DataError, match="pixel scale"):
        ImageSet(np.zeros((1, 1, 4, 4)), pixel_scale_arcsec=0.0)


def test_slicing_keeps_rows_aligned():
    imageset = small_set()
    rows = np.array([4, 1])
    part = imageset[rows]
    np.testing.assert_array_equal(part.images, imageset.images[rows])
    np.testing.assert_array_equal(part.labels, imageset.labels[rows])
    assert list(part.ids) == ["J0004+0000", "J0001+0000"]
    mask = imageset.labels == 1
    assert set(imageset[mask].labels) == {1}
    assert len(imageset[1:3]) == 2


def test_save_load_round_trip_keeps_everything(tmp_path):
    imageset = small_set()
    imageset.masks = (np.arange(6 * 8 * 8).reshape(6, 8, 8) % 4).astype(np.uint8)
    path = imageset.save(tmp_path / "set.h5")
    loaded = ImageSet.load(path)
    np.testing.assert_array_equal(loaded.images, imageset.images)
    np.testing.assert_array_equal(loaded.labels, imageset.labels)
    assert loaded.bands == imageset.bands
    assert loaded.pixel_scale_arcsec == pytest.approx(0.06)
    assert list(loaded.ids) == list(imageset.ids)
    assert loaded.meta["ra"].unit == "deg"
    np.testing.assert_array_equal(loaded.meta["stage"], imageset.meta["stage"])
    np.testing.assert_array_equal(loaded.masks, imageset.masks)
    np.testing.assert_array_equal(loaded[[3, 1]].masks, imageset.masks[[3, 1]])


def test_unlabelled_round_trip_is_memory_mapped_read_only(tmp_path):
    imageset = small_set(n=10, labels=False)
    imageset.save(tmp_path / "u.h5")
    loaded = ImageSet.load(tmp_path / "u.h5")
    assert loaded.labels is None
    assert not loaded.images.flags.writeable
    np.testing.assert_array_equal(loaded.images, imageset.images)
    np.testing.assert_array_equal(loaded[[7, 2]].images, imageset.images[[7, 2]])


def test_save_refuses_to_overwrite(tmp_path):
    imageset = small_set()
    imageset.save(tmp_path / "set.h5")
    with pytest.raises(OutputExistsError):
        imageset.save(tmp_path / "set.h5")
    imageset[:2].save(tmp_path / "set.h5", overwrite=True)
    assert len(ImageSet.load(tmp_path / "set.h5")) == 2


def test_loading_a_foreign_hdf5_file_is_a_clear_error(tmp_path):
    import h5py

    with h5py.File(tmp_path / "other.h5", "w") as handle:
        handle["x"] = np.zeros(3)
    with pytest.raises(CheckpointError, match="not a galmerge ImageSet"):
        ImageSet.load(tmp_path / "other.h5")
    (tmp_path / "garbage.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(DataError, match="garbage.h5"):
        ImageSet.load(tmp_path / "garbage.h5")


def test_concatenate_checks_compatibility():
    a, b = small_set(seed=0), small_set(seed=1)
    joined = concatenate([a, b])
    assert len(joined) == 12
    np.testing.assert_array_equal(joined.labels, np.concatenate([a.labels, b.labels]))
    with pytest.raises(DataError, match="bands"):
        concatenate([a, small_set(bands=("u", "g", "r"))])
    with pytest.raises(LabelError, match="labelled and unlabelled"):
        concatenate([a, small_set(labels=False)])


def test_image_hashes_identify_identical_images():
    imageset = small_set()
    hashes = imageset.image_hashes()
    assert len(set(hashes.tolist())) == len(imageset)
    copy = ImageSet(imageset.images[[2, 2, 5]].copy())
    np.testing.assert_array_equal(copy.image_hashes(), hashes[[2, 2, 5]])
    changed = imageset.images[[2]].copy()
    changed[0, 0, 0, 0] += 1e-3
    assert ImageSet(changed).image_hashes()[0] != hashes[2]


def test_require_both_classes():
    imageset = small_set()
    assert len(imageset.require_both_classes(purpose="training")) == 6
    with pytest.raises(LabelError, match="all 3 images are non-mergers"):
        imageset[imageset.labels == 0].require_both_classes(purpose="training")
    with pytest.raises(LabelError, match="needs merger labels"):
        small_set(labels=False).require_both_classes(purpose="evaluation")
    with pytest.raises(DataError, match="empty"):
        imageset[np.array([], dtype=int)].require_both_classes(purpose="training")
