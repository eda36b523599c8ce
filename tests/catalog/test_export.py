import numpy as np
import onnxruntime
import pytest

from galmerge.catalog.backends import OnnxBackend
from galmerge.catalog.export import CLASS_ORDER, export_onnx, model_file_sha256, read_onnx_metadata
from galmerge.data import Preprocessor, make_toy_mergers
from galmerge.errors import OutputExistsError


def test_exported_model_matches_pytorch_from_its_metadata_alone(trained_run, tmp_path):
    path = export_onnx(trained_run.run_dir, tmp_path / "model.onnx")
    metadata = read_onnx_metadata(path)
    assert tuple(metadata["class_order"]) == CLASS_ORDER and metadata["bands"] == list(trained_run.trained.bands)
    assert metadata["model_sha256"] == model_file_sha256(trained_run.run_dir / "model.safetensors")
    images = make_toy_mergers(64, seed=77).images
    # a user with only the .onnx file: preprocessing from the metadata, p(merger) = softmax[:, class_order.index("merger")]
    inputs = Preprocessor.from_dict(metadata["preprocessing"]).transform(images)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits, features = session.run(["logits", "features"], {"images": inputs})
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    p_onnx = shifted[:, metadata["class_order"].index("merger")] / shifted.sum(axis=1)
    import torch

    with torch.no_grad():
        torch_features, torch_logits = trained_run.trained.model(torch.from_numpy(inputs))
    p_torch = torch.softmax(torch_logits, dim=1)[:, 1].numpy()
    np.testing.assert_allclose(p_onnx, p_torch, atol=1e-5)
    np.testing.assert_allclose(features, torch_features.numpy(), rtol=1e-4, atol=1e-4)
    # the ONNX Runtime backend runs the same graph
    backend = OnnxBackend(trained_run.trained.model, input_shape=(3, 75, 75), cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(backend.logits(inputs), logits)
    in_calls = OnnxBackend(trained_run.trained.model, input_shape=(3, 75, 75), cache_dir=tmp_path / "cache", call_size=5)  # 13 calls, the last of 4
    for split, whole in zip(in_calls.outputs(inputs), (logits, features)):
        np.testing.assert_allclose(split, whole, rtol=1e-6, atol=1e-6)
    assert in_calls.logits(inputs[:0]).shape == (0, 2)
    with pytest.raises(OutputExistsError, match="already exists"):
        export_onnx(trained_run.run_dir, path)
    (tmp_path / "notes.onnx").write_text("mine")
    with pytest.raises(OutputExistsError, match="not an ONNX file"):
        export_onnx(trained_run.run_dir, tmp_path / "notes.onnx", overwrite=True)
