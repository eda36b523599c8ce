"""Few-label transfer of a morphometry network to a new domain, with labels from the classical fitter.

As DeepLeGATo carried its network to real CANDELS galaxies with 0.1-0.8 % of its training size
in galaxies labelled by GALFIT, :func:`finetune_morphometry_curve` fine-tunes copies of a trained
network on the first K stamps of a pool from the new domain (another PSF, noisier data),
labelled by :func:`~galmerge.morphology.fit_sersic`, and scores every copy against the true
parameters of a separate test set of that domain.

Why a plain loop rather than Lightning: with K in the tens to hundreds there is no validation
split to select on; a fixed number of epochs of a short loop is the whole job.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import torch
from astropy.table import Table
from torch import nn

from galmerge.data.imageset import ImageSet
from galmerge.errors import DataError
from galmerge.morphology.network import MorphometryModel, extra_inputs_from_table
from galmerge.morphology.targets import PARAMETERS, targets_from_table
from galmerge.morphology.training import NLL_BETA

__all__ = ["finetune_morphometry", "finetune_morphometry_curve", "fitter_labels"]


def fitter_labels(fits: Table, imageset: ImageSet) -> tuple[ImageSet, int]:
    """The stamps the fitter measured (finite values, no failure), with its values as their truth columns.

    Returns the labelled set and the number of stamps dropped.
    """
    from galmerge.morphology.fitter import FIT_FLAGS

    values = np.stack([np.asarray(fits[c], dtype=float) for c in ("mag", "r_e_arcsec", "n", "q", "pa_deg")], axis=1)
    usable = np.isfinite(values).all(axis=1) & ((np.asarray(fits["flag"]) & (FIT_FLAGS["fit_failed"] | FIT_FLAGS["nonfinite_pixels"] | FIT_FLAGS["psf_pixel_scale"])) == 0)
    rows = np.flatnonzero(usable)
    labelled = imageset[rows]
    for column in ("mag", "r_e_arcsec", "n", "q", "pa_deg"):
        labelled.meta[column] = np.asarray(fits[column], dtype=float)[rows]
    labelled.meta["n"] = np.clip(labelled.meta["n"], 0.3, 6.2)
    return labelled, int(len(imageset) - len(rows))


def finetune_morphometry(model: MorphometryModel, labelled: ImageSet, *, epochs: int = 40, lr: float = 3e-4, batch_size: int = 32, seed: int = 0, nll_beta: float = NLL_BETA) -> MorphometryModel:
    """A copy of ``model`` fine-tuned on a labelled set (truth columns as in a morphometry set).

    All layers train; BatchNorm keeps the running statistics of the original training (batches
    of a few dozen stamps would give noisy ones); targets keep the original scales; the loss is
    the beta-NLL of training (``nll_beta``).
    """
    from galmerge.models.heads import gaussian_nll

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    net = copy.deepcopy(model.net).train()
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
    spec = model.spec
    extra, offsets = model.network_inputs(labelled.images, extra_inputs_from_table(labelled.meta, spec.extra_names) if spec.extra_names else None)
    z_targets = (targets_from_table(labelled.meta, source=labelled.source) - offsets - np.asarray(spec.target_mean)) / np.asarray(spec.target_std)
    targets = torch.from_numpy(z_targets.astype(np.float32))
    images = model.preprocessor.transform_tensor(torch.from_numpy(np.ascontiguousarray(labelled.images, dtype=np.float32)))
    optimiser = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr)
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            _, output = net(images[rows], None if extra is None else extra[rows])
            mean, log_sigma = net.split(output)
            loss = gaussian_nll(mean, log_sigma, targets[rows], beta=nll_beta).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return MorphometryModel(net.eval(), spec)


def finetune_morphometry_curve(
    run, pool: ImageSet, test: ImageSet, *, n_labels=(0, 25, 50, 100, 200), pool_fits: Table | None = None, out, epochs: int = 40, seed: int = 0, overwrite: bool = False, progress: bool = True
) -> dict:
    """R^2 per parameter on the new domain's test set against K fitter-labelled stamps of its pool.

    Parameters
    ----------
    run : path
        A morphometry run.
    pool : ImageSet
        Stamps of the new domain; the first ``max(n_labels)`` are fitted (unless ``pool_fits``
        gives those fits) and their fitted values used as labels. Its truth columns are never read.
    test : ImageSet
        Other stamps of the new domain with their true parameters.
    pool_fits : Table, optional
        :func:`~galmerge.morphology.fit_sersic` output for the pool's first rows.
    out : path
        New folder for ``transfer.json`` and ``transfer_curve.png`` (the output policy of
        :func:`galmerge.runs.new_output_folder`: ``overwrite`` replaces only an earlier transfer folder).
    """
    from galmerge.mocks.morphometry import electrons_per_unit_for, psf_images_for
    from galmerge.morphology.benchmark import score_parameters
    from galmerge.morphology.catalog import predict_morphometry
    from galmerge.morphology.fitter import fit_sersic
    from galmerge.runs import new_output_folder

    ks = sorted({int(k) for k in n_labels})
    if not ks or ks[0] < 0:
        raise DataError(f"label counts must be >= 0, got {list(n_labels)}")
    if ks[-1] > len(pool):
        raise DataError(f"{pool.source}: {len(pool)} stamps in the pool, {ks[-1]} labels asked for")
    model = MorphometryModel.load(run)
    out = new_output_folder(out, kind="morphometry-transfer", overwrite=overwrite, what="galmerge morphometry transfer folder")
    if pool_fits is None and ks[-1] > 0:
        pool_fits = fit_sersic(pool[np.arange(ks[-1])], psf_images_for(pool), electrons_per_unit=electrons_per_unit_for(pool), progress=progress)
        pool_fits.write(out / "pool_fits.ecsv", format="ascii.ecsv", overwrite=True)
    if pool_fits is not None and len(pool_fits) < ks[-1]:
        raise DataError(f"fits of {len(pool_fits)} pool stamps given; {ks[-1]} labels asked for")
    points = {}
    for k in ks:
        if k == 0 or pool_fits is None:  # pool_fits is None only when no k > 0 was asked for
            tuned, dropped = model, 0
        else:
            labelled, dropped = fitter_labels(pool_fits[:k], pool[np.arange(k)])
            tuned = finetune_morphometry(model, labelled, epochs=epochs, seed=seed)
        catalog = predict_morphometry(tuned, test)
        predicted = {"mag": catalog["mag"], "r_e": catalog["r_e_arcsec"], "n": catalog["n"], "q": catalog["q"], "pa": catalog["pa_deg"]}
        scores = score_parameters(predicted, test.meta)
        points[str(k)] = {"r2": {name: scores[name]["r2"] for name in list(PARAMETERS) + ["log_r_e"]}, "nmad": {name: scores[name]["nmad"] for name in PARAMETERS}, "labels_dropped": dropped}
    record = {
        "run": str(run),
        "pool": str(pool.source),
        "test": str(test.source),
        "n_test": len(test),
        "n_labels": ks,
        "epochs": epochs,
        "points": points,
        "labels": "Imfit Sersic fits of the pool stamps",
    }
    (out / "transfer.json").write_text(json.dumps(record, indent=2, default=float))
    _plot(record, out / "transfer_curve.png")
    record["path"] = str(out)
    return record


def _plot(record: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = record["n_labels"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in PARAMETERS:
        ax.plot(ks, [record["points"][str(k)]["r2"][name] for k in ks], marker="o", label=name)
    ax.set_xlabel("fitter-labelled stamps of the new domain (K)")
    ax.set_ylabel("R$^2$ on the new domain's test set")
    ax.set_title("Few-label transfer of the morphometry CNN")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
