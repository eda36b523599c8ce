"""TCAV finds a planted concept and not a random one; Holm's correction; concept sets from metadata and folders."""

import numpy as np
import pytest
from astropy.table import Table

from galmerge.data import ImageSet
from galmerge.errors import ConfigError, DataError
from galmerge.explain import Concept, ConceptActivationVector, concepts_from_metadata, holm_correction, load_concept_folder, tcav


def test_tcav_gives_a_planted_concept_a_significant_score_near_one_and_random_concepts_none(marker_model, make_marker_images):
    marked, _ = make_marker_images(60, bands=3, seed=10, marked=True)
    concept, _ = make_marker_images(30, bands=3, seed=11, marked=True)
    random_concept, _ = make_marker_images(30, bands=3, seed=12, marked=False)
    pool, _ = make_marker_images(120, bands=3, seed=13, marked=False)
    concepts = [Concept("corner marker", concept), Concept("random images", random_concept)]
    scores = tcav(marker_model, marked, concepts, pool, layers=("conv1", "relu1"), target=1, runs=20, seed=0)
    assert [(s.concept, s.layer) for s in scores] == [("corner marker", "conv1"), ("random images", "conv1"), ("corner marker", "relu1"), ("random images", "relu1")]
    for score in scores:
        assert len(score.scores) == 20 and len(score.null_scores) == 20
        if score.concept == "corner marker":
            assert score.mean > 0.9 and score.significant and score.cav_accuracy > 0.9, score.to_dict()
        else:
            assert not score.significant, score.to_dict()
    assert scores[0].p_adjusted >= scores[0].p_value


def test_the_cav_points_towards_the_concept():
    rng = np.random.default_rng(0)
    direction = np.zeros(50)
    direction[7] = 1.0
    random = rng.normal(0, 1, (150, 50))
    concept = rng.normal(0, 1, (150, 50)) + 4 * direction
    cav = ConceptActivationVector(random_state=0).fit(concept, random)
    assert cav.accuracy_ > 0.9 and np.linalg.norm(cav.vector_) == pytest.approx(1.0)
    assert np.argmax(cav.vector_) == 7


def test_holm_correction():
    np.testing.assert_allclose(holm_correction([0.01, 0.04, 0.03, 0.5]), [0.04, 0.09, 0.09, 0.5])
    np.testing.assert_allclose(holm_correction([0.2, 0.6]), [0.4, 0.6])


def test_tcav_refuses_too_few_images_and_runs(marker_model, make_marker_images):
    images, _ = make_marker_images(40, bands=3, seed=3)
    with pytest.raises(DataError, match="concept 'tiny': 3 images"):
        tcav(marker_model, images, [Concept("tiny", images[:3])], images)
    with pytest.raises(ConfigError, match="at least 2 random runs"):
        tcav(marker_model, images, [Concept("c", images[:10])], images, runs=1)
    with pytest.raises(DataError, match="pool of at least"):
        tcav(marker_model, images, [Concept("c", images[:10])], images[:8])


def test_concepts_from_mock_metadata_and_masks():
    rng = np.random.default_rng(0)
    n = 120
    kind = rng.choice(["merger", "disk", "spheroid", "clumpy", "projected_pair"], n)
    masks = np.zeros((n, 20, 20), np.uint8)
    masks[:30, :5, :] |= 1  # a quarter of the stamp in tidal features
    masks[30:40, :2, :2] |= 1  # too little to count
    meta = Table({"kind": kind, "colour": rng.normal(0.5, 0.1, n), "n_field_sources": np.r_[np.full(20, 4), np.zeros(n - 20, int)]})
    mocks = ImageSet(rng.random((n, 2, 20, 20)), meta=meta, masks=masks)
    found = concepts_from_metadata(mocks, min_images=10, max_images=25, seed=1)
    assert {"tidal features", "disky", "spheroidal", "projected pair", "busy field"} <= set(found)
    assert "companion" not in found  # no companion pixels anywhere
    rows, description = found["tidal features"]
    assert len(rows) == 25 and rows.max() < 30 and "tidal" in description
    assert set(found["busy field"][0]) <= set(range(20))
    assert (kind[found["disky"][0]] == "disk").all()
    restricted = concepts_from_metadata(mocks, rows=np.arange(60, 120), min_images=10)
    assert "tidal features" not in restricted and "busy field" not in restricted


def test_concept_folder(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("disky", "random_a"):
        ImageSet(rng.random((12, 3, 20, 20))).save(tmp_path / f"{name}.h5")
    np.save(tmp_path / "tails.npy", rng.random((8, 3, 20, 20)).astype(np.float32))
    (tmp_path / "notes.txt").write_text("ignored")
    concepts, randoms = load_concept_folder(tmp_path)
    assert sorted(concepts) == ["disky", "tails"] and len(concepts["tails"]) == 8
    assert len(randoms) == 1 and len(randoms[0]) == 12
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no concept sets"):
        load_concept_folder(tmp_path / "empty")
