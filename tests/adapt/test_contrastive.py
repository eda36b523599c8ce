"""The NT-Xent loss against its definition, and what it rewards."""

from __future__ import annotations

import math

import pytest
import torch

from galmerge.adapt.contrastive import nt_xent_loss


def test_nt_xent_by_hand_for_two_images():
    # unit vectors: image 0's views along x, image 1's along y
    first = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    second = first.clone()
    t = 0.5
    # for view 0: partner similarity 1/t, negatives: view 1 (0/t) and view 3 (0/t)
    expected = -math.log(math.exp(1 / t) / (math.exp(1 / t) + 2 * math.exp(0.0)))
    assert float(nt_xent_loss(first, second, temperature=t)) == pytest.approx(expected, rel=1e-6)


def test_matching_views_score_better_than_shuffled_ones():
    torch.manual_seed(0)
    first = torch.randn(64, 16)
    second = first + 0.1 * torch.randn(64, 16)
    aligned = nt_xent_loss(first, second)
    shuffled = nt_xent_loss(first, second[torch.randperm(64)])
    assert aligned < math.log(127) < shuffled  # log(2B - 1) is the loss of uninformative views
