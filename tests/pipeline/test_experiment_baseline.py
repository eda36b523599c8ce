"""The classical baselines as rows of the experiment table, scored on the networks' test images."""

from __future__ import annotations

import numpy as np
import pytest

from galmerge.data import make_toy_mergers
from galmerge.data.splits import stratified_split
from galmerge.errors import ConfigError
from galmerge.pipeline.experiment import BASELINE_ROWS, ExperimentConfig, _baseline_row
from galmerge.runs.records import ExperimentRecord


@pytest.mark.parametrize("kind", ["nonparametric", "statistics"])
def test_baseline_row_is_scored_like_a_network_row(tmp_path, kind):
    make_toy_mergers(30, size=32, seed=1).save(tmp_path / "source.h5")
    target = make_toy_mergers(20, size=32, seed=2)
    target.save(tmp_path / "target.h5")
    config = ExperimentConfig(source="source.h5", target="target.h5", base_dir=str(tmp_path), seeds=[3], baselines=[kind])
    files = {"source": str(tmp_path / "source.h5"), "target": str(tmp_path / "target.h5"), "evaluation": None}
    row = _baseline_row(config, files, kind=kind, workers=1, progress=False)
    source_labels = make_toy_mergers(30, size=32, seed=1).labels
    test_rows = stratified_split(source_labels, fractions=(0.7, 0.1, 0.2), seed=3).test
    scores = row.runs[0]
    assert scores["source"].n == len(test_rows)  # the same held-out images as the CNN runs
    assert scores["target"].n == len(stratified_split(None, n_images=20, fractions=(0.7, 0.1, 0.2), seed=3).test)
    for domain in ("source", "target"):
        roc = scores[domain].roc_auc
        assert 0 <= roc.value <= 1 and len(roc.ci95) == 2
    record = ExperimentRecord(name="baseline", seeds=[3], files=files, methods={BASELINE_ROWS[kind]: row})
    header, rows = record.table("all")
    assert rows[0][0] == BASELINE_ROWS[kind] and rows[0][header.index("source roc_auc")] != "-"
    assert np.isfinite(row.summary["source_pr_auc"].mean)


def test_an_unknown_baseline_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown baseline"):
        ExperimentConfig(source="s.h5", target="t.h5", baselines=["vae"]).validate()
