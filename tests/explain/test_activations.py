"""Feature maps per conv block and the dead-filter report."""

import numpy as np
import pytest
import torch

from galmerge.explain import InspectableModel, dead_filters, layer_activations


@pytest.mark.parametrize("bands", [1, 3, 6])
def test_each_deepmerge_block_is_hooked_at_full_resolution_after_its_relu(bands, make_trained):
    trained, toy = make_trained(bands=bands, size=32)
    model = InspectableModel.from_trained(trained)
    assert trained.model.fused and not model.network.fused  # the trained model is left as it was
    x = model.preprocess(toy.images, rows=np.arange(5))
    shapes = {name: tuple(layer_activations(model, x, layer=name).shape) for name in model.activation_layers}
    assert shapes == {"relu1": (5, 8, 32, 32), "relu2": (5, 16, 16, 16), "relu3": (5, 32, 8, 8)}
    network = model.network
    block1 = torch.relu(network.bn1(network.conv1(x)))
    torch.testing.assert_close(layer_activations(model, x, layer="relu1"), block1.detach())


def test_a_filter_that_never_fires_is_reported_dead(make_trained):
    trained, toy = make_trained(bands=3, size=32)
    with torch.no_grad():  # BatchNorm shifts filters 2 and 5 of block 2 far below zero
        trained.model.bn2.bias[[2, 5]] = -100.0
    model = InspectableModel.from_trained(trained)
    reports = dead_filters(model, model.preprocess(toy.images), batch_size=16)
    by_layer = {r.layer: r for r in reports}
    assert by_layer["relu2"].dead == [2, 5] and by_layer["relu2"].n_filters == 16
    assert by_layer["relu2"].dead_fraction == pytest.approx(2 / 16)
    assert by_layer["relu1"].dead == [] and by_layer["relu2"].n_images == len(toy)
    assert (by_layer["relu2"].peak[[0, 1, 3]] > 0).all()


def test_resnet18_layers_work_despite_inplace_relus(make_trained):
    trained, toy = make_trained(bands=3, size=32, architecture="resnet18")
    model = InspectableModel.from_trained(trained)
    x = model.preprocess(toy.images, rows=np.arange(2))
    assert model.activation_layers == ("relu", "layer1", "layer2", "layer3", "layer4")
    assert layer_activations(model, x, layer="layer2").shape == (2, 128, 4, 4)
    assert [r.n_filters for r in dead_filters(model, x)] == [64, 64, 128, 256, 512]
