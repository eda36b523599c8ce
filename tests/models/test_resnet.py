import pytest
import torch

from galmerge.models import ResNet18, build_model, load_torchvision_weights


def torchvision_resnet18_shapes(in_bands=3):
    """State-dict names and shapes of torchvision.models.resnet18(), written from its documented layout."""
    shapes = {"conv1.weight": (64, in_bands, 7, 7)}

    def bn(prefix, channels):
        for name in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{name}"] = (channels,)
        shapes[f"{prefix}.num_batches_tracked"] = ()

    bn("bn1", 64)
    widths = [64, 128, 256, 512]
    for layer, width in enumerate(widths, start=1):
        in_width = widths[layer - 2] if layer > 1 else 64
        for block in (0, 1):
            prefix = f"layer{layer}.{block}"
            block_in = in_width if block == 0 else width
            shapes[f"{prefix}.conv1.weight"] = (width, block_in, 3, 3)
            bn(f"{prefix}.bn1", width)
            shapes[f"{prefix}.conv2.weight"] = (width, width, 3, 3)
            bn(f"{prefix}.bn2", width)
            if block == 0 and layer > 1:
                shapes[f"{prefix}.downsample.0.weight"] = (width, in_width, 1, 1)
                bn(f"{prefix}.downsample.1", width)
    shapes["fc.weight"] = (1000, 512)
    shapes["fc.bias"] = (1000,)
    return shapes


def test_backbone_names_and_shapes_match_torchvision():
    own = {k: tuple(v.shape) for k, v in ResNet18().state_dict().items()}
    reference = torchvision_resnet18_shapes()
    backbone = {k: v for k, v in reference.items() if not k.startswith("fc.")}
    assert {k: v for k, v in own.items() if k in backbone} == backbone
    assert set(own) - set(backbone) == {"bottleneck.weight", "bottleneck.bias", "fc.weight", "fc.bias"}


def test_parameter_count_and_outputs_match_deepmerge_ii():
    model = ResNet18()
    assert sum(p.numel() for p in model.parameters()) == 11_308_354
    features, logits = model(torch.randn(2, 3, 75, 75))
    assert features.shape == (2, 256) and logits.shape == (2, 2)


def fake_torchvision_state(in_bands=3):
    generator = torch.Generator().manual_seed(0)
    return {k: torch.randn(v, generator=generator) if v else torch.tensor(7) for k, v in torchvision_resnet18_shapes(in_bands).items()}


def test_torchvision_checkpoint_loads_into_the_backbone():
    state = fake_torchvision_state()
    model = ResNet18()
    missing = load_torchvision_weights(model, state)
    assert set(missing) == {"bottleneck.weight", "bottleneck.bias", "fc.weight", "fc.bias"}
    torch.testing.assert_close(model.layer3[0].downsample[0].weight, state["layer3.0.downsample.0.weight"])


@pytest.mark.parametrize("bands", [1, 6])
def test_torchvision_stem_is_adapted_to_other_band_counts(bands):
    state = fake_torchvision_state()
    model = build_model("resnet18", in_bands=bands)
    load_torchvision_weights(model, state)
    expected = state["conv1.weight"].mean(dim=1, keepdim=True) * (3.0 / bands)
    for band in range(bands):
        torch.testing.assert_close(model.conv1.weight[:, band : band + 1], expected)
    assert model(torch.randn(2, bands, 64, 64))[1].shape == (2, 2)


def test_head_gets_ten_times_the_learning_rate_by_default():
    groups = ResNet18().parameter_groups()
    multipliers = {g["name"]: g["lr_multiplier"] for g in groups}
    assert multipliers == {"backbone": 1.0, "head": 10.0}
    assert sum(len(g["params"]) for g in groups) == len(list(ResNet18().parameters()))
