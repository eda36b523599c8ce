import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import pytest

from galmerge.catalog.stream import OOD_FLAG, predict_survey
from galmerge.catalog.writer import CatalogParts, read_catalog
from galmerge.data import ImageSet, make_toy_mergers
from galmerge.errors import ConfigError, ModelMismatchError, OutputExistsError


@pytest.fixture(scope="module")
def fresh_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("fresh") / "fresh.h5"
    make_toy_mergers(1200, seed=31).save(path)
    return path


def test_killed_run_resumes_with_nothing_lost_or_doubled(trained_run, fresh_file, tmp_path, assert_same_catalog):
    """Kill a real `galmerge predict` process mid-way, resume it, and compare with an uninterrupted run."""
    options = ["--backend", "torch", "--part-rows", "50", "--batch-size", "50", "--quiet"]
    killed = tmp_path / "killed.parquet"
    command = [sys.executable, "-m", "galmerge.cli", "predict", str(trained_run.run_dir), str(fresh_file), "--out", str(killed), *options]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = CatalogParts(killed)
    deadline = time.time() + 120
    while len(parts.done()) < 3 and process.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    kept = len(parts.done())
    assert not killed.exists() and 3 <= kept < 24, "the run was not interrupted mid-way"
    resumed = predict_survey(trained_run.run_dir, fresh_file, out=killed, resume=True, backend="torch", part_rows=50, batch_size=50, progress=False)
    predict_survey(trained_run.run_dir, fresh_file, out=tmp_path / "whole.parquet", backend="torch", part_rows=50, batch_size=50, progress=False)
    assert resumed.parts_resumed == kept  # the finished parts were kept, not recomputed
    table = pq.read_table(killed)
    ids = table.column("id").to_numpy()
    assert len(ids) == 1200 and len(np.unique(ids)) == 1200  # 0 lost, 0 duplicated
    assert_same_catalog(table, pq.read_table(tmp_path / "whole.parquet"))
    assert not parts.folder.exists()


def test_output_policy(trained_run, fresh_file, tmp_path):
    out = tmp_path / "cat.parquet"
    predict_survey(trained_run.run_dir, fresh_file, out=out, backend="torch", ood=False, progress=False)
    with pytest.raises(OutputExistsError, match="cat.parquet: already exists"):
        predict_survey(trained_run.run_dir, fresh_file, out=out, backend="torch", progress=False)
    with pytest.raises(OutputExistsError, match="already complete"):
        predict_survey(trained_run.run_dir, fresh_file, out=out, resume=True, backend="torch", progress=False)
    foreign = tmp_path / "mine.parquet"
    foreign.write_bytes(b"not a catalog")
    with pytest.raises(OutputExistsError, match="not a catalog galmerge wrote"):
        predict_survey(trained_run.run_dir, fresh_file, out=foreign, overwrite=True, backend="torch", progress=False)
    assert foreign.read_bytes() == b"not a catalog"
    # unfinished parts: refused without --resume; a resume with other settings is refused too
    parts = CatalogParts(tmp_path / "p.parquet")
    parts.start({"tta": False}, resume=False)
    with pytest.raises(OutputExistsError, match="pass --resume"):
        predict_survey(trained_run.run_dir, fresh_file, out=tmp_path / "p.parquet", backend="torch", progress=False)
    with pytest.raises(ConfigError, match="other settings"):
        predict_survey(trained_run.run_dir, fresh_file, out=tmp_path / "p.parquet", resume=True, backend="torch", progress=False)
    with pytest.raises(ModelMismatchError, match=r"2 bands .* trained on 3"):
        two = tmp_path / "two.h5"
        ImageSet(np.zeros((4, 2, 75, 75), np.float32)).save(two)
        predict_survey(trained_run.run_dir, two, out=tmp_path / "two.parquet", backend="torch", progress=False)


def test_survey_prior_moves_probabilities_by_bayes_rule(trained_run, fresh_file, tmp_path):
    plain = predict_survey(trained_run.run_dir, fresh_file, out=tmp_path / "a.ecsv", backend="torch", ood=False, progress=False)
    shifted = predict_survey(trained_run.run_dir, fresh_file, out=tmp_path / "b.fits", backend="torch", ood=False, prior=0.02, progress=False)
    a, b = read_catalog(plain.path), read_catalog(shifted.path)
    p, q = np.asarray(a["p_merger"], np.float64), np.asarray(b["p_merger"], np.float64)
    # posterior odds = likelihood ratio x prior odds: the odds ratio between the two is the prior-odds ratio
    odds_ratio = (q / (1 - q)) / (p / (1 - p))
    np.testing.assert_allclose(odds_ratio, (0.02 / 0.98) / (0.5 / 0.5), rtol=1e-3)
    assert (np.asarray(b["is_merger_pred_recall"]) == np.asarray(a["is_merger_pred_recall"])).mean() > 0.995  # same ranking, same recall
    assert a.meta["galmerge"]["prior"]["survey"] is None and a.meta["galmerge"]["prior"]["training"] == [0.5]
    assert b.meta["PRIOR_SURVEY"] == 0.02 and b.meta["MODEL_SHA256"] == shifted.header["models"][0]["sha256"]


def test_ensemble_mean_and_spread(trained_run, fresh_file, tmp_path):
    from galmerge.models import TrainedModel

    other = tmp_path / "other"
    shutil.copytree(trained_run.run_dir, other, ignore=shutil.ignore_patterns("checkpoints", "figures"))
    perturbed = TrainedModel.load(other)
    with __import__("torch").no_grad():
        perturbed.model.fc3.bias += __import__("torch").tensor([0.0, 0.7])
    perturbed.save(other / "model.safetensors")
    one = read_catalog(predict_survey(trained_run.run_dir, fresh_file, out=tmp_path / "1.parquet", backend="torch", ood=False, progress=False).path)
    two = read_catalog(predict_survey(other, fresh_file, out=tmp_path / "2.parquet", backend="torch", ood=False, progress=False).path)
    both = predict_survey(f"{trained_run.run_dir},{other}", fresh_file, out=tmp_path / "e.parquet", backend="torch", ood=False, tta=True, progress=False)
    ensemble = read_catalog(both.path)
    assert both.header["ensemble_size"] == 2 and len(set(both.header["model_sha256"])) == 2
    # with tta the members' means are over 8 views; the spread of the members is of those means
    assert ensemble["p_merger_ensemble_std"].mean() > 0.01 and "p_merger_std" in ensemble.colnames
    no_tta = read_catalog(predict_survey(f"{trained_run.run_dir},{other}", fresh_file, out=tmp_path / "f.parquet", backend="torch", ood=False, progress=False).path)
    np.testing.assert_allclose(no_tta["p_merger"], (one["p_merger"] + two["p_merger"]) / 2, atol=1e-6)
    np.testing.assert_allclose(no_tta["p_merger_ensemble_std"], np.abs(one["p_merger"] - two["p_merger"]) / 2, atol=1e-6)
    entropy = np.asarray(no_tta["p_merger_entropy"])
    assert entropy.max() <= 1 and entropy[np.argmin(np.abs(no_tta["p_merger"] - 0.5))] > 0.9


def test_out_of_distribution_flag(trained_run, tmp_path):
    fresh = make_toy_mergers(300, seed=41)
    rng = np.random.default_rng(0)
    strange = ImageSet(fresh.images + rng.normal(0, 3 * fresh.images.std(), fresh.images.shape).astype(np.float32))
    fresh.save(tmp_path / "in.h5")
    strange.save(tmp_path / "out.h5")
    inside = read_catalog(predict_survey(trained_run.run_dir, tmp_path / "in.h5", out=tmp_path / "in.parquet", backend="torch", progress=False).path)
    outside = read_catalog(predict_survey(trained_run.run_dir, tmp_path / "out.h5", out=tmp_path / "out.parquet", backend="torch", progress=False).path)
    assert inside.meta["ood"]["available"]
    flagged_in = ((np.asarray(inside["flags"]) & OOD_FLAG) > 0).mean()
    flagged_out = ((np.asarray(outside["flags"]) & OOD_FLAG) > 0).mean()
    assert flagged_in < 0.05 and flagged_out > 0.9  # threshold: the 99th percentile of held-out training images


def test_mosaics_predicted_directly_equal_their_cutout_file(trained_run, survey, survey_mosaics, tmp_path):
    from galmerge.catalog.cutouts import cut_mosaics

    summary = cut_mosaics(survey_mosaics, survey.catalog, size=75, out=tmp_path / "cut.h5", progress=False)
    from_file = predict_survey(trained_run.run_dir, tmp_path / "cut.h5", out=tmp_path / "a.parquet", backend="torch", ood=False, progress=False)
    direct = predict_survey(trained_run.run_dir, survey_mosaics, catalog=survey.catalog, size=75, out=tmp_path / "b.parquet", backend="torch", ood=False, progress=False)
    a, b = pq.read_table(from_file.path), pq.read_table(direct.path)
    assert a.column_names == b.column_names
    for name in a.column_names:  # assert_array_equal: NaN (the off-footprint row) equals NaN
        np.testing.assert_array_equal(a.column(name).to_numpy(), b.column(name).to_numpy(), err_msg=name)
    table = read_catalog(direct.path)
    assert list(table["id"]) == list(survey.table["objid"]) and "ra" in table.colnames
    off = np.flatnonzero(np.asarray(table["id"]) == survey.off_id)[0]
    assert np.isnan(table["p_merger"][off]) and table["flags"][off] & 8
    assert direct.n_rows == len(survey.table) and direct.flag_counts["no pixels"] == summary.n_no_pixels == 1
    # 75 px cutouts of a 300 px mosaic: every source within 37 px of an edge runs over it, not only survey.edge_id
    assert direct.flag_counts["edge"] == summary.n_edge > 1 and table["flags"][np.flatnonzero(np.asarray(table["id"]) == survey.edge_id)[0]] & 4


def test_the_runs_statistics_classifier_scores_the_catalog_too(trained_run, fresh_file, tmp_path):
    from sklearn.metrics import roc_auc_score

    from galmerge.data import load_imageset
    from galmerge.errors import CheckpointError
    from galmerge.models.statistics_classifier import load_statistics_model

    saved = trained_run.run.statistics_model
    model, record = load_statistics_model(saved)
    assert record["trained_on"] == "source training split" and record["n_train"] == len(trained_run.split.train)
    plain = predict_survey(trained_run.run_dir, fresh_file, out=tmp_path / "a.parquet", backend="torch", ood=False, progress=False)
    shifted = predict_survey(trained_run.run_dir, fresh_file, out=tmp_path / "b.parquet", backend="torch", ood=False, prior=0.02, progress=False)
    a, b = read_catalog(plain.path), read_catalog(shifted.path)
    fresh = load_imageset(fresh_file, progress=False)
    p = np.asarray(a["p_merger_statistics"], np.float64)
    np.testing.assert_allclose(p, model.predict_proba(fresh.images), atol=1e-6)  # the saved model, applied as saved
    assert roc_auc_score(fresh.labels, p) > 0.8  # it learned the toy mergers (measured 0.91)
    q = np.asarray(b["p_merger_statistics"], np.float64)
    prior_odds = (0.02 / 0.98) / (record["training_merger_fraction"] / (1 - record["training_merger_fraction"]))
    np.testing.assert_allclose((q / (1 - q)) / (p / (1 - p)), prior_odds, rtol=1e-3)
    assert plain.header["models"][0]["statistics_model"]["sha256"] and "p_merger_statistics" in plain.header["columns"]
    # the pooled column lies between the two in log-odds, on the survey prior like them
    for catalog in (a, b):
        odds = [np.log(x / (1 - x)) for x in (np.asarray(catalog[c], np.float64) for c in ("p_merger", "p_merger_statistics", "p_merger_combined"))]
        assert np.all(odds[2] >= np.minimum(odds[0], odds[1]) - 1e-4) and np.all(odds[2] <= np.maximum(odds[0], odds[1]) + 1e-4)
    damaged = tmp_path / "damaged"
    shutil.copytree(trained_run.run_dir, damaged, ignore=shutil.ignore_patterns("checkpoints", "figures"))
    (damaged / saved.name).write_text("{")
    with pytest.raises(CheckpointError, match="statistics_model.json"):
        predict_survey(damaged, fresh_file, out=tmp_path / "c.parquet", backend="torch", ood=False, progress=False)
    skipped = predict_survey(trained_run.run_dir, fresh_file, out=tmp_path / "e.parquet", backend="torch", ood=False, statistics=False, progress=False)
    assert not {"p_merger_statistics", "p_merger_combined"} & set(read_catalog(skipped.path).colnames) and skipped.header["models"][0]["statistics_model"] is None
    older = tmp_path / "older"  # a run trained before runs had one gives the network's column only
    shutil.copytree(trained_run.run_dir, older, ignore=shutil.ignore_patterns("checkpoints", "figures", saved.name))
    alone = read_catalog(predict_survey(older, fresh_file, out=tmp_path / "d.parquet", backend="torch", ood=False, progress=False).path)
    assert "p_merger_statistics" not in alone.colnames
    np.testing.assert_allclose(alone["p_merger"], a["p_merger"])
