"""Grad-CAM finds what a CNN keys on, at any layer, for the logits and for the feature space."""

import numpy as np
import pytest
import torch
from torch import nn

from galmerge.errors import ConfigError
from galmerge.explain import InspectableModel, grad_cam


class BlobDetector(nn.Module):
    """Local mean brightness above a threshold, averaged over the image: evidence for class 1."""

    def __init__(self, bands):
        super().__init__()
        self.conv = nn.Conv2d(bands, 1, 5, padding=2)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(1, 2)
        with torch.no_grad():
            self.conv.weight.fill_(1.0 / (25 * bands))
            self.conv.bias.fill_(-1.0)
            self.fc.weight.copy_(torch.tensor([[-1.0], [1.0]]))
            self.fc.bias.zero_()

    def forward(self, x):
        return self.fc(self.relu(self.conv(x)).mean(dim=(2, 3)))


@pytest.mark.parametrize("bands", [1, 3, 6])
def test_grad_cam_of_a_blob_detector_peaks_on_the_blob(bands):
    rng = np.random.default_rng(bands)
    size = 40
    yy, xx = np.mgrid[0:size, 0:size]
    centres = [(8, 30), (20, 20), (33, 6), (30, 31)]
    images = rng.normal(0, 0.3, (len(centres), bands, size, size))
    for image, (row, column) in zip(images, centres):
        image += 5.0 * np.exp(-((yy - row) ** 2 + (xx - column) ** 2) / (2 * 2.0**2))
    x = torch.from_numpy(images.astype(np.float32))
    model = BlobDetector(bands)
    for layer in ("relu", model.relu):
        maps = grad_cam(model, x, layer=layer, target=1)
        assert maps.shape == (len(centres), size, size) and (maps >= 0).all()
        for cam, (row, column) in zip(maps, centres):
            peak = np.unravel_index(int(cam.argmax()), cam.shape)
            assert abs(peak[0] - row) <= 2 and abs(peak[1] - column) <= 2
            assert cam[row, column] > 10 * cam[(row + 20) % size, (column + 20) % size]
    # For the other class the evidence is negative: ReLU leaves nothing.
    assert grad_cam(model, x, layer="relu", target=0).max() == 0


def test_grad_cam_on_any_layer_of_a_galmerge_network_and_its_feature_space(make_trained):
    trained, toy = make_trained(bands=3, size=32)
    model = InspectableModel.from_trained(trained)
    x = model.preprocess(toy.images, rows=np.arange(3))
    for layer, side in (("relu1", 32), ("relu2", 32), ("relu3", 32)):
        assert grad_cam(model, x, layer=layer).shape == (3, side, side)
    assert grad_cam(model, x, layer="relu2", upsample=False).shape == (3, 16, 16)
    torch.testing.assert_close(grad_cam(model, x), grad_cam(model, x, layer="relu3"))
    features = model.with_output("feature_norm")
    assert features.network is model.network
    with torch.no_grad():
        torch.testing.assert_close(features(x), trained.model.eval()(x)[0].norm(dim=1))
    cam = grad_cam(features, x, target=None)
    assert cam.shape == (3, 32, 32) and (cam >= 0).all() and cam.sum() > 0
    with pytest.raises(ConfigError, match="no layer 'conv9'.*relu1, relu2, relu3"):
        grad_cam(model, x, layer="conv9")
