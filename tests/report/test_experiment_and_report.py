"""A small experiment end to end, and its report opened in headless Chromium."""

import re
import shutil
import subprocess

import numpy as np
import pytest

from galmerge.data import ImageSet, make_toy_mergers
from galmerge.errors import CheckpointError, ConfigError, OutputExistsError
from galmerge.pipeline.experiment import ExperimentConfig, gap_closure, run_experiment
from galmerge.pipeline.finetuning import RUN_METHOD
from galmerge.report import write_report
from galmerge.runs import ExperimentRecord, MethodResult, SeedSummary

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    folder = tmp_path_factory.mktemp("experiment")
    make_toy_mergers(600, seed=1).save(folder / "source.h5")
    base = make_toy_mergers(600, seed=2)
    ImageSet(base.images * np.array([2.0, 1.0, 0.4], dtype=np.float32)[None, :, None, None], labels=base.labels, meta=base.meta).save(folder / "target.h5")
    (folder / "protocol.toml").write_text(
        'name = "tiny"\nseeds = [0, 1]\nbaselines = ["statistics"]\n[data]\nsource = "source.h5"\ntarget = "target.h5"\n'
        "[train]\nepochs = 2\nbatch_size = 64\nn_bootstrap = 20\nearly_stopping_patience = 0\ninput_size = 32\n"
        '[methods]\nnoDA = { method = "none" }\nMMD = { method = "mmd" }\n'
        '[finetune]\nmethods = ["MMD"]\nn_labels = [0, 40]\ntable_k = 40\nfolds = 2\nsteps = 40\n'
    )
    return run_experiment(folder / "protocol.toml", folder / "out", progress=False), folder / "out"


def test_experiment_writes_the_table_and_figures(experiment):
    record, out = experiment
    assert set(record.methods) == {
        "noDA",
        "MMD",
        "MMD, AdaBN only, cross-validated (K=0)",
        "MMD + fine-tuned (K=40)",
        "from scratch, K=40 labels only",
        "statistics, K=40 labels only",
        "mock statistics, no labels",
        "mock statistics + K=40 labels",
        "image statistics LR",
    }
    finetuned = record.methods["MMD + fine-tuned (K=40)"]
    assert finetuned.gap_closure is None and finetuned.summary["target_roc_auc"].n_seeds == 2
    # the fine-tuned rows are the mean of the curves' points, recomputed here
    curves = record.finetune["MMD"]
    assert finetuned.summary["target_roc_auc"].mean == pytest.approx(np.mean([c.methods[RUN_METHOD][40].roc_auc.value for c in curves]))
    mmd = record.methods["MMD"]
    assert len(mmd.runs) == 2
    per_seed = [run["target"].roc_auc.value for run in mmd.runs]
    assert mmd.summary["target_roc_auc"].mean == pytest.approx(np.mean(per_seed)) and mmd.summary["target_roc_auc"].std == pytest.approx(np.std(per_seed))
    assert 0 <= mmd.a_distance <= 2
    # the baseline row keeps its predictions as a run does (for the curves and paired comparisons)
    baseline = record.methods["image statistics LR"]
    assert baseline.first_run_dir is None and all((out / "baselines" / "statistics" / f"{d}_predictions.ecsv").exists() for d in ("source", "target"))
    # gap closure, recomputed from the record's own summaries
    reference = record.methods["noDA"].summary
    gap = reference["source_roc_auc"].mean - reference["target_roc_auc"].mean
    assert record.reference == "noDA" and record.domain_gap_roc_auc == pytest.approx(gap)
    expected = (mmd.summary["target_roc_auc"].mean - reference["target_roc_auc"].mean) / gap if gap > 0 else None
    assert mmd.gap_closure == (pytest.approx(expected) if expected is not None else None)
    table = (out / "table.md").read_text()
    assert "| noDA |" in table and "MMD + fine-tuned (K=40)" in table
    assert f"{mmd.summary['target_roc_auc'].mean:.3f} ± {mmd.summary['target_roc_auc'].std:.3f}" in table  # two seeds: mean ± std
    for name in ("roc_source.png", "roc_target.png", "pr_target.png", "tsne_noDA.png", "tsne_MMD.png"):
        assert (out / "figures" / name).exists(), name
    assert ExperimentRecord.read(out / "experiment.json").table("all") == record.table("all")  # the saved record reads back to the same table


def test_gap_closure_is_the_fraction_of_the_nodas_gap_recovered():
    def method(option, source, target):
        return MethodResult(options={"method": option}, summary={"source_roc_auc": SeedSummary(source), "target_roc_auc": SeedSummary(target)})

    record = ExperimentRecord("x", [0], {}, methods={"noDA": method("none", 0.95, 0.75), "MMD": method("mmd", 0.94, 0.90), "DANN": method("dann", 0.9, 0.70)})
    gap_closure(record)
    assert record.reference == "noDA" and record.domain_gap_roc_auc == pytest.approx(0.20)
    closures = {name: m.gap_closure for name, m in record.methods.items()}
    assert closures == pytest.approx({"noDA": 0.0, "MMD": 0.75, "DANN": -0.25})
    inverted = ExperimentRecord("x", [0], {}, methods={"noDA": method("none", 0.7, 0.8), "MMD": method("mmd", 0.7, 0.9)})
    gap_closure(inverted)  # no gap to close: no ratio
    assert inverted.methods["MMD"].gap_closure is None


def test_one_seed_shows_intervals_and_no_spread():
    from galmerge.evaluation import score_predictions

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    evaluation = score_predictions(labels, np.clip(labels * 0.3 + rng.random(200) * 0.7, 0, 1), n_bootstrap=100)
    one = MethodResult(
        {"method": "none"},
        runs=[{"run_dir": "r", "source": evaluation, "target": evaluation, "epoch_time_s": 1.0}],
        summary={"source_roc_auc": SeedSummary.of([evaluation.roc_auc.value]), "target_roc_auc": SeedSummary.of([evaluation.roc_auc.value])},
    )
    record = ExperimentRecord("x", [0], {}, methods={"noDA": one})
    header, rows = record.table("transfer")
    assert header[:3] == ["method", "target ROC-AUC", "target PR-AUC"]
    assert rows[0][1] == evaluation.roc_auc.format() and "±" not in rows[0][1] and "[" in rows[0][1]
    assert record.table("transfer", intervals=False)[1][0][1] == f"{evaluation.roc_auc.value:.3f}"
    assert SeedSummary.of([0.5, 0.7]).format() == "0.600 ± 0.100"


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_the_report_renders_with_its_figures_in_headless_chromium(experiment, tmp_path):
    _, out = experiment
    page = out / "report.html"
    text = page.read_text()
    assert "<table>" in text and "data:image/png;base64," in text and "http" not in text.split("<body>")[1]
    body = text.split("<body>")[1]
    assert body.index("<h2>Summary</h2>") < body.index("<h2>Results</h2>") < body.index("<h2>Protocol</h2>")
    assert "<pre>" not in body.split("<h2>Protocol</h2>")[1].split("<h2>")[0]  # the protocol is a table, not a JSON dump
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=10000",
    ]
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
    test = trained_run.record.test
    assert f"On its source test split ({test.n} images never used for training or selection, {test.n_mergers} mergers) it reaches ROC-AUC {test.roc_auc.format()}" in page
    with pytest.raises(OutputExistsError, match="run.html: already exists"):
        write_report(trained_run.run_dir, out=tmp_path / "run.html")
    write_report(trained_run.run_dir, out=tmp_path / "run.html", overwrite=True)
    with pytest.raises(CheckpointError, match="neither a run directory"):
        write_report(tmp_path)
    (tmp_path / "bad.toml").write_text('name = "x"\n[data]\nsource = "a.h5"\ntarget = "b.h5"\n[methods]\nMMD = { method = "mmd" }\n')
    with pytest.raises(ConfigError, match="without adaptation"):
        ExperimentConfig.from_toml(tmp_path / "bad.toml")
