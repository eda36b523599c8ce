"""ResNet18 with torchvision's parameter names and DeepMerge II's 256-d bottleneck head.

Written here because torchvision cannot be installed beside the CPU build of torch this project
uses; the module tree mirrors ``torchvision.models.resnet18`` so its state dicts load.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from galmerge.errors import ModelMismatchError

__all__ = ["ResNet18", "BasicBlock", "load_torchvision_weights"]


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (He et al. 2016), torchvision's layout."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """ResNet18 trained from scratch, with a bottleneck Linear(512 -> 256) before the classifier.

    The 7x7/2 stem and max-pool are kept as in torchvision (and DeepMerge II), so a 75x75 input
    is reduced 38 -> 19 -> 19 -> 10 -> 5 -> 3 before global average pooling to 512 features.

    Parameters
    ----------
    in_bands : int
        Number of input bands (the stem convolution's input channels).
    input_size : int
        Nominal input side in pixels; any size of at least 32 works (adaptive pooling).
    num_classes : int
    bottleneck_dim : int
        Width of the bottleneck; its output is the feature vector domain adaptation aligns.

    Notes
    -----
    11,308,354 parameters for 3 bands and 2 classes, as in DeepMerge II. Initialisation follows
    torchvision (Kaiming normal convolutions) and DeepMerge II's head: bottleneck weights
    N(0, 0.005), classifier N(0, 0.01), biases 0.
    """

    default_input_size = 75

    def __init__(self, *, in_bands: int = 3, input_size: int = 75, num_classes: int = 2, bottleneck_dim: int = 256):
        super().__init__()
        self.in_bands = in_bands
        self.input_size = input_size
        self.conv1 = nn.Conv2d(in_bands, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, 64, stride=1)
        self.layer2 = self._make_layer(64, 128, stride=2)
        self.layer3 = self._make_layer(128, 256, stride=2)
        self.layer4 = self._make_layer(256, 512, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.bottleneck = nn.Linear(512, bottleneck_dim)
        self.fc = nn.Linear(bottleneck_dim, num_classes)
        self.feature_dim = bottleneck_dim
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.bottleneck.weight, 0.0, 0.005)
        nn.init.zeros_(self.bottleneck.bias)
        nn.init.normal_(self.fc.weight, 0.0, 0.01)
        nn.init.zeros_(self.fc.bias)

    @staticmethod
    def _make_layer(in_planes: int, planes: int, *, stride: int) -> nn.Sequential:
        return nn.Sequential(BasicBlock(in_planes, planes, stride), BasicBlock(planes, planes, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        features = self.bottleneck(torch.flatten(self.avgpool(x), 1))
        return features, self.fc(features)

    def layer_groups(self) -> list[list]:
        """Parameters by depth, input first: stem, the four stages, the head."""
        stem = list(self.conv1.parameters()) + list(self.bn1.parameters())
        return [stem] + [list(stage.parameters()) for stage in (self.layer1, self.layer2, self.layer3, self.layer4)] + [self.head_parameters()]

    def head_parameters(self) -> list:
        """The bottleneck and classifier: what head-only fine-tuning trains."""
        return list(self.bottleneck.parameters()) + list(self.fc.parameters())

    def parameter_groups(self, *, head_lr_multiplier: float = 10.0) -> list[dict]:
        """Backbone at the base rate, bottleneck and classifier at ``head_lr_multiplier`` x (DeepMerge II: 10)."""
        head = self.head_parameters()
        head_ids = {id(p) for p in head}
        backbone = [p for p in self.parameters() if id(p) not in head_ids]
        return [
            {"params": backbone, "lr_multiplier": 1.0, "name": "backbone"},
            {"params": head, "lr_multiplier": head_lr_multiplier, "name": "head"},
        ]


def load_torchvision_weights(model: ResNet18, state_dict: Mapping[str, torch.Tensor], *, source: str = "checkpoint") -> list[str]:
    """Load a torchvision ``resnet18`` state dict into the backbone of ``model``.

    The 1000-class ``fc`` of an ImageNet checkpoint is skipped (the head stays as initialised).
    When ``model`` has other than 3 bands, the stem's RGB filters are averaged over colour and
    repeated for each band, scaled by 3/bands so the response to a flat image is unchanged.

    Returns
    -------
    list of str
        The parameter names of ``model`` that were not loaded.

    Raises
    ------
    ModelMismatchError
        A tensor of another shape (``source`` names the file in the message).
    """
    own = model.state_dict()
    loaded = {}
    for name, tensor in state_dict.items():
        if name.startswith("fc.") or name not in own:
            continue
        if name == "conv1.weight" and tensor.shape[1] != own[name].shape[1]:
            tensor = tensor.mean(dim=1, keepdim=True).repeat(1, own[name].shape[1], 1, 1) * (3.0 / own[name].shape[1])
        if tensor.shape != own[name].shape:
            raise ModelMismatchError(f"{source}: {name}: checkpoint shape {tuple(tensor.shape)} does not fit {tuple(own[name].shape)}")
        loaded[name] = tensor
    model.load_state_dict(loaded, strict=False)
    return sorted(set(own) - set(loaded))
