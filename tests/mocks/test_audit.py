"""The shortcut audit flags planted shortcuts, passes clean sets, and compares with real labels."""

import json

import numpy as np
import pytest

from galmerge.data import ImageSet
from galmerge.errors import LabelError
from galmerge.mocks.audit import audit_imageset, audit_statistics
from galmerge.mocks.image_statistics import StatisticTable


def toy_set(n=400, *, jitter_mergers=0.5, jitter_others=0.5, merger_background=0.0, seed=0):
    """Blobs on noise; mergers carry a fainter second blob (their morphology). Both classes are
    centred with a uniform sub-pixel offset of the given half-widths."""
    rng = np.random.default_rng(seed)
    yy, xx = np.indices((75, 75))
    images, labels = [], []
    for i in range(n):
        merger = i % 2
        jitter = jitter_mergers if merger else jitter_others
        x, y = 37 + rng.uniform(-jitter, jitter, 2)
        sigma = rng.uniform(2.0, 4.0)
        light = np.exp(-0.5 * ((xx - x) ** 2 + (yy - y) ** 2) / sigma**2)
        if merger:
            angle, distance = rng.uniform(0, 2 * np.pi), rng.uniform(8, 14)
            light += rng.uniform(0.3, 0.8) * np.exp(-0.5 * ((xx - x - distance * np.cos(angle)) ** 2 + (yy - y - distance * np.sin(angle)) ** 2) / 4.0)
        image = np.stack([light] * 3) * 0.5 + 0.02 + rng.normal(0, 0.01, (3, 75, 75)) + (merger_background if merger else 0.0)
        images.append(image)
        labels.append(merger)
    return ImageSet(np.asarray(images, np.float32), labels=np.array(labels))


def test_a_clean_set_passes_and_its_morphology_separates():
    report = audit_imageset(toy_set())
    assert report.passed, report.flagged
    by_name = {entry.name: entry for entry in report.statistics}
    assert by_name["second_peak_ratio"].mock_auc > 0.8  # the real difference is seen, not flagged


def test_the_old_centring_shortcut_is_flagged():
    # non-mergers exactly on the centre pixel, mergers jittered by up to a pixel: the shortcut of issue 9
    report = audit_imageset(toy_set(jitter_mergers=1.0, jitter_others=0.0))
    assert not report.passed
    assert {"peak_subpixel_offset", "centre_imbalance"} <= set(report.flagged)


def test_a_planted_background_shortcut_is_flagged():
    report = audit_imageset(toy_set(merger_background=0.005))
    assert "background_level" in report.flagged and "combined: nuisance" in report.flagged


def test_with_real_labels_only_excess_separation_is_flagged():
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1], 300)
    separating = labels + rng.normal(0, 0.5, 600)  # AUC ~0.92
    noise = rng.normal(0, 1, 600)
    mock = StatisticTable(("asymmetry", "r50_px"), np.stack([separating, separating], axis=1))
    real = StatisticTable(("asymmetry", "r50_px"), np.stack([separating + rng.normal(0, 0.05, 600), noise], axis=1))
    report = audit_statistics(mock, labels, real=real, real_labels=labels)
    flagged = set(report.flagged)
    assert "r50_px" in flagged  # separates the mocks, not the real images
    assert "asymmetry" not in flagged  # separates both alike
    # a statistic that separates the other way round in the real images is a shortcut too
    reversed_real = StatisticTable(("asymmetry", "r50_px"), np.stack([-separating, noise], axis=1))
    assert "asymmetry" in audit_statistics(mock, labels, real=reversed_real, real_labels=labels).flagged


def test_the_audit_needs_both_classes():
    one_class = ImageSet(np.zeros((10, 3, 75, 75), np.float32), labels=np.zeros(10, int))
    with pytest.raises(LabelError):
        audit_imageset(one_class)


def test_the_audit_command_writes_json_and_exits_by_verdict(tmp_path, capsys):
    from galmerge.cli import main

    clean, leaky = tmp_path / "clean.h5", tmp_path / "leaky.h5"
    toy_set(200).save(clean)
    toy_set(200, jitter_mergers=1.0, jitter_others=0.0).save(leaky)
    assert main(["audit", str(clean), "--out", str(tmp_path / "a"), "--quiet"]) == 0
    saved = json.loads((tmp_path / "a" / "audit.json").read_text())
    assert saved["passed"] and {e["name"] for e in saved["statistics"]} >= {"centre_imbalance", "background_noise", "asymmetry"}
    assert (tmp_path / "a" / "audit.png").stat().st_size > 0
    assert main(["audit", str(leaky), "--out", str(tmp_path / "b"), "--quiet"]) == 1
    assert "centre_imbalance" in capsys.readouterr().out
    # real labels without a merger column: one clear error, nothing written
    catalog = tmp_path / "real.csv"
    (tmp_path / "pics").mkdir()
    from PIL import Image

    Image.fromarray(np.zeros((80, 80, 3), np.uint8)).save(tmp_path / "pics" / "a.jpg")
    catalog.write_text("id,file\n1,pics/a.jpg\n")
    assert main(["audit", str(clean), "--real", str(catalog), "--out", str(tmp_path / "c"), "--quiet"]) == 2
    assert "no merger labels" in capsys.readouterr().err and not (tmp_path / "c").exists()
