"""The run directory: its paths, the one output policy, and the one rule for the images a run used."""

import numpy as np
import pytest

from galmerge.data import make_toy_mergers
from galmerge.errors import CheckpointError, DataError, OutputExistsError
from galmerge.runs import Run, first_free_path, images_not_used, new_output_folder, output_file


def test_new_folders_by_default_and_never_over_a_users_folder(tmp_path):
    first = new_output_folder(None, kind="evaluation", default=tmp_path / "evaluations" / "gz1")
    second = new_output_folder(None, kind="evaluation", default=tmp_path / "evaluations" / "gz1")
    assert (first.name, second.name) == ("gz1", "gz1-2")
    assert (first / ".galmerge-evaluation").exists()
    with pytest.raises(OutputExistsError, match="already exists"):
        new_output_folder(first, kind="evaluation")
    (first / "old.png").write_text("x")
    assert not any(new_output_folder(first, kind="evaluation", overwrite=True).glob("*.png"))  # replaced whole
    with pytest.raises(OutputExistsError, match="not a galmerge run folder"):
        new_output_folder(first, kind="run", overwrite=True)  # another kind of galmerge output is not replaced either
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(OutputExistsError, match="refusing to delete it"):
        new_output_folder(mine, kind="explanation", overwrite=True)
    assert (mine / "notes.txt").read_text() == "keep"
    assert first_free_path(tmp_path / "evaluations" / "gz1").name == "gz1-3"


def test_one_file_outputs(tmp_path):
    (tmp_path / "c.ecsv").write_text("x")
    with pytest.raises(OutputExistsError, match="c.ecsv: already exists"):
        output_file(tmp_path / "c.ecsv")
    assert output_file(tmp_path / "c.ecsv", overwrite=True) == tmp_path / "c.ecsv"
    assert output_file(tmp_path / "new" / "d.ecsv").parent.is_dir()


def test_a_run_knows_its_files_and_refuses_what_is_not_one(tmp_path):
    run = Run.create(tmp_path / "r")
    assert run.model == tmp_path / "r" / "model.safetensors" and run.predictions("target_test").name == "target_test_predictions.ecsv"
    with pytest.raises(CheckpointError, match="not a galmerge run directory"):
        Run.open(run.path)  # no config.toml yet
    run.write_config({"seed": 1}, {"data": "toy"})
    assert Run.open(run.path).read_config() == ({"seed": 1}, {"data": "toy"})
    with pytest.raises(CheckpointError, match="no such run directory"):
        Run.open(tmp_path / "nothing")
    with pytest.raises(CheckpointError, match="no such model file"):
        run.model_file()


def test_the_images_a_run_used_are_recognised_by_content(tmp_path):
    from galmerge.data import stratified_split

    data = make_toy_mergers(60, seed=0)
    split = stratified_split(data.labels, seed=0)
    hashes = data.image_hashes()
    run = Run.create(tmp_path / "r")
    run.write_config({}, {})
    run.save_split(split, train_hashes=hashes[split.train], val_hashes=hashes[split.val])
    shuffled = data[np.random.default_rng(1).permutation(60)]
    rows, excluded = images_not_used(run.path, shuffled, purpose="evaluation")
    assert excluded == len(split.train) + len(split.val)
    assert set(shuffled.image_hashes()[rows]) == set(hashes[split.test])
    with pytest.raises(DataError, match="every image was used .* nothing left for evaluation"):
        images_not_used(run.path, data[split.train], purpose="evaluation")
    rows, excluded = images_not_used(tmp_path / "model.safetensors", data, purpose="evaluation")  # a bare model file has no split
    assert excluded == 0 and len(rows) == 60
