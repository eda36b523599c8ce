import json
from pathlib import Path

import numpy as np
import pytest

from galmerge.data import ImageSet
from galmerge.errors import ConfigError, OutputExistsError
from galmerge.mocks.benchmarks import make_benchmark
from galmerge.mocks.realism.sky import SkyBank

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def test_sim2sim_writes_a_pristine_source_and_a_noisy_target(tmp_path):
    manifest = make_benchmark("sim2sim", tmp_path / "s2s", n=60, seed=3, workers=1, progress=False)
    source, target = ImageSet.load(manifest["files"]["source"]), ImageSet.load(manifest["files"]["target"])
    assert len(source) == len(target) == 60 and source.labels.sum() == target.labels.sum() == 30
    corners = lambda s: np.concatenate([np.asarray(s.images)[:, :, :6, :6].ravel(), np.asarray(s.images)[:, :, -6:, -6:].ravel()])  # noqa: E731
    assert np.median(np.abs(corners(source))) < 0.1 * np.median(np.abs(corners(target)))  # sky noise only in the target
    assert set(source.meta["group"]).isdisjoint(set(target.meta["group"]))  # no encounter is drawn in both domains
    saved = json.loads((tmp_path / "s2s" / "manifest.json").read_text())
    assert set(saved["audit"]) == {"source", "target"} and all("flagged" in a for a in saved["audit"].values())
    with pytest.raises(OutputExistsError):
        make_benchmark("sim2sim", tmp_path / "s2s", n=60, workers=1, progress=False)
    with pytest.raises(ConfigError, match="unknown benchmark"):
        make_benchmark("sim2nowhere", tmp_path / "x", progress=False)


@pytest.mark.skipif(not (SHARED / "gz1_dev").exists(), reason="shared SDSS data absent")
def test_sim2real_sdss_uses_the_real_images_when_present(tmp_path):
    manifest = make_benchmark("sim2real-sdss", tmp_path / "s2r", n=24, seed=1, workers=1, progress=False, shared_data=SHARED)
    source = ImageSet.load(manifest["files"]["source"])
    assert source.bands == ("R", "G", "B") and 0 <= np.asarray(source.images).min() and np.asarray(source.images).max() <= 1
    assert source.meta.meta["sky"] == manifest["sky_bank"]  # injected into real sky cut from the target pictures
    assert abs(np.log(manifest["sky_bank_noise_ratio"])) < np.log(SkyBank.BIASED_NOISE_RATIO)  # the survey's sky, not a noisy part of it
    assert 0 < manifest["sky_bank_black_share"] < SkyBank.MOSTLY_BLACK_SHARE  # GZ2 clips some sky at black, not most of it
    target = ImageSet.load(manifest["real_files"]["target"])
    evaluation = ImageSet.load(manifest["real_files"]["evaluation"])
    assert target.labels is None and len(target) > 1000
    assert evaluation.labels.sum() == 58 and evaluation.images.shape[1:] == source.images.shape[1:]
    # audited beside the real labelled pictures: every statistic has its real ROC-AUC
    assert all(entry["real_auc"] is not None for entry in manifest["audit"]["source"]["statistics"])


def test_sim2real_sdss_skips_the_real_parts_cleanly_without_them(tmp_path):
    with pytest.warns(UserWarning, match="missing lacks sdss_gz_unlabeled.*no real sky"):
        manifest = make_benchmark("sim2real-sdss", tmp_path / "s2r", n=12, seed=1, workers=1, progress=False, shared_data=tmp_path / "missing")
    assert manifest["real_data"].startswith("skipped")
    assert Path(manifest["files"]["source"]).exists()
