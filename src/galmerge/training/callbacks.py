"""Lightning callbacks of a galmerge run."""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import lightning.pytorch as pl

__all__ = ["EpochHistory", "EpochLines", "HISTORY_COLUMNS"]

HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "val_roc_auc", "val_accuracy", "lr", "epoch_time_s")


class EpochHistory(pl.Callback):
    """Append one row per epoch to a CSV: losses, validation metrics, learning rate, wall time.

    Every other logged quantity (a domain-adaptation term's ``train_mmd_loss``, the label-free
    ``target_entropy``, ...) gets its own column; the file is appended to when a run resumes.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._started = 0.0

    def on_train_epoch_start(self, trainer, pl_module):
        self._started = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.sanity_checking or trainer.global_rank != 0:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        row = {
            "epoch": trainer.current_epoch,
            "lr": trainer.optimizers[0].param_groups[0]["lr"],
            "epoch_time_s": round(time.perf_counter() - self._started, 3),
        }
        row.update({k: metrics.get(k, "") for k in HISTORY_COLUMNS if k not in row})
        row.update({k: v for k, v in sorted(metrics.items()) if k not in row})
        new_file = not self.path.exists()
        columns = list(row)
        if not new_file:  # a resumed run keeps the columns it started with
            with open(self.path, newline="") as handle:
                columns = next(csv.reader(handle), columns)
        with open(self.path, "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, restval="", extrasaction="ignore")
            if new_file:
                writer.writeheader()
            writer.writerow(row)


class EpochLines(pl.Callback):
    """One line per epoch on standard error (progress where no terminal shows a bar): losses and validation metrics."""

    def __init__(self, stream=None):
        self.stream = stream

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.sanity_checking or trainer.global_rank != 0:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        shown = ", ".join(f"{name} {metrics[name]:.4f}" for name in ("train_loss", "val_loss", "val_roc_auc") if name in metrics)
        print(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}: {shown}", file=self.stream or sys.stderr, flush=True)
