"""The catalog's models read their run directory through galmerge.runs.Run."""

import shutil

from galmerge.catalog.members import load_member, training_prior
from galmerge.runs import Run


def test_training_prior_follows_the_runs_class_weighting(trained_run, toy_set, tmp_path):
    assert training_prior(load_member(trained_run.run_dir, backend="torch")) == (0.5, "balanced class weights in training")
    bare = shutil.copy(Run(trained_run.run_dir).model, tmp_path / "model.safetensors")
    prior, basis = training_prior(load_member(bare, backend="torch"))
    assert prior == 0.5 and basis.startswith("assumed")
    # config.toml holds the nested form: [optimisation] class_weighting
    run = Run(shutil.copytree(trained_run.run_dir, tmp_path / "unweighted"))
    values, provenance = run.read_config()
    values["optimisation"]["class_weighting"] = "none"
    run.write_config(values, provenance)
    prior, basis = training_prior(load_member(run.path, backend="torch"))
    assert basis == "merger fraction of the training split"
    assert prior == float(toy_set.labels[run.load_split().train].mean())
