import copy

import pytest
import torch

from galmerge.models import DeepMerge, build_model


def count(model):
    return sum(p.numel() for p in model.parameters())


def test_architecture_matches_deepmerge_ii():
    model = DeepMerge()
    assert count(model) == 174_626  # the published parameter count for 3 bands at 75x75
    assert model.feature_dim == 2592
    assert (model.conv1.kernel_size, model.conv1.padding, model.conv1.out_channels) == ((5, 5), (2, 2), 8)
    assert [m.out_features for m in (model.fc1, model.fc2, model.fc3)] == [64, 32, 2]
    features, logits = model(torch.randn(4, 3, 75, 75))
    assert features.shape == (4, 2592) and logits.shape == (4, 2)


@pytest.mark.parametrize("bands", [1, 3, 6])
def test_any_band_count(bands):
    model = build_model("deepmerge", in_bands=bands)
    features, logits = model(torch.randn(2, bands, 75, 75))
    assert logits.shape == (2, 2)
    assert count(model) == 174_626 + (bands - 3) * 8 * 25


def pair(seed=0):
    torch.manual_seed(seed)
    fused = DeepMerge(fused=True)
    plain = copy.deepcopy(fused)
    plain.fused = False
    with torch.no_grad():  # a negative BatchNorm scale turns max-pooling into min-pooling
        for model in (fused, plain):
            model.bn1.weight[0] = -0.7
            model.bn2.weight[3] = -0.2
    return fused, plain


def images(channels_last):
    x = torch.randn(16, 3, 75, 75) * 2 + 1
    x[:8, :, :30, :30] = 0.5  # flat sky: ties inside pooling windows
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def run_step(model, x):
    model.zero_grad()
    features, logits = model(x)
    (logits[:, 1].sum() + features.pow(2).mean()).backward()
    return features, logits


@pytest.mark.parametrize("channels_last", [False, True])
def test_fused_training_step_matches_float64_plain_layers(channels_last):
    fused, plain = pair()
    x = images(False)
    reference = copy.deepcopy(plain).double()  # ground truth: the plain layers in float64
    ref_features, ref_logits = run_step(reference, x.double())
    if channels_last:
        fused = fused.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    features, logits = run_step(fused, x)
    torch.testing.assert_close(features.double(), ref_features, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(logits.double(), ref_logits, rtol=1e-4, atol=1e-5)
    # Conv biases before BatchNorm have a true gradient of 0: compare on the scale of all gradients.
    scale = max(p.grad.abs().max().item() for p in reference.parameters())
    for (name, p), q in zip(reference.named_parameters(), fused.parameters()):
        assert (p.grad - q.grad.double()).abs().max().item() <= 1e-4 * scale, name
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(fused.bn1, name).double(), getattr(reference.bn1, name).double(), rtol=1e-5, atol=1e-6)


def test_fused_evaluation_matches_the_plain_layers():
    fused, plain = pair(1)
    warm_up = torch.randn(32, 3, 75, 75) * 3 + 2
    for model in (fused, plain):  # give BatchNorm non-trivial running statistics
        model.train()
        model(warm_up)
        model.eval()
    x = images(False)
    with torch.no_grad():
        torch.testing.assert_close(fused(x)[1], plain(x)[1], rtol=1e-5, atol=1e-6)


def test_fused_model_learns_the_same_as_plain():
    fused, plain = pair(2)
    x = images(False)
    y = (x.mean(dim=(1, 2, 3)) > 1).long()
    losses = {}
    for name, model in (("fused", fused), ("plain", plain)):
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(5):
            loss = torch.nn.functional.cross_entropy(model(x)[1], y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        losses[name] = loss.item()
    assert losses["fused"] == pytest.approx(losses["plain"], rel=1e-3)
