"""Lightning DDP with two CPU processes (gloo): the same model quality as one process, and resumable."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("ddp_train.py")


def _run(*arguments):
    result = subprocess.run([sys.executable, str(SCRIPT), *map(str, arguments)], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]


def _history(run):
    with open(run / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow  # four multi-process trainings, 1-1.5 min on 2 cores: `make test-slow`
def test_two_processes_train_like_one_and_resume(tmp_path):
    # One process with batches of 128 against two processes with 64 each: the same 128 images per
    # optimiser step (each rank takes every other image of the epoch's order); only BatchNorm's
    # per-process batch statistics and the augmentation streams differ.
    _run(tmp_path / "one", "--devices", 1, "--batch-size", 128)
    _run(tmp_path / "two", "--devices", 2, "--batch-size", 64)
    one = json.loads((tmp_path / "one" / "metrics.json").read_text())["test"]
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())["test"]
    assert one["roc_auc"]["ci95"][0] > 0.5 and two["roc_auc"]["ci95"][0] > 0.5  # both learned: better than chance at 95 %
    low, high = one["roc_auc"]["ci95"]
    assert low <= two["roc_auc"]["value"] <= high  # within the single-process run's 95 % bootstrap interval
    assert len(_history(tmp_path / "two")) == 3

    # DDP interrupted after 2 epochs and resumed to 3 retraces the uninterrupted DDP run
    _run(tmp_path / "resumed", "--devices", 2, "--batch-size", 64, "--epochs", 2)
    _run(tmp_path / "resumed", "--devices", 2, "--epochs", 3, "--resume")
    resumed, straight = _history(tmp_path / "resumed"), _history(tmp_path / "two")
    assert [row["epoch"] for row in resumed] == ["0", "1", "2"]
    for a, b in zip(resumed, straight):
        assert float(a["val_loss"]) == pytest.approx(float(b["val_loss"]), rel=1e-4)
