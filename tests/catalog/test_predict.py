import numpy as np
import pytest
import torch
from astropy.table import Table

from galmerge.catalog import make_backend, predict, predict_catalog, predict_catalog_file, predict_proba
from galmerge.data import ImageSet, dihedral_element, make_toy_mergers
from galmerge.errors import ConfigError, OutputExistsError


@pytest.fixture(scope="module")
def fresh():
    return make_toy_mergers(200, seed=21)


def test_onnx_and_torch_backends_agree(trained_run, fresh):
    p_torch = predict_proba(trained_run.trained, fresh.images, backend="torch")
    p_onnx = predict_proba(trained_run.trained, fresh.images, backend="onnx")  # the onnx extra is part of the test set-up
    np.testing.assert_allclose(p_onnx, p_torch, atol=1e-4)
    assert trained_run.trained.model.fused  # exporting did not leave the model in its plain-layer mode


def test_catalog_columns_and_thresholds(trained_run, fresh):
    catalog = predict_catalog(trained_run.trained, fresh, backend="torch")
    assert len(catalog) == 200
    assert {"id", "p_merger", "is_merger_pred", "is_merger_pred_recall", "flags", "is_merger"} <= set(catalog.colnames)
    p = np.asarray(catalog["p_merger"])
    assert ((p >= 0) & (p <= 1)).all()
    np.testing.assert_array_equal(catalog["is_merger_pred"], p >= 0.5)
    threshold = trained_run.trained.spec.thresholds["target_recall"]
    np.testing.assert_array_equal(catalog["is_merger_pred_recall"], p >= threshold)
    assert catalog.meta["thresholds"]["target_recall"] == threshold


def test_test_time_augmentation_is_the_mean_and_spread_over_the_eight_symmetries(trained_run, fresh):
    images = fresh.images[:20]
    augmented = predict(trained_run.trained, images, backend="torch", tta=True)
    # the same 8 views made independently: flip/rotate the raw images (preprocessing is per pixel
    # and per band, so it commutes with the symmetries), then predict each view without TTA
    views = np.stack([predict(trained_run.trained, dihedral_element(torch.from_numpy(images), element).contiguous().numpy(), backend="torch").p_merger for element in range(8)])
    assert len({tuple(np.round(v, 6)) for v in views}) > 1  # the views really differ
    np.testing.assert_allclose(augmented.p_merger, views.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(augmented.p_merger_std, views.std(axis=0), atol=1e-5)
    assert predict(trained_run.trained, images, backend="torch").p_merger_std is None


def test_flags_mark_filled_pixels(trained_run, fresh, tmp_path):
    images = fresh.images[:4].copy().astype(np.float64)
    images[1, 0, :10] = np.nan  # 10 of 75 rows of one band: 4.4 % of the pixels
    images[2, :, :40] = np.nan  # over half of every band
    np.save(tmp_path / "X.npy", images)
    catalog_path, rows = predict_catalog_file(trained_run.run_dir, tmp_path / "X.npy", out=tmp_path / "cat.fits", backend="torch", progress=False)
    catalog = Table.read(catalog_path)
    assert rows == 4 and list(np.asarray(catalog["flags"]) & 3) == [0, 1, 3, 0]  # bit 16 (out of distribution) may join


def test_catalog_file_from_a_saved_set_matches_the_set_in_memory(trained_run, fresh, tmp_path):
    fresh.save(tmp_path / "fresh.h5")
    path, rows = predict_catalog_file(trained_run.run_dir, tmp_path / "fresh.h5", out=tmp_path / "cat.ecsv", batch_size=64, backend="torch", progress=False)
    streamed = Table.read(path)
    whole = predict_catalog(trained_run.trained, fresh, backend="torch")
    assert rows == 200
    np.testing.assert_allclose(streamed["p_merger"], whole["p_merger"], atol=1e-6)
    with pytest.raises(OutputExistsError):
        predict_catalog_file(trained_run.run_dir, tmp_path / "fresh.h5", out=tmp_path / "cat.ecsv", progress=False)


def test_backend_can_be_reused_across_calls(trained_run, fresh):
    runner = make_backend(trained_run.trained.model, backend="torch", input_shape=(3, 75, 75))
    first = predict_catalog(trained_run.trained, fresh[:10], runner=runner)
    second = predict_catalog(trained_run.trained, ImageSet(fresh.images[:10]), runner=runner)
    np.testing.assert_allclose(first["p_merger"], second["p_merger"])


def test_onnx_on_a_gpu_is_refused_and_auto_without_one_is_onnx(trained_run, monkeypatch):
    with pytest.raises(ConfigError, match="'onnx' runs on the CPU only, not on device 'cuda'"):
        make_backend(trained_run.trained.model, backend="onnx", device="cuda", input_shape=(3, 75, 75))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert make_backend(trained_run.trained.model, input_shape=(3, 75, 75)).name == "onnx"
