"""Feature embeddings: what a network's feature space looks like across classes and domains."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

__all__ = ["extract_features", "tsne", "plot_embedding"]


def extract_features(trained, images: np.ndarray, *, rows=None, batch_size: int = 256) -> np.ndarray:
    """The model's feature vectors (what domain adaptation aligns) for raw images, in batches."""
    rows = np.arange(len(images)) if rows is None else np.asarray(rows)
    model = trained.model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(rows), batch_size):
            batch = torch.from_numpy(trained.preprocessor.transform(images, rows=rows[start : start + batch_size]))
            out.append(model(batch)[0].float().numpy())
    return np.concatenate(out) if out else np.zeros((0, getattr(model, "feature_dim", 0)))


def tsne(features: np.ndarray, *, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """A 2-D t-SNE of features (scikit-learn), after a PCA to 50 dimensions as is usual for speed."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    reduced = PCA(n_components=min(50, features.shape[1], len(features)), random_state=seed).fit_transform(features)
    return TSNE(n_components=2, perplexity=min(perplexity, (len(features) - 1) / 3), init="pca", random_state=seed).fit_transform(reduced)


def plot_embedding(points: np.ndarray, labels: np.ndarray, domains: np.ndarray, path, *, title: str) -> Path:
    """Scatter of a 2-D embedding: mergers red, non-mergers blue; source solid, target hollow (the seeds' convention)."""
    from galmerge.plotting import new_figure, save_figure

    figure = new_figure(4.6, 4.4)
    axes = figure.add_subplot()
    for domain, style in ((0, {"alpha": 0.6}), (1, {"facecolors": "none", "alpha": 0.6})):
        for label, colour, name in ((0, "tab:blue", "non-merger"), (1, "tab:red", "merger")):
            chosen = (domains == domain) & (labels == label)
            if chosen.any():
                kwargs = {"edgecolors": colour, "facecolors": colour, **style}
                axes.scatter(points[chosen, 0], points[chosen, 1], s=6, linewidths=0.6, label=f"{'source' if domain == 0 else 'target'} {name}", **kwargs)
    axes.set(xticks=[], yticks=[], title=title)
    axes.legend(fontsize="x-small", markerscale=2, loc="best")
    return save_figure(figure, path)
