"""statmorph measurements on synthetic stamps, and flagged rows for what cannot be measured."""

from __future__ import annotations

import numpy as np
import pytest

from galmerge.data.imageset import ImageSet
from galmerge.morphology.statistics import MEASURE_FLAGS, STATISTIC_COLUMNS, measure_morphology


def _blob(size, x, y, flux, radius):
    yy, xx = np.mgrid[:size, :size]
    return flux * np.exp(-np.hypot(xx - x, yy - y) / radius)


@pytest.fixture(scope="module")
def stamps():
    rng = np.random.default_rng(0)
    size, sigma = 48, 0.05
    single = _blob(size, 23.5, 23.5, 10.0, 3.0)
    pair = _blob(size, 19, 23.5, 10.0, 3.0) + _blob(size, 31, 26, 6.0, 2.5)
    noise = lambda: rng.normal(0, sigma, (size, size))  # noqa: E731
    nan_stamp = single + noise()
    nan_stamp[10:14, 10:14] = np.nan
    images = np.stack([single + noise(), pair + noise(), noise(), nan_stamp])[:, None]
    return ImageSet(images.astype(np.float32))


def test_measures_symmetric_and_disturbed_galaxies_and_flags_the_rest(stamps):
    table = measure_morphology(stamps, progress=False)
    assert len(table) == 4 and all(c in table.colnames for c in STATISTIC_COLUMNS + ("flag", "flag_reason"))
    single, pair, blank, with_nan = table
    assert np.isfinite([single[c] for c in ("gini", "m20", "concentration", "asymmetry", "smoothness")]).all()
    # a galaxy with a companion is more asymmetric and multi-modal than a single smooth one
    assert pair["asymmetry"] > single["asymmetry"] + 0.2
    assert pair["multimode"] > single["multimode"]
    assert blank["flag"] & MEASURE_FLAGS["no_source"] and "no_source" in blank["flag_reason"]
    assert np.isnan(blank["gini"])
    assert with_nan["flag"] & MEASURE_FLAGS["nonfinite_pixels"] and np.isfinite(with_nan["gini"])
