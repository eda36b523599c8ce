"""``explain_run`` and ``galmerge explain`` end to end on a small trained run, and the report's new section."""

import json

import numpy as np
import pytest

from galmerge.cli import main
from galmerge.data import ImageSet, make_toy_mergers
from galmerge.explain import explain_run

SIZE = 32


def with_masks(imageset):
    """Toy images with hand-made ground-truth masks (bit 1 'tidal': a corner block, bit 2 'companion': the centre)."""
    masks = np.zeros((len(imageset), SIZE, SIZE), np.uint8)
    masks[imageset.labels == 1, :8, :8] |= 1
    masks[imageset.labels == 1, 13:19, 13:19] |= 2
    return ImageSet(imageset.images, bands=imageset.bands, labels=imageset.labels, meta=imageset.meta, masks=masks, source=imageset.source)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from galmerge.pipeline import train_and_evaluate
    from galmerge.training import TrainConfig

    folder = tmp_path_factory.mktemp("explain")
    training = make_toy_mergers(300, seed=2, size=SIZE)
    training.save(folder / "train.h5")
    config = TrainConfig(epochs=2, batch_size=64, n_bootstrap=20, early_stopping_patience=0, input_size=SIZE)
    return train_and_evaluate(str(folder / "train.h5"), config=config, out=folder / "run", progress=False)


@pytest.fixture(scope="module")
def explained(run):
    data = with_masks(make_toy_mergers(160, seed=7, size=SIZE))
    other = make_toy_mergers(40, seed=8, size=SIZE)
    report = explain_run(run.run_dir, data, n_images=6, sanity=True, concepts="metadata", tcav_runs=10, compare=other, n_scored=12, progress=False)
    return report, data


def test_explain_run_writes_every_figure_and_the_numbers(explained, run):
    report, data = explained
    folder = run.run_dir / "explain"
    written = json.loads((folder / next(p.name for p in folder.iterdir()) / "explain.json").read_text())
    assert written["methods"] == ["activations", "saliency", "smoothgrad", "ig", "gradcam"]
    assert written["n_excluded"] == 0  # images the run never saw
    assert written["images"]["class"] == [1, 1, 1, 0, 0, 0]
    expected = {
        "attributions_mergers",
        "attributions_non_mergers",
        "saliency_bands",
        "dead_filters",
        "activations_merger",
        "activations_non_merger",
        "mask_scores",
        "randomisation_cascading",
        "randomisation_independent",
        "tcav",
        "feature_gradcam",
    }
    assert set(report.figures) == expected
    assert report.to_dict() == written
    for path in report.figures.values():
        with open(path, "rb") as handle:
            assert handle.read(4) == b"\x89PNG"
    with np.load(report.figures["dead_filters"].replace("dead_filters.png", "attributions.npz")) as saved:
        assert {"saliency", "smoothgrad", "ig", "gradcam", "ids"} <= set(saved.files) and saved["ig"].shape == (6, SIZE, SIZE)
    assert [r["layer"] for r in written["dead_filters"]] == ["relu1", "relu2", "relu3"]
    scores = written["mask_scores"]
    assert set(scores) == {"tidal", "companion"}
    assert set(scores["tidal"]) == {"saliency", "smoothgrad", "ig", "gradcam:relu1", "gradcam:relu2", "gradcam:relu3"}
    tidal = scores["tidal"]["saliency"]
    assert tidal["mask_area"] == pytest.approx(64 / SIZE**2) and 0 <= tidal["share_in_mask"] <= 1 and 0 <= tidal["shuffled_share_in_mask"] <= 1
    assert tidal["n_images"] == 12
    for mode in ("cascading", "independent"):
        check = written["randomisation"][mode]
        assert check["steps"] == ["fc3", "fc2", "fc1", "conv3+bn3", "conv2+bn2", "conv1+bn1"]
        assert set(check["final_spearman_abs"]) == {"saliency", "smoothgrad", "ig", "gradcam"}
    tcav = written["tcav"]
    assert tcav["runs"] == 10 and "projected pair" in tcav["concepts"]
    assert {s["layer"] for s in tcav["scores"]} == {"relu1", "relu2", "relu3"}
    assert all(0 <= s["mean"] <= 1 and 0 <= s["p_adjusted"] <= 1 for s in tcav["scores"])


def test_training_images_are_excluded(run):
    training = ImageSet.load(run.run_dir.parent / "train.h5")
    report = explain_run(run.run_dir, training, methods=("saliency",), n_images=4, out=run.run_dir.parent / "own", progress=False)
    sizes = run.record.n_images
    assert report.n_excluded == sizes["train"] + sizes["val"]


@pytest.mark.parametrize("bands", [1, 3, 6])
def test_every_method_for_any_band_count_from_a_bare_model_file(bands, tmp_path, make_trained):
    trained, toy = make_trained(bands=bands, size=SIZE)
    trained.save(tmp_path / "model.safetensors")
    report = explain_run(tmp_path / "model.safetensors", toy, n_images=4, out=tmp_path / "out", progress=False)
    assert report.n_excluded == 0 and len(report.images["id"]) == 4
    assert {"attributions_mergers", "saliency_bands", "activations_merger", "dead_filters"} <= set(report.figures)
    with np.load(tmp_path / "out" / "attributions.npz") as saved:
        assert all(saved[m].shape == (4, SIZE, SIZE) and np.isfinite(saved[m]).all() for m in ("saliency", "smoothgrad", "ig", "gradcam"))


def test_the_report_shows_the_interpretation_figures(explained, run):
    from galmerge.report import write_report

    page = write_report(run.run_dir, overwrite=True).read_text()
    assert "<h2>Interpretation:" in page
    assert page.count("<img ") >= 11 + 6  # the explain figures and the run's own


def test_the_command_line(run, tmp_path, capsys):
    data = tmp_path / "fresh.h5"
    make_toy_mergers(60, seed=9, size=SIZE).save(data)
    code = main(["explain", str(run.run_dir), "--data", str(data), "--methods", "saliency,gradcam", "--n", "4", "--out", str(tmp_path / "x"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "explained 4 images (2 mergers)" in out and "figures and explain.json in" in out
    assert (tmp_path / "x" / "attributions_mergers.png").exists()
    for argv, message in (
        (["--methods", "saliency,lime"], "unknown method 'lime'"),
        (["--layer", "conv9"], "no layer 'conv9'"),
        ([], "already exists"),
    ):
        code = main(["explain", str(run.run_dir), "--data", str(data), "--out", str(tmp_path / "x"), "--quiet", *argv])
        assert code == 2 and message in capsys.readouterr().err
    six = tmp_path / "six.npy"
    np.save(six, np.zeros((4, 6, SIZE, SIZE), np.float32))
    assert main(["explain", str(run.run_dir), "--data", str(six), "--quiet"]) == 2
    assert "6 bands, but the model was trained on 3" in capsys.readouterr().err
