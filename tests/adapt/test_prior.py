"""Label-shift priors: Bayes' rule by hand, and planted survey fractions recovered without labels."""

from __future__ import annotations

import numpy as np
import pytest

from galmerge.adapt.prior import adjust_to_prior, estimate_prior_bbse, estimate_prior_em
from galmerge.errors import ConfigError, LabelError


def test_adjust_to_prior_by_hand():
    # p = 0.5 under a 50 % prior means equal likelihoods: the posterior becomes the new prior
    assert adjust_to_prior([0.5], train_prior=0.5, new_prior=0.1)[0] == pytest.approx(0.1)
    # p = 0.9: likelihood ratio 9; with prior odds 1/9 the posterior odds are 1
    assert adjust_to_prior([0.9], train_prior=0.5, new_prior=0.1)[0] == pytest.approx(0.5)
    # from a 20 % training prior back to 50 %: odds 0.25 * 4 = 1
    assert adjust_to_prior([0.2], train_prior=0.2, new_prior=0.5)[0] == pytest.approx(0.5)
    assert adjust_to_prior([0.0, 1.0], train_prior=0.5, new_prior=0.02).tolist() == [0.0, 1.0]


def _gaussian_classes(n, prior, rng):
    """Two unit Gaussians at -1 and +1; exact posteriors under a 50 % prior are sigmoid(2 x)."""
    labels = (rng.random(n) < prior).astype(int)
    x = rng.normal(np.where(labels == 1, 1.0, -1.0), 1.0)
    return labels, 1.0 / (1.0 + np.exp(-2.0 * x))


@pytest.mark.parametrize("planted", [0.018, 0.05, 0.3])
def test_em_and_bbse_recover_a_planted_prior(planted):
    rng = np.random.default_rng(1)
    target_labels, target_p = _gaussian_classes(20000, planted, rng)
    source_labels, source_p = _gaussian_classes(4000, 0.5, rng)
    em = estimate_prior_em(target_p, train_prior=0.5)
    bbse = estimate_prior_bbse(source_labels, source_p, target_p)
    assert abs(em.prior - planted) < 0.02
    assert abs(bbse.prior - planted) < 0.02
    assert abs(target_p.mean() - planted) > 0.05  # the naive mean of the posteriors misses by far more
    # the adjusted posteriors are calibrated for the survey: their mean is its merger fraction
    assert adjust_to_prior(target_p, train_prior=0.5, new_prior=em.prior).mean() == pytest.approx(target_labels.mean(), abs=0.02)


def test_bad_inputs_are_refused():
    with pytest.raises(ConfigError, match="in \\[0, 1\\]"):
        estimate_prior_em([0.2, np.nan])
    with pytest.raises(ConfigError, match="new_prior"):
        adjust_to_prior([0.3], train_prior=0.5, new_prior=1.0)
    with pytest.raises(LabelError, match="both classes"):
        estimate_prior_bbse([1, 1], [0.9, 0.8], [0.1])
    with pytest.raises(ConfigError, match="does not separate"):
        estimate_prior_bbse([0, 1], [0.9, 0.1], [0.1])
