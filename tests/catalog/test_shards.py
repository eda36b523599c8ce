import pyarrow.parquet as pq
import pytest

from galmerge.catalog.stream import predict_survey
from galmerge.data import make_toy_mergers
from galmerge.errors import ConfigError


def test_two_dask_workers_write_the_single_process_catalog(trained_run, tmp_path):
    make_toy_mergers(400, seed=51).save(tmp_path / "fresh.h5")
    options = {"backend": "torch", "part_rows": 100, "progress": False}
    alone = predict_survey(trained_run.run_dir, tmp_path / "fresh.h5", out=tmp_path / "alone.parquet", **options)
    shared = predict_survey(trained_run.run_dir, tmp_path / "fresh.h5", out=tmp_path / "dask.parquet", cluster="local:2", **options)
    assert shared.n_rows == 400
    assert pq.read_table(shared.path).equals(pq.read_table(alone.path), check_metadata=True)


def test_unknown_cluster_is_refused():
    from galmerge.catalog.shards import connect

    with pytest.raises(ConfigError, match="unknown cluster"):
        connect("kubernetes:3")
    with pytest.raises(ConfigError, match="whole number"):
        connect("local:two")
