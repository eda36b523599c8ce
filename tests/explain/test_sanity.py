"""Adebayo et al.'s randomisation checks and the similarity measures behind them."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from galmerge.errors import ConfigError
from galmerge.explain import InspectableModel, layer_groups, randomisation_check, rank_correlation, structural_similarity


def test_similarity_measures():
    rng = np.random.default_rng(0)
    a = rng.random((20, 20))
    assert rank_correlation(a, a) == pytest.approx(1.0)
    assert rank_correlation(a, -a) == pytest.approx(1.0)  # the same magnitudes
    assert rank_correlation(a, -a, absolute=False) == pytest.approx(-1.0)
    assert np.isnan(rank_correlation(a, np.zeros_like(a)))
    assert structural_similarity(a, a) == pytest.approx(1.0)
    assert structural_similarity(a, 3 * a + 1) == pytest.approx(1.0)  # maps are compared after scaling to [0, 1]
    assert abs(structural_similarity(a, rng.random((20, 20)))) < 0.2


def test_layer_groups_of_galmerge_networks_and_plain_modules(make_trained, marker_model):
    for architecture, names in (
        ("deepmerge", ["conv1+bn1", "conv2+bn2", "conv3+bn3", "fc1", "fc2", "fc3"]),
        ("resnet18", ["conv1+bn1", "layer1", "layer2", "layer3", "layer4", "bottleneck+fc"]),
    ):
        trained, _ = make_trained(architecture=architecture, size=32)
        model = InspectableModel.from_trained(trained)
        groups = layer_groups(model)
        assert [name for name, _ in groups] == names
        held = [id(p) for _, modules in groups for m in modules for p in m.parameters(recurse=False)]
        assert sorted(held) == sorted(id(p) for p in model.parameters())  # every parameter, once
    assert [name for name, _ in layer_groups(marker_model)] == ["conv1", "conv2", "fc"]


def test_cascading_randomisation_lowers_the_similarity_of_gradients_on_a_trained_model(marker_model, make_marker_images):
    x, _ = make_marker_images(6, bands=3, seed=5, marked=True)
    before = copy.deepcopy(marker_model.state_dict())
    check = randomisation_check(marker_model, x, methods=("saliency", "gradcam"), layer="relu2", seed=1)
    assert check.steps == ["fc", "conv2", "conv1"]
    for key, value in marker_model.state_dict().items():  # the model itself is untouched
        torch.testing.assert_close(value, before[key])
    saliency = check.similarity["saliency"]["spearman_abs"]
    assert len(saliency) == 3 and saliency[-1] < 0.3 and saliency[-1] < saliency[0]
    assert check.example_maps["saliency"].shape == (4, 16, 16)
    assert "saliency" not in check.flagged
    record = check.to_dict()
    assert record["final_spearman_abs"]["saliency"] == saliency[-1]
    independent = randomisation_check(marker_model, x, methods=("saliency",), mode="independent", seed=1)
    assert len(independent.similarity["saliency"]["ssim"]) == 3
    assert independent.final_similarity("saliency") == min(independent.similarity["saliency"]["spearman_abs"])


class EdgeEnergy(nn.Module):
    """Energy of a fixed Laplacian-filtered image, then one linear layer: its gradient is an edge map times a weight.

    Re-initialising the only trainable layer rescales the saliency map without moving it, the
    way Adebayo et al.'s edge detector ignores the model: the check must flag it.
    """

    def __init__(self, bands: int = 3):
        super().__init__()
        laplacian = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
        self.register_buffer("kernel", laplacian.view(1, 1, 3, 3).repeat(1, bands, 1, 1))
        self.fc = nn.Linear(1, 2)

    def forward(self, x):
        energy = F.conv2d(x, self.kernel, padding=1).pow(2).mean(dim=(1, 2, 3))
        return self.fc(energy[:, None])


def test_a_method_that_ignores_the_weights_is_flagged(marker_model, make_marker_images):
    x, _ = make_marker_images(4, bands=3, seed=6, marked=True)
    check = randomisation_check(EdgeEnergy(), x, methods=("saliency",), seed=0, max_similarity=0.3)
    assert check.steps == ["fc"]
    assert check.final_similarity("saliency") == pytest.approx(1.0, abs=1e-6)  # ranks of |map| unchanged
    assert check.flagged == ["saliency"]
    trained = randomisation_check(marker_model, x, methods=("saliency",), seed=0, max_similarity=0.3)
    assert trained.flagged == []  # a model whose maps depend on its weights is not
    with pytest.raises(ConfigError, match="unknown randomisation mode"):
        randomisation_check(marker_model, x, mode="sideways")
    with pytest.raises(ConfigError, match="unknown method 'lime'"):
        randomisation_check(marker_model, x, methods=("lime",))
