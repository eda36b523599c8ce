"""Training with a target survey: domain-specific BatchNorm, self-training, and no peeking at target labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from galmerge.data import make_toy_mergers
from galmerge.data.imageset import ImageSet
from galmerge.models.domain_bn import using_domain
from galmerge.training.config import TrainConfig
from galmerge.training.fit import train


@pytest.fixture(scope="module")
def domains():
    source = make_toy_mergers(600, size=32, seed=21)
    target = make_toy_mergers(300, size=32, seed=22, merger_fraction=0.2)
    # another survey: other gain and zero point, so one set of BatchNorm statistics fits neither
    shifted = ImageSet(target.images * 4.0 + 3.0, bands=target.bands, labels=target.labels, source="shifted toy")
    return source, shifted


def _accuracies(result, rows):
    """Source accuracy at p >= 0.5 on ``rows`` with evaluation-mode (running) and training-mode (batch) statistics."""
    model = result.trained.model
    images = torch.from_numpy(result.trained.preprocessor.transform(result.source.images, rows=rows))
    labels = torch.from_numpy(result.labels[rows].astype(np.int64))
    out = {}
    with torch.no_grad(), using_domain(model, "source" if result.trained.spec.batchnorm_domains else None):
        for mode in ("eval", "train"):
            model.train(mode == "train")
            out[mode] = float((model(images)[1].argmax(1) == labels).float().mean())
    model.eval()
    return out


def _config(**options):
    return TrainConfig(**{"epochs": 12, "batch_size": 32, "lr": 5e-3, "seed": 3, "input_size": 32, "early_stopping_patience": 0, "n_bootstrap": 0, **options})


def test_domain_batchnorm_keeps_source_accuracy_in_evaluation_mode(domains, tmp_path):
    source, target = domains
    dsbn = train(source, target=target, config=_config(), out=tmp_path / "dsbn", progress=False)
    # the source training images: enough of them (420) that one image is 0.2 % of the accuracy
    rows = dsbn.split.train
    with_domains = _accuracies(dsbn, rows)
    assert with_domains["train"] > 0.7, with_domains  # it learned something: the comparison below means something
    assert abs(with_domains["eval"] - with_domains["train"]) <= 0.03, with_domains
    # the source test split is scored with the source statistics, not with the survey's
    from galmerge.pipeline.training import evaluate_training

    record = evaluate_training(dsbn)
    assert record.test.metric("accuracy").value == pytest.approx(_accuracies(dsbn, dsbn.split.test)["eval"], abs=1e-6)
    spec = dsbn.trained.spec
    assert spec.batchnorm_domains == ["source", "target"] and spec.prediction_domain == "target"
    bn = dsbn.trained.model.bn1
    assert not torch.allclose(bn.running_mean_source, bn.running_mean_target)  # each domain has its own


def test_self_training_never_sees_the_target_labels(domains, tmp_path):
    source, target = domains
    flipped = ImageSet(target.images, bands=target.bands, labels=1 - target.labels, source="flipped labels")
    config = _config(epochs=2, self_training=True, self_training_start=0.0)
    right = train(source, target=target, config=config, out=tmp_path / "right", progress=False)
    wrong = train(source, target=flipped, config=config, out=tmp_path / "wrong", progress=False)
    for (name, a), b in zip(right.trained.model.state_dict().items(), wrong.trained.model.state_dict().values()):
        assert torch.equal(a, b), name
    history = (tmp_path / "right" / "history.csv").read_text()
    assert "train_self_training_pseudo_labelled" in history and "target_prior" in history
