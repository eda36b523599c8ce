"""The shortcut audit flags planted shortcuts, passes clean sets, and compares with real labels."""

import json

import numpy as np
import pytest
from astropy.table import Table

from galmerge.data import ImageSet
from galmerge.errors import LabelError
from galmerge.mocks.audit import CORNER_STATISTICS, audit_imageset, audit_statistics
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


def paired_set(n=800, *, merger_jitter=0.0, seed=0):
    """Mergers and half the non-mergers carry a close companion (2-5 px, up to twice as bright),
    which moves the framing statistics; single galaxies do not. Every stamp is centred the same
    way, except that mergers may be shifted by a further uniform offset of ``merger_jitter`` px."""
    rng = np.random.default_rng(seed)
    yy, xx = np.indices((75, 75))
    images, labels, kinds = [], [], []
    for i in range(n):
        merger, paired = i % 2 == 1, i % 4 == 0
        x, y = 37 + rng.uniform(-0.5, 0.5, 2) + (rng.uniform(-merger_jitter, merger_jitter, 2) if merger else 0.0)
        light = np.exp(-0.5 * ((xx - x) ** 2 + (yy - y) ** 2) / rng.uniform(2.0, 3.0) ** 2)
        if merger or paired:
            angle, distance = rng.uniform(0, 2 * np.pi), rng.uniform(2, 5)
            light += rng.uniform(0.3, 2.0) * np.exp(-0.5 * ((xx - x - distance * np.cos(angle)) ** 2 + (yy - y - distance * np.sin(angle)) ** 2) / 2.0)
        images.append(np.stack([light] * 3) * 0.5 + 0.02 + rng.normal(0, 0.01, (3, 75, 75)))
        labels.append(int(merger))
        kinds.append("merger" if merger else ("projected_pair" if paired else "disk"))
    return ImageSet(np.asarray(images, np.float32), labels=np.array(labels), meta=Table({"kind": kinds}))


def test_framing_moved_by_a_companion_is_judged_against_non_merger_pairs():
    mocks = paired_set()
    # the companion's light moves the framing statistics of mergers against single galaxies ...
    without_kinds = audit_imageset(ImageSet(mocks.images, labels=mocks.labels))
    moved = {"centre_offset_px", "peak_distance_px"}
    assert moved <= set(without_kinds.flagged)
    # ... but not against non-mergers that show a second galaxy too
    report = audit_imageset(mocks)
    assert report.n_paired == 200
    by_name = {entry.name: entry for entry in report.statistics}
    for name in moved:
        assert abs(by_name[name].mock_auc - 0.5) > 0.1 and abs(by_name[name].paired_auc - 0.5) < 0.1
    assert report.passed, report.flagged
    assert by_name["background_level"].paired_auc is None  # nuisance statistics: always all non-mergers


def test_a_framing_shortcut_is_still_flagged_against_non_merger_pairs():
    report = audit_imageset(paired_set(merger_jitter=1.5))
    by_name = {entry.name: entry for entry in report.statistics}
    assert by_name["centre_offset_px"].flagged and abs(by_name["centre_offset_px"].paired_auc - 0.5) > 0.1


def test_non_merger_pairs_explain_a_framing_statistic_only_in_its_direction():
    rng = np.random.default_rng(4)
    labels = np.repeat([0, 1], 400)
    paired = (np.arange(800) % 2 == 0) & (np.arange(800) < 240)  # 120 non-merger pairs
    edge = rng.normal(0, 1, 800) + 1.0 * labels  # mergers above single galaxies (AUC ~0.76)
    for pair_shift, flagged in ((1.6, False), (0.0, True)):  # pairs above the mergers, or like single galaxies
        values = edge + pair_shift * paired
        report = audit_statistics(StatisticTable(("edge_flux_fraction",), values[:, None]), labels, paired=paired)
        assert report.n_paired == 120 and report.statistics[0].mock_auc > 0.6
        assert report.statistics[0].flagged is flagged, report.statistics[0]


def test_too_few_non_merger_pairs_leave_the_plain_rule():
    mocks = paired_set(n=360)  # 90 pairs, fewer than MIN_PAIRED
    report = audit_imageset(mocks)
    assert report.n_paired is None and all(entry.paired_auc is None for entry in report.statistics)
    assert {"centre_offset_px", "peak_distance_px"} <= set(report.flagged)


def noiseless_set(n=400, *, merger_pedestal=0.0, seed=0):
    """Noiseless exponential disks without sky; mergers carry a companion whose outer light
    reaches a corner. ``merger_pedestal`` lifts the mergers' whole stamp (a sky of their own)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.indices((75, 75))
    images, labels = [], []
    for i in range(n):
        merger = i % 2
        x, y = 37 + rng.uniform(-0.5, 0.5, 2)
        light = np.exp(-np.hypot(xx - x, yy - y) / rng.uniform(4.0, 6.0))
        if merger:
            angle, distance = rng.uniform(0, 2 * np.pi), rng.uniform(10, 18)
            light += rng.uniform(0.3, 0.8) * np.exp(-np.hypot(xx - x - distance * np.cos(angle), yy - y - distance * np.sin(angle)) / 4.0)
        images.append(np.stack([light, 0.8 * light, 0.6 * light]) + (merger_pedestal if merger else 0.0))
        labels.append(merger)
    return ImageSet(np.asarray(images, np.float32), labels=np.array(labels))


def test_corners_without_sky_count_as_morphology():
    report = audit_imageset(noiseless_set())
    corners = [entry for entry in report.statistics if entry.name in CORNER_STATISTICS]
    assert report.sky_free and {entry.kind for entry in corners} == {"morphology"}
    assert max(abs(entry.mock_auc - 0.5) for entry in corners) > 0.1  # the companion's light reaches the corners
    assert not set(report.flagged) & {*CORNER_STATISTICS, "combined: nuisance"}, report.flagged
    # a sky (or pedestal) in one class only is still a shortcut
    lifted = audit_imageset(noiseless_set(merger_pedestal=0.01))
    assert not lifted.sky_free and "background_level" in lifted.flagged


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
