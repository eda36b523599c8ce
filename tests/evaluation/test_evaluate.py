import json

import numpy as np
import pytest
from astropy.table import Table

from galmerge.data import ImageSet, make_toy_mergers
from galmerge.errors import DataError, LabelError, ModelMismatchError, OutputExistsError
from galmerge.pipeline import evaluate_run
from galmerge.runs import Evaluation


def test_training_and_validation_images_are_never_scored(trained_run, toy_npy):
    report = evaluate_run(trained_run.run_dir, f"{toy_npy[0]},{toy_npy[1]}", n_bootstrap=20, progress=False)
    sizes = trained_run.record.n_images
    assert report.n_excluded == sizes["train"] + sizes["val"]
    assert report.n == sizes["test"]
    # the same images as the test split, so the same scores
    assert report.roc_auc.value == pytest.approx(trained_run.record.test.roc_auc.value, abs=1e-6)


def test_reshuffled_copies_of_training_images_are_recognised(trained_run, toy_set):
    with np.load(trained_run.run_dir / "split.npz") as split:
        rows = np.concatenate([split["train"][:50], split["test"][:50]])
    shuffled = toy_set[np.random.default_rng(0).permutation(rows)]
    report = evaluate_run(trained_run.run_dir, shuffled, n_bootstrap=0, progress=False)
    assert report.n_excluded == 50 and report.n == 50


def test_fresh_data_report_and_figures(trained_run, tmp_path):
    fresh = make_toy_mergers(300, seed=99)
    report = evaluate_run(trained_run.run_dir, fresh, out=tmp_path / "fresh", n_bootstrap=50, progress=False)
    assert report.n_excluded == 0 and report.n == 300
    assert report.roc_auc.value > 0.8
    saved = json.loads((tmp_path / "fresh" / "metrics.json").read_text())
    assert saved["thresholds"]["target_recall"]["threshold"] == trained_run.trained.spec.thresholds["target_recall"]
    assert Evaluation.read(tmp_path / "fresh" / "metrics.json") == report  # what was written reads back whole
    # the run's statistics classifier, scored on the same images and paired with the network
    statistics = report.statistics
    assert statistics is not None and statistics.n == 300 and statistics.roc_auc.value > 0.8  # toy mergers are separable by statistics too
    paired, combined_network, combined_statistics = report.comparisons
    assert paired.difference == pytest.approx(report.roc_auc.value - statistics.roc_auc.value, abs=1e-9) and paired.ci95[0] < paired.difference < paired.ci95[1]
    assert len(Table.read(tmp_path / "fresh" / Evaluation.STATISTICS_PREDICTIONS)) == 300 and "paired: network - statistics" in report.summary()
    # and the two pooled, paired with each
    combined = report.combined
    assert combined is not None and combined.n == 300
    assert combined_network.difference == pytest.approx(combined.roc_auc.value - report.roc_auc.value, abs=1e-9)
    assert combined_statistics.difference == pytest.approx(combined.roc_auc.value - statistics.roc_auc.value, abs=1e-9)
    assert len(Table.read(tmp_path / "fresh" / Evaluation.COMBINED_PREDICTIONS)) == 300 and "paired: combined - network" in report.summary()
    for name in ("roc", "pr", "montage", "confusion_default"):
        assert (tmp_path / "fresh" / f"{name}.png").exists()
    with pytest.raises(OutputExistsError, match="already exists"):
        evaluate_run(trained_run.run_dir, fresh, out=tmp_path / "fresh", progress=False)
    again = evaluate_run(trained_run.run_dir, fresh, out=tmp_path / "fresh", overwrite=True, n_bootstrap=0, progress=False)
    assert again.n_bootstrap == 0 and "ci95" not in json.loads((tmp_path / "fresh" / "metrics.json").read_text())["roc_auc"]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(OutputExistsError, match="not a galmerge evaluation folder"):
        evaluate_run(trained_run.run_dir, fresh, out=tmp_path / "mine", overwrite=True, progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_bad_evaluation_data(trained_run, toy_set):
    with np.load(trained_run.run_dir / "split.npz") as split:
        train_rows = split["train"]
    with pytest.raises(DataError, match="every image was used"):
        evaluate_run(trained_run.run_dir, toy_set[train_rows], progress=False)
    fresh = make_toy_mergers(100, seed=5)
    with pytest.raises(LabelError, match="both classes"):
        evaluate_run(trained_run.run_dir, fresh[fresh.labels == 1], progress=False)
    two_band = ImageSet(fresh.images[:, :2], labels=fresh.labels)
    with pytest.raises(ModelMismatchError, match="2 bands"):
        evaluate_run(trained_run.run_dir, two_band, progress=False)
