"""Label-free checkpoint criteria: the domain probe and the proxy A-distance."""

import numpy as np
import pytest
import torch

from galmerge.adapt.selection import domain_probe_accuracy, label_free_criteria, proxy_a_distance


def test_proxy_a_distance_is_two_for_separable_domains_and_near_zero_for_one_domain():
    rng = np.random.default_rng(0)
    source = rng.normal(size=(400, 8))
    assert proxy_a_distance(source, rng.normal(size=(400, 8)) + 6.0) == pytest.approx(2.0)
    same = proxy_a_distance(source, rng.normal(size=(400, 8)))
    assert abs(same) < 0.3
    accuracy = domain_probe_accuracy(source, rng.normal(size=(400, 8)) + 0.5)
    assert proxy_a_distance(source, rng.normal(size=(400, 8)) + 0.5) == pytest.approx(2 * (1 - 2 * (1 - accuracy)), abs=0.15)


def test_label_free_criteria_on_hand_made_logits():
    confident = torch.tensor([[10.0, -10.0], [-10.0, 10.0]] * 10)  # confident and balanced: IM = log 2
    criteria = label_free_criteria(confident, None, None)
    assert criteria["target_entropy"] == pytest.approx(0.0, abs=1e-6)
    assert criteria["target_im"] == pytest.approx(np.log(2), abs=1e-6)
    collapsed = torch.tensor([[10.0, -10.0]] * 20)  # confident but one class: IM = 0
    assert label_free_criteria(collapsed, None, None)["target_im"] == pytest.approx(0.0, abs=1e-6)
