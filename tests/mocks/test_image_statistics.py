"""Image statistics on stamps whose answers are known by construction."""

import numpy as np
import pytest

from galmerge.errors import DataError
from galmerge.mocks.image_statistics import STATISTIC_KINDS, measure_image_statistics


def blob(size=75, *, x=37.0, y=37.0, sigma=3.0, axis_ratio=1.0, flux=1.0):
    yy, xx = np.indices((size, size))
    return flux * np.exp(-0.5 * (((xx - x) / sigma) ** 2 + ((yy - y) / (sigma * axis_ratio)) ** 2)) / (2 * np.pi * sigma**2 * axis_ratio)


def stamps(*images, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    cube = np.stack([np.stack([image] * 3) for image in images])
    return cube + rng.normal(0, noise, cube.shape) if noise else cube


def test_a_centred_round_blob_is_centred_symmetric_and_round():
    table = measure_image_statistics(stamps(blob(sigma=3.0), noise=1e-5))
    assert table.column("centre_imbalance")[0] < 1e-3
    assert table.column("peak_subpixel_offset")[0] < 0.02
    assert table.column("peak_distance_px")[0] == 0
    assert table.column("ellipticity")[0] < 0.02
    assert table.column("asymmetry")[0] < 0.02
    assert table.column("n_peaks")[0] == 1
    # a Gaussian holds half its light inside sigma sqrt(2 ln 2)
    assert table.column("r50_px")[0] == pytest.approx(3.0 * np.sqrt(2 * np.log(2)), rel=0.08)


def test_offsets_elongation_and_a_second_peak_are_measured():
    shifted = measure_image_statistics(stamps(blob(x=37.3, y=36.8), noise=1e-5))
    assert shifted.column("peak_subpixel_offset")[0] == pytest.approx(np.hypot(0.3, 0.2), abs=0.05)
    assert shifted.column("centre_imbalance")[0] > 0.05
    elongated = measure_image_statistics(stamps(blob(sigma=4.0, axis_ratio=0.5), noise=1e-5))
    assert elongated.column("ellipticity")[0] == pytest.approx(0.5, abs=0.05)
    pair = measure_image_statistics(stamps(blob() + blob(x=47.0, flux=0.5), noise=1e-5))
    assert pair.column("n_peaks")[0] == 2
    assert pair.column("second_peak_ratio")[0] == pytest.approx(0.5, abs=0.1)
    assert pair.column("asymmetry")[0] > 0.2


def test_background_level_and_noise_come_from_the_corners():
    rng = np.random.default_rng(1)
    cube = 0.05 + rng.normal(0, 0.01, (20, 3, 75, 75))
    table = measure_image_statistics(cube)
    assert np.median(table.column("background_level")) == pytest.approx(0.05, abs=0.002)
    assert np.median(table.column("background_noise")) == pytest.approx(0.01, rel=0.1)


def test_every_statistic_has_a_kind_and_bad_input_is_refused():
    assert {kind for kind, _ in STATISTIC_KINDS.values()} == {"nuisance", "framing", "morphology"}
    with pytest.raises(DataError, match="finite"):
        measure_image_statistics(np.full((2, 3, 75, 75), np.nan))
    with pytest.raises(DataError, match="square stamps"):
        measure_image_statistics(np.zeros((2, 3, 75, 60)))
    with pytest.raises(DataError, match="unknown statistic"):
        measure_image_statistics(np.zeros((2, 3, 75, 75)), names=["beauty"])
