import lightning.pytorch as pl
import pytest
import torch
from torch import nn

from galmerge.training import InMemoryBatches, MergerClassifier
from galmerge.training.module import deepmerge_cycle_factor, one_cycle_factor


class CentreTerm(nn.Module):
    """A toy extra loss with its own parameter: pulls the mean target feature towards a learnable point."""

    lr_multiplier = 10.0

    def __init__(self, dim):
        super().__init__()
        self.centre = nn.Parameter(torch.zeros(dim))
        self.calls = []

    def forward(self, outputs):
        self.calls.append(None if outputs.features_target is None else len(outputs.features_target))
        return (outputs.features_target.mean(0) - self.centre).pow(2).mean()


def test_optimiser_covers_the_model_and_every_loss_term():
    term = CentreTerm(2592)
    module = MergerClassifier(architecture="deepmerge", in_bands=3, input_size=75, loss_terms={"centre": term})
    groups = module.parameter_groups()
    assert {g["name"] for g in groups} == {"deepmerge", "centre"}
    assert next(g for g in groups if g["name"] == "centre")["lr"] == pytest.approx(10 * module.hparams.lr)
    covered = {id(p) for g in groups for p in g["params"]}
    assert covered == {id(p) for p in module.parameters()}


def test_a_term_left_out_of_the_optimiser_is_detected():
    module = MergerClassifier(architecture="deepmerge", in_bands=3, input_size=75)
    module.stray = nn.Linear(2, 2)  # a trainable module no group knows about
    with pytest.raises(RuntimeError, match="missing from the optimiser: stray"):
        module.parameter_groups()


def test_target_stream_and_extra_term_train_together(tmp_path):
    torch.manual_seed(0)
    source = torch.randn(40, 3, 32, 32)
    labels = torch.arange(40) % 2
    target = torch.randn(24, 3, 32, 32) + 1.0
    term = CentreTerm(32 * 4 * 4)
    module = MergerClassifier(architecture="deepmerge", in_bands=3, input_size=32, lr_schedule="constant", loss_terms={"centre": term})
    loader = InMemoryBatches(source, labels, batch_size=16, shuffle=True, augment=False, seed=0, target_images=target)
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    validation = InMemoryBatches(source, labels, batch_size=40, shuffle=False, augment=False, seed=0)
    trainer.fit(module, train_dataloaders=loader, val_dataloaders=validation)
    assert term.calls == [16, 16, 8]  # called every step, with the target half of the features
    assert term.centre.abs().sum() > 0  # its parameter was optimised
    assert "train_centre_loss" in trainer.callback_metrics


def test_deepmerge_cycle_rises_from_a_tenth_to_one_and_back():
    period = 100
    values = [deepmerge_cycle_factor(step, period_steps=period) for step in range(2 * period)]
    assert values[0] == pytest.approx(0.1)
    assert values[50] == pytest.approx(1.0)
    assert values[99] < values[98] < values[60]
    assert values[100] == pytest.approx(0.1)  # repeats
    assert min(values) >= 0.1 - 1e-9 and max(values) <= 1.0 + 1e-9


def test_one_cycle_rises_to_the_peak_then_anneals():
    values = [one_cycle_factor(step, total_steps=100) for step in range(101)]
    assert values[0] == pytest.approx(0.1)
    assert values[30] == pytest.approx(1.0)
    assert all(a <= b for a, b in zip(values[:30], values[1:31]))
    assert all(a >= b for a, b in zip(values[30:], values[31:]))
    assert values[100] == pytest.approx(1e-3)
    assert one_cycle_factor(500, total_steps=100) == pytest.approx(1e-3)  # past the end: stays low
