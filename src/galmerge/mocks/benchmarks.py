"""Ready-made domain-adaptation benchmarks, each with the shortcut audit of its mocks.

- ``sim2sim`` (the DeepMerge II protocol): source = noiseless mocks with the PSF (HST/JWST-like,
  z ~ 2, three bands, 75 x 75 px); target = mocks of the same kinds, other random draws, with
  sky and shot noise. Both labelled; the target's labels are for evaluation only.
- ``sim2real-sdss``: source = SDSS gri colour mocks at z 0.02-0.1 made like Galaxy Zoo pictures
  with the recipe calibrated to the unlabelled pictures (``sdss-gz``) and injected into real sky
  cut from them; target = those real, unlabelled SDSS images (``shared/data/sdss_gz_unlabeled``);
  evaluation = real Galaxy Zoo 1 labelled images (``shared/data/gz1_dev``), beside which the
  mocks are audited. The real parts (and the real sky) are used only when that folder exists.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from galmerge.data.imageset import ImageSet
from galmerge.errors import ConfigError, OutputExistsError
from galmerge.mocks.generate import MockOptions, generate_mocks
from galmerge.mocks.recipes import load_recipe

__all__ = ["BENCHMARKS", "make_benchmark"]

BENCHMARKS = ("sim2sim", "sim2real-sdss")

def _default_shared_data() -> Path:
    """``$GALMERGE_SHARED_DATA``, else ``shared/data`` beside the repository of an editable install."""
    import os

    if "GALMERGE_SHARED_DATA" in os.environ:
        return Path(os.environ["GALMERGE_SHARED_DATA"])
    return Path(__file__).resolve().parents[4] / "shared" / "data"


def make_benchmark(name: str, out, *, n: int = 4000, seed: int = 0, workers: int | None = None, progress: bool = True, overwrite: bool = False, shared_data=None, recipe=None) -> dict:
    """Write a benchmark's ImageSet files and a ``manifest.json`` into the folder ``out``.

    Parameters
    ----------
    name : {"sim2sim", "sim2real-sdss"}
    n : int
        Images per mock domain.
    shared_data : path, optional
        The folder with ``sdss_gz_unlabeled`` and ``gz1_dev`` (default ``../shared/data`` beside
        the repository); the real parts of ``sim2real-sdss`` are skipped when it is absent.
    recipe : Recipe or str, optional
        The source recipe of ``sim2real-sdss`` (default: the bundled calibrated ``sdss-gz``).
        When the real unlabelled pictures are there, the mocks are injected into real sky cut
        from them (a sky bank written beside the data, ``sky_bank.npz``).

    Returns
    -------
    dict
        The manifest: file paths, sizes, the shortcut audit of every labelled mock file, KS statistics.
    """
    from galmerge.mocks.audit import audit_imageset

    if name not in BENCHMARKS:
        raise ConfigError(f"unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}")
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise OutputExistsError(f"{out}: already exists and is not empty; choose another folder or pass --overwrite")
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"benchmark": name, "seed": seed, "files": {}, "audit": {}, "ks_statistics": {}}
    if name == "sim2sim":
        recipe = load_recipe("deepmerge-hst")
        domains = {"source": (recipe.replace(noise=False), seed), "target": (recipe, seed + 1)}
        real_labelled = None
    else:
        recipe = load_recipe(recipe or "sdss-gz") if not hasattr(recipe, "bands") else recipe
        real, real_labelled = _real_sdss_parts(out, shared_data=shared_data, progress=progress, overwrite=overwrite)
        manifest.update(real)
        if "sky_bank" in real:
            recipe = recipe.replace(sky_bank=real["sky_bank"])
        domains = {"source": (recipe, seed)}
    for domain, (domain_recipe, domain_seed) in domains.items():
        mocks = generate_mocks(domain_recipe, n, seed=domain_seed, options=MockOptions(), workers=workers, progress=progress)
        path = mocks.save(out / f"{domain}.h5", overwrite=overwrite)
        manifest["files"][domain] = str(path)
        # beside real labelled pictures where there are some: a statistic that separates real
        # Galaxy Zoo mergers as well (two bodies reach the frame's edge) is not a shortcut
        manifest["audit"][domain] = audit_imageset(mocks, real=real_labelled).summary()
        manifest["ks_statistics"][domain] = mocks.meta.meta.get("ks_statistics")
    manifest["notes"] = _notes(name)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=float))
    return manifest


def _real_sdss_parts(out: Path, *, shared_data, progress: bool, overwrite: bool) -> tuple[dict, ImageSet | None]:
    """Manifest entries of the real parts, and the labelled Galaxy Zoo 1 set (None when absent)."""
    from galmerge.data.files import load_catalog_csv
    from galmerge.mocks.realism.sky import SkyBank

    shared = Path(shared_data) if shared_data is not None else _default_shared_data()
    unlabelled, labelled = shared / "sdss_gz_unlabeled" / "index.csv", shared / "gz1_dev" / "labels.csv"
    if not (unlabelled.exists() and labelled.exists()):
        missing = f"{shared} lacks sdss_gz_unlabeled/index.csv or gz1_dev/labels.csv"
        # said aloud: the mocks then lie on synthetic sky, another benchmark than the one with real sky
        warnings.warn(f"sim2real-sdss: {missing}, so there is no target, no evaluation set and no real sky behind the mocks (give --shared-data)", stacklevel=3)
        return {"real_data": f"skipped: {missing}"}, None
    files = {}
    target = load_catalog_csv(unlabelled, size=75, progress=progress)
    files["target"] = str(target.save(out / "target.h5", overwrite=overwrite))
    bank = SkyBank.from_pictures(target.images, source=str(unlabelled.parent), max_backgrounds=2000)
    bank_path = bank.save(out / "sky_bank.npz")
    evaluation = load_catalog_csv(labelled, size=75, progress=progress)
    files["evaluation"] = str(evaluation.save(out / "evaluation.h5", overwrite=overwrite))
    return {"real_data": str(shared), "real_files": files, "sky_bank": str(bank_path), "sky_bank_noise_ratio": bank.noise_ratio, "sky_bank_black_share": bank.black_share}, evaluation


def _notes(name: str) -> str:
    if name == "sim2sim":
        return "source: noiseless (pristine) mocks with PSF; target: the same recipe with sky and shot noise, other draws. Target labels are for evaluation only."
    return "source: SDSS-like mock colour JPEGs; target: real unlabelled SDSS (Galaxy Zoo 2) images; evaluation: real Galaxy Zoo 1 labels (1.7 % mergers: use PR-AUC, ROC-AUC, recall at fixed false-positive rate)."
