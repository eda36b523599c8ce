"""The command line: the documented forms work, and bad input gets one clear line and exit status 2."""

import subprocess
import sys

import numpy as np
import pytest
from astropy.table import Table

from galmerge.cli import main
from galmerge.data import make_toy_mergers


def run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_help_does_not_import_the_heavy_libraries():
    code = "import sys, galmerge.cli as c; c.build_parser(); print(sorted(m for m in ('torch', 'lightning', 'astropy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_documented_forms_train_evaluate_predict_convert(tmp_path, capsys, toy_npy, trained_run):
    x, y = toy_npy
    code, out, _ = run(capsys, "train", "--source", f"{x},{y}", "--model", "deepmerge", "--epochs", 1, "--out", tmp_path / "a", "--quiet")
    assert code == 0 and "roc_auc" in out and (tmp_path / "a" / "model.safetensors").exists()

    fresh = make_toy_mergers(200, seed=8)
    np.save(tmp_path / "Xtest.npy", fresh.images)
    np.save(tmp_path / "ytest.npy", fresh.labels.astype(float))
    code, out, _ = run(capsys, "evaluate", trained_run.run_dir, "--data", f"{tmp_path}/Xtest.npy,{tmp_path}/ytest.npy", "--out", tmp_path / "metrics.json", "--bootstrap", 20, "--quiet")
    assert code == 0 and (tmp_path / "metrics.json").exists() and "roc_auc" in out

    fresh.save(tmp_path / "cutouts.h5")
    code, out, _ = run(capsys, "predict", trained_run.run_dir, tmp_path / "cutouts.h5", "--out", tmp_path / "catalog.ecsv", "--quiet")
    assert code == 0 and len(Table.read(tmp_path / "catalog.ecsv")) == 200

    code, out, _ = run(capsys, "convert", f"{tmp_path}/Xtest.npy,{tmp_path}/ytest.npy", "--out", tmp_path / "converted.h5", "--bands", "g,r,i", "--quiet")
    assert code == 0 and "bands=g,r,i" in out


def test_resnet18_from_an_imageset_file_with_a_config(tmp_path, capsys):
    make_toy_mergers(120, seed=1, size=32).save(tmp_path / "train.h5")
    (tmp_path / "my.toml").write_text("epochs = 1\ninput_size = 32\nbatch_size = 32\nn_bootstrap = 10\n")
    code, out, err = run(capsys, "train", "--source", tmp_path / "train.h5", "--model", "resnet18", "--config", tmp_path / "my.toml", "--out", tmp_path / "b", "--quiet")
    assert code == 0, err
    assert 'model = "resnet18"' in (tmp_path / "b" / "config.toml").read_text()


def bad_arrays(tmp_path, kind):
    x = np.random.default_rng(0).normal(size=(40, 3, 75, 75))
    y = (np.arange(40) % 2).astype(float)
    if kind == "mismatch":
        y = y[:30]
    elif kind == "rank":
        x = x[:, 0]
    elif kind == "nan":
        x[7] = np.nan
    elif kind == "labels":
        y[3] = 2.0
    elif kind == "empty":
        x, y = x[:0], y[:0]
    elif kind == "one_class":
        y[:] = 1.0
    np.save(tmp_path / "X.npy", x)
    np.save(tmp_path / "y.npy", y)
    return f"{tmp_path}/X.npy,{tmp_path}/y.npy"


@pytest.mark.parametrize(
    "kind, message",
    [
        ("mismatch", "X.npy has 40 images but .*y.npy has 30 labels"),
        ("rank", "X.npy: expected 4 dimensions"),
        ("nan", "X.npy: image 7.*every pixel of band"),
        ("labels", "labels must be 0 .*or 1"),
        ("empty", "the set is empty"),
        ("one_class", "training needs both classes, but all 40 images are mergers"),
    ],
)
def test_bad_training_data_gets_one_clear_line(tmp_path, capsys, kind, message):
    import re

    code, _, err = run(capsys, "train", "--source", bad_arrays(tmp_path, kind), "--epochs", 1, "--out", tmp_path / "run", "--quiet")
    assert code == 2
    assert err.startswith("galmerge: error: ") and err.count("\n") == 1
    assert re.search(message, err), err
    assert not (tmp_path / "run").exists()


def test_corrupt_files_band_mismatch_architecture_and_existing_output(tmp_path, capsys, trained_run):
    (tmp_path / "cutouts").mkdir()
    (tmp_path / "cutouts" / "a.fits").write_bytes(b"SIMPLE  = broken" + b"\0" * 80)
    code, _, err = run(capsys, "predict", trained_run.run_dir, tmp_path / "cutouts", "--out", tmp_path / "c.ecsv", "--quiet")
    assert code == 2 and "a.fits: not a readable FITS file" in err

    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    code, _, err = run(capsys, "predict", trained_run.run_dir, tmp_path / "pics", "--out", tmp_path / "c.ecsv", "--quiet")
    assert code == 2 and "b.jpg: not a readable picture" in err

    np.save(tmp_path / "two.npy", np.zeros((5, 2, 75, 75)))
    code, _, err = run(capsys, "predict", trained_run.run_dir, tmp_path / "two.npy", "--out", tmp_path / "c.ecsv", "--quiet")
    assert code == 2 and "2 bands, but the model was trained on 3" in err

    code, _, err = run(capsys, "train", "--source", "toy:100", "--model", "resnet18", "--init-from", trained_run.run_dir, "--out", tmp_path / "r", "--quiet")
    assert code == 2 and "another architecture" in err

    (tmp_path / "existing").mkdir()
    code, _, err = run(capsys, "train", "--source", "toy:100", "--epochs", 1, "--out", tmp_path / "existing", "--quiet")
    assert code == 2 and "already exists" in err

    code, _, err = run(capsys, "evaluate", tmp_path / "no_run", "--data", "toy:50", "--quiet")
    assert code == 2 and "no such run directory" in err


def test_mock_commands(tmp_path, capsys):
    code, out, _ = run(capsys, "mock", "--list")
    assert code == 0 and "hst-f814w" in out and "sdss-gri" in out
    code, out, err = run(capsys, "mock", "--recipe", "hst-f160w", "--n", 40, "--seed", 2, "--workers", 1, "--out", tmp_path / "m.h5", "--quiet")
    assert code == 0, err
    assert "shortcut audit" in out and "KS statistics" in out
    from galmerge.data import ImageSet

    mocks = ImageSet.load(tmp_path / "m.h5")
    assert len(mocks) == 40 and mocks.masks is not None and mocks.bands == ("F160W",)
    code, _, err = run(capsys, "mock", "--recipe", "hst-f160w", "--n", 40, "--out", tmp_path / "m.h5", "--quiet")
    assert code == 2 and "already exists" in err
    code, _, err = run(capsys, "mock", "--recipe", "no-such-survey", "--n", 10, "--out", tmp_path / "x.h5", "--quiet")
    assert code == 2 and "no recipe 'no-such-survey'" in err


def test_observe_command_on_a_simulation_image(tmp_path, capsys):
    from astropy.io import fits

    image = np.zeros((80, 80))
    image[35:45, 35:45] = 0.5
    fits.PrimaryHDU(image, header=fits.Header({"PIXKPC": 0.25})).writeto(tmp_path / "tng.fits")
    code, out, err = run(capsys, "observe", tmp_path / "tng.fits", "--recipe", "hst-f814w", "--redshift", 0.7, "--out", tmp_path / "obs.fits", "--quiet")
    assert code == 0, err
    observed = fits.getdata(tmp_path / "obs.fits")
    assert observed.shape == (1, 75, 75) and observed.sum() == pytest.approx(50.0, rel=0.2)
    fits.PrimaryHDU(image).writeto(tmp_path / "noscale.fits")
    code, _, err = run(capsys, "observe", tmp_path / "noscale.fits", "--recipe", "hst-f814w", "--out", tmp_path / "o2.fits", "--quiet")
    assert code == 2 and "no scale" in err
