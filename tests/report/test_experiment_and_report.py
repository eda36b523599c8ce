"""A small experiment end to end, and its report opened in headless Chromium."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from galmerge.data import ImageSet, make_toy_mergers
from galmerge.errors import ConfigError
from galmerge.evaluation.experiment import ExperimentConfig, _gap_closure, run_experiment
from galmerge.report import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    folder = tmp_path_factory.mktemp("experiment")
    make_toy_mergers(600, seed=1).save(folder / "source.h5")
    base = make_toy_mergers(600, seed=2)
    ImageSet(base.images * np.array([2.0, 1.0, 0.4], dtype=np.float32)[None, :, None, None], labels=base.labels, meta=base.meta).save(folder / "target.h5")
    (folder / "protocol.toml").write_text(
        'name = "tiny"\nseeds = [0, 1]\n[data]\nsource = "source.h5"\ntarget = "target.h5"\n'
        "[train]\nepochs = 2\nbatch_size = 64\nn_bootstrap = 20\nearly_stopping_patience = 0\n"
        '[methods]\nnoDA = { method = "none" }\nMMD = { method = "mmd" }\n'
        '[finetune]\nmethods = ["MMD"]\nn_labels = [0, 40]\ntable_k = 40\n'
    )
    return run_experiment(folder / "protocol.toml", folder / "out", progress=False), folder / "out"


def test_experiment_writes_the_table_and_figures(experiment):
    record, out = experiment
    assert set(record["methods"]) == {"noDA", "MMD", "MMD, on the fine-tuning evaluation images (K=0)", "MMD + fine-tuned (K=40)"}
    finetuned = record["methods"]["MMD + fine-tuned (K=40)"]["summary"]
    assert 0 <= finetuned["target_roc_auc"]["mean"] <= 1 and finetuned.get("gap_closure") is None
    assert len(record["methods"]["MMD"]["runs"]) == 2
    summary = record["methods"]["MMD"]["summary"]
    assert 0 <= summary["target_roc_auc"]["mean"] <= 1 and summary["target_roc_auc"]["std"] >= 0
    assert 0 <= summary["a_distance"] <= 2
    gap = record["domain_gap_roc_auc"]
    if gap > 0:  # two epochs on toy images may or may not open a gap; the formula is checked below
        assert record["methods"]["noDA"]["summary"]["gap_closure"] == pytest.approx(0.0)
    else:
        assert summary["gap_closure"] is None
    table = (out / "table.md").read_text()
    assert "| noDA |" in table and "MMD + fine-tuned (K=40)" in table
    for name in ("roc_source.png", "roc_target.png", "pr_target.png", "tsne_noDA.png", "tsne_MMD.png"):
        assert (out / "figures" / name).exists(), name
    assert json.loads((out / "experiment.json").read_text())["name"] == "tiny"


def test_gap_closure_is_the_fraction_of_the_nodas_gap_recovered():
    def method(option, source, target):
        return {"options": {"method": option}, "summary": {"source_roc_auc": {"mean": source}, "target_roc_auc": {"mean": target}}}

    record = {"methods": {"noDA": method("none", 0.95, 0.75), "MMD": method("mmd", 0.94, 0.90), "DANN": method("dann", 0.9, 0.70)}}
    _gap_closure(record)
    assert record["reference"] == "noDA" and record["domain_gap_roc_auc"] == pytest.approx(0.20)
    closures = {name: m["summary"]["gap_closure"] for name, m in record["methods"].items()}
    assert closures == pytest.approx({"noDA": 0.0, "MMD": 0.75, "DANN": -0.25})


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_the_report_renders_with_its_figures_in_headless_chromium(experiment, tmp_path):
    _, out = experiment
    page = out / "report.html"
    text = page.read_text()
    assert "<table>" in text and "data:image/png;base64," in text and "http" not in text.split("<body>")[1]
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000"]
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    figures = int(re.search(r'data-figures="(\d+)"', dom).group(1))
    rendered = int(re.search(r'data-rendered-figures="(\d+)"', dom).group(1))
    assert figures >= 8 and rendered == figures
    subprocess.run([CHROMIUM, *flags, f"--screenshot={tmp_path / 'shot.png'}", "--window-size=1200,900", page.as_uri()], capture_output=True, timeout=120)
    from PIL import Image

    shot = np.asarray(Image.open(tmp_path / "shot.png").convert("L"), dtype=float)
    assert shot.std() > 10  # text and figures, not a blank page


def test_run_reports_and_bad_inputs(trained_run, tmp_path):
    page = write_report(trained_run.run_dir, out=tmp_path / "run.html").read_text()
    assert "Learning curves" in page and page.count("<img") >= 5
    with pytest.raises(Exception, match="neither a run directory"):
        write_report(tmp_path)
    (tmp_path / "bad.toml").write_text('name = "x"\n[data]\nsource = "a.h5"\ntarget = "b.h5"\n[methods]\nMMD = { method = "mmd" }\n')
    with pytest.raises(ConfigError, match="without adaptation"):
        ExperimentConfig.from_toml(tmp_path / "bad.toml")
