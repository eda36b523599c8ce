"""Survey-scale throughput: synthetic mosaics and a source list to a Parquet catalog, end to end.

    python benchmarks/survey_throughput.py [--sources 200000] [--side 8192] [--shard-sources 50000]

Made on the fly (in a temporary folder): 3 bands of SIDE x SIDE float32 pixels with a TAN WCS,
SOURCES Gaussian galaxies, a FITS source list, and a DeepMerge CNN with fitted normalisation.
Each measurement runs in its own process, which reports its peak resident memory:

- raw forward: the network alone (ONNX Runtime) on a preprocessed in-memory batch of 1024;
- mosaics -> catalog: `galmerge predict MODEL g,r,i --catalog sources.fits --size 75`, cutting
  on the fly, for all sources and for a quarter of them (memory must not grow with the count);
- cutting alone: `galmerge cutout` of SHARD_SOURCES sources into ImageSet shards;
- shards -> catalog: `galmerge predict MODEL shards/` on those shards (float32 cutouts take
  67 kB each on disk, hence fewer sources than the mosaics).

Objects/s are medians of --repeats runs, by wall clock and per CPU-second of the process (user +
system time: on a shared machine the wall-clock rate falls with the load, the CPU cost hardly).
Memory: peak resident set (ru_maxrss, which counts the memory-mapped mosaic pages read) and peak
anonymous memory (what the process allocated itself, sampled every 0.1 s).
The machines here are shared, so compare rows of one run.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BANDS = ("g", "r", "i")
SCALE = 0.262


def make_inputs(folder: Path, *, sources: int, side: int, shard_sources: int) -> None:
    import torch
    from astropy.table import Table

    from galmerge.catalog.synthetic import random_positions, tan_header, write_band
    from galmerge.data import Preprocessor
    from galmerge.models import ModelSpec, TrainedModel, build_model

    centre = (150.0, 2.0)
    header = tan_header(shape=(side, side), centre_deg=centre, pixel_scale_arcsec=SCALE)
    half = side * SCALE / 3600 / 2
    ra, dec = random_positions(sources, centre_deg=centre, half_width_deg=half * 0.99, seed=1)
    peaks = np.random.default_rng(2).uniform(0.5, 5.0, sources)
    for index, band in enumerate(BANDS):
        write_band(folder / f"mosaic_{band}.fits", header, shape=(side, side), ra_deg=ra, dec_deg=dec, peak=peaks, band=band, seed=index)
    Table({"id": np.arange(sources), "ra": ra, "dec": dec}).write(folder / "sources.fits")
    Table({"id": np.arange(sources // 4), "ra": ra[: sources // 4], "dec": dec[: sources // 4]}).write(folder / "quarter.fits")
    Table({"id": np.arange(shard_sources), "ra": ra[:shard_sources], "dec": dec[:shard_sources]}).write(folder / "shard_sources.fits")
    rng = np.random.default_rng(0)
    images = rng.normal(0, 0.05, size=(2048, 3, 75, 75)).astype(np.float32)
    pre = Preprocessor(input_size=75).fit(images)
    torch.manual_seed(0)
    model = build_model("deepmerge", in_bands=3)
    model.train()
    with torch.no_grad():  # realistic BatchNorm statistics
        model(torch.from_numpy(pre.transform(images[:512])))
    spec = ModelSpec(architecture="deepmerge", in_bands=3, input_size=75, bands=list(BANDS), preprocessing=pre.to_dict(), thresholds={"default": 0.5, "target_recall": 0.4})
    TrainedModel(model.eval(), spec).save(folder / "model.safetensors")


def _anonymous_memory_gb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def child(task: str, folder: Path) -> dict:
    """One measurement, in this process; returns objects, seconds and peak memory."""
    import threading

    from galmerge.catalog.stream import predict_survey

    peak_anonymous = [0.0]
    finished = threading.Event()

    def sample():
        while not finished.wait(0.1):
            peak_anonymous[0] = max(peak_anonymous[0], _anonymous_memory_gb())

    threading.Thread(target=sample, daemon=True).start()

    model = folder / "model.safetensors"
    mosaics = ",".join(str(folder / f"mosaic_{b}.fits") for b in BANDS)
    start, cpu_start = time.perf_counter(), time.process_time()
    if task == "raw":
        from galmerge.catalog.backends import make_backend
        from galmerge.models import TrainedModel

        trained = TrainedModel.load(model)
        runner = make_backend(trained.model, backend="onnx", input_shape=(3, 75, 75))
        batch = trained.preprocessor.transform(np.random.default_rng(0).normal(0, 0.05, (1024, 3, 75, 75)).astype(np.float32))
        runner.logits(batch)
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(10):
            runner.logits(batch)
        count = 10 * len(batch)
    elif task in ("mosaics", "quarter"):
        catalog = folder / ("sources.fits" if task == "mosaics" else "quarter.fits")
        result = predict_survey(model, mosaics, catalog=catalog, size=75, out=folder / f"{task}-{time.time_ns()}.parquet", progress=False)
        count = result.n_rows
    elif task == "cut":
        from galmerge.catalog.cutouts import cut_mosaics

        out = folder / "shards"
        count = cut_mosaics(mosaics, folder / "shard_sources.fits", size=75, out=out, overwrite=out.exists(), progress=False).n_objects
    elif task == "shards":
        count = predict_survey(model, folder / "shards", out=folder / f"shards-{time.time_ns()}.parquet", progress=False).n_rows
    else:
        raise SystemExit(f"unknown task {task}")
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    finished.set()
    peak_anonymous[0] = max(peak_anonymous[0], _anonymous_memory_gb())
    return {
        "task": task,
        "objects": count,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "peak_anonymous_gb": peak_anonymous[0],
    }


def measure(task: str, folder: Path, repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        output = subprocess.run([sys.executable, __file__, "--child", task, "--folder", str(folder)], capture_output=True, text=True, check=True).stdout
        runs.append(json.loads(output.strip().splitlines()[-1]))
    return {
        "objects": runs[0]["objects"],
        "rate": statistics.median(r["objects"] / r["seconds"] for r in runs),
        "cpu_rate": statistics.median(r["objects"] / r["cpu_seconds"] for r in runs),
        "peak_rss_gb": max(r["peak_rss_gb"] for r in runs),
        "peak_anonymous_gb": max(r["peak_anonymous_gb"] for r in runs),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=200_000)
    parser.add_argument("--side", type=int, default=8192)
    parser.add_argument("--shard-sources", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--child")
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--inputs", type=Path, help="reuse (or keep) the inputs in this folder instead of a temporary one")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.folder)))
        return
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.inputs or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        if not (folder / "model.safetensors").exists():
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import survey_throughput as s; from pathlib import Path; s.make_inputs(Path({str(folder)!r}), sources={args.sources}, side={args.side}, shard_sources={args.shard_sources})",
                ],
                check=True,
            )
        print(f"inputs: 3 bands of {args.side}x{args.side} px ({3 * args.side**2 * 4 / 2**30:.2f} GB), {args.sources:,} sources; made in {time.perf_counter() - started:.0f} s")
        print(f"DeepMerge CNN, 75x75 cutouts, ONNX Runtime backend, medians of {args.repeats}\n")
        print(f"{'':52s} {'objects':>9s} {'obj/s':>7s} {'obj/CPU-s':>9s} {'peak RSS GB':>11s} {'peak anon GB':>12s}")
        for task, title in (
            ("raw", "raw forward, in-memory batch of 1024"),
            ("mosaics", "mosaics -> catalog (cutting on the fly)"),
            ("quarter", "mosaics -> catalog, a quarter of the sources"),
            ("cut", "cutting alone: mosaics -> ImageSet shards"),
            ("shards", "ImageSet shards -> catalog"),
        ):
            row = measure(task, folder, args.repeats)
            print(f"{title:52s} {row['objects']:9,d} {row['rate']:7,.0f} {row['cpu_rate']:9,.0f} {row['peak_rss_gb']:11.2f} {row['peak_anonymous_gb']:12.2f}", flush=True)


if __name__ == "__main__":
    main()
