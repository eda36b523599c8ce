import numpy as np
import pyarrow.parquet as pq
import pytest

from galmerge.catalog.stream import predict_survey
from galmerge.data import Preprocessor, make_toy_mergers
from galmerge.errors import ConfigError


@pytest.fixture(scope="module")
def model_and_images(tmp_path_factory):
    """An untrained DeepMerge with fitted normalisation: what is compared here is the engine, not the model."""
    import torch

    from galmerge.models import ModelSpec, TrainedModel, build_model

    folder = tmp_path_factory.mktemp("shards")
    images = make_toy_mergers(400, seed=51)
    images.save(folder / "fresh.h5")
    pre = Preprocessor(input_size=75).fit(images.images)
    torch.manual_seed(0)
    spec = ModelSpec(architecture="deepmerge", in_bands=3, input_size=75, bands=list(images.bands), preprocessing=pre.to_dict(), thresholds={"default": 0.5, "target_recall": 0.3})
    TrainedModel(build_model("deepmerge", in_bands=3).eval(), spec).save(folder / "model.safetensors")
    return folder / "model.safetensors", folder / "fresh.h5"


def test_two_dask_workers_write_the_single_process_catalog(model_and_images, tmp_path, assert_same_catalog):
    model, images = model_and_images
    options = {"backend": "torch", "part_rows": 100, "progress": False}
    alone = predict_survey(model, images, out=tmp_path / "alone.parquet", **options)
    shared = predict_survey(model, images, out=tmp_path / "dask.parquet", cluster="local:2", **options)
    assert shared.n_rows == 400 and np.isfinite(pq.read_table(shared.path).column("p_merger").to_numpy()).all()
    assert_same_catalog(pq.read_table(shared.path), pq.read_table(alone.path))


def test_unknown_cluster_is_refused():
    from galmerge.catalog.shards import connect

    with pytest.raises(ConfigError, match="unknown cluster"):
        connect("kubernetes:3")
    with pytest.raises(ConfigError, match="whole number"):
        connect("local:two")
