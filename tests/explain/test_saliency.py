"""Saliency, SmoothGrad and Integrated Gradients: exact on a linear model, complete, reproducible."""

import numpy as np
import pytest
import torch
from torch import nn

from galmerge.errors import ConfigError
from galmerge.explain import InspectableModel, combine_bands, integrated_gradients, make_baseline, saliency, smoothgrad


class Linear(nn.Module):
    def __init__(self, bands, size=8):
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(bands * size * size, 2)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))


@pytest.mark.parametrize("bands", [1, 3, 6])
def test_saliency_of_a_linear_model_is_its_weights(bands):
    model = Linear(bands)
    x = torch.randn(4, bands, 8, 8)
    weights = model.fc.weight[1].detach().reshape(bands, 8, 8)
    signed = saliency(model, x, target=1, absolute=False)
    torch.testing.assert_close(signed, weights.expand(4, -1, -1, -1))
    torch.testing.assert_close(saliency(model, x, target=1), weights.abs().expand(4, -1, -1, -1))
    np.testing.assert_allclose(combine_bands(signed), weights.abs().amax(dim=0).expand(4, -1, -1).numpy())


@pytest.mark.parametrize("baseline", ["zeros", "blurred", "sky_noise"])
def test_integrated_gradients_are_complete(baseline, make_trained):
    trained, toy = make_trained(bands=3, size=32)
    model = InspectableModel.from_trained(trained)
    x = model.preprocess(toy.images, rows=np.arange(4))
    reference = make_baseline(x, baseline, zero_level=model.zero_level(), seed=3)
    attributions, delta = integrated_gradients(model, x, baseline=reference, steps=64, return_delta=True)
    with torch.no_grad():
        difference = (model(x) - model(reference))[:, 1]
    torch.testing.assert_close(attributions.sum(dim=(1, 2, 3)), difference, rtol=0.02, atol=0.02 * difference.abs().max().item())
    assert delta.abs().max() <= 0.02 * difference.abs().max() + 1e-4
    # By name, the same baseline is drawn (the sky noise from the same seed).
    torch.testing.assert_close(integrated_gradients(model, x, baseline=baseline, steps=64, seed=3), attributions)


def test_the_zero_baseline_of_a_galmerge_network_is_an_image_without_light(make_trained):
    trained, toy = make_trained(bands=3, size=32)
    model = InspectableModel.from_trained(trained)
    blank = model.preprocess(np.zeros((1, 3, 32, 32), np.float32))
    torch.testing.assert_close(make_baseline(blank, "zeros", zero_level=model.zero_level()), blank)
    assert not torch.allclose(blank, torch.zeros_like(blank))  # zero flux is not the training mean


def test_baselines_blur_and_sky_noise():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(0, 0.5, (2, 3, 40, 40)).astype(np.float32))
    x[:, :, 15:25, 15:25] += 10.0  # a galaxy in the middle, sky noise of 0.5 around it
    blurred = make_baseline(x, "blurred", blur_sigma_px=3)
    torch.testing.assert_close(blurred.mean(dim=(2, 3)), x.mean(dim=(2, 3)), rtol=0.02, atol=0.02)
    assert blurred.std() < x.std()
    sky = make_baseline(x, "sky_noise", seed=1)
    assert sky.std(dim=(2, 3)).sub(0.5).abs().max() < 0.05  # the noise of the border, not the galaxy
    torch.testing.assert_close(make_baseline(torch.zeros(1, 2, 20, 20), "sky_noise", zero_level=-1.0), torch.full((1, 2, 20, 20), -1.0))
    with pytest.raises(ConfigError, match="unknown baseline"):
        make_baseline(x, "black")


def test_smoothgrad_is_reproducible_per_image_and_reduces_to_saliency_without_noise(make_trained):
    trained, toy = make_trained(bands=3, size=32)
    model = InspectableModel.from_trained(trained)
    x = model.preprocess(toy.images, rows=np.arange(3))
    torch.testing.assert_close(smoothgrad(model, x, samples=3, noise_fraction=0.0), saliency(model, x))
    first = smoothgrad(model, x, samples=5, seed=4)
    torch.testing.assert_close(smoothgrad(model, x, samples=5, seed=4), first)
    assert not torch.allclose(first, saliency(model, x))
    # Image 1's noise depends on its position, not on the images around it.
    torch.testing.assert_close(smoothgrad(model, x[1:2], samples=5, seed=5)[0], first[1])
