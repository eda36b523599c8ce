"""Domain adaptation in training: it closes a domain gap, never reads target labels, records label-free criteria."""

import csv

import numpy as np
import pytest
import torch

from galmerge.data import ImageSet, make_toy_mergers
from galmerge.errors import ConfigError
from galmerge.pipeline import evaluate_run, train_and_evaluate
from galmerge.training import TrainConfig, train


def gain_shifted(n, seed):
    """A target domain whose bands have other gains (x2, x1, x0.4): information kept, colours changed."""
    base = make_toy_mergers(n, seed=seed)
    gains = np.array([2.0, 1.0, 0.4], dtype=np.float32)[None, :, None, None]
    return ImageSet(base.images * gains, labels=base.labels, meta=base.meta, source=f"gain-shifted toy {seed}")


@pytest.fixture(scope="module")
def domains():
    return make_toy_mergers(1200, seed=1), gain_shifted(1200, seed=2)


def fit(domains, tmp_path, method, **changes):
    source, target = domains
    # One BatchNorm for both domains: domain-specific BatchNorm (the default) closes a gain shift
    # on its own (tests/training/test_domain_training.py), which would leave the terms nothing to show.
    changes = {"batchnorm": "mixed", "input_size": 32, **changes}  # 32 px: the toy shapes need no more
    config = TrainConfig(method=method, epochs=10, batch_size=32, seed=0, n_bootstrap=0, early_stopping_patience=0, **changes)
    return train_and_evaluate(source, target=target, config=config, out=tmp_path / f"{method}-{len(changes)}", progress=False)


@pytest.fixture(scope="module")
def runs(domains, tmp_path_factory):
    folder = tmp_path_factory.mktemp("da")
    return {method: fit(domains, folder, method) for method in ("none", "mmd", "dann")}


def auc(run, split):
    return getattr(run.record, split).roc_auc.value


def test_mmd_and_dann_each_recover_at_least_half_of_the_domain_gap(runs):
    no_da = runs["none"]
    gap = auc(no_da, "test") - auc(no_da, "target_test")
    assert gap > 0.15  # a real gap: the source-trained network is lost on the new colours
    for method in ("mmd", "dann"):
        recovered = (auc(runs[method], "target_test") - auc(no_da, "target_test")) / gap
        assert recovered >= 0.5, (method, recovered)


def test_label_free_criteria_are_recorded_every_epoch(runs):
    with open(runs["dann"].run_dir / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 10
    for column in ("target_entropy", "target_im", "domain_accuracy", "train_dann_domain_accuracy", "train_dann_loss"):
        values = [float(r[column]) for r in rows]
        assert all(np.isfinite(values)), column
    assert 0.0 <= float(rows[-1]["target_entropy"]) <= np.log(2) + 1e-6
    assert runs["dann"].record.best_checkpoint["monitor"] == "val_roc_auc"
    assert runs["dann"].record.n_images["target_train"] > 0


def test_target_labels_are_never_used(domains, tmp_path):
    source, target = domains[0][:400], domains[1][:400]  # equality of weights needs no large set
    wrong = ImageSet(target.images, labels=1 - target.labels, meta=target.meta)
    unlabelled = ImageSet(target.images, meta=target.meta)
    config = TrainConfig(method="mmd", epochs=2, batch_size=64, seed=3, n_bootstrap=0, early_stopping_patience=0, monitor="target_im", input_size=32)
    results = [train_and_evaluate(source, target=t, config=config, out=tmp_path / name, progress=False) for name, t in (("right", target), ("wrong", wrong), ("none", unlabelled))]
    for (name, a), b, c in zip(results[0].trained.model.state_dict().items(), results[1].trained.model.state_dict().values(), results[2].trained.model.state_dict().values()):
        assert torch.equal(a, b) and torch.equal(a, c), name
    assert results[0].thresholds == results[1].thresholds
    assert results[2].record.target_test is None  # nothing to score without labels


def test_evaluation_skips_the_target_images_used_in_training(runs, domains):
    _, target = domains
    report = evaluate_run(runs["mmd"].run_dir, target, n_bootstrap=0, progress=False)
    sizes = runs["mmd"].record.n_images
    assert report.n_excluded == sizes["target_train"] + sizes["target_val"]
    assert report.n == sizes["target_test"]


def test_adaptation_and_label_free_selection_need_a_target_before_any_work(domains, tmp_path):
    with pytest.raises(ConfigError, match="target"):
        train(domains[0], config=TrainConfig(method="dann", epochs=1), out=tmp_path / "x", progress=False)
    with pytest.raises(ConfigError, match="monitor 'target_entropy' is computed on unlabelled target images"):
        train(domains[0], config=TrainConfig(monitor="target_entropy", epochs=1), out=tmp_path / "y", progress=False)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
