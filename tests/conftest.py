"""Shared fixtures: small synthetic data made on the fly, and one trained run reused across tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def toy_set():
    from galmerge.data import make_toy_mergers

    return make_toy_mergers(2000, seed=3)


@pytest.fixture(scope="session")
def toy_npy(tmp_path_factory, toy_set):
    """The toy set written as DeepMerge-style X.npy (float64, as DeepMerge I wrote them) and y.npy (0.0/1.0)."""
    folder = tmp_path_factory.mktemp("npy")
    np.save(folder / "X.npy", toy_set.images.astype(np.float64))
    np.save(folder / "y.npy", toy_set.labels.astype(np.float64))
    return folder / "X.npy", folder / "y.npy"


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, toy_npy):
    """A DeepMerge run trained for a few epochs on the toy arrays through the library API, its test split scored."""
    from galmerge.pipeline import train_and_evaluate
    from galmerge.training import TrainConfig

    out = tmp_path_factory.mktemp("runs") / "toy"
    config = TrainConfig(epochs=10, seed=1, n_bootstrap=100, early_stopping_patience=0)
    return train_and_evaluate(f"{toy_npy[0]},{toy_npy[1]}", config=config, out=out, progress=False)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "real_data" in item.keywords and not SHARED_DATA.exists():
            item.add_marker(pytest.mark.skip(reason=f"{SHARED_DATA} is absent"))
