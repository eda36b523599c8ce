import pytest

from galmerge.errors import ConfigError
from galmerge.training import TrainConfig
from galmerge.training.config import RESUMABLE_OPTIONS, OptimisationConfig


def test_toml_file_then_overrides(tmp_path):
    (tmp_path / "my.toml").write_text('model = "resnet18"\nepochs = 7\nlr = 0.0005\nadam_betas = [0.9, 0.99]\n')
    config = TrainConfig.from_toml(tmp_path / "my.toml", epochs=3)
    assert (config.model.architecture, config.optimisation.epochs, config.optimisation.lr, config.optimisation.adam_betas) == ("resnet18", 3, 0.0005, (0.9, 0.99))


def test_nested_and_flat_forms_are_the_same_configuration(tmp_path):
    (tmp_path / "nested.toml").write_text('[model]\narchitecture = "resnet18"\n[optimisation]\nepochs = 7\n[adaptation]\nmethod = "mmd"\nextras = ["fisher"]\n[adaptation.fisher]\nw_intra = 0.5\n')
    (tmp_path / "flat.toml").write_text('model = "resnet18"\nepochs = 7\nmethod = "mmd"\nfisher = true\nfisher_w_intra = 0.5\n')
    nested, flat = TrainConfig.from_toml(tmp_path / "nested.toml"), TrainConfig.from_toml(tmp_path / "flat.toml")
    assert nested == flat
    assert nested.adaptation.active_methods() == ["mmd", "fisher"]
    assert nested.adaptation.options_of("fisher").w_intra == 0.5 and nested.adaptation.options_of("fisher").w_inter == 1.0
    assert TrainConfig(optimisation=OptimisationConfig(epochs=7), model="resnet18").optimisation.epochs == 7


def test_written_configuration_reads_back(tmp_path):
    config = TrainConfig(model="resnet18", epochs=4, stretch="asinh", split=(0.6, 0.2, 0.2), method="dann", dann_lr_multiplier=0.01, entropy=True)
    config.write_toml(tmp_path / "c.toml", header={"data": "X.npy,y.npy"})
    assert TrainConfig.from_toml(tmp_path / "c.toml") == config
    text = (tmp_path / "c.toml").read_text()
    assert "[adaptation.dann]" in text and "[adaptation.entropy]" in text and "[adaptation.fisher]" not in text  # only what trains


def test_extra_terms_switch_on_and_off_over_a_file(tmp_path):
    (tmp_path / "c.toml").write_text('method = "mmd"\nfisher = true\n')
    assert TrainConfig.from_toml(tmp_path / "c.toml", entropy=True).adaptation.extras == ("fisher", "entropy")
    assert TrainConfig.from_toml(tmp_path / "c.toml", fisher=False).adaptation.extras == ()
    assert TrainConfig(entropy=True, fisher=True).adaptation.extras == ("fisher", "entropy")  # registry order, whatever the order given


@pytest.mark.parametrize(
    "values, message",
    [
        ({"modle": "deepmerge"}, "unknown option"),
        ({"model": "vgg"}, "model must be one of"),
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"epochs": "3"}, "epochs must be an integer"),
        ({"batch_size": 1}, "BatchNorm"),
        ({"lr_schedule": "cosine"}, "lr_schedule must be one of one-cycle, deepmerge-cycle, constant"),
        ({"adam_betas": [0.9, 1.5]}, "adam_betas"),
        ({"method": "vae"}, "method must be auto or one of none, mmd, dann, coral"),
        ({"mmd_bandwidths": "wide"}, "mmd_bandwidths must be one of deepmerge, median"),
        ({"fisher_w_intra": 0.0, "fisher_w_inter": 0.0}, "Fisher weights must be >= 0 and not both 0"),
        ({"fisher": "yes"}, "fisher must be true or false"),
        ({"extras": ["vae"]}, "unknown extra term"),
        ({"optimisation": {"epoch": 3}}, r"unknown option\(s\) in \[optimisation\]: epoch"),
    ],
)
def test_bad_values_are_clear_errors(values, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_dict(values)


def test_bad_toml_names_the_file(tmp_path):
    (tmp_path / "bad.toml").write_text("epochs = = 3")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        TrainConfig.from_toml(tmp_path / "bad.toml")
    (tmp_path / "wrong.toml").write_text("epochs = 0")
    with pytest.raises(ConfigError, match="wrong.toml: epochs must be >= 1"):
        TrainConfig.from_toml(tmp_path / "wrong.toml")


def test_what_the_data_must_support_is_checked_before_any_work():
    with pytest.raises(ConfigError, match="method mmd adapts to a target domain"):
        TrainConfig(method="mmd").for_data(has_target=False)
    with pytest.raises(ConfigError, match="monitor 'target_im' is computed on unlabelled target images"):
        TrainConfig(monitor="target_im").for_data(has_target=False)
    TrainConfig(entropy=True, fisher=True).for_data(has_target=False)  # these work on the source alone
    TrainConfig(method="mmd", monitor="target_im").for_data(has_target=True)


def test_the_default_method_is_dann_with_a_target_and_none_without(tmp_path):
    default = TrainConfig()
    assert default.adaptation.method == "auto" and default.adaptation.transfer_weight is None
    with_target, without = default.for_data(has_target=True), default.for_data(has_target=False)
    assert (with_target.adaptation.method, with_target.adaptation.transfer_weight) == ("dann", 0.3)
    assert without.adaptation.method == "none" and without.adaptation.active_methods() == []
    with_target.write_toml(tmp_path / "c.toml")  # a run records what it used, not "auto"
    assert TrainConfig.from_toml(tmp_path / "c.toml").adaptation.method == "dann"
    # a given method or weight is kept; each method has its own default weight
    assert TrainConfig(method="mmd").for_data(has_target=True).adaptation.transfer_weight == 1.0
    assert TrainConfig(transfer_weight=2.0).for_data(has_target=True).adaptation.transfer_weight == 2.0
    assert TrainConfig(method="none").for_data(has_target=True).adaptation.method == "none"
    assert TrainConfig(dann_ramp=False).replace(epochs=3).adaptation.options_of("dann").ramp is False  # auto keeps dann's options


def test_a_resumed_run_applies_or_refuses_each_override():
    saved = TrainConfig(epochs=5, lr=0.01, method="mmd")
    assert set(RESUMABLE_OPTIONS) == {"epochs", "accelerator", "devices", "precision", "n_bootstrap"}
    resumed = saved.resumed_with({"epochs": 9, "n_bootstrap": 10, "lr": 0.01, "method": "mmd"})  # equal values are no change
    assert (resumed.optimisation.epochs, resumed.evaluation.n_bootstrap, resumed.optimisation.lr) == (9, 10, 0.01)
    with pytest.raises(ConfigError, match=r"cannot change lr \(run: 0.01, given: 0.1\), method \(run: 'mmd', given: 'dann'\)"):
        saved.resumed_with({"lr": 0.1, "method": "dann", "epochs": 9})
    with pytest.raises(ConfigError, match="unknown option"):
        saved.resumed_with({"lrr": 0.1})
