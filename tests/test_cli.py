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
    assert "adaptation:" not in out and 'method = "none"' in (tmp_path / "a" / "config.toml").read_text()  # auto without a target

    fresh = make_toy_mergers(200, seed=8)
    np.save(tmp_path / "Xtest.npy", fresh.images)
    np.save(tmp_path / "ytest.npy", fresh.labels.astype(float))
    code, out, _ = run(capsys, "evaluate", trained_run.run_dir, "--data", f"{tmp_path}/Xtest.npy,{tmp_path}/ytest.npy", "--out", tmp_path / "eval", "--bootstrap", 20, "--quiet")
    assert code == 0 and (tmp_path / "eval" / "metrics.json").exists() and (tmp_path / "eval" / "predictions.ecsv").exists() and "roc_auc" in out

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
    assert 'architecture = "resnet18"' in (tmp_path / "b" / "config.toml").read_text()


def test_train_with_a_target_and_no_method_uses_the_default_recipe(tmp_path, capsys):
    make_toy_mergers(160, seed=1).save(tmp_path / "source.h5")
    make_toy_mergers(160, seed=2).save(tmp_path / "target.h5")
    code, out, err = run(capsys, "train", "--source", tmp_path / "source.h5", "--target", tmp_path / "target.h5", "--epochs", 1, "--n-bootstrap", 0, "--out", tmp_path / "d", "--quiet")
    assert code == 0, err
    assert "adaptation: dann (transfer weight 0.3), domain BatchNorm" in out
    saved = (tmp_path / "d" / "config.toml").read_text()
    assert 'method = "dann"' in saved and "transfer_weight = 0.3" in saved


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
    assert code == 2 and "two.npy: 2 bands (band0, band1), but" in err and "trained on 3" in err

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
    code, _, err = run(capsys, "observe", tmp_path / "tng.fits", "--recipe", "hst-f814w", "--redshift", 0, "--out", tmp_path / "o3.fits", "--quiet")
    assert code == 2 and err == f"galmerge: error: {tmp_path / 'tng.fits'}: redshift must be > 0, got 0.0\n"  # one line, naming the file
    code, _, err = run(capsys, "observe", tmp_path / "tng.fits", "--recipe", "hst-f814w", "--redshift", 0.7, "--out", tmp_path / "obs.fits", "--quiet")
    assert code == 2 and "obs.fits: already exists" in err


def test_options_are_generated_from_the_configuration(tmp_path, capsys):
    from galmerge.cli import build_parser
    from galmerge.training import TrainConfig
    from galmerge.training.config import train_overrides

    parser = build_parser()
    args = parser.parse_args(["train", "--method", "dann", "--fisher", "--fisher-w-intra", "0.5", "--no-augment", "--patience", "3", "--adam-betas", "0.9", "0.99"])
    overrides = train_overrides(args)
    assert overrides == {"method": "dann", "fisher": True, "fisher_w_intra": 0.5, "augment": False, "early_stopping_patience": 3, "adam_betas": [0.9, 0.99]}
    config = TrainConfig.from_dict(overrides)
    assert config.adaptation.options_of("fisher").w_intra == 0.5 and config.selection.early_stopping_patience == 3
    help_text = parser._subparsers._group_actions[0].choices["train"].format_help()
    for flag, default in (("--dann-lr-multiplier", "0.1"), ("--fisher-w-intra", "0.01"), ("--entropy-weight", "0.05"), ("--epochs", "15")):
        assert flag in help_text and f"(default: {default})" in " ".join(help_text.split()), flag
    code, _, err = run(capsys, "train", "--source", "toy:60", "--monitor", "target_im", "--out", tmp_path / "r", "--quiet")
    assert code == 2 and "monitor 'target_im' is computed on unlabelled target images" in err and not (tmp_path / "r").exists()


def test_resume_applies_or_refuses_overrides(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--source", "toy:120", "--epochs", 1, "--batch-size", 32, "--n-bootstrap", 0, "--out", tmp_path / "r", "--quiet")
    assert code == 0, err
    code, _, err = run(capsys, "train", "--resume", tmp_path / "r", "--lr", 0.1, "--quiet")
    assert code == 2 and "cannot change lr (run: 0.001, given: 0.1)" in err
    code, out, err = run(capsys, "train", "--resume", tmp_path / "r", "--epochs", 2, "--quiet")
    assert code == 0, err
    assert len(Table.read(tmp_path / "r" / "history.csv", format="ascii.csv")) == 2


def test_predict_with_test_time_augmentation(tmp_path, capsys, trained_run):
    make_toy_mergers(30, seed=4).save(tmp_path / "few.h5")
    code, out, err = run(capsys, "predict", trained_run.run_dir, tmp_path / "few.h5", "--out", tmp_path / "c.ecsv", "--tta", "--backend", "torch", "--quiet")
    assert code == 0, err
    catalog = Table.read(tmp_path / "c.ecsv")
    assert "p_merger_std" in catalog.colnames and (np.asarray(catalog["p_merger_std"]) >= 0).all()


def test_a_gpu_asked_for_where_there_is_none_is_one_line_and_writes_nothing(tmp_path, capsys, trained_run, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    make_toy_mergers(30, seed=4).save(tmp_path / "few.h5")
    code, _, err = run(capsys, "predict", trained_run.run_dir, tmp_path / "few.h5", "--out", tmp_path / "c.parquet", "--device", "cuda", "--quiet")
    assert code == 2 and err.count("\n") == 1 and "'cuda' asked for, but PyTorch sees no CUDA GPU" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["few.h5"]
    code, _, err = run(capsys, "evaluate", trained_run.run_dir, "--data", tmp_path / "few.h5", "--out", tmp_path / "eval", "--device", "cuda", "--quiet")
    assert code == 2 and "no CUDA GPU" in err and not (tmp_path / "eval").exists()


def test_finetune_report_and_explain_commands(tmp_path, capsys, trained_run):
    gains = np.array([2.0, 1.0, 0.4], dtype=np.float32)[None, :, None, None]
    base = make_toy_mergers(200, seed=51)
    from galmerge.data import ImageSet

    ImageSet(base.images * gains, labels=base.labels).save(tmp_path / "target.h5")
    code, out, err = run(
        capsys,
        "finetune",
        trained_run.run_dir,
        "--target-labelled",
        tmp_path / "target.h5",
        "--n-labels",
        "0,20",
        "--steps",
        20,
        "--folds",
        2,
        "--repeats",
        1,
        "--no-baselines",
        "--mode",
        "head",
        "--out",
        tmp_path / "ft",
        "--quiet",
    )
    assert code == 0, err
    assert "200 labelled images" in out and (tmp_path / "ft" / "finetune.json").exists()  # every image scored out of fold
    code, _, err = run(capsys, "finetune", trained_run.run_dir, "--target-labelled", tmp_path / "target.h5", "--n-labels", "0,20", "--out", tmp_path / "ft", "--quiet")
    assert code == 2 and "already exists" in err
    code, out, err = run(capsys, "report", trained_run.run_dir, "--out", tmp_path / "page.html")
    assert code == 0 and (tmp_path / "page.html").read_text().startswith("<!DOCTYPE html>")
    code, _, err = run(capsys, "report", trained_run.run_dir, "--out", tmp_path / "page.html")
    assert code == 2 and "already exists" in err


def test_experiment_and_demo_commands(tmp_path, capsys):
    make_toy_mergers(240, seed=1).save(tmp_path / "source.h5")
    make_toy_mergers(240, seed=2).save(tmp_path / "target.h5")
    (tmp_path / "p.toml").write_text(
        'name = "cli"\n[data]\nsource = "source.h5"\ntarget = "target.h5"\n[train]\nepochs = 1\nbatch_size = 64\nn_bootstrap = 10\n[methods]\nnoDA = { method = "none" }\nCORAL = { method = "coral" }\n'
    )
    code, out, err = run(capsys, "experiment", tmp_path / "p.toml", "--out", tmp_path / "exp", "--quiet")
    assert code == 0, err
    assert out.splitlines()[0].split()[:4] == ["method", "target", "ROC-AUC", "target"] and "CORAL" in out and (tmp_path / "exp" / "report.html").exists()
    code, out, err = run(capsys, "demo", "--n", 40, "--epochs", 1, "--workers", 1, "--out", tmp_path / "demo", "--quiet")
    assert code == 0, err
    for name in ("report.html", "table.md", "summary.json", "mock_montage.png", "experiment.json"):
        assert (tmp_path / "demo" / name).exists(), name
    assert "galmerge demo finished" in out and "DANN" in out


def test_mock_benchmark_and_montage_commands(tmp_path, capsys):
    code, out, err = run(capsys, "mock", "--benchmark", "sim2sim", "--n", 24, "--seed", 1, "--workers", 1, "--out", tmp_path / "bench", "--quiet")
    assert code == 0, err
    assert out.count("shortcut audit") == 2 and (tmp_path / "bench" / "manifest.json").exists()
    code, out, err = run(capsys, "mock", "--montage", "--recipe", "hst-f160w", "--seed", 1, "--workers", 1, "--out", tmp_path / "m.png", "--quiet")
    assert code == 0, err
    from PIL import Image

    with Image.open(tmp_path / "m.png") as picture:
        assert picture.width > 1000 and picture.height > 600
    code, _, err = run(capsys, "mock", "--recipe", "hst-f160w", "--quiet")
    assert code == 2 and "mock needs --out" in err
