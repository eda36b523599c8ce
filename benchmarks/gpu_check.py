"""Training and prediction on a CUDA GPU: that they run there, that they agree with the CPU, and how fast.

    python benchmarks/gpu_check.py [--n 8000] [--epochs 3]

Needs a CUDA GPU; CI never has one, so this runs by hand on a machine with one. On the built-in
toy set (``make_toy_mergers``: n source images, n target images of another seed, 2,000 fresh
images to score), it prints one line per check:

- training, DeepMerge CNN, ``accelerator="gpu"``: the device of the network and of the first
  training batch, seconds per epoch (median after the first) and training images/s, for noDA
  and DANN (a target), in 32-bit and bf16-mixed precision, with and without deterministic
  kernels; the same noDA run on the CPU beside it; whether two same-seed GPU runs end with the
  same weights;
- that the GPU-trained model learns: its ROC-AUC on the fresh images, scored on the GPU;
- prediction, the whole ``predict_survey`` catalog (``--device auto``): the device its header
  records, objects/s on the GPU and on the CPU (ONNX Runtime), and the largest difference of
  p(merger) between the two catalogs;
- the network alone: images/s of the forward pass in batches of 1,024 on the GPU.

Exits 1 when a check fails: training or prediction not on CUDA, a model that does not learn
(ROC-AUC below 0.9 on the toy set, which a CPU-trained run passes), two same-seed GPU runs with
other weights, or GPU and CPU catalogs that differ by more than 1e-4 in p(merger), the tolerance
between ONNX Runtime and PyTorch on the CPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch


def epoch_times(run_dir: Path) -> list[float]:
    import csv

    with open(run_dir / "history.csv") as handle:
        return [float(row["epoch_time_s"]) for row in csv.DictReader(handle)]


def train_once(name: str, source, target, folder: Path, *, epochs: int, **options):
    import lightning.pytorch as pl

    from galmerge.training import TrainConfig, train

    seen: dict = {}

    class Where(pl.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if not seen:
                images, _ = batch["source"]  # the training step's batch: {"source": (images, labels), ...}
                seen.update(model=str(module.device), batch=str(images.device))

    config = TrainConfig(epochs=epochs, early_stopping_patience=0, n_bootstrap=0, devices=1, **options)
    result = train(source, target=target, config=config, out=folder / name, progress=False, callbacks=[Where()])
    times = epoch_times(result.run.path)
    per_epoch = statistics.median(times[1:]) if len(times) > 1 else times[0]
    n_train = result.record.n_images["train"]
    print(f"train {name:24s} model on {seen.get('model')}, batch on {seen.get('batch')}: {per_epoch:6.2f} s/epoch (first {times[0]:.2f} s), {n_train / per_epoch:8.0f} images/s", flush=True)
    return result, seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8000)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA GPU visible to PyTorch: nothing to check")
        return 1
    from sklearn.metrics import roc_auc_score

    from galmerge.catalog import make_backend
    from galmerge.catalog.stream import predict_survey
    from galmerge.data import make_toy_mergers

    print(f"GPU {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}, CPU threads {torch.get_num_threads()}", flush=True)
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = make_toy_mergers(args.n, seed=0)
        target = make_toy_mergers(args.n, seed=1)
        fresh = make_toy_mergers(2000, seed=2)
        fresh.save(folder / "fresh.h5")
        runs = {}
        cases = [
            ("noDA gpu 32-true", None, {"accelerator": "gpu", "method": "none"}),
            ("noDA gpu 32-true again", None, {"accelerator": "gpu", "method": "none"}),
            ("noDA gpu nondeterministic", None, {"accelerator": "gpu", "method": "none", "deterministic": False}),
            ("noDA gpu bf16-mixed", None, {"accelerator": "gpu", "method": "none", "precision": "bf16-mixed"}),
            ("DANN gpu 32-true", target, {"accelerator": "gpu", "method": "dann"}),
            ("DANN gpu bf16-mixed", target, {"accelerator": "gpu", "method": "dann", "precision": "bf16-mixed"}),
            ("noDA cpu 32-true", None, {"accelerator": "cpu", "method": "none"}),
        ]
        for name, case_target, options in cases:
            try:
                result, seen = train_once(name.replace(" ", "_"), source, case_target, folder, epochs=args.epochs, **options)
            except Exception:  # report each case and go on: one failing precision must not hide the others
                traceback.print_exc()
                failures.append(f"training {name} raised")
                continue
            runs[name] = result
            if options["accelerator"] == "gpu" and not (seen.get("model", "").startswith("cuda") and seen.get("batch", "").startswith("cuda")):
                failures.append(f"training {name} did not run on CUDA ({seen})")

        if "noDA gpu 32-true" in runs and "noDA gpu 32-true again" in runs:
            first, again = (runs[name].trained.model.state_dict() for name in ("noDA gpu 32-true", "noDA gpu 32-true again"))
            differing = [name for name in first if not torch.equal(first[name].cpu(), again[name].cpu())]
            print(f"same seed twice on the GPU: {len(first) - len(differing)} of {len(first)} tensors bitwise equal", flush=True)
            if differing:
                failures.append(f"same seed, other weights on the GPU: {', '.join(differing[:4])}")
        trained = runs.get("noDA gpu 32-true")
        if trained is not None:
            runner = make_backend(trained.trained.model, device="cuda", input_shape=(3, 75, 75))
            auc = roc_auc_score(fresh.labels, trained.trained.predict(fresh, runner=runner).p_merger)
            print(f"learns: GPU-trained noDA, scored on {runner.device}: ROC-AUC {auc:.3f} on 2,000 fresh toy images", flush=True)
            if auc < 0.9:
                failures.append(f"the GPU-trained model does not learn (ROC-AUC {auc:.3f})")

            many = make_toy_mergers(max(args.n, 8000), seed=3)
            many.save(folder / "many.h5")
            catalogs = {}
            for device in ("cuda", "cpu"):
                out = folder / f"catalog_{device}.parquet"
                start = time.perf_counter()
                catalog = predict_survey(trained.run.path, folder / "many.h5", out=out, device=device if device == "cpu" else "auto", statistics=False, ood=False, progress=False)
                seconds = time.perf_counter() - start
                catalogs[device] = catalog
                print(
                    f"predict catalog, --device {'auto' if device == 'cuda' else 'cpu'}: header backend {catalog.header['backend']} on {catalog.header['device']}, {catalog.n_rows / seconds:8.0f} objects/s ({catalog.n_rows} in {seconds:.1f} s, model loading included)",
                    flush=True,
                )
            if not catalogs["cuda"].header["device"].startswith("cuda"):
                failures.append(f"predict --device auto ran on {catalogs['cuda'].header['device']}")
            from astropy.table import Table

            difference = np.abs(np.asarray(Table.read(catalogs["cuda"].path)["p_merger"]) - np.asarray(Table.read(catalogs["cpu"].path)["p_merger"])).max()
            print(f"GPU and CPU catalogs: largest |difference| of p_merger {difference:.2e}", flush=True)
            if difference > 1e-4:
                failures.append(f"GPU and CPU catalogs differ by {difference:.2e}")

            processed = np.random.default_rng(0).normal(size=(1024, 3, 75, 75)).astype(np.float32)
            runner.logits(processed)  # warm-up: kernels chosen, memory taken
            times = []
            for _ in range(10):
                start = time.perf_counter()
                runner.logits(processed)  # returns host memory, so the GPU has finished
                times.append(time.perf_counter() - start)
            print(f"forward alone on the GPU, batches of 1024: {1024 / statistics.median(times):10.0f} images/s (host-device copies included)", flush=True)
    for failure in failures:
        print(f"FAILED: {failure}")
    print("all GPU checks passed" if not failures else f"{len(failures)} GPU check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
