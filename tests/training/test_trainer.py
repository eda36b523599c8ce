"""The Trainer of a run: the checkpoint is chosen by the monitor, and early stopping watches the same monitor."""

import lightning.pytorch as pl
import pytest
import torch
from astropy.table import Table
from torch import nn

from galmerge.runs import Run
from galmerge.training import TrainConfig
from galmerge.training.trainer import make_trainer


class Scripted(pl.LightningModule):
    """Logs a given value of each quantity at each epoch's validation, so the Trainer's choices can be predicted."""

    def __init__(self, series: dict[str, list[float]]):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.series = series

    def training_step(self, batch, batch_idx):
        return (self.weight - 1.0).pow(2).sum()

    def validation_step(self, batch, batch_idx):
        for name, values in self.series.items():
            self.log(name, values[self.current_epoch], on_epoch=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit(tmp_path, series, **options):
    config = TrainConfig(accelerator="cpu", devices=1, **options)
    run = Run.create(tmp_path / "run")
    trainer, checkpoint = make_trainer(config, run, progress=False)
    trainer.fit(Scripted(series), train_dataloaders=[torch.zeros(2)], val_dataloaders=[torch.zeros(2)])
    best_epoch = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)["epoch"]
    epochs_run = len(Table.read(run.history, format="ascii.csv"))
    return best_epoch, epochs_run, float(checkpoint.best_model_score)


def test_early_stopping_follows_the_monitor_not_the_validation_loss(tmp_path):
    series = {"val_roc_auc": [0.6, 0.8, 0.7, 0.75, 0.9, 0.95, 0.96, 0.97], "val_loss": [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]}
    best, epochs_run, score = fit(tmp_path, series, epochs=8, monitor="val_roc_auc", early_stopping_patience=2)
    # best at epoch 1; epochs 2 and 3 do not beat it: stop after epoch 3, although val_loss kept falling
    assert (best, epochs_run, score) == (1, 4, pytest.approx(0.8))


def test_a_label_free_monitor_chooses_the_checkpoint(tmp_path):
    series = {"val_roc_auc": [0.9, 0.8, 0.7, 0.6, 0.5], "val_loss": [0.5] * 5, "target_entropy": [0.6, 0.4, 0.5, 0.3, 0.35], "target_im": [0.1, 0.3, 0.2, 0.25, 0.15]}
    assert fit(tmp_path / "entropy", series, epochs=5, monitor="target_entropy", early_stopping_patience=0)[0] == 3  # lowest entropy
    assert fit(tmp_path / "im", series, epochs=5, monitor="target_im", early_stopping_patience=0)[0] == 1  # highest information maximisation
    assert fit(tmp_path / "auc", series, epochs=5, monitor="val_roc_auc", early_stopping_patience=0)[0] == 0


def test_deterministic_kernels_are_asked_for_where_a_gpu_trains_and_nowhere_else(tmp_path, monkeypatch):
    from galmerge.training.trainer import _trains_on_gpu

    fit(tmp_path, {"val_roc_auc": [0.5, 0.6]}, epochs=2, early_stopping_patience=0)
    assert not torch.are_deterministic_algorithms_enabled()  # a CPU run leaves the process-wide setting alone
    for visible in (False, True):
        monkeypatch.setattr(torch.cuda, "is_available", lambda visible=visible: visible)
        assert [_trains_on_gpu(name) for name in ("auto", "gpu", "cpu")] == [visible, True, False]
