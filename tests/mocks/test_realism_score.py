"""The realism score tells different sets apart and not alike ones."""

import numpy as np

from galmerge.mocks.realism_score import cnn_realism, realism_score


def pictures(n, *, brightness, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.indices((32, 32))
    sigma = rng.uniform(2, 4, n)[:, None, None]
    blobs = brightness * np.exp(-0.5 * ((xx - 16) ** 2 + (yy - 16) ** 2)[None] / sigma**2)
    return np.clip(np.stack([blobs] * 3, axis=1) + rng.normal(0.02, 0.01, (n, 3, 32, 32)), 0, 1).astype(np.float32)


def test_alike_sets_score_near_one_half_and_different_ones_near_one():
    same = realism_score(pictures(300, brightness=0.5, seed=0), pictures(300, brightness=0.5, seed=1), cnn=False)
    assert abs(same.statistics_auc - 0.5) < 0.1
    different = realism_score(pictures(300, brightness=0.5, seed=0), pictures(300, brightness=0.8, seed=1), cnn=False)
    assert different.statistics_auc > 0.9


def test_the_pixel_cnn_learns_to_tell_sets_apart():
    a, b = pictures(300, brightness=0.5, seed=2), pictures(300, brightness=0.5, seed=3)
    b[:, 0] *= 1.3  # redder
    assert cnn_realism(a, b, per_side=300, epochs=3) > 0.9
    assert abs(cnn_realism(a, pictures(300, brightness=0.5, seed=4), per_side=300, epochs=3) - 0.5) < 0.12
