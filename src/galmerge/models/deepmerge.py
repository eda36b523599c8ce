"""The DeepMerge CNN of DeepMerge II (Ciprijanovic et al. 2021, MNRAS 506, 677)."""

from __future__ import annotations

import torch
from torch import nn

from galmerge.errors import ConfigError
from galmerge.models.fused import bn_relu_pool

__all__ = ["DeepMerge"]


class DeepMerge(nn.Module):
    """Three conv blocks and three dense layers; 174,626 parameters for 3 bands at 75x75.

    Layers, as in DeepMerge II: conv 5x5 (bands->8, pad 2), BatchNorm, ReLU, max-pool 2; conv 3x3
    (8->16, pad 1), BN, ReLU, pool; conv 3x3 (16->32, pad 1), BN, ReLU, pool; flatten to the
    feature vector (2592-d at 75x75); Linear(->64), ReLU, Linear(64->32), ReLU, Linear(32->2).
    No dropout, PyTorch's default initialisation.

    Parameters
    ----------
    in_bands : int
        Number of input bands.
    input_size : int
        Side of the square input in pixels (75 in DeepMerge II); sets the feature size
        32 * (input_size // 8) ** 2.
    num_classes : int
        Number of logits (2: non-merger, merger).
    fused : bool
        Compute BatchNorm-ReLU-pool pool-first (same function, ~2x faster training on CPU, see
        :mod:`galmerge.models.fused`). Set to ``False`` to run the layers one by one, e.g. to
        hook each block's ReLU output (``relu1``, ``relu2``, ``relu3``) at full resolution.

    Returns (from ``forward``)
    --------------------------
    features : Tensor (N, feature_dim)
        The flattened conv features, which domain adaptation aligns.
    logits : Tensor (N, num_classes)
    """

    default_input_size = 75

    def __init__(self, *, in_bands: int = 3, input_size: int = 75, num_classes: int = 2, fused: bool = True):
        super().__init__()
        if input_size < 8:
            raise ConfigError(f"DeepMerge needs inputs of at least 8x8 px, got {input_size}")
        self.in_bands = in_bands
        self.input_size = input_size
        self.fused = fused
        self.conv1 = nn.Conv2d(in_bands, 8, kernel_size=5, padding=2)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3, padding=1)
        self.bn3 = nn.BatchNorm2d(32)
        self.relu = nn.ReLU()
        # One ReLU module per conv block (no parameters, so state dicts are unchanged): a hook on a
        # module called several times would see only its last call.
        self.relu1, self.relu2, self.relu3 = nn.ReLU(), nn.ReLU(), nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.feature_dim = 32 * (input_size // 8) ** 2
        self.fc1 = nn.Linear(self.feature_dim, 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, num_classes)

    def conv_blocks(self):
        """The (conv, batchnorm) pairs in order, for interpretation tools."""
        return [(self.conv1, self.bn1), (self.conv2, self.bn2), (self.conv3, self.bn3)]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for (conv, bn), relu in zip(self.conv_blocks(), (self.relu1, self.relu2, self.relu3)):
            if self.fused:
                x = bn_relu_pool(conv(x), bn)
            else:
                x = self.pool(relu(bn(conv(x))))
        features = torch.flatten(x, 1)
        hidden = self.relu(self.fc2(self.relu(self.fc1(features))))
        return features, self.fc3(hidden)

    def layer_groups(self) -> list[list]:
        """Parameters by depth, input first: the three conv blocks, then the three dense layers."""
        blocks = [list(conv.parameters()) + list(bn.parameters()) for conv, bn in self.conv_blocks()]
        return blocks + [list(layer.parameters()) for layer in (self.fc1, self.fc2, self.fc3)]

    def head_parameters(self) -> list:
        """The dense layers: what head-only fine-tuning trains."""
        return [p for layer in (self.fc1, self.fc2, self.fc3) for p in layer.parameters()]

    def parameter_groups(self, *, head_lr_multiplier: float = 1.0) -> list[dict]:
        """All parameters in one group: DeepMerge II trains the whole CNN at one learning rate."""
        return [{"params": list(self.parameters()), "lr_multiplier": 1.0, "name": "deepmerge"}]
