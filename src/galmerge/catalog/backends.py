"""Inference backends: PyTorch on a GPU when there is one, ONNX Runtime when installed (fastest
on CPU), PyTorch otherwise.

On 2 CPU cores with the DeepMerge CNN (3x75x75), ONNX Runtime runs the exported graph 2-3x
faster than PyTorch eager (it folds BatchNorm into the convolutions and runs NCHWc kernels).
It is called with 16 images at a time: as fast as calls of 1,024 (3,700 images/s either way,
medians of interleaved runs), but its activation memory (0.2 MB an image after the first
layer) stays small: a survey catalog's peak allocated memory fell from 1.3 to 0.5 GB.
``benchmarks/predict_throughput.py`` prints the speeds.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
from torch import nn

from galmerge.catalog.export import write_onnx_graph
from galmerge.errors import ConfigError
from galmerge.models.inference import TorchBackend, resolve_device

__all__ = ["make_backend", "TorchBackend", "OnnxBackend", "onnx_available", "BACKENDS"]

BACKENDS = ("auto", "onnx", "torch")


def onnx_available() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class OnnxBackend:
    """Run the model's exported ONNX graph with ONNX Runtime on the CPU.

    Parameters
    ----------
    model : nn.Module
    cache_dir : path, optional
        Where the exported graph is kept, named by a hash of the weights so a changed model is
        re-exported. Default: the system temporary directory.
    call_size : int
        Images per ONNX Runtime call; larger batches are run in calls of this many.
    """

    name = "onnx"
    device = "cpu"

    def __init__(self, model: nn.Module, *, input_shape: tuple[int, int, int], cache_dir=None, call_size: int = 16):
        import onnxruntime

        path = _exported_graph(model, input_shape=input_shape, cache_dir=cache_dir)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.call_size = call_size

    def logits(self, images: np.ndarray) -> np.ndarray:
        return self._run(["logits"], images)[0]

    def outputs(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(logits, features) of preprocessed images."""
        logits, features = self._run(["logits", "features"], images)
        return logits, features

    def _run(self, names: list[str], images: np.ndarray) -> list[np.ndarray]:
        images = np.ascontiguousarray(images, dtype=np.float32)
        # max(..., 1): no images is still one call, which returns empty outputs of the right shape.
        calls = [self.session.run(names, {"images": images[start : start + self.call_size]}) for start in range(0, max(len(images), 1), self.call_size)]
        if len(calls) == 1:
            return calls[0]
        return [np.concatenate([call[k] for call in calls]) for k in range(len(names))]


def _exported_graph(model: nn.Module, *, input_shape, cache_dir) -> Path:
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().numpy().tobytes())
    digest.update(repr(input_shape).encode() + b"logits+features")
    cache_dir = Path(cache_dir) if cache_dir is not None else Path(tempfile.gettempdir()) / "galmerge-onnx"
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{type(model).__name__.lower()}-{digest.hexdigest()[:16]}.onnx"
    if not path.exists():  # the graph `galmerge export` writes, without its metadata
        write_onnx_graph(model, path, input_shape=input_shape)
    return path


def make_backend(model: nn.Module, *, backend: str = "auto", device: str = "auto", input_shape, cache_dir=None):
    """The requested backend on the requested device.

    ``device="auto"`` is a CUDA GPU when PyTorch sees one, else the CPU. ``backend="auto"`` is
    PyTorch on a GPU, ONNX Runtime on the CPU when installed, else PyTorch on the CPU. ONNX
    Runtime runs on the CPU only.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    if backend == "onnx":
        if not onnx_available():
            raise ConfigError("backend 'onnx' needs the onnx extra: pip install 'galmerge[onnx]'")
        if device not in ("auto", "cpu"):
            raise ConfigError(f"backend 'onnx' runs on the CPU only, not on device {device!r}; use --backend torch for a GPU")
    if backend == "onnx" or (backend == "auto" and resolve_device(device).type == "cpu" and onnx_available()):
        return OnnxBackend(model, input_shape=input_shape, cache_dir=cache_dir)
    return TorchBackend(model, device=device)
