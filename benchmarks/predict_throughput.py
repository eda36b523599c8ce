"""Prediction throughput of the DeepMerge CNN: end to end from an on-disk ImageSet to a catalog,
next to the raw model forward on an in-memory tensor, in one run.

    python benchmarks/predict_throughput.py [--n 15426] [--repeats 3]

End to end = read the ``.h5`` ImageSet in chunks, preprocess, run the network, write an ECSV
catalog. Raw = the network alone on a preprocessed in-memory batch of 1024. Statistics = what a
run's statistics classifier adds per image to a catalog (``p_merger_statistics``). Medians of
``--repeats`` runs; the machines here are shared, so compare rows of one run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def make_model(folder: Path, n: int):
    from galmerge.data import ImageSet, Preprocessor
    from galmerge.models import ModelSpec, TrainedModel, build_model

    rng = np.random.default_rng(0)
    images = rng.normal(size=(n, 3, 75, 75)).astype(np.float32)
    ImageSet(images, bands=("g", "r", "i")).save(folder / "cutouts.h5")
    pre = Preprocessor(input_size=75).fit(images[:2000])
    torch.manual_seed(0)
    model = build_model("deepmerge", in_bands=3)
    model.train()
    with torch.no_grad():  # realistic BatchNorm statistics
        model(torch.from_numpy(pre.transform(images[:512])))
    spec = ModelSpec(architecture="deepmerge", in_bands=3, input_size=75, bands=["g", "r", "i"], preprocessing=pre.to_dict(), thresholds={"default": 0.5, "target_recall": 0.4})
    TrainedModel(model.eval(), spec).save(folder / "model.safetensors")
    return pre.transform(images[:1024])


def median_rate(count: int, function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return count / statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=15426)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from galmerge.catalog import make_backend, onnx_available, predict_catalog_file
    from galmerge.data import load_imageset
    from galmerge.models import TrainedModel

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        batch = make_model(folder, args.n)
        trained = TrainedModel.load(folder / "model.safetensors")
        backends = ["torch"] + (["onnx"] if onnx_available() else [])
        print(f"DeepMerge CNN, {args.n} cutouts of 3x75x75 ({args.n * 3 * 75 * 75 * 4 / 2**30:.2f} GB float32), {torch.get_num_threads()} threads, medians of {args.repeats}\n")
        print(f"{'':52s} {'images/s':>9s}")
        for name in backends:
            runner = make_backend(trained.model, backend=name, input_shape=(3, 75, 75))
            runner.logits(batch)  # warm-up (and ONNX export, cached)
            rate = median_rate(len(batch), lambda: runner.logits(batch), args.repeats * 3)  # noqa: B023 (called at once)
            print(f"{'raw forward, in-memory batch of 1024, ' + name:52s} {rate:9.0f}")
        if onnx_available():  # the call size of the ONNX backend (OnnxBackend.call_size)
            from galmerge.catalog.backends import OnnxBackend

            for call_size in (1024, 256, 64, 16, 4):
                runner = OnnxBackend(trained.model, input_shape=(3, 75, 75), call_size=call_size)
                runner.logits(batch)
                rate = median_rate(len(batch), lambda: runner.logits(batch), args.repeats * 3)  # noqa: B023 (called at once)
                print(f"{f'raw forward, onnx, in calls of {call_size}':52s} {rate:9.0f}")
        counter = iter(range(10**6))
        for name in backends:

            def end_to_end():
                predict_catalog_file(folder / "model.safetensors", folder / "cutouts.h5", out=folder / f"catalog{next(counter)}.ecsv", backend=name, progress=False)  # noqa: B023

            end_to_end()  # warm-up: ONNX export cached, file in the page cache
            rate = median_rate(args.n, end_to_end, args.repeats)
            print(f"{'end to end, .h5 ImageSet -> ECSV catalog, ' + name:52s} {rate:9.0f}")
        # What p_merger_statistics adds to a catalog of a run: the image statistics and the
        # logistic regression of the run's statistics classifier, on the same cutouts.
        from galmerge.models.statistics_classifier import StatisticsMergerClassifier

        images = np.asarray(load_imageset(folder / "cutouts.h5", progress=False).images[:4096], dtype=np.float32)
        classifier = StatisticsMergerClassifier().fit(images[:1000], np.arange(1000) % 2)
        rate = median_rate(len(images), lambda: classifier.predict_proba(images), args.repeats)
        print(f"{'statistics classifier (p_merger_statistics), 4096 in memory':52s} {rate:9.0f}")


if __name__ == "__main__":
    main()
