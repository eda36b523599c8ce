"""Class-balanced pseudo-labels on a survey with rare mergers."""

from __future__ import annotations

import numpy as np
import pytest

from galmerge.adapt.pseudo_labels import select_pseudo_labels
from galmerge.errors import ConfigError


def _survey(n=5000, prior=0.02, seed=0):
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < prior).astype(int)
    x = rng.normal(np.where(labels == 1, 1.5, -1.5), 1.0)
    return labels, 1.0 / (1.0 + np.exp(-3.0 * x))  # exact posteriors under a 50 % prior


def test_pseudo_labels_follow_the_survey_mix_and_are_mostly_right():
    labels, p = _survey()
    chosen = select_pseudo_labels(p, prior=0.02, portion=0.5)
    mergers = chosen.labels == 1
    # quotas: half of the expected 100 mergers and of the 4,900 others
    assert mergers.sum() == 50 and (~mergers).sum() == 2450
    # the merger pseudo-labels are the most merger-like images: far purer than the survey's 2 %
    assert labels[chosen.rows[mergers]].mean() > 0.8
    assert (labels[chosen.rows[~mergers]] == 0).mean() > 0.99
    # both classes weigh the same in the loss
    assert chosen.weights[mergers].sum() == pytest.approx(chosen.weights[~mergers].sum())
    # a single 0.5 threshold on the raw posteriors would call ~15x too many images mergers
    assert (p >= 0.5).sum() > 1.5 * labels.sum()


def test_lookup_marks_unlabelled_rows():
    labels, p = _survey(n=200, prior=0.1, seed=1)
    chosen = select_pseudo_labels(p, prior=0.1, portion=0.2)
    row_labels, row_weights = chosen.lookup(200)
    assert set(np.unique(row_labels)) <= {-1, 0, 1}
    assert (row_labels >= 0).sum() == len(chosen)
    assert np.all(row_weights[row_labels < 0] == 0)


def test_bad_portion_is_refused():
    with pytest.raises(ConfigError):
        select_pseudo_labels([0.2, 0.8], prior=0.5, portion=0.0)
