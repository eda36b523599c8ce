"""Attribution scored against ground-truth masks, by hand."""

import numpy as np
import pytest

from galmerge.errors import DataError
from galmerge.explain import mask_scores


def test_in_mask_share_and_pointing_game_on_a_hand_made_example():
    maps = np.zeros((3, 4, 4))
    masks = np.zeros((3, 4, 4), bool)
    # Image 0: 3 of 4 units of |attribution| inside the mask, maximum inside.
    maps[0, 0, 0], maps[0, 0, 1], maps[0, 3, 3] = 2.0, -1.0, 1.0
    masks[0, 0, :2] = True
    # Image 1: maximum outside the mask, a quarter inside.
    maps[1, 2, 2], maps[1, 1, 1] = 3.0, 1.0
    masks[1, 1, 1] = True
    # Image 2: an empty map (no attribution): no share, and no meaningful maximum.
    masks[2, 3, :] = True
    scores = mask_scores(maps, masks)
    np.testing.assert_allclose(scores.share[:2], [0.75, 0.25])
    assert np.isnan(scores.share[2])
    assert scores.hit.tolist() == [True, False, False]
    np.testing.assert_allclose(scores.area, [2 / 16, 1 / 16, 4 / 16])
    summary = scores.summary()
    assert summary["share_in_mask"] == pytest.approx(0.5) and summary["pointing_game"] == pytest.approx(1 / 3)
    assert summary["n_images"] == 3


def test_the_shuffled_baseline_gives_every_image_another_images_mask():
    n = 7
    maps = np.zeros((n, 5, 5))
    masks = np.zeros((n, 5, 5), bool)
    for i in range(n):  # each map is exactly its own mask: perfect own-mask scores
        maps[i].flat[i] = 1.0
        masks[i].flat[i] = True
    scores = mask_scores(maps, masks, seed=3)
    assert scores.share.tolist() == [1.0] * n and scores.hit.all()
    assert scores.shuffled_share.tolist() == [0.0] * n and not scores.shuffled_hit.any()
    summary = scores.summary()
    assert summary["shuffled_share_in_mask"] == 0.0 and summary["shuffled_pointing_game"] == 0.0
    assert np.isnan(mask_scores(maps[:1], masks[:1]).summary()["shuffled_share_in_mask"])


def test_mismatched_shapes_are_refused():
    with pytest.raises(DataError, match="must be \\(N, H, W\\) and equal"):
        mask_scores(np.zeros((2, 4, 4)), np.zeros((2, 4, 5), bool))
