"""Fixtures of the mock tests."""

import numpy as np
import pytest


@pytest.fixture
def two_skies():
    """A maker of pictures (n, 3, 75, 75) of one galaxy, the first half on a quiet sky and the rest on a noisy one.

    The galaxy's 2-sigma extent fills the quiet frames (which a sky bank leaves out) and not the
    noisy ones, so a bank cut from them keeps only noisy skies.
    """

    def make(n: int) -> np.ndarray:
        rng = np.random.default_rng(4)
        yy, xx = np.indices((75, 75))
        galaxy = 0.2 * np.exp(-0.5 * ((xx - 37) ** 2 + (yy - 37) ** 2) / 8.0**2)
        sigmas = np.repeat([0.004, 0.03], n // 2)
        return np.clip(0.05 + galaxy + rng.normal(size=(n, 3, 75, 75)) * sigmas[:, None, None, None], 0, 1).astype(np.float32)

    return make
