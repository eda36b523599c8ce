"""The noiseless statistics every mock carries: sizes and concentration of known profiles."""

import numpy as np
import pytest

from galmerge.mocks.match import measure_statistics


def test_an_exponential_disk_has_its_textbook_radii():
    # an exponential of scale length h holds 20, 50 and 80 % of its light within 0.824, 1.678
    # and 2.994 h (1 - (1 + x) exp(-x) = level)
    h = 4.0
    yy, xx = np.indices((151, 151))
    disk = np.exp(-np.hypot(yy - 75.3, xx - 74.6) / h)
    _, r50_arcsec, concentration, _ = measure_statistics(np.stack([disk, 2 * disk]), pixel_scale_arcsec=0.5)
    assert r50_arcsec == pytest.approx(1.678 * h * 0.5, rel=0.02)
    assert concentration == pytest.approx(2.994 / 0.824, rel=0.03)
