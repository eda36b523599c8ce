"""Where the PyTorch runner runs: the device names, and the caller's model left where it was."""

import numpy as np
import pytest
import torch

from galmerge.errors import ConfigError
from galmerge.models import build_model
from galmerge.models.inference import TorchBackend, resolve_device


@pytest.mark.parametrize("visible", [False, True])
def test_auto_is_a_gpu_exactly_when_pytorch_sees_one(monkeypatch, visible):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: visible)
    assert resolve_device("auto").type == ("cuda" if visible else "cpu")
    assert resolve_device("cpu").type == "cpu"


def test_a_missing_gpu_an_unknown_name_and_a_gpu_number_out_of_range_are_clear_errors(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="'cuda' asked for, but PyTorch sees no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="'cuda:1' asked for"):
        resolve_device("cuda:1")
    with pytest.raises(ConfigError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0").index == 0
    with pytest.raises(ConfigError, match="'cuda:1' asked for, but PyTorch sees 1 CUDA GPU"):
        resolve_device("cuda:1")


def test_a_runner_on_another_device_copies_the_model_and_one_on_the_same_device_shares_it():
    model = build_model("deepmerge", in_bands=3)
    shared = TorchBackend(model, device="cpu")
    assert shared.model is model
    moved = TorchBackend(model, device="meta")  # a device without data: stands in for a GPU on any machine
    assert moved.model is not model
    assert next(moved.model.parameters()).device.type == "meta" and next(model.parameters()).device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run on the device machine)")
def test_the_gpu_runner_gives_the_cpu_runners_probabilities():
    torch.manual_seed(0)
    model = build_model("deepmerge", in_bands=3).eval()
    images = np.random.default_rng(0).normal(size=(64, 3, 75, 75)).astype(np.float32)
    on_cpu = TorchBackend(model, device="cpu").logits(images)
    on_gpu = TorchBackend(model, device="cuda").logits(images)
    assert np.abs(on_gpu - on_cpu).max() < 1e-3 * (1 + np.abs(on_cpu).max())
