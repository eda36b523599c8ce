"""The montage's depth shift (the figure itself is drawn by the command-line test)."""

import pytest

from galmerge.mocks import load_recipe
from galmerge.mocks.montage import with_depth


def test_with_depth_moves_every_band_and_keeps_the_noise_on():
    recipe = load_recipe("hsc-grizy").replace(noise=False)
    deeper = with_depth(recipe, 2.0)
    assert deeper.noise
    for before, after in zip(recipe.bands, deeper.bands):
        assert after.depth_mu_lim == pytest.approx(before.depth_mu_lim + 2.0)
        assert (after.name, after.zeropoint, after.psf) == (before.name, before.zeropoint, before.psf)
