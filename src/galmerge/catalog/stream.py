"""Survey catalogs at scale: stream the input in chunks, write the catalog as it goes, resume after a kill.

:func:`predict_survey` reads its input a chunk at a time (memory stays flat whatever the number
of objects), scores each chunk with one model or an ensemble, and writes the rows in numbered
parts (:mod:`galmerge.catalog.writer`) that are joined into the catalog at the end. The parts are
computed in this process or, with ``cluster``, by Dask workers (:mod:`galmerge.catalog.shards`);
either way the catalog is the same.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from galmerge.catalog.cutouts import EDGE_FLAG, NO_PIXELS_FLAG
from galmerge.catalog.inputs import InputSpec, describe_input, open_input
from galmerge.catalog.writer import CatalogParts, claim_output
from galmerge.errors import ConfigError, ModelMismatchError

__all__ = ["predict_survey", "SurveyCatalog", "CatalogJob", "compute_parts", "SURVEY_FLAGS", "score_chunk"]

OOD_FLAG = 16
SURVEY_FLAGS = {
    1: "non-finite pixels were filled (see nonfinite_fraction)",
    2: "more than 10 % of the pixels were non-finite",
    EDGE_FLAG: "the cutout runs over a mosaic edge (see outside_fraction)",
    NO_PIXELS_FLAG: "no pixels: off every footprint, or a band without one finite pixel; p_merger is NaN",
    OOD_FLAG: "out of the training distribution (ood_score > 1)",
}
COLUMNS = {
    "id": "the input's id",
    "ra": "right ascension (deg), from the input",
    "dec": "declination (deg), from the input",
    "p_merger": "p(merger), mean over views (--tta) and models (ensemble), on the survey prior",
    "p_merger_std": "standard deviation over the 8 flips and rotations (--tta)",
    "p_merger_ensemble_std": "standard deviation of the models' p(merger) (ensemble)",
    "p_merger_entropy": "binary entropy of p_merger in bits (1 = undecided)",
    "p_merger_statistics": "p(merger) of the runs' statistics classifiers (logistic regression on image statistics), mean over models, on the survey prior",
    "p_merger_combined": "p_merger and p_merger_statistics pooled (logistic of their mean log-odds); ranked the real Galaxy Zoo mergers best by ROC-AUC (README)",
    "ood_score": "squared Mahalanobis feature distance to the training set / its 99th percentile (mean over models)",
    "is_merger_pred": "p_merger >= thresholds.default",
    "is_merger_pred_recall": "p_merger >= thresholds.target_recall",
    "nonfinite_fraction": "fraction of pixels filled (NaN, masked, beyond the mosaic)",
    "outside_fraction": "fraction of the cutout beyond the mosaic",
    "flags": "bit mask, see flags",
    "is_merger": "label of the input, when it has one",
}


@dataclass
class CatalogJob:
    """Everything a process needs to compute parts of a catalog (picklable: it goes to Dask workers)."""

    out: str
    runs: tuple
    input: InputSpec
    n_rows: int
    part_rows: int
    chunk_rows: int
    batch_size: int
    backend: str
    device: str
    tta: bool
    survey_prior: float | None
    training_priors: tuple
    thresholds: dict
    statistics: bool = True
    ood: tuple = ()  # FeatureDensity arrays per model, or empty
    header: dict = field(default_factory=dict)

    @property
    def n_parts(self) -> int:
        return -(-self.n_rows // self.part_rows)

    def part_bounds(self, index: int) -> tuple[int, int]:
        return index * self.part_rows, min(self.n_rows, (index + 1) * self.part_rows)

    def state(self) -> dict:
        """The settings that decide the numbers: a resumed catalog must share them."""
        ood_digest = hashlib.sha256(b"".join(np.ascontiguousarray(v).tobytes() for arrays in self.ood for v in arrays.values())).hexdigest()
        return {
            "models": [m["sha256"] for m in self.header["models"]],
            "statistics_models": [(m.get("statistics_model") or {}).get("sha256") for m in self.header["models"]],
            "input": asdict(self.input),
            "n_rows": self.n_rows,
            "part_rows": self.part_rows,
            "chunk_rows": self.chunk_rows,
            "batch_size": self.batch_size,
            "backend": self.header["backend"],
            "tta": self.tta,
            "survey_prior": self.survey_prior,
            "ood": ood_digest if self.ood else None,
        }


@dataclass
class SurveyCatalog:
    """What :func:`predict_survey` wrote: counts for the summary line, and the header."""

    path: Path
    n_objects: int
    n_rows: int
    n_flagged: int
    flag_counts: dict
    seconds: float
    parts_resumed: int
    header: dict

    def summary(self) -> str:
        counts = ", ".join(f"{name} {count}" for name, count in self.flag_counts.items() if count)
        rate = self.n_rows / self.seconds if self.seconds > 0 else float("nan")
        resumed = f"; {self.parts_resumed} parts kept from before" if self.parts_resumed else ""
        return f"objects in {self.n_objects}, rows out {self.n_rows}, flagged {self.n_flagged}{f' ({counts})' if counts else ''}, {self.seconds:.1f} s ({rate:,.0f} obj/s){resumed} -> {self.path}"


@functools.lru_cache(maxsize=4)
def _members(runs: tuple, backend: str, device: str):
    from galmerge.catalog.members import load_member

    return [load_member(run, backend=backend, device=device) for run in runs]


def score_chunk(job: CatalogJob, members, images: np.ndarray, meta, *, source: str) -> dict:
    """Catalog columns for one chunk of images and their metadata."""
    from galmerge.catalog.members import member_outputs, statistics_probabilities
    from galmerge.catalog.uncertainty import FeatureDensity, combine_members, shift_prior
    from galmerge.models.statistics_classifier import combined_probability

    densities = [FeatureDensity.from_arrays(a) for a in job.ood]
    views, distances = [], []
    for index, member in enumerate(members):
        p_views, features = member_outputs(member, images, tta=job.tta, features=bool(densities), batch_size=job.batch_size, source=source)
        views.append(shift_prior(p_views, training_prior=job.training_priors[index], survey_prior=job.survey_prior))
        if densities:
            assert features is not None  # asked for with features=bool(densities)
            distances.append(densities[index].score(features) / densities[index].threshold_)
    combined = combine_members(views, tta=job.tta)
    with_statistics = [m for m in members if m.statistics is not None] if job.statistics else []
    statistics = [
        shift_prior(p, training_prior=m.statistics_record["training_merger_fraction"], survey_prior=job.survey_prior)
        for m, p in zip(with_statistics, statistics_probabilities(with_statistics, images))
    ]
    cut_flags = np.asarray(meta["cut_flags"], dtype=np.int16) if "cut_flags" in meta.colnames else np.zeros(len(images), np.int16)
    nonfinite = np.asarray(meta["nonfinite_fraction"], dtype=np.float32) if "nonfinite_fraction" in meta.colnames else np.zeros(len(images), np.float32)
    missing = (cut_flags & NO_PIXELS_FLAG) > 0

    def masked(values):
        return np.where(missing, np.nan, values).astype(np.float32)

    columns = {"id": np.asarray(meta["id"])}
    for name in ("ra", "dec"):
        if name in meta.colnames:
            columns[name] = np.asarray(meta[name], dtype=np.float64)
    columns["p_merger"] = masked(combined.p_merger)
    if combined.tta_std is not None:
        columns["p_merger_std"] = masked(combined.tta_std)
    if combined.ensemble_std is not None:
        columns["p_merger_ensemble_std"] = masked(combined.ensemble_std)
    columns["p_merger_entropy"] = masked(combined.entropy_bits)
    if statistics:
        columns["p_merger_statistics"] = masked(np.mean(statistics, axis=0))
        columns["p_merger_combined"] = masked(combined_probability(combined.p_merger, columns["p_merger_statistics"]))
    flags = cut_flags | ((nonfinite > 0) * 1 + (nonfinite > 0.1) * 2).astype(np.int16)
    if distances:
        columns["ood_score"] = masked(np.mean(distances, axis=0))
        flags |= np.where(columns["ood_score"] > 1, OOD_FLAG, 0).astype(np.int16)
    columns["is_merger_pred"] = columns["p_merger"] >= job.thresholds["default"]
    if "target_recall" in job.thresholds:
        columns["is_merger_pred_recall"] = columns["p_merger"] >= job.thresholds["target_recall"]
    columns["nonfinite_fraction"] = nonfinite
    if "outside_fraction" in meta.colnames:
        columns["outside_fraction"] = np.asarray(meta["outside_fraction"], dtype=np.float32)
    columns["flags"] = flags.astype(np.int16)
    if "is_merger" in meta.colnames:
        columns["is_merger"] = np.asarray(meta["is_merger"], dtype=np.int8)
    return columns


def compute_parts(job: CatalogJob, indices, *, on_part=None) -> int:
    """Compute and write the given parts of a catalog; returns the rows written.

    Runs in the calling process or on a Dask worker; models and input are opened once per process.
    """
    members = _members(job.runs, job.backend, job.device)
    reader = open_input(job.input)
    parts = CatalogParts(job.out)
    written = 0
    for index in indices:
        first, last = job.part_bounds(index)
        chunks = []
        for start in range(first, last, job.chunk_rows):
            images, meta = reader.read(start, min(last, start + job.chunk_rows))
            chunks.append(score_chunk(job, members, images, meta, source=reader.source))
        columns = {name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]}
        parts.write_part(index, columns)
        written += last - first
        if on_part is not None:
            on_part(last - first)
    return written


def predict_survey(
    runs,
    data,
    *,
    out,
    catalog=None,
    size=None,
    pixels: int | None = None,
    bands=None,
    overwrite: bool = False,
    resume: bool = False,
    backend: str = "auto",
    device: str = "auto",
    tta: bool = False,
    prior: float | None = None,
    ood: bool = True,
    statistics: bool = True,
    cluster=None,
    batch_size: int = 512,
    chunk_rows: int = 2048,
    part_rows: int = 16384,
    progress: bool = True,
) -> SurveyCatalog:
    """Predict p(merger) for every object of a survey input and write the catalog as it goes.

    Parameters
    ----------
    runs : path or sequence of paths
        A run directory (or model file), or several: an ensemble, averaged, with its spread.
        A comma-separated string is split.
    data : str or path
        ImageSet file, folder of ImageSet shards, any :func:`galmerge.data.load_imageset`
        argument, or with ``catalog`` the mosaics to cut from (see :func:`describe_input`).
    out : path
        ``.parquet`` (the format at scale), ``.fits``, ``.ecsv`` or ``.csv``.
    catalog, size, pixels, bands
        Source list and cutout size for mosaics (:class:`galmerge.catalog.cutouts.MosaicCutter`).
    overwrite, resume : bool
        Replace an earlier galmerge catalog; continue an interrupted one (see
        :func:`galmerge.catalog.writer.claim_output`).
    backend : {"auto", "onnx", "torch"}
        What runs the network: ``auto`` is PyTorch on a GPU, else ONNX Runtime when installed.
    device : {"auto", "cpu", "cuda"}
        ``auto``: a CUDA GPU when PyTorch sees one (on each Dask worker), else the CPU.
    tta : bool
        Average over the 8 flips and rotations; adds ``p_merger_std``.
    prior : float in (0, 1), optional
        The survey's merger fraction: p(merger) is moved from the training prior to it by
        Bayes' rule (:func:`galmerge.catalog.uncertainty.shift_prior`). Default: no correction.
    ood : bool
        Score each object's distance to the training images (needs the runs' training data;
        without them the header says why there is no ``ood_score``).
    statistics : bool
        Add ``p_merger_statistics`` from the runs' statistics classifiers (runs without one are
        left out of it). It measures image statistics of every object, which costs more than
        the network's forward pass (``benchmarks/predict_throughput.py``).
    cluster : None, str or dask.distributed.Client
        ``None``: this process. ``"local"`` / ``"local:N"``: a Dask LocalCluster of N worker
        processes; ``"tcp://host:8786"``: an existing scheduler; ``"slurm:N"`` / ``"pbs:N"``:
        N dask-jobqueue jobs. See :mod:`galmerge.catalog.shards`.
    batch_size, chunk_rows, part_rows : int
        Images per forward pass; rows read at a time (memory: ~``chunk_rows`` x 2 images);
        rows per written part (work lost to a kill is at most one part per process).

    Returns
    -------
    SurveyCatalog
    """
    import time

    from galmerge.catalog.progress import ObjectProgress

    started = time.perf_counter()
    runs = tuple(str(r).strip() for r in (str(runs).split(",") if isinstance(runs, (str, Path)) else runs) if str(r).strip())
    resuming = claim_output(out, overwrite=overwrite, resume=resume)
    members = _members(runs, backend, device)
    first_spec = members[0].trained.spec
    spec = describe_input(data, catalog=catalog, size=size, pixels=pixels, bands=bands, loading_size=first_spec.loading_size)
    reader = open_input(spec)
    for member in members:
        if member.trained.spec.in_bands != len(reader.bands):
            raise ModelMismatchError(
                f"{reader.source}: {len(reader.bands)} bands ({', '.join(reader.bands)}), but {member.path} was trained on {member.trained.spec.in_bands} ({', '.join(member.trained.bands)})"
            )
    parts = CatalogParts(out)
    job = _make_job(
        out,
        runs,
        members,
        spec,
        len(reader),
        parts,
        resuming=resuming,
        source=reader.source,
        backend=backend,
        device=device,
        tta=tta,
        prior=prior,
        ood=ood,
        statistics=statistics,
        batch_size=batch_size,
        chunk_rows=chunk_rows,
        part_rows=part_rows,
    )
    parts.start(job.state(), resume=resuming)
    _save_ood_references(job, parts)
    done = parts.done()
    todo = [k for k in range(job.n_parts) if k not in done]
    kept_rows = sum(job.part_bounds(k)[1] - job.part_bounds(k)[0] for k in done)
    with ObjectProgress(job.n_rows, desc="predicting", enabled=progress, initial=kept_rows) as bar:
        if cluster is None:
            compute_parts(job, todo, on_part=bar.update)
        else:
            from galmerge.catalog.shards import compute_on_cluster

            compute_on_cluster(job, todo, cluster, on_part=bar.update)
    path = parts.join(job.n_parts, metadata=job.header)
    flags = _read_flags(path)
    counts = {"edge": EDGE_FLAG, "no pixels": NO_PIXELS_FLAG, "out of distribution": OOD_FLAG, "non-finite filled": 1}
    return SurveyCatalog(
        path=Path(path),
        n_objects=len(reader),
        n_rows=len(flags),
        n_flagged=int((flags != 0).sum()),
        flag_counts={name: int(((flags & bit) > 0).sum()) for name, bit in counts.items()},
        seconds=time.perf_counter() - started,
        parts_resumed=len(done),
        header=job.header,
    )


def _make_job(out, runs, members, spec, n_rows, parts, *, resuming, source, backend, device, tta, prior, ood, statistics, batch_size, chunk_rows, part_rows) -> CatalogJob:
    from galmerge import __version__
    from galmerge.catalog.members import training_prior
    from galmerge.catalog.uncertainty import shift_prior

    priors: list[tuple[float | None, str]] = []  # None: unknown, allowed without a survey prior
    for member in members:
        try:
            priors.append(training_prior(member))
        except ConfigError as error:
            if prior is not None:  # needed only to move the probabilities to the survey prior
                raise
            priors.append((None, f"unknown ({error})"))
    target = [m.trained.spec.thresholds.get("target_recall") for m in members]
    thresholds = {"default": 0.5}
    if all(t is not None for t in target):
        shifted = [float(shift_prior(t, training_prior=p, survey_prior=prior)) for t, (p, _) in zip(target, priors)]
        thresholds["target_recall"] = float(np.mean(shifted))
    ood_arrays, ood_header = _ood_references(members, parts, resuming=resuming) if ood else ((), {"available": False, "reason": "not asked for (ood=False)"})
    header = {
        "galmerge_version": __version__,
        "source": source,
        "n_objects": n_rows,
        "models": [
            {
                "path": str(m.path),
                "architecture": m.trained.spec.architecture,
                "sha256": m.sha256,
                "bands": list(m.trained.bands),
                "thresholds": m.trained.spec.thresholds,
                "target_recall": m.trained.spec.target_recall,
                "statistics_model": m.statistics_record if statistics else None,
            }
            for m in members
        ],
        "model_sha256": [m.sha256 for m in members],
        "ensemble_size": len(members),
        "backend": members[0].runner.name,
        "device": str(members[0].runner.device),
        "tta": tta,
        "thresholds": thresholds,
        "target_recall": members[0].trained.spec.target_recall,
        "threshold_note": "target_recall threshold chosen on each model's validation split, moved to the survey prior" + ("; mean over the ensemble" if len(members) > 1 else ""),
        "prior": {"training": [p for p, _ in priors], "training_basis": [b for _, b in priors], "survey": prior, "corrected": prior is not None},
        "ood": ood_header,
        "flags": {str(bit): text for bit, text in SURVEY_FLAGS.items()},
        "columns": COLUMNS,
    }
    return CatalogJob(
        out=str(out),
        runs=runs,
        input=spec,
        n_rows=n_rows,
        part_rows=part_rows,
        chunk_rows=chunk_rows,
        batch_size=batch_size,
        backend=backend,
        device=device,
        tta=tta,
        survey_prior=prior,
        training_priors=tuple(p for p, _ in priors),
        thresholds=thresholds,
        statistics=statistics,
        ood=tuple(ood_arrays),
        header=header,
    )


def _ood_references(members, parts: CatalogParts, *, resuming: bool):
    """Feature-density references of the models, fitted once per catalog and kept with its parts."""
    from galmerge.catalog.members import fit_ood_reference

    saved = [parts.folder / f"ood-reference-{i}.npz" for i in range(len(members))]
    if resuming and all(p.exists() for p in saved):
        arrays = [dict(np.load(p)) for p in saved]
        return arrays, json.loads((parts.folder / "ood.json").read_text())
    references, reasons = zip(*(fit_ood_reference(m) for m in members))
    if any(r is None for r in references):
        why = next(reason for r, reason in zip(references, reasons) if r is None)
        return (), {"available": False, "reason": why}
    arrays = [r.to_arrays() for r in references]
    return arrays, {"available": True, "method": reasons[0], "quantile": references[0].quantile, "flag": "ood_score > 1"}


def _save_ood_references(job: CatalogJob, parts: CatalogParts) -> None:
    """Keep the references with the parts, so a resumed catalog flags with the very same ones."""
    for index, values in enumerate(job.ood):
        path = parts.folder / f"ood-reference-{index}.npz"
        if not path.exists():
            np.savez(path, **values)
    (parts.folder / "ood.json").write_text(json.dumps(job.header["ood"]))


def _read_flags(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path, columns=["flags"]).column("flags").to_numpy()
    from astropy.table import Table

    return np.asarray(Table.read(path)["flags"])
