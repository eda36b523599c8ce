import numpy as np
import pytest

from galmerge.data import load_npy
from galmerge.data.npy import read_npy_float32
from galmerge.errors import DataError, DataFileNotFoundError, LabelError


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int16])
def test_reads_any_real_dtype_exactly_as_float32(tmp_path, dtype):
    rng = np.random.default_rng(0)
    array = (rng.normal(size=(7, 3, 9, 9)) * 100).astype(dtype)
    np.save(tmp_path / "X.npy", array)
    np.testing.assert_array_equal(read_npy_float32(tmp_path / "X.npy"), array.astype(np.float32))


def test_reads_across_chunk_boundaries(tmp_path, monkeypatch):
    import galmerge.data.npy as npy

    monkeypatch.setattr(npy, "_CHUNK_BYTES", 1000)  # forces many partial chunks
    array = np.arange(5 * 2 * 7 * 7, dtype=np.float64).reshape(5, 2, 7, 7)
    np.save(tmp_path / "X.npy", array)
    np.testing.assert_array_equal(read_npy_float32(tmp_path / "X.npy"), array.astype(np.float32))


def test_deepmerge_arrays_load_with_labels(tmp_path):
    np.save(tmp_path / "X.npy", np.ones((4, 3, 75, 75)))
    np.save(tmp_path / "y.npy", np.array([1.0, 0.0, 1.0, 0.0]))
    imageset = load_npy(tmp_path / "X.npy", tmp_path / "y.npy", bands=("F814W", "F356W", "F160W"))
    assert imageset.images.shape == (4, 3, 75, 75)
    assert imageset.labels.tolist() == [1, 0, 1, 0]
    assert imageset.bands == ("F814W", "F356W", "F160W")
    assert imageset.meta["nonfinite_fraction"].max() == 0


def test_missing_and_truncated_and_foreign_files(tmp_path):
    with pytest.raises(DataFileNotFoundError, match="nope.npy"):
        load_npy(tmp_path / "nope.npy")
    np.save(tmp_path / "X.npy", np.ones((10, 3, 8, 8)))
    data = (tmp_path / "X.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cut.npy: file is truncated"):
        load_npy(tmp_path / "cut.npy")
    (tmp_path / "text.npy").write_text("hello")
    with pytest.raises(DataError, match="text.npy: not a readable .npy"):
        load_npy(tmp_path / "text.npy")


def test_wrong_rank_and_channels_last_are_explained(tmp_path):
    np.save(tmp_path / "flat.npy", np.ones((10, 75, 75)))
    with pytest.raises(DataError, match="flat.npy: expected 4 dimensions.*single band"):
        load_npy(tmp_path / "flat.npy")
    np.save(tmp_path / "nhwc.npy", np.ones((4, 75, 75, 3)))
    with pytest.raises(DataError, match="channels-last"):
        load_npy(tmp_path / "nhwc.npy")


def test_length_mismatch_names_both_files(tmp_path):
    np.save(tmp_path / "X.npy", np.ones((4, 3, 8, 8)))
    np.save(tmp_path / "y.npy", np.array([0.0, 1.0, 1.0]))
    with pytest.raises(DataError, match=r"X.npy has 4 images but .*y.npy has 3 labels"):
        load_npy(tmp_path / "X.npy", tmp_path / "y.npy")


def test_labels_other_than_zero_one_are_refused(tmp_path):
    np.save(tmp_path / "X.npy", np.ones((3, 1, 8, 8)))
    np.save(tmp_path / "y.npy", np.array([0.0, 2.0, 1.0]))
    with pytest.raises(LabelError, match="y.npy: labels must be 0"):
        load_npy(tmp_path / "X.npy", tmp_path / "y.npy")


def test_nan_pixels_are_filled_and_counted(tmp_path):
    images = np.random.default_rng(1).normal(10, 1, size=(3, 2, 10, 10))
    images[1, 0, :5, :] = np.nan  # half of band 0 of image 1
    images[2, 1, 0, 0] = np.inf
    np.save(tmp_path / "X.npy", images)
    imageset = load_npy(tmp_path / "X.npy")
    assert np.isfinite(imageset.images).all()
    fractions = np.asarray(imageset.meta["nonfinite_fraction"])
    np.testing.assert_allclose(fractions, [0.0, 50 / 200, 1 / 200])
    filled = imageset.images[1, 0, :5, :]
    assert np.all(filled == np.median(images[1, 0, 5:, :]).astype(np.float32))


def test_an_all_nan_band_is_an_error_naming_the_image(tmp_path):
    images = np.ones((3, 2, 10, 10))
    images[2, 1] = np.nan
    np.save(tmp_path / "X.npy", images)
    with pytest.raises(DataError, match="X.npy: image 2.*every pixel of band 1"):
        load_npy(tmp_path / "X.npy")
    with pytest.raises(DataError, match="NaN or infinite"):
        load_npy(tmp_path / "X.npy", nonfinite="raise")


def test_float32_files_are_mapped_read_only_and_copied_only_to_fill(tmp_path):
    clean = np.random.default_rng(2).normal(size=(5, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "clean.npy", clean)
    imageset = load_npy(tmp_path / "clean.npy")
    assert not imageset.images.flags.writeable  # a view of the file, not a copy
    np.testing.assert_array_equal(imageset.images, clean)
    dirty = clean.copy()
    dirty[2, 1, 0, 0] = np.nan
    np.save(tmp_path / "dirty.npy", dirty)
    filled = load_npy(tmp_path / "dirty.npy")
    assert np.isfinite(filled.images).all()
    assert np.isnan(np.load(tmp_path / "dirty.npy")[2, 1, 0, 0])  # the file itself is untouched


def test_truncated_float32_file_is_named(tmp_path):
    np.save(tmp_path / "X.npy", np.ones((10, 3, 8, 8), dtype=np.float32))
    data = (tmp_path / "X.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cut.npy: file is truncated"):
        load_npy(tmp_path / "cut.npy")
