"""Lightning callbacks of a galmerge run."""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import lightning.pytorch as pl
import numpy as np

__all__ = ["EpochHistory", "EpochLines", "TargetRefresh", "HISTORY_COLUMNS"]

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


class TargetRefresh(pl.Callback):
    """Once per epoch: the network's view of the unlabelled target, for the loss terms that need it.

    At the start of every training epoch the model (in evaluation mode, with the target's
    BatchNorm statistics) predicts the target training images; the survey's merger fraction is
    ``survey_prior`` when the user gave it, else the EM estimate from those predictions
    (:func:`galmerge.adapt.prior.estimate_prior_em`); every loss term with a
    ``refresh_from_target`` method (self-training's pseudo-labels, class-weighted alignment)
    receives both. Target labels are never involved: the target set here has none.

    Parameters
    ----------
    images : ndarray (N, bands, H, W)
        The raw target images.
    rows : array of int
        The target training rows.
    transform : callable
        Preprocessing of a float32 batch tensor.
    survey_prior : float or None
    train_prior : float
        Merger fraction the network's posteriors carry (0.5 after class-balanced training).
    batch_size : int
    """

    def __init__(self, images, rows, *, transform, survey_prior: float | None, train_prior: float, batch_size: int = 256):
        self.images, self.rows = images, np.asarray(rows)
        self.transform, self.survey_prior, self.train_prior, self.batch_size = transform, survey_prior, train_prior, batch_size
        self.prior: float | None = None

    def _terms(self, pl_module):
        return [term for term in getattr(pl_module, "loss_terms", {}).values() if hasattr(term, "refresh_from_target")]

    def on_train_epoch_start(self, trainer, pl_module):
        terms = self._terms(pl_module)
        if not terms:
            return
        import torch

        from galmerge.adapt.prior import estimate_prior_em
        from galmerge.models.domain_bn import using_domain

        model = pl_module.model
        was_training = model.training
        model.eval()
        chunks = []
        with torch.no_grad(), using_domain(model, "target"):
            for start in range(0, len(self.rows), self.batch_size):
                rows = self.rows[start : start + self.batch_size]
                batch = torch.from_numpy(np.take(self.images, rows, axis=0).astype(np.float32, copy=False))
                batch = self.transform(batch).to(pl_module.device)
                chunks.append(torch.softmax(model(batch)[1].float(), dim=1)[:, 1].cpu().numpy())
        model.train(was_training)
        p_merger = np.concatenate(chunks)
        if self.survey_prior is not None:
            prior = self.survey_prior
        else:  # bounded: a network that has learned nothing yet must not drive the prior to 0 or 1
            prior = float(np.clip(estimate_prior_em(p_merger, train_prior=self.train_prior).prior, 0.002, 0.5))
        self.prior = prior
        for term in terms:
            term.refresh_from_target(p_merger, self.rows, n_rows=len(self.images), prior=prior, train_prior=self.train_prior)
        pl_module.log("target_prior", prior, on_step=False, on_epoch=True)
