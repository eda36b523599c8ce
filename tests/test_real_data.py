"""The real SDSS Galaxy Zoo images in ../shared/data: loaded, and predicted on (skipped when absent)."""

import csv
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

pytestmark = pytest.mark.real_data  # skipped by conftest.py when ../shared/data is absent
GZ1 = Path(__file__).resolve().parents[2] / "shared" / "data" / "gz1_dev"


@pytest.fixture(scope="module")
def gz1_file(tmp_path_factory):
    from galmerge.cli import main

    out = tmp_path_factory.mktemp("gz1") / "gz1.h5"
    assert main(["convert", str(GZ1 / "labels.csv"), "--out", str(out), "--size", "75", "--quiet"]) == 0
    return out


def test_gz1_dev_loads_with_its_labels(gz1_file):
    from galmerge.data import ImageSet

    with open(GZ1 / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    imageset = ImageSet.load(gz1_file)
    assert len(imageset) == len(rows)
    assert imageset.images.shape[1:] == (3, 75, 75)
    assert int(imageset.labels.sum()) == sum(int(r["is_merger"]) for r in rows)
    assert [str(i) for i in imageset.ids[:5]] == [r["objid"] for r in rows[:5]]
    assert np.isfinite(imageset.images).all() and 0 <= imageset.images.min() and imageset.images.max() <= 1
    assert set(np.unique(imageset.meta["gz1_class"])) <= {0, 1, 2, 3, 4, 5}


def test_a_trained_model_predicts_the_real_images(gz1_file, trained_run, tmp_path):
    from galmerge.catalog import predict_catalog_file

    path, rows = predict_catalog_file(trained_run.run_dir, gz1_file, out=tmp_path / "gz1.ecsv", progress=False)
    catalog = Table.read(path)
    assert rows == len(catalog) > 3000
    p = np.asarray(catalog["p_merger"])
    assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    assert catalog["is_merger"].sum() == 58
