import numpy as np
import pytest
import torch

from galmerge.data import Preprocessor
from galmerge.errors import CheckpointError, ModelMismatchError
from galmerge.models import ModelSpec, TrainedModel, build_model, load_state_dict_file


def make_trained(architecture="deepmerge", bands=3):
    torch.manual_seed(0)
    model = build_model(architecture, in_bands=bands)
    pre = Preprocessor(input_size=75).fit(np.random.default_rng(0).normal(size=(8, bands, 75, 75)).astype(np.float32))
    spec = ModelSpec(architecture=architecture, in_bands=bands, input_size=75, bands=[f"b{i}" for i in range(bands)], preprocessing=pre.to_dict())
    return TrainedModel(model, spec)


def test_round_trip_gives_identical_outputs(tmp_path):
    trained = make_trained()
    trained.save(tmp_path / "model.safetensors")
    loaded = TrainedModel.load(tmp_path)  # a run directory holding model.safetensors
    x = torch.randn(3, 3, 75, 75)
    with torch.no_grad():
        torch.testing.assert_close(trained.model(x)[1], loaded.model(x)[1])
    assert loaded.spec == trained.spec
    np.testing.assert_array_equal(loaded.preprocessor.mean_, trained.preprocessor.mean_)


def test_a_model_of_another_architecture_is_refused(tmp_path):
    make_trained("deepmerge").save(tmp_path / "dm.safetensors")
    with pytest.raises(ModelMismatchError, match="holds a deepmerge model, not resnet18"):
        TrainedModel.load(tmp_path / "dm.safetensors", architecture="resnet18")


def test_foreign_and_corrupt_files_are_clear_errors(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(CheckpointError, match="without galmerge metadata"):
        TrainedModel.load(tmp_path / "foreign.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 50)
    with pytest.raises(CheckpointError, match="junk.safetensors: not a safetensors"):
        TrainedModel.load(tmp_path / "junk.safetensors")
    with pytest.raises(CheckpointError, match="no such model file"):
        TrainedModel.load(tmp_path / "empty_dir_or_missing")


def test_weights_that_do_not_fit_the_declared_architecture(tmp_path):
    trained = make_trained("deepmerge")
    trained.spec.architecture = "resnet18"  # a file whose metadata and weights disagree
    trained.save(tmp_path / "lying.safetensors")
    with pytest.raises(CheckpointError, match="weights do not fit a ResNet18"):
        TrainedModel.load(tmp_path / "lying.safetensors")


class Exploit:
    def __reduce__(self):
        return (print, ("code ran while loading",))


def test_pickled_code_is_never_executed(tmp_path):
    torch.save({"w": Exploit()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="evil.pt: not a loadable weights file"):
        load_state_dict_file(tmp_path / "evil.pt")


def test_band_count_is_checked():
    with pytest.raises(ModelMismatchError, match="4 bands, but the model was trained on 3"):
        make_trained().check_bands(4, source="cutouts/")
