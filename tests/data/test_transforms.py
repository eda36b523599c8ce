import numpy as np
import pytest
import torch

from galmerge.data import Preprocessor, crop_and_resize, dihedral_element, random_dihedral
from galmerge.errors import DataError, ModelMismatchError


def test_normalisation_statistics_come_from_the_training_rows_only():
    rng = np.random.default_rng(0)
    images = rng.normal(5.0, 2.0, size=(40, 3, 10, 10)).astype(np.float32)
    images[30:] += 1000.0  # the "test" rows are wildly different
    train_rows = np.arange(30)
    pre = Preprocessor().fit(images, rows=train_rows)
    np.testing.assert_allclose(pre.mean_, images[:30].mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(pre.std_, images[:30].std(axis=(0, 2, 3)), rtol=1e-5)
    out = pre.transform(images[:30])
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, atol=1e-4)


def test_transforming_chosen_rows_equals_transforming_all_and_selecting():
    images = np.random.default_rng(1).normal(size=(20, 2, 8, 8)).astype(np.float32)
    original = images.copy()
    pre = Preprocessor().fit(images)
    rows = np.array([17, 3, 3, 9])
    np.testing.assert_array_equal(pre.transform(images, rows=rows, chunk_size=3), pre.transform(images)[rows])
    np.testing.assert_array_equal(images, original)  # the caller's array is never modified


def test_round_trip_through_a_dict_gives_the_same_transform():
    images = np.abs(np.random.default_rng(2).normal(size=(20, 3, 16, 16))).astype(np.float32)
    pre = Preprocessor(input_size=8, crop_fraction=0.75, stretch="asinh").fit(images)
    again = Preprocessor.from_dict(pre.to_dict())
    np.testing.assert_array_equal(pre.transform(images), again.transform(images))
    assert pre.transform(images).shape == (20, 3, 8, 8)


@pytest.mark.parametrize("options", [{}, {"stretch": "asinh"}, {"input_size": 12, "crop_fraction": 0.75, "stretch": "asinh"}, {"input_size": 24}])
def test_prediction_transform_gives_the_training_transform_numbers(options):
    images = np.random.default_rng(5).gamma(1.0, 3.0, size=(30, 3, 20, 20)).astype(np.float32) - 2.0
    pre = Preprocessor(**options).fit(images)
    expected = pre.transform_tensor(torch.from_numpy(images)).numpy()
    np.testing.assert_allclose(pre.transform(images, chunk_size=7), expected, rtol=1e-6, atol=1e-6)


def test_band_count_and_nan_are_refused_at_transform():
    pre = Preprocessor().fit(np.ones((4, 3, 8, 8), dtype=np.float32))
    with pytest.raises(ModelMismatchError, match="2 bands, but the model was trained on 3"):
        pre.transform(np.ones((1, 2, 8, 8), dtype=np.float32), source="new.h5")
    bad = np.ones((1, 3, 8, 8), dtype=np.float32)
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        pre.transform(bad)
    with pytest.raises(DataError, match="NaN"):
        pre.transform_tensor(torch.from_numpy(bad))


def test_constant_band_does_not_divide_by_zero():
    images = np.zeros((5, 2, 4, 4), dtype=np.float32)
    images[:, 1] = np.random.default_rng(3).normal(size=(5, 4, 4))
    out = Preprocessor().fit(images).transform(images)
    assert np.isfinite(out).all()


def test_asinh_scale_is_the_robust_noise_when_not_given():
    noise = np.random.default_rng(4).normal(0, 3.0, size=(50, 1, 20, 20)).astype(np.float32)
    pre = Preprocessor(stretch="asinh").fit(noise)
    assert pre.asinh_scale_[0] == pytest.approx(3.0, rel=0.05)


def test_crop_and_resize():
    images = torch.arange(2 * 1 * 10 * 10, dtype=torch.float32).reshape(2, 1, 10, 10)
    cropped = crop_and_resize(images, size=None, crop_fraction=0.6)
    torch.testing.assert_close(cropped, images[..., 2:8, 2:8])
    assert crop_and_resize(images, size=5).shape == (2, 1, 5, 5)
    flat = torch.full((1, 2, 9, 9), 3.0)
    torch.testing.assert_close(crop_and_resize(flat, size=4), torch.full((1, 2, 4, 4), 3.0))


def test_the_eight_dihedral_elements_are_distinct_symmetries():
    image = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)
    results = [dihedral_element(image, e) for e in range(8)]
    assert len({tuple(r.flatten().tolist()) for r in results}) == 8
    for r in results:  # each keeps the pixel values, just moves them
        assert sorted(r.flatten().tolist()) == sorted(image.flatten().tolist())
    for element, result in enumerate(results):  # NumPy arrays get the same elements, in the same order
        np.testing.assert_array_equal(dihedral_element(image.numpy(), element), result.numpy())


def test_random_dihedral_moves_pixels_per_image_and_is_seeded():
    images = torch.randn(64, 3, 6, 6)
    a = random_dihedral(images, torch.Generator().manual_seed(0))
    b = random_dihedral(images, torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b)
    changed = (a != images).flatten(1).any(dim=1)
    assert 0 < changed.sum() < 64  # some images kept (identity element), most moved
    for i in range(64):
        assert torch.equal(torch.sort(a[i].flatten())[0], torch.sort(images[i].flatten())[0])
