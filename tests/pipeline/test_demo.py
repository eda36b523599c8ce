"""The demo as ``make demo`` runs it: domain adaptation must beat no adaptation on the target (minutes; ``make test-slow``)."""

import json

import pytest


@pytest.mark.slow
def test_the_demo_adapts_noiseless_mocks_to_noisy_ones(tmp_path):
    from galmerge.pipeline import run_demo

    out = run_demo(out=tmp_path / "demo", progress=False)  # the defaults of `make demo`: 2,500 mocks per domain, 15 epochs, seed 0
    summary = json.loads((out / "summary.json").read_text())
    target = summary["target_roc_auc"]
    assert summary["domain_gap_roc_auc"] > 0  # noiseless to noisy mocks is a shift the network without adaptation suffers from
    assert target["MMD"] > target["noDA"] and target["DANN"] > target["noDA"]  # DeepMerge II's finding, on galmerge's own mocks
    assert (out / "report.html").stat().st_size < 5e6  # a page a person can open and mail
