"""Running a network for probabilities: the PyTorch runner, and p(merger) from any runner's logits.

A *runner* is anything with ``logits(images: ndarray) -> ndarray`` for preprocessed images:
:class:`TorchBackend` here, or ONNX Runtime (:class:`galmerge.catalog.backends.OnnxBackend`).
:meth:`galmerge.models.TrainedModel.predict` takes either.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from galmerge.errors import ConfigError

__all__ = ["TorchBackend", "resolve_device", "merger_probabilities", "softmax_merger", "DEVICES"]

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> torch.device:
    """The torch device for a name: ``auto`` is the first CUDA GPU when PyTorch sees one, else the CPU.

    Raises
    ------
    ConfigError
        A CUDA device asked for where PyTorch sees none, or a name PyTorch does not know.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ConfigError(f"unknown device {device!r}; choose one of {DEVICES} (or cuda:N)") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but PyTorch sees no CUDA GPU here; use --device cpu or auto")
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise ConfigError(f"device {device!r} asked for, but PyTorch sees {torch.cuda.device_count()} CUDA GPU(s), numbered from 0")
    return resolved


class TorchBackend:
    """Run the model in PyTorch, channels-last, without gradients, on ``device`` (a name for
    :func:`resolve_device`).

    A model already on that device is run as it is (so a BatchNorm domain chosen on it later
    applies); one on another device is copied there, leaving the caller's model where it was.
    """

    name = "torch"

    def __init__(self, model: nn.Module, *, device: str = "cpu"):
        self.device = resolve_device(device)
        current = next(model.parameters()).device
        if current.type != self.device.type or (self.device.index is not None and current != self.device):
            model = copy.deepcopy(model)
        self.model = model.eval().to(self.device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def logits(self, images: np.ndarray) -> np.ndarray:
        return self._forward(images)[1].float().cpu().numpy()

    def outputs(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(logits, features) of preprocessed images."""
        features, logits = self._forward(images)
        return logits.float().cpu().numpy(), features.float().cpu().numpy()

    def _forward(self, images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        # Full float32 convolutions on a GPU: cuDNN's default TF32 moved p(merger) by up to 4e-3
        # from the CPU's on an H200 (benchmarks/gpu_check.py); a catalog should not depend on the machine.
        with torch.inference_mode(), torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
            batch = torch.from_numpy(np.ascontiguousarray(images)).to(self.device)
            return self.model(batch.contiguous(memory_format=torch.channels_last))


def merger_probabilities(runner, processed: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """p(merger) from a runner for images that are already preprocessed, in batches."""
    chunks = [softmax_merger(runner.logits(processed[start : start + batch_size])) for start in range(0, len(processed), batch_size)]
    return np.concatenate(chunks) if chunks else np.zeros(0)


def softmax_merger(logits: np.ndarray) -> np.ndarray:
    """The softmax probability of class 1 (merger) of two-class logits, in float64."""
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp[:, 1] / exp.sum(axis=1)
