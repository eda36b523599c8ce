"""The pool-first BatchNorm-ReLU-pool is the plain layers' function, with their gradients and running statistics."""

import copy

import pytest
import torch
from torch import nn

from galmerge.models.fused import bn_relu_pool


def plain(z, bn):
    return nn.functional.max_pool2d(nn.functional.relu(bn(z)), 2)


@pytest.fixture
def layers():
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(6)
    with torch.no_grad():  # negative scales take the min-pool branch
        bn.weight.copy_(torch.tensor([1.5, -0.7, 0.3, -2.0, 1.0, 0.05]))
        bn.bias.copy_(torch.randn(6))
    return bn, copy.deepcopy(bn)


def test_training_forward_backward_and_running_statistics_match_the_plain_layers(layers):
    fused_bn, plain_bn = layers
    z = torch.randn(16, 6, 20, 20, dtype=torch.float32) * 3 + 1
    z_fused, z_plain = z.clone().requires_grad_(), z.clone().requires_grad_()
    upstream = torch.randn(16, 6, 10, 10)
    out_fused, out_plain = bn_relu_pool(z_fused, fused_bn), plain(z_plain, plain_bn)
    (out_fused * upstream).sum().backward()
    (out_plain * upstream).sum().backward()
    torch.testing.assert_close(out_fused, out_plain, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(z_fused.grad, z_plain.grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(fused_bn.weight.grad, plain_bn.weight.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(fused_bn.bias.grad, plain_bn.bias.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(fused_bn.running_mean, plain_bn.running_mean)
    torch.testing.assert_close(fused_bn.running_var, plain_bn.running_var)
    fused_bn.eval()
    plain_bn.eval()
    torch.testing.assert_close(bn_relu_pool(z, fused_bn), plain(z, plain_bn), atol=1e-5, rtol=1e-5)


def test_under_bfloat16_autocast_the_statistics_stay_float32_and_match_the_plain_layers(layers):
    fused_bn, plain_bn = layers
    conv = nn.Conv2d(3, 6, 3, padding=1)
    x = torch.randn(8, 3, 20, 20)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z = conv(x)  # bfloat16, as the layers before a BatchNorm give under bf16-mixed training
        assert z.dtype == torch.bfloat16
        out_fused = bn_relu_pool(z, fused_bn)
        out_plain = plain(z.float(), plain_bn)
    out_fused.sum().backward()
    assert fused_bn.running_mean.dtype == torch.float32 and conv.weight.grad is not None
    torch.testing.assert_close(out_fused.float(), out_plain.float(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fused_bn.running_var, plain_bn.running_var)
