"""End-to-end training on the toy set: it learns, records everything, and refuses bad input."""

import json

import numpy as np
import pytest
import torch
from astropy.table import Table

from galmerge.data import make_toy_mergers, stratified_split
from galmerge.errors import ConfigError, LabelError, ModelMismatchError, OutputExistsError
from galmerge.models import TrainedModel
from galmerge.pipeline import train_and_evaluate
from galmerge.runs import RunRecord
from galmerge.training import TrainConfig, train


def test_a_learnable_toy_problem_reaches_roc_auc_0_9_on_held_out_data(trained_run):
    test = trained_run.record.test
    assert abs(test.n - 400) <= 1  # 20 % of 2000, never seen in training or selection
    assert test.roc_auc.value >= 0.9
    low, high = test.roc_auc.ci95
    assert low <= test.roc_auc.value <= high


def test_run_directory_holds_the_whole_record(trained_run):
    run = trained_run.run_dir
    for name in ("config.toml", "model.safetensors", "preprocessing.json", "split.npz", "history.csv", "metrics.json", "test_predictions.ecsv", "checkpoints/last.ckpt"):
        assert (run / name).exists(), name
    for figure in ("roc", "pr", "learning_curves", "confusion_default", "confusion_target_recall", "montage"):
        assert (run / "figures" / f"{figure}.png").read_bytes()[:4] == b"\x89PNG"
    history = Table.read(run / "history.csv", format="ascii.csv")
    assert list(history["epoch"]) == list(range(10))
    sizes = json.loads((run / "metrics.json").read_text())["n_images"]
    assert sum(sizes.values()) == 2000
    assert RunRecord.read(run / "metrics.json") == trained_run.record
    assert abs(sizes["train"] - 1400) <= 1 and abs(sizes["val"] - 200) <= 1 and abs(sizes["test"] - 400) <= 1


def test_split_is_the_seeded_stratified_split_and_disjoint(trained_run, toy_set):
    with np.load(trained_run.run_dir / "split.npz") as saved:
        parts = {name: saved[name] for name in ("train", "val", "test")}
        hashes = toy_set.image_hashes()
        np.testing.assert_array_equal(saved["train_hashes"], hashes[parts["train"]])
    expected = stratified_split(toy_set.labels, seed=1)
    for name, rows in parts.items():
        np.testing.assert_array_equal(rows, getattr(expected, name))
    # the saved parts themselves: disjoint, covering every image once, each with both classes in proportion
    assert len(np.concatenate(list(parts.values()))) == len(np.unique(np.concatenate(list(parts.values())))) == len(toy_set)
    fractions = {name: toy_set.labels[rows].mean() for name, rows in parts.items()}
    assert max(fractions.values()) - min(fractions.values()) < 0.02


def test_normalisation_comes_from_the_training_split_only(trained_run, toy_npy):
    images = np.load(toy_npy[0]).astype(np.float32)
    with np.load(trained_run.run_dir / "split.npz") as saved:
        train_rows = saved["train"]
    stats = json.loads((trained_run.run_dir / "preprocessing.json").read_text())
    np.testing.assert_allclose(stats["mean"], images[train_rows].mean(axis=(0, 2, 3), dtype=np.float64), rtol=1e-6)
    np.testing.assert_allclose(stats["std"], images[train_rows].std(axis=(0, 2, 3), dtype=np.float64), rtol=1e-5)
    all_rows = images.mean(axis=(0, 2, 3), dtype=np.float64)
    assert not np.allclose(stats["mean"], all_rows, rtol=1e-6)


def test_saved_model_reproduces_the_recorded_test_predictions(trained_run, toy_set):
    from galmerge.catalog import predict_proba

    trained = TrainedModel.load(trained_run.run_dir)
    recorded = Table.read(trained_run.run_dir / "test_predictions.ecsv")
    rows = np.asarray(recorded["id"])
    proba = predict_proba(trained, toy_set.images[rows], backend="torch")
    assert proba.shape == (len(rows), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(proba[:, 1], recorded["p_merger"], atol=1e-5)


def test_recall_threshold_is_chosen_on_validation_data(trained_run):
    record = trained_run.record
    assert record.validation.thresholds["target_recall"].recall.value >= 0.9
    assert record.thresholds["target_recall"] == trained_run.trained.spec.thresholds["target_recall"]
    # the highest threshold that reaches 90 % recall on the saved validation predictions, computed here by hand
    with np.load(trained_run.run_dir / "split.npz") as saved:
        val = saved["val"]
    labels = trained_run.source.labels[val]
    merger_p = np.sort(trained_run.validation.p_merger[labels == 1])[::-1]
    assert record.thresholds["target_recall"] == pytest.approx(merger_p[int(np.ceil(0.9 * len(merger_p))) - 1])


def quick_config(**changes):
    values = {"epochs": 2, "seed": 4, "n_bootstrap": 10, "early_stopping_patience": 0}
    values.update(changes)
    return TrainConfig(**values)


def test_same_seed_same_weights(tmp_path):
    data = make_toy_mergers(300, seed=2)
    runs = [train(data, config=quick_config(), out=tmp_path / name, progress=False) for name in ("a", "b")]
    for (name, a), b in zip(runs[0].trained.model.state_dict().items(), runs[1].trained.model.state_dict().values()):
        assert torch.equal(a, b), name


def test_an_interrupted_run_resumes_from_its_last_checkpoint(tmp_path, toy_npy, monkeypatch):
    monkeypatch.chdir(toy_npy[0].parent)
    source = f"{toy_npy[0].name},{toy_npy[1].name}"  # relative paths: the run records them absolute
    first = train(source, config=quick_config(epochs=1), out=tmp_path / "run", progress=False)
    monkeypatch.chdir(tmp_path)  # resumed from another working folder
    with pytest.raises(ConfigError, match=r"cannot change lr \(run: 0.001, given: 0.01\)"):
        train(resume=first.run_dir, overrides={"epochs": 3, "lr": 0.01}, progress=False)
    resumed = train(resume=first.run_dir, overrides={"epochs": 3, "seed": 4}, progress=False)  # the seed it had: accepted
    history = Table.read(resumed.run_dir / "history.csv", format="ascii.csv")
    assert list(history["epoch"]) == [0, 1, 2]
    assert resumed.trained.spec.preprocessing == first.trained.spec.preprocessing
    assert TrainConfig.from_toml(resumed.run_dir / "config.toml").optimisation.epochs == 3  # the record says what it continued with


def test_the_last_checkpoint_is_the_last_epoch_whichever_epoch_was_best(tmp_path):
    """--resume continues from last.ckpt: it must hold the final epoch, also when an earlier one was best."""
    import lightning.pytorch as pl

    from galmerge.runs import Run
    from galmerge.training.trainer import make_trainer

    class Falling(pl.LightningModule):  # a validation ROC-AUC that only falls: epoch 0 stays the best
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch, batch_idx):
            return self.layer(batch[0]).sum()

        def validation_step(self, batch, batch_idx):
            self.log("val_roc_auc", 0.9 - 0.1 * self.current_epoch)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    batches = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(8, 2)), batch_size=4)
    run = Run.create(tmp_path / "run", name="test")
    trainer, checkpoint = make_trainer(quick_config(epochs=3), run, progress=False)
    trainer.fit(Falling(), train_dataloaders=batches, val_dataloaders=batches)
    last = torch.load(run.last_checkpoint, map_location="cpu", weights_only=True)
    best = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)
    assert (best["epoch"], last["epoch"]) == (0, 2) and last["global_step"] == 6


def test_single_class_and_unlabelled_sets_are_refused(tmp_path):
    data = make_toy_mergers(100, seed=0)
    with pytest.raises(LabelError, match="training needs both classes"):
        train(data[data.labels == 0], config=quick_config(), out=tmp_path / "x", progress=False)
    unlabelled = make_toy_mergers(100, seed=0)
    unlabelled.labels = None
    with pytest.raises(LabelError, match="needs merger labels"):
        train(unlabelled, config=quick_config(), out=tmp_path / "y", progress=False)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()  # no half-made runs


def test_an_existing_output_directory_is_not_overwritten(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("keep me")
    data = make_toy_mergers(100, seed=0)
    with pytest.raises(OutputExistsError, match="already exists"):
        train(data, config=quick_config(), out=tmp_path / "taken", progress=False)
    with pytest.raises(OutputExistsError, match="not a galmerge run directory"):
        train(data, config=quick_config(), out=tmp_path / "taken", overwrite=True, progress=False)
    assert (tmp_path / "taken" / "notes.txt").read_text() == "keep me"


def test_starting_from_a_checkpoint_of_another_architecture_is_refused(tmp_path, trained_run):
    data = make_toy_mergers(100, seed=0)
    with pytest.raises(ModelMismatchError, match="another architecture"):
        train(data, config=quick_config(model="resnet18"), out=tmp_path / "r", init_from=trained_run.run_dir, progress=False)
    assert not (tmp_path / "r").exists()


def test_starting_from_a_trained_model_keeps_its_skill(tmp_path, trained_run, toy_set):
    fresh = make_toy_mergers(600, seed=11)
    result = train_and_evaluate(fresh, config=quick_config(epochs=1, lr=1e-5), out=tmp_path / "ft", init_from=trained_run.run_dir, progress=False)
    assert result.record.test.roc_auc.value > 0.85
