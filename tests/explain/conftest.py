"""Small models for the interpretation tests: made on the fly, most of them in well under a second."""

from __future__ import annotations

import captum  # noqa: F401  (the explain extra is part of the test set-up: missing, these tests fail, not skip)
import numpy as np
import pytest
import torch
from torch import nn


def trained_model(*, bands: int = 3, size: int = 32, architecture: str = "deepmerge", seed: int = 0, n_images: int = 40):
    """A freshly initialised galmerge network with preprocessing fitted on toy images, as a TrainedModel."""
    from galmerge.data import make_toy_mergers
    from galmerge.data.transforms import Preprocessor
    from galmerge.models import ModelSpec, TrainedModel, build_model

    toy = make_toy_mergers(n_images, seed=seed, size=size, n_bands=bands)
    preprocessor = Preprocessor(input_size=size).fit(toy.images)
    torch.manual_seed(seed)
    network = build_model(architecture, in_bands=bands, input_size=size)
    spec = ModelSpec(architecture=architecture, in_bands=bands, input_size=size, bands=list(toy.bands), preprocessing=preprocessor.to_dict())
    return TrainedModel(network, spec), toy


class TinyCNN(nn.Module):
    """Two convolutions, global average pooling and a linear layer: a classifier trained in a second."""

    def __init__(self, bands: int):
        super().__init__()
        self.conv1 = nn.Conv2d(bands, 6, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(6, 8, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.relu2(self.conv2(self.relu1(self.conv1(x))))), 1))


def marker_images(n: int, *, bands: int, size: int = 16, seed: int = 0, marked=None):
    """Gaussian noise; images with ``marked`` True carry a bright 3x3 marker in the lower-left corner."""
    rng = np.random.default_rng(seed)
    images = rng.normal(0.0, 1.0, (n, bands, size, size)).astype(np.float32)
    marked = rng.random(n) < 0.5 if marked is None else np.broadcast_to(marked, (n,))
    images[marked, :, 1:4, 1:4] += 4.0
    return torch.from_numpy(images), torch.from_numpy(marked.astype(np.int64))


@pytest.fixture(scope="session")
def make_trained():
    """``make_trained(bands=, size=, architecture=)`` -> (TrainedModel, toy ImageSet)."""
    return trained_model


@pytest.fixture(scope="session")
def make_marker_images():
    """``make_marker_images(n, bands=, seed=, marked=)`` -> (images, labels) tensors."""
    return marker_images


@pytest.fixture(scope="session")
def marker_model():
    """A TinyCNN (3 bands) trained to call images with a corner marker class 1; ~100 % accurate."""
    torch.manual_seed(0)
    model = TinyCNN(3)
    images, labels = marker_images(512, bands=3, seed=1)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.02)
    threads = torch.get_num_threads()
    # Kernels this small gain nothing from a second thread, and lose much when the cores are busy.
    torch.set_num_threads(1)
    try:
        for step in range(150):
            rows = torch.arange(step * 64, step * 64 + 64) % len(images)
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(images[rows]), labels[rows]).backward()
            optimiser.step()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    test, truth = marker_images(200, bands=3, seed=2)
    with torch.no_grad():
        accuracy = (model(test).argmax(dim=1) == truth).float().mean().item()
    assert accuracy > 0.97, accuracy
    return model
