"""ONNX export of a trained model: the graph ONNX Runtime runs, with what it needs to be fed.

One function writes every graph galmerge runs in ONNX Runtime (:func:`write_onnx_graph`), so the
file ``galmerge export`` hands to a user is the graph the ``onnx`` prediction backend runs.

The graph takes preprocessed images ``images`` (N, bands, side, side) float32 and returns
``logits`` (N, 2) and ``features`` (N, D), the network's feature vector. The preprocessing
(crop, resize, asinh stretch, per-band mean and std) stays outside the graph, written as JSON in
the model's metadata (``galmerge.preprocessing``, :meth:`galmerge.data.Preprocessor.from_dict`
reads it back) with the class order, the bands, the thresholds and the model's hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from galmerge.errors import DataError, OutputExistsError

__all__ = ["export_onnx", "write_onnx_graph", "read_onnx_metadata", "CLASS_ORDER", "model_file_sha256"]

CLASS_ORDER = ("non-merger", "merger")
_PREFIX = "galmerge."


class _Outputs(nn.Module):
    """(logits, features): the exported graph's two outputs, logits first."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images):
        features, logits = self.model(images)
        return logits, features


def write_onnx_graph(model: nn.Module, path, *, input_shape: tuple[int, int, int], metadata: dict | None = None) -> Path:
    """Export ``model`` (in eval mode, plain layers) to ``path``, written whole or not at all.

    Parameters
    ----------
    input_shape : (bands, side, side)
    metadata : dict, optional
        Stored as ``galmerge.<key>`` metadata properties (values JSON-encoded).
    """
    import onnx

    path = Path(path)
    partial = path.with_name(path.name + f".{os.getpid()}.partial")
    was_training = model.training
    # A bool attribute of some architectures (DeepMerge); set with setattr because nn.Module's
    # __setattr__ is typed for tensors and modules only.
    fused = getattr(model, "fused", None)
    if fused is not None:
        setattr(model, "fused", False)  # noqa: B010  plain layers; ONNX Runtime folds BatchNorm into the convolutions
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's deprecation notices are not the user's concern
            torch.onnx.export(
                _Outputs(model).eval(),
                (torch.zeros((2, *input_shape)),),
                str(partial),
                input_names=["images"],
                output_names=["logits", "features"],
                dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}, "features": {0: "batch"}},
                dynamo=False,
            )
        if metadata:
            graph = onnx.load(str(partial))
            for key, value in metadata.items():
                graph.metadata_props.add(key=_PREFIX + key, value=json.dumps(value))
            onnx.save(graph, str(partial))
        os.replace(partial, path)
    finally:
        model.train(was_training)
        if fused is not None:
            setattr(model, "fused", fused)  # noqa: B010
        partial.unlink(missing_ok=True)
    return path


def model_file_sha256(path) -> str:
    """SHA-256 of a model file's bytes: the identity of a model recorded in catalogs and exports."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_onnx(run, out, *, overwrite: bool = False) -> Path:
    """Write a run's model as ONNX with its preprocessing, class order and thresholds in the metadata.

    Parameters
    ----------
    run : path
        Run directory or ``model.safetensors``.
    out : path
        The ``.onnx`` file; never replaced unless ``overwrite`` (and then only an ONNX file).
    """
    from galmerge.models.trained import TrainedModel, model_file_path

    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise DataError(f"{out}: an ONNX export is written to a .onnx file")
    if out.exists() and not (overwrite and _is_onnx(out)):
        reason = "is not an ONNX file; refusing to replace it" if overwrite else "already exists; choose another --out or pass --overwrite"
        raise OutputExistsError(f"{out}: {reason}")
    model_path = model_file_path(run)
    trained = TrainedModel.load(model_path)
    spec = trained.spec
    metadata = {
        "class_order": list(CLASS_ORDER),
        "preprocessing": spec.preprocessing,
        "bands": list(spec.bands),
        "architecture": spec.architecture,
        "input_shape": [spec.in_bands, spec.input_size, spec.input_size],
        "thresholds": spec.thresholds,
        "target_recall": spec.target_recall,
        "pixel_scale_arcsec": spec.pixel_scale_arcsec,
        "model_sha256": model_file_sha256(model_path),
        "outputs": {"logits": "(N, 2) in class_order; p(merger) = softmax(logits)[:, 1]", "features": "(N, D) the network's feature vector"},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_onnx_graph(trained.model, out, input_shape=(spec.in_bands, spec.input_size, spec.input_size), metadata=metadata)


def read_onnx_metadata(path) -> dict:
    """The ``galmerge.*`` metadata of an exported model, decoded."""
    import onnx

    try:
        graph = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # protobuf raises DecodeError and others on a corrupt file
        raise DataError(f"{path}: not a readable ONNX file ({type(error).__name__}: {error})") from None
    return {p.key[len(_PREFIX) :]: json.loads(p.value) for p in graph.metadata_props if p.key.startswith(_PREFIX)}


def _is_onnx(path: Path) -> bool:
    try:
        read_onnx_metadata(path)
    except DataError:
        return False
    return True
