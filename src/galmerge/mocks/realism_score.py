"""The realism score: how well a classifier tells mock stamps from real ones (0.5: it cannot).

Two classifiers, each cross-validated (ROC-AUC of mock vs real on held-out stamps):

- ``statistics``: gradient-boosted trees on the simple statistics of
  :mod:`galmerge.mocks.image_statistics` (framing, background, display, shape);
- ``cnn``: a small convolutional network on the pixels (three conv blocks, global pooling),
  which sees everything the statistics miss, such as textures and artefacts.

Both sets are balanced to the same size by random subsampling first. The networks that are
trained on mocks only see pixels, so the second score is the one that matters most for them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from galmerge.errors import DataError
from galmerge.mocks.image_statistics import StatisticTable, measure_image_statistics

__all__ = ["RealismScore", "realism_score", "statistics_realism", "cnn_realism"]


@dataclass
class RealismScore:
    """Cross-validated ROC-AUC of mock-vs-real classifiers (0.5: indistinguishable)."""

    statistics_auc: float
    cnn_auc: float | None
    n_per_side: int


def _balanced(rng, n_mock: int, n_real: int, limit: int | None):
    n = min(n_mock, n_real) if limit is None else min(n_mock, n_real, limit)
    return np.sort(rng.choice(n_mock, n, replace=False)), np.sort(rng.choice(n_real, n, replace=False))


def statistics_realism(mock: StatisticTable, real: StatisticTable, *, seed: int = 0, folds: int = 3) -> float:
    """Cross-validated ROC-AUC of gradient-boosted trees telling mock statistics from real ones."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rng = np.random.default_rng(seed)
    take_mock, take_real = _balanced(rng, len(mock.values), len(real.values), None)
    features = np.concatenate([mock.values[take_mock], real.values[take_real]])
    labels = np.r_[np.ones(len(take_mock)), np.zeros(len(take_real))].astype(int)
    model = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, max_leaf_nodes=15, random_state=seed)
    scores = cross_val_predict(model, features, labels, cv=StratifiedKFold(folds, shuffle=True, random_state=seed), method="predict_proba")[:, 1]
    return float(roc_auc_score(labels, scores))


def cnn_realism(mock_images, real_images, *, seed: int = 0, per_side: int = 1500, epochs: int = 4, folds: int = 2) -> float:
    """Cross-validated ROC-AUC of a small CNN telling mock pixels from real ones.

    Images are (N, bands, H, W) in one kind of units (display pictures in [0, 1]); each image is
    seen with a random dihedral flip per epoch so orientation cannot help.
    """
    import torch
    from sklearn.metrics import roc_auc_score

    mock_images, real_images = np.asarray(mock_images, np.float32), np.asarray(real_images, np.float32)
    if mock_images.shape[1:] != real_images.shape[1:]:
        raise DataError(f"mock stamps are {mock_images.shape[1:]}, real ones {real_images.shape[1:]}; give stamps of one kind")
    rng = np.random.default_rng(seed)
    take_mock, take_real = _balanced(rng, len(mock_images), len(real_images), per_side)
    images = np.concatenate([mock_images[take_mock], real_images[take_real]])
    labels = np.r_[np.ones(len(take_mock)), np.zeros(len(take_real))].astype(np.float32)
    fold = rng.permutation(len(labels)) % folds
    scores = np.zeros(len(labels))
    generator = torch.Generator().manual_seed(seed)
    mean, std = images.mean(axis=(0, 2, 3), keepdims=True), images.std(axis=(0, 2, 3), keepdims=True) + 1e-6
    images = (images - mean) / std
    for k in range(folds):
        train, test = fold != k, fold == k
        torch.manual_seed(seed + k)
        model = _small_cnn(images.shape[1])
        optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
        x, y = torch.from_numpy(images[train]), torch.from_numpy(labels[train])
        model.train()
        for _epoch in range(epochs):
            order = torch.randperm(len(x), generator=generator)
            for start in range(0, len(x), 64):
                batch = order[start : start + 64]
                xb = x[batch]
                if torch.rand(1, generator=generator) < 0.5:
                    xb = xb.flip(-1)
                xb = torch.rot90(xb, int(torch.randint(4, (1,), generator=generator)), dims=(-2, -1))
                loss = torch.nn.functional.binary_cross_entropy_with_logits(model(xb).squeeze(1), y[batch])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        model.eval()
        with torch.no_grad():
            scores[test] = torch.cat([model(torch.from_numpy(images[test][s : s + 256])).squeeze(1) for s in range(0, int(test.sum()), 256)]).numpy()
    return float(roc_auc_score(labels, scores))


def _small_cnn(bands: int):
    import torch.nn as nn

    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))

    return nn.Sequential(block(bands, 16), block(16, 32), block(32, 32), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 1))


def realism_score(mock_images, real_images, *, seed: int = 0, cnn: bool = True, mock_statistics: StatisticTable | None = None, real_statistics: StatisticTable | None = None) -> RealismScore:
    """Both realism scores of mock stamps against real ones of the same kind."""
    mock_statistics = mock_statistics if mock_statistics is not None else measure_image_statistics(mock_images)
    real_statistics = real_statistics if real_statistics is not None else measure_image_statistics(real_images)
    statistics_auc = statistics_realism(mock_statistics, real_statistics, seed=seed)
    cnn_auc = cnn_realism(mock_images, real_images, seed=seed) if cnn else None
    return RealismScore(statistics_auc, cnn_auc, int(min(len(mock_statistics.values), len(real_statistics.values))))
