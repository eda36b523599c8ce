import pytest

from galmerge.errors import ConfigError
from galmerge.training import TrainConfig


def test_toml_file_then_overrides(tmp_path):
    (tmp_path / "my.toml").write_text('model = "resnet18"\nepochs = 7\nlr = 0.0005\nadam_betas = [0.9, 0.99]\n')
    config = TrainConfig.from_toml(tmp_path / "my.toml", epochs=3)
    assert (config.model, config.epochs, config.lr, config.adam_betas) == ("resnet18", 3, 0.0005, (0.9, 0.99))


def test_written_configuration_reads_back(tmp_path):
    config = TrainConfig(model="resnet18", epochs=4, stretch="asinh", split=(0.6, 0.2, 0.2))
    config.write_toml(tmp_path / "c.toml", header={"data": "X.npy,y.npy"})
    assert TrainConfig.from_toml(tmp_path / "c.toml") == config


@pytest.mark.parametrize(
    "values, message",
    [
        ({"modle": "deepmerge"}, "unknown option"),
        ({"model": "vgg"}, "model must be one of"),
        ({"epochs": 0}, "epochs must be"),
        ({"batch_size": 1}, "BatchNorm"),
        ({"lr_schedule": "cosine"}, "lr_schedule"),
        ({"adam_betas": [0.9, 1.5]}, "adam_betas"),
    ],
)
def test_bad_values_are_clear_errors(values, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_dict(values)


def test_bad_toml_names_the_file(tmp_path):
    (tmp_path / "bad.toml").write_text("epochs = = 3")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        TrainConfig.from_toml(tmp_path / "bad.toml")
