"""Explain a trained run on a data set: every method, its figures and a JSON of numbers in one folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from galmerge.data.masks import MASK_BITS
from galmerge.errors import ConfigError, DataError, DataFileNotFoundError, LabelError
from galmerge.explain import figures
from galmerge.explain.activations import dead_filters, layer_activations
from galmerge.explain.concepts import concepts_from_metadata, load_concept_folder
from galmerge.explain.gradcam import grad_cam
from galmerge.explain.localisation import mask_scores
from galmerge.explain.methods import ATTRIBUTION_METHODS, attribution_maps, check_methods
from galmerge.explain.network import InspectableModel
from galmerge.explain.saliency import BASELINES, combine_bands, saliency
from galmerge.explain.sanity import MODES, randomisation_check
from galmerge.explain.tcav import Concept, tcav
from galmerge.plotting import display_rgb
from galmerge.runs import Explanation, Run, images_not_used

__all__ = ["explain_run", "EXPLAIN_METHODS", "input_masks"]

EXPLAIN_METHODS = ("activations",) + ATTRIBUTION_METHODS
MAX_DEAD_FILTER_IMAGES = 256
MAX_SANITY_IMAGES = 4
# The randomisation checks recompute every map 12 times (6 layer groups, 2 modes): cheaper noise
# and path integrals keep them to minutes on a CPU; the similarities are means over images anyway.
SANITY_OPTIONS = {"smoothgrad_samples": 10, "ig_steps": 20}
MAX_TCAV_CLASS_IMAGES = 100
MAX_TCAV_RANDOM_POOL = 200


def input_masks(model: InspectableModel, masks: np.ndarray) -> np.ndarray:
    """Ground-truth bit masks (N, H, W) in the network's input geometry, bit by bit (crop, resize, > 0.5)."""
    out = np.zeros((len(masks), model.input_size, model.input_size), np.uint8)
    for bit in MASK_BITS.values():
        resized = model.to_input_geometry(((masks & bit) > 0).astype(np.float32)[:, None])[:, 0]
        out[resized > 0.5] |= bit
    return out


def _choose(classes: np.ndarray, p_merger: np.ndarray, n_images: int, seed: int) -> np.ndarray:
    """Half mergers, half non-mergers (by label, else by prediction), at random; most confident first."""
    rng = np.random.default_rng(seed)
    n_mergers, n_others = int((classes == 1).sum()), int((classes == 0).sum())
    take_mergers = min(n_mergers, max((n_images + 1) // 2, n_images - n_others))
    picked = []
    for value, count in ((1, take_mergers), (0, min(n_others, n_images - take_mergers))):
        chosen = rng.choice(np.flatnonzero(classes == value), count, replace=False)
        picked.append(chosen[np.argsort(-p_merger[chosen] if value else p_merger[chosen], kind="stable")])
    return np.concatenate(picked)


def explain_run(
    run,
    data,
    *,
    out=None,
    overwrite: bool = False,
    methods=EXPLAIN_METHODS,
    n_images: int = 16,
    layer: str | None = None,
    baseline: str = "zeros",
    sanity: bool = False,
    concepts=None,
    tcav_runs: int = 10,
    compare=None,
    n_scored: int = 64,
    seed: int = 0,
    progress: bool = True,
) -> Explanation:
    """Explain a run's model on a data set; writes figures, ``explain.json`` and ``attributions.npz``.

    Only images the run neither trained nor validated on are used (as in
    :func:`~galmerge.evaluation.evaluate_run`).

    Parameters
    ----------
    run : path
        A run directory (or a ``model.safetensors``).
    data : ImageSet or str
        Images to explain, as an ImageSet or any data argument.
    out : path, optional
        Folder for the results (default ``<run>/explain/<data name>``, a new one each time).
    methods : sequence of str
        From ``activations`` (feature maps and dead filters), ``saliency``, ``smoothgrad``,
        ``ig`` (Integrated Gradients) and ``gradcam``.
    n_images : int
        Images shown in the montages: half mergers, half non-mergers (labels, else predictions).
    layer : str, optional
        Grad-CAM layer (default the last activation layer).
    baseline : {"zeros", "blurred", "sky_noise"}
        Integrated Gradients' baseline (:func:`~galmerge.explain.make_baseline`).
    sanity : bool
        Run the cascading and independent randomisation checks.
    concepts : "metadata", path or dict, optional
        Run TCAV for the merger class: concepts from the data's metadata and masks, from a
        folder (:func:`~galmerge.explain.load_concept_folder`), or ``name -> ImageSet``.
    tcav_runs : int
        Random counterpart sets per concept.
    compare : ImageSet or str, optional
        A second set (e.g. the target domain): saliency and Grad-CAM of the merger logit and of
        the feature space for the most confident mergers of both sets side by side (all of the
        second set's images are candidates, whether the run saw them or not).
    n_scored : int
        Merger images scored against the ground-truth masks (when the data has masks).
    seed : int

    Returns
    -------
    Explanation
        What ``explain.json`` holds, with ``path``.
    """
    from galmerge.data.sources import as_imageset
    from galmerge.models.trained import TrainedModel

    methods = check_methods(methods, allowed=EXPLAIN_METHODS)
    if n_images < 1:
        raise ConfigError(f"n_images must be >= 1, got {n_images}")
    if baseline not in BASELINES:
        raise ConfigError(f"unknown baseline {baseline!r}; choose one of {', '.join(BASELINES)}")
    if isinstance(concepts, (str, Path)) and str(concepts) != "metadata" and not Path(concepts).is_dir():
        raise DataFileNotFoundError(f"{concepts}: no such concept folder")
    run = Path(run)
    trained = TrainedModel.load(run)
    base = Run(run if run.is_dir() else run.parent)
    model = InspectableModel.from_trained(trained)
    if layer is not None:
        model.layer(layer)  # refuse an unknown layer before any work
    imageset = as_imageset(data, size=trained.spec.loading_size, progress=progress)
    trained.check_bands(imageset.n_bands, source=imageset.source)
    kept, n_excluded = images_not_used(run, imageset, purpose="interpretation")
    p_merger = trained.predict(imageset, rows=kept).p_merger
    classes = imageset.labels[kept] if imageset.labels is not None else (p_merger >= 0.5).astype(np.int8)
    chosen = _choose(classes, p_merger, n_images, seed)
    rows = kept[chosen]
    folder = base.new_explanation_folder(data, out=out, overwrite=overwrite)

    inputs = model.preprocess(imageset.images, rows=rows, source=imageset.source)
    displays = np.stack([display_rgb(image, trained.bands) for image in model.to_input_geometry(imageset.images[rows])])
    masks = input_masks(model, imageset.masks[rows]) if imageset.masks is not None else None
    titles = [f"{'merger' if classes[i] else 'non-merger'} {imageset.ids[r]}: p={p_merger[i]:.2f}" for i, r in zip(chosen, rows)]
    report: dict[str, Any] = {
        "run": str(run),
        "data": str(imageset.source),
        "n_excluded": n_excluded,
        "methods": list(methods),
        "images": {"id": imageset.ids[rows].tolist(), "class": classes[chosen].tolist(), "p_merger": p_merger[chosen].round(4).tolist()},
        "options": {"layer": layer or model.activation_layers[-1], "baseline": baseline, "seed": seed},
        "figures": {},
    }
    drawn = report["figures"]
    attribution_methods = [m for m in methods if m != "activations"]
    maps = {}
    if attribution_methods:
        from galmerge.display import progress_bar

        for method in progress_bar(attribution_methods, desc="attributions", unit="method", enabled=progress):
            if method == "saliency":
                per_band = saliency(model, inputs)
                maps[method] = combine_bands(per_band)
                shown = _examples(classes[chosen], 2)
                drawn["saliency_bands"] = str(figures.plot_band_saliency(displays[shown], per_band[shown].numpy(), trained.bands, folder / "saliency_bands.png", row_titles=[titles[i] for i in shown]))
            else:
                maps[method] = attribution_maps(model, inputs, method=method, layer=layer, baseline=baseline, seed=seed)
        for value, name in ((1, "mergers"), (0, "non_mergers")):
            shown = np.flatnonzero(classes[chosen] == value)
            if len(shown):
                drawn[f"attributions_{name}"] = str(
                    figures.plot_attribution_montage(
                        displays[shown],
                        {m: v[shown] for m, v in maps.items()},
                        folder / f"attributions_{name}.png",
                        row_titles=[titles[i] for i in shown],
                        masks=None if masks is None else masks[shown],
                        title=f"What the network looks at: {name.replace('_', '-')} (class explained: merger)",
                    )
                )
        np.savez_compressed(folder / Explanation.ATTRIBUTIONS, ids=np.asarray(imageset.ids[rows]), p_merger=p_merger[chosen], **maps)  # type: ignore[arg-type]
    if "activations" in methods:
        report["dead_filters"] = _activation_figures(model, imageset, kept, chosen, classes, displays, titles, folder, drawn, seed, progress)
    if imageset.masks is not None and attribution_methods:
        report["mask_scores"] = _score_against_masks(model, imageset, kept, classes, attribution_methods, folder, drawn, layer=layer, baseline=baseline, n_scored=n_scored, seed=seed)
    if sanity and attribution_methods:
        sample = inputs[:MAX_SANITY_IMAGES]
        report["randomisation"] = {}
        for mode in MODES:
            check = randomisation_check(model, sample, methods=attribution_methods, mode=mode, layer=layer, baseline=baseline, seed=seed, progress=progress, **SANITY_OPTIONS)
            report["randomisation"][mode] = check.to_dict()
            drawn[f"randomisation_{mode}"] = str(figures.plot_randomisation(check, folder / f"randomisation_{mode}.png", display=displays[0]))
    if concepts is not None:
        report["tcav"] = _run_tcav(model, trained, imageset, kept, classes, concepts, folder, drawn, runs=tcav_runs, seed=seed, progress=progress)
    if compare is not None:
        report["compare"] = _compare_feature_space(model, trained, imageset, kept, p_merger, compare, folder, drawn, layer=layer, progress=progress)
    explanation = Explanation.from_dict(report)
    explanation.write(folder / Explanation.FILENAME)
    return explanation


def _examples(class_of_chosen: np.ndarray, per_class: int) -> np.ndarray:
    return np.concatenate([np.flatnonzero(class_of_chosen == value)[:per_class] for value in (1, 0)])


def _activation_figures(model, imageset, kept, chosen, classes, displays, titles, folder, drawn, seed, progress) -> list[dict]:
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(kept, min(len(kept), MAX_DEAD_FILTER_IMAGES), replace=False))
    reports = dead_filters(model, model.preprocess(imageset.images, rows=sample, source=imageset.source), progress=progress)
    drawn["dead_filters"] = str(figures.plot_dead_filters(reports, folder / "dead_filters.png"))
    dead = {r.layer: set(r.dead) for r in reports}
    for index in _examples(classes[chosen], 1):
        single = model.preprocess(imageset.images, rows=kept[chosen[index : index + 1]], source=imageset.source)
        activations = {name: layer_activations(model, single, layer=name)[0].numpy() for name in model.activation_layers}
        name = "merger" if classes[chosen[index]] else "non_merger"
        drawn[f"activations_{name}"] = str(figures.plot_activations(displays[index], activations, folder / f"activations_{name}.png", dead=dead, title=f"Feature maps, {titles[index]}"))
    return [r.to_dict() for r in reports]


def _score_against_masks(model, imageset, kept, classes, methods, folder, drawn, *, layer, baseline, n_scored, seed) -> dict:
    """In-mask share and pointing game per method (and Grad-CAM per layer) on merger images with a feature."""
    mergers = kept[classes == 1]
    masks = input_masks(model, imageset.masks[mergers])
    with_feature = np.flatnonzero(masks.reshape(len(masks), -1).any(axis=1))
    chosen = np.sort(np.random.default_rng(seed).permutation(with_feature)[:n_scored])
    if len(chosen) == 0:
        return {}
    rows, masks = mergers[chosen], masks[chosen]
    inputs = model.preprocess(imageset.images, rows=rows, source=imageset.source)
    maps = {m: attribution_maps(model, inputs, method=m, layer=layer, baseline=baseline, seed=seed) for m in methods if m != "gradcam"}
    if "gradcam" in methods:
        for name in model.activation_layers:
            maps[f"gradcam:{name}"] = grad_cam(model, inputs, layer=name).numpy()
    summaries = {}
    for feature, bit in MASK_BITS.items():
        has = (masks & bit).reshape(len(masks), -1).any(axis=1)
        if has.sum() >= 2:
            summaries[feature] = {m: mask_scores(v[has], (masks[has] & bit) > 0, seed=seed).summary() for m, v in maps.items()}
    if summaries:
        drawn["mask_scores"] = str(figures.plot_mask_scores(summaries, folder / "mask_scores.png"))
    return summaries


def _concept_inputs(model, trained, sets: dict, *, max_images: int, seed: int) -> list[Concept]:
    rng = np.random.default_rng(seed)
    concepts = []
    for name, imageset in sets.items():
        trained.check_bands(imageset.n_bands, source=f"concept {name!r} ({imageset.source})")
        rows = np.sort(rng.choice(len(imageset), min(max_images, len(imageset)), replace=False))
        concepts.append(Concept(name, model.preprocess(imageset.images, rows=rows, source=imageset.source), description=str(imageset.source)))
    return concepts


def _run_tcav(model, trained, imageset, kept, classes, concepts, folder, drawn, *, runs, seed, progress) -> dict:
    rng = np.random.default_rng(seed)
    mergers = kept[classes == 1]
    if len(mergers) == 0:
        raise LabelError(f"{imageset.source}: TCAV explains the merger class, and no image is a merger")
    # At most half the mergers: the rest can still show merger concepts (tidal features, companions).
    class_rows = np.sort(rng.choice(mergers, min(max(1, len(mergers) // 2), MAX_TCAV_CLASS_IMAGES), replace=False))
    others = np.setdiff1d(kept, class_rows)
    randoms: list = []
    if isinstance(concepts, str) and concepts == "metadata":
        found = concepts_from_metadata(imageset, rows=others, seed=seed)
        if not found:
            raise DataError(f"{imageset.source}: its metadata and masks define no concept with enough images (mock sets do: tidal features, disky, busy field, ...)")
        concept_list = [Concept(name, model.preprocess(imageset.images, rows=r, source=imageset.source), description=d) for name, (r, d) in found.items()]
    else:
        if isinstance(concepts, dict):
            sets = concepts
        else:
            sets, randoms = load_concept_folder(concepts, size=trained.spec.loading_size, progress=progress)
        concept_list = _concept_inputs(model, trained, sets, max_images=50, seed=seed)
    if randoms:
        pool = torch.cat([c.inputs for c in _concept_inputs(model, trained, {f"random {i}": s for i, s in enumerate(randoms)}, max_images=MAX_TCAV_RANDOM_POOL, seed=seed)])
    else:
        pool_rows = np.sort(rng.choice(others, min(len(others), MAX_TCAV_RANDOM_POOL), replace=False))
        pool = model.preprocess(imageset.images, rows=pool_rows, source=imageset.source)
    class_inputs = model.preprocess(imageset.images, rows=class_rows, source=imageset.source)
    scores = tcav(model, class_inputs, concept_list, pool, runs=runs, seed=seed, progress=progress)
    drawn["tcav"] = str(figures.plot_tcav(scores, folder / "tcav.png"))
    return {
        "class": "merger",
        "n_class_images": len(class_rows),
        "n_random_pool": len(pool),
        "runs": runs,
        "concepts": {c.name: {"n_images": len(c.inputs), "description": c.description} for c in concept_list},
        "scores": [s.to_dict() for s in scores],
        "significant": sorted({f"{s.concept} @ {s.layer}" for s in scores if s.significant}),
    }


def _compare_feature_space(model, trained, imageset, kept, p_merger, compare, folder, drawn, *, layer, progress, per_set: int = 4) -> dict:
    """Saliency, and Grad-CAM of the merger logit and of the feature norm, for the most confident mergers of two sets."""
    from galmerge.data.sources import as_imageset

    other = as_imageset(compare, size=trained.spec.loading_size, progress=progress)
    trained.check_bands(other.n_bands, source=other.source)
    p_other = trained.predict(other).p_merger
    features = model.with_output("feature_norm")
    pieces: list[torch.Tensor] = []
    displays: list[np.ndarray] = []
    titles: list[str] = []
    for name, data, rows, p in (("data", imageset, kept, p_merger), ("compare", other, np.arange(len(other)), p_other)):
        top = np.argsort(-p, kind="stable")[:per_set]
        pieces.append(model.preprocess(data.images, rows=rows[top], source=data.source))
        displays.extend(display_rgb(image, trained.bands) for image in model.to_input_geometry(data.images[rows[top]]))
        titles.extend(f"{name} {data.ids[r]}: p={q:.2f}" for r, q in zip(rows[top], p[top]))
    inputs = torch.cat(pieces)
    maps = {
        "saliency": combine_bands(saliency(model, inputs)),
        "gradcam": grad_cam(model, inputs, layer=layer).numpy(),
        "Grad-CAM (feature norm)": grad_cam(features, inputs, layer=layer, target=None).numpy(),
    }
    drawn["feature_gradcam"] = str(
        figures.plot_attribution_montage(np.stack(displays), maps, folder / "feature_gradcam.png", row_titles=titles, title="Most confident mergers: data (top) and comparison set (bottom)")
    )
    return {"data": str(imageset.source), "compare": str(other.source), "images": titles}
