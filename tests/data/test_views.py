"""Strong views: what they change and what they keep."""

from __future__ import annotations

import pytest
import torch

from galmerge.data.views import StrongViewOptions, gaussian_blur, strong_view
from galmerge.errors import ConfigError


def _point_sources(n=4, size=33):
    images = torch.zeros(n, 2, size, size)
    images[:, :, size // 2, size // 2] = 1.0
    return images


def test_blur_of_a_point_is_the_gaussian_with_its_width():
    images = _point_sources()
    sigma = torch.tensor([0.0, 0.5, 1.0, 2.0])
    out = gaussian_blur(images, sigma)
    torch.testing.assert_close(out[0], images[0], atol=1e-6, rtol=0)  # sigma 0: unchanged
    centre = images.shape[-1] // 2
    coordinate = torch.arange(images.shape[-1], dtype=torch.float32) - centre
    for i in (2, 3):
        profile = out[i, 0].sum(dim=0)  # marginal along x
        measured = torch.sqrt((profile * coordinate**2).sum() / profile.sum())
        assert measured == pytest.approx(float(sigma[i]), rel=0.03)
    torch.testing.assert_close(out.sum(dim=(-1, -2)), torch.ones(4, 2))  # flux kept


def test_strong_view_keeps_a_centred_galaxy_in_the_frame_and_changes_the_observation():
    generator = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(48.0), torch.arange(48.0), indexing="ij")
    galaxy = torch.exp(-((xx - 23.5) ** 2 + (yy - 23.5) ** 2) / (2 * 4.0**2))
    images = galaxy.expand(64, 3, 48, 48).clone()
    options = StrongViewOptions(max_noise=0.0, contrast_sigma=0.0, colour_sigma=0.0, offset_sigma=0.0, max_blur_sigma_px=0.0)
    views = strong_view(images, generator=generator, options=options)
    flux = views.sum(dim=(-1, -2))
    # geometry only: zoom within 8 % changes the summed light by at most ~17 %, nothing is cut off
    assert flux.min() > 0.8 * images[0, 0].sum() and flux.max() < 1.2 * images[0, 0].sum()
    centre_x = (views[:, 0] * xx).sum(dim=(-1, -2)) / views[:, 0].sum(dim=(-1, -2))
    assert (centre_x - 23.5).abs().max() < 2.5  # shifted by at most ~2 px
    noisy = strong_view(images, generator=torch.Generator().manual_seed(1))
    corner_std = noisy[:, :, :8, :8].std(dim=(-1, -2)).mean()
    assert corner_std > 0.01  # noise added where the sky was flat
    assert not torch.equal(strong_view(images, generator=torch.Generator().manual_seed(2)), noisy)


def test_same_generator_seed_same_view():
    images = torch.randn(5, 3, 20, 20)
    a = strong_view(images, generator=torch.Generator().manual_seed(7))
    b = strong_view(images, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(a, b)


def test_bad_amplitudes_are_refused():
    with pytest.raises(ConfigError):
        StrongViewOptions(max_noise=-1.0)
