"""The regression head: shapes on both backbones, and calibrated heteroscedastic sigmas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from galmerge.errors import ModelMismatchError
from galmerge.models.heads import RegressionNet, gaussian_nll


@pytest.mark.parametrize("architecture,bands,size", [("deepmerge", 1, 32), ("deepmerge", 3, 48), ("resnet18", 2, 32)])
def test_regression_net_outputs_mean_and_log_sigma_for_any_band_count(architecture, bands, size):
    net = RegressionNet(architecture=architecture, in_bands=bands, input_size=size, n_targets=6, n_extra=2)
    features, output = net(torch.randn(4, bands, size, size), torch.randn(4, 2))
    mean, log_sigma = net.split(output)
    assert features.shape[0] == 4 and mean.shape == (4, 6) and log_sigma.shape == (4, 6)
    assert sum(len(g["params"]) for g in net.parameter_groups()) == len(list(net.parameters()))


def test_extra_inputs_change_the_prediction():
    torch.manual_seed(0)
    net = RegressionNet(architecture="deepmerge", in_bands=1, input_size=16, n_targets=2, n_extra=1).eval()
    images = torch.randn(3, 1, 16, 16)
    _, a = net(images, torch.zeros(3, 1))
    _, b = net(images, torch.ones(3, 1))
    assert not torch.allclose(a, b)


def test_missing_extra_inputs_are_refused_by_name():
    net = RegressionNet(architecture="deepmerge", in_bands=1, input_size=16, n_targets=2, n_extra=1).eval()
    with pytest.raises(ModelMismatchError, match="1 extra input"):
        net(torch.randn(3, 1, 16, 16))
    with pytest.raises(ModelMismatchError, match=r"shape \(3, 2\)"):
        net(torch.randn(3, 1, 16, 16), torch.zeros(3, 2))


def test_predicted_sigma_is_calibrated_on_heteroscedastic_toy_data():
    """y = x + noise whose spread grows with x: ~68 % of held-out truths within 1 predicted sigma,
    and the predicted sigma follows the true spread."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 3000).astype(np.float32)
    spread = 0.05 + 0.4 * x
    y = (x + rng.normal(size=x.shape) * spread).astype(np.float32)
    images = torch.from_numpy(np.repeat(x[:, None, None, None], 8, axis=2).repeat(8, axis=3) + rng.normal(0, 0.01, (3000, 1, 8, 8)).astype(np.float32))
    target = torch.from_numpy(y[:, None])
    net = RegressionNet(architecture="deepmerge", in_bands=1, input_size=8, n_targets=1, hidden=(32, 16))
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    test = slice(2400, 3000)  # trained on the first 2,400
    for _ in range(600):
        rows = torch.randint(0, 2400, (128,))
        _, output = net(images[rows])
        loss = gaussian_nll(*net.split(output), target[rows]).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    net.eval()
    with torch.no_grad():
        mean, log_sigma = net.split(net(images[test])[1])
    sigma = log_sigma.exp().numpy()[:, 0]
    inside = np.abs(y[test] - mean.numpy()[:, 0]) <= sigma
    assert 0.60 <= inside.mean() <= 0.76
    assert np.corrcoef(sigma, spread[test])[0, 1] > 0.9


def test_beta_nll_weights_each_image_by_its_variance_held_constant():
    """beta = 1: the mean's gradient is that of half the squared error, whatever sigma; the
    sigma's gradient still pulls sigma towards the residual (Seitzer et al. 2022)."""
    mean = torch.tensor([[0.0], [1.0]], requires_grad=True)
    log_sigma = torch.tensor([[0.0], [1.5]], requires_grad=True)
    target = torch.tensor([[2.0], [0.0]])
    loss = gaussian_nll(mean, log_sigma, target, beta=1.0).sum()
    loss.backward()
    np.testing.assert_allclose(mean.grad.numpy()[:, 0], (mean - target).detach().numpy()[:, 0] / 2, rtol=1e-5)  # mean over 2 images
    plain_mean = mean.detach().clone().requires_grad_(True)
    gaussian_nll(plain_mean, log_sigma.detach(), target).sum().backward()
    assert abs(plain_mean.grad[1, 0]) < abs(mean.grad[1, 0])  # beta = 0: the wide image's mean barely moves
    residual, sigma = (mean - target).detach().abs().numpy()[:, 0], log_sigma.detach().exp().numpy()[:, 0]
    assert (np.sign(log_sigma.grad.numpy()[:, 0]) == np.sign(sigma - residual)).all()  # too wide shrinks, too narrow grows
