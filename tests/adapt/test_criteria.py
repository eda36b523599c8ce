"""Label-free selection criteria: SND, DEV and prior-aware information maximisation."""

from __future__ import annotations

import numpy as np
import pytest

from galmerge.adapt.selection import deep_embedded_validation, prior_aware_information, soft_neighbourhood_density


def test_snd_prefers_clustered_predictions_to_a_smear():
    as_probabilities = lambda p: np.stack([1 - p, p], axis=1)  # noqa: E731
    # two exact clusters of 150: each image's neighbourhood is uniform over the 149 others of its
    # cluster (the other cluster is exp(-1 / 0.05) less similar), so SND = ln 149
    clustered = np.r_[np.full(150, 0.02), np.full(150, 0.98)]
    assert soft_neighbourhood_density(as_probabilities(clustered)) == pytest.approx(np.log(149), abs=1e-3)
    smeared = np.random.default_rng(0).random(300)
    assert soft_neighbourhood_density(as_probabilities(smeared)) < np.log(149)


def test_dev_weighs_the_source_loss_towards_what_the_target_looks_like():
    rng = np.random.default_rng(1)
    n = 2000
    labels = rng.random(n) < 0.5
    features = rng.normal(np.where(labels, 3.0, 0.0), 1.0)[:, None]
    losses = np.where(labels, 2.0, 0.1)  # the model is bad on class 1 only
    target_like_class0 = rng.normal(0.0, 1.0, (n, 1))
    target_like_source = rng.normal(np.where(rng.random(n) < 0.5, 3.0, 0.0), 1.0)[:, None]
    assert losses.mean() == pytest.approx(1.05, abs=0.05)
    assert deep_embedded_validation(features, losses, target_like_class0) < 0.4
    assert deep_embedded_validation(features, losses, target_like_source) == pytest.approx(losses.mean(), abs=0.1)


def test_prior_aware_information_by_hand():
    # logits 0 mean p = 0.5 under the training prior; moved to a 10 % prior they are 0.1 each:
    # the mean matches the prior (KL 0) and each has entropy H(0.1)
    value = prior_aware_information(np.zeros((4, 2)), prior=0.1)
    h = -(0.1 * np.log(0.1) + 0.9 * np.log(0.9))
    assert value == pytest.approx(-h)
    # a model that calls everything a merger is penalised against the 10 % prior
    assert prior_aware_information(np.tile([[-5.0, 5.0]], (4, 1)), prior=0.1) < value
