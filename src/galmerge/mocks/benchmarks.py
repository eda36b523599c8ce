"""Ready-made domain-adaptation benchmarks, and the leak check that ships with them.

- ``sim2sim`` (the DeepMerge II protocol): source = noiseless mocks with the PSF (HST/JWST-like,
  z ~ 2, three bands, 75 x 75 px); target = mocks of the same kinds, other random draws, with
  sky and shot noise. Both labelled; the target's labels are for evaluation only.
- ``sim2real-sdss``: source = SDSS gri colour mocks at z 0.02-0.1 rendered like Galaxy Zoo
  JPEGs; target = real, unlabelled SDSS images (``shared/data/sdss_gz_unlabeled``); evaluation
  = real Galaxy Zoo 1 labelled images (``shared/data/gz1_dev``). The real parts are made only
  when that folder exists.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from galmerge.data.imageset import ImageSet
from galmerge.errors import ConfigError, OutputExistsError
from galmerge.mocks.generate import MockOptions, generate_mocks
from galmerge.mocks.recipes import load_recipe

__all__ = ["BENCHMARKS", "make_benchmark", "leak_check", "global_statistics", "LEAK_THRESHOLD"]

BENCHMARKS = ("sim2sim", "sim2real-sdss")
LEAK_THRESHOLD = 0.70
def _default_shared_data() -> Path:
    """``$GALMERGE_SHARED_DATA``, else ``shared/data`` beside the repository of an editable install."""
    import os

    if "GALMERGE_SHARED_DATA" in os.environ:
        return Path(os.environ["GALMERGE_SHARED_DATA"])
    return Path(__file__).resolve().parents[4] / "shared" / "data"


def global_statistics(images: np.ndarray) -> np.ndarray:
    """Per image: total flux, half-light radius, concentration (r80/r20) and colour.

    Measured on the images as a network sees them (noise included), with radii about the stamp
    centre (robust to noise, unlike a flux-weighted centre) from the band-summed light clipped
    at zero. Colour is the flux ratio of the first and last band, as a magnitude difference.
    """
    n, bands, height, width = images.shape
    summed = np.clip(images.sum(axis=1), 0, None).reshape(n, -1)
    yy, xx = np.indices((height, width))
    radius = np.hypot(yy - (height - 1) / 2, xx - (width - 1) / 2).ravel()
    order = np.argsort(radius)
    cumulative = np.cumsum(summed[:, order], axis=1)
    total = np.maximum(cumulative[:, -1:], 1e-30)
    fraction = cumulative / total

    def radius_at(level):
        return radius[order][np.minimum((fraction < level).sum(axis=1), len(order) - 1)]

    r20, r50, r80 = radius_at(0.2), radius_at(0.5), radius_at(0.8)
    flux = images.reshape(n, bands, -1).sum(axis=2)
    blue, red = np.clip(flux[:, 0], 1e-30, None), np.clip(flux[:, -1], 1e-30, None)
    colour = -2.5 * np.log10(blue / red) if bands > 1 else np.zeros(n)
    return np.stack([flux.sum(axis=1), r50, r80 / np.maximum(r20, 0.5), colour], axis=1)


def leak_check(imageset: ImageSet, *, seed: int = 0, folds: int = 5) -> dict:
    """How well simple global statistics alone separate the classes (ROC-AUC, cross-validated).

    A gradient-boosted classifier on total flux, half-light radius, concentration and colour; if
    it reaches more than :data:`LEAK_THRESHOLD` (0.70), the mocks give the label away without any
    morphology, and a CNN's score on them would mean little.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    labels = imageset.require_both_classes(purpose="the leak check")
    features = global_statistics(imageset.images)
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=seed)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    p_merger = cross_val_predict(model, features, labels, cv=splitter, method="predict_proba")[:, 1]
    from sklearn.metrics import roc_auc_score

    auc = float(roc_auc_score(labels, p_merger))
    return {"roc_auc": auc, "threshold": LEAK_THRESHOLD, "passed": auc <= LEAK_THRESHOLD, "features": ["total_flux", "r50_px", "concentration_r80_r20", "colour"], "n": int(len(labels))}


def make_benchmark(name: str, out, *, n: int = 4000, seed: int = 0, workers: int | None = None, progress: bool = True, overwrite: bool = False, shared_data=None) -> dict:
    """Write a benchmark's ImageSet files and a ``manifest.json`` into the folder ``out``.

    Parameters
    ----------
    name : {"sim2sim", "sim2real-sdss"}
    n : int
        Images per mock domain.
    shared_data : path, optional
        The folder with ``sdss_gz_unlabeled`` and ``gz1_dev`` (default ``../shared/data`` beside
        the repository); the real parts of ``sim2real-sdss`` are skipped when it is absent.

    Returns
    -------
    dict
        The manifest: file paths, sizes, the leak check of every labelled mock file, KS statistics.
    """
    if name not in BENCHMARKS:
        raise ConfigError(f"unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}")
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise OutputExistsError(f"{out}: already exists and is not empty; choose another folder or pass --overwrite")
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"benchmark": name, "seed": seed, "files": {}, "leak_check": {}, "ks_statistics": {}}
    if name == "sim2sim":
        recipe = load_recipe("deepmerge-hst")
        domains = {"source": (recipe.replace(noise=False), seed), "target": (recipe, seed + 1)}
    else:
        domains = {"source": (load_recipe("sdss-gri"), seed)}
    for domain, (recipe, domain_seed) in domains.items():
        mocks = generate_mocks(recipe, n, seed=domain_seed, options=MockOptions(), workers=workers, progress=progress)
        path = mocks.save(out / f"{domain}.h5", overwrite=overwrite)
        manifest["files"][domain] = str(path)
        manifest["leak_check"][domain] = leak_check(mocks, seed=seed)
        manifest["ks_statistics"][domain] = mocks.meta.meta.get("ks_statistics")
    if name == "sim2real-sdss":
        manifest.update(_real_sdss_parts(out, shared_data=shared_data, progress=progress, overwrite=overwrite))
    manifest["notes"] = _notes(name)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def _real_sdss_parts(out: Path, *, shared_data, progress: bool, overwrite: bool) -> dict:
    from galmerge.data.files import load_catalog_csv

    shared = Path(shared_data) if shared_data is not None else _default_shared_data()
    unlabelled, labelled = shared / "sdss_gz_unlabeled" / "index.csv", shared / "gz1_dev" / "labels.csv"
    if not (unlabelled.exists() and labelled.exists()):
        return {"real_data": f"skipped: {shared} lacks sdss_gz_unlabeled/index.csv or gz1_dev/labels.csv"}
    files = {}
    target = load_catalog_csv(unlabelled, size=75, progress=progress)
    files["target"] = str(target.save(out / "target.h5", overwrite=overwrite))
    evaluation = load_catalog_csv(labelled, size=75, progress=progress)
    files["evaluation"] = str(evaluation.save(out / "evaluation.h5", overwrite=overwrite))
    return {"real_data": str(shared), "real_files": files}


def _notes(name: str) -> str:
    if name == "sim2sim":
        return "source: noiseless (pristine) mocks with PSF; target: the same recipe with sky and shot noise, other draws. Target labels are for evaluation only."
    return "source: SDSS-like mock colour JPEGs; target: real unlabelled SDSS (Galaxy Zoo 2) images; evaluation: real Galaxy Zoo 1 labels (1.7 % mergers: use PR-AUC, ROC-AUC, recall at fixed false-positive rate)."
