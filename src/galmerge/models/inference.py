"""Running a network for probabilities: the PyTorch runner, and p(merger) from any runner's logits.

A *runner* is anything with ``logits(images: ndarray) -> ndarray`` for preprocessed images:
:class:`TorchBackend` here, or ONNX Runtime (:class:`galmerge.catalog.backends.OnnxBackend`).
:meth:`galmerge.models.TrainedModel.predict` takes either.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["TorchBackend", "merger_probabilities", "softmax_merger"]


class TorchBackend:
    """Run the model in PyTorch (any device), channels-last, without gradients."""

    name = "torch"

    def __init__(self, model: nn.Module, *, device: str = "cpu"):
        self.device = torch.device(device)
        self.model = model.eval().to(self.device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def logits(self, images: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            batch = torch.from_numpy(np.ascontiguousarray(images)).to(self.device)
            return self.model(batch.contiguous(memory_format=torch.channels_last))[1].float().cpu().numpy()

    def outputs(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(logits, features) of preprocessed images."""
        with torch.inference_mode():
            batch = torch.from_numpy(np.ascontiguousarray(images)).to(self.device)
            features, logits = self.model(batch.contiguous(memory_format=torch.channels_last))
            return logits.float().cpu().numpy(), features.float().cpu().numpy()


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
