"""Acceptance figures of the interpretation tools on a DeepMerge CNN trained on the sim2sim benchmark.

    python benchmarks/explain_acceptance.py [--n 1000] [--epochs 20] [--workers 2] [--out DIR]

Draws the sim2sim benchmark (noiseless source and noisy target mocks with tidal/companion masks),
trains the DeepMerge CNN on the source without adaptation, runs ``galmerge explain`` (every
method, TCAV from the mock metadata, both randomisation checks) on the source test split and on
the target, and prints: per method the share of |attribution| inside the tidal and companion
masks and the pointing-game accuracy on merger images, against the shuffled-mask baseline; the
Spearman similarity after full cascading randomisation (Adebayo et al.: low is good, < 0.3); the
dead-filter fraction per layer; the significant TCAV concepts. About 2.5 minutes on 2 shared
cores at the defaults (with OMP_NUM_THREADS=1), half of it drawing the mocks.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def print_report(name: str, report: dict) -> None:
    print(f"\n== {name}: {len(report['images']['class'])} images shown, {report['n_excluded']} excluded (used in training)")
    for feature, methods in report.get("mask_scores", {}).items():
        n = next(iter(methods.values()))["n_images"]
        print(f"{feature} mask, {n} mergers: share of |attribution| inside [shuffled masks]  pointing game [shuffled]  (mask area {next(iter(methods.values()))['mask_area']:.3f})")
        for method, entry in methods.items():
            print(f"  {method:<14} {entry['share_in_mask']:.3f} [{entry['shuffled_share_in_mask']:.3f}]   {entry['pointing_game']:.3f} [{entry['shuffled_pointing_game']:.3f}]")
    for mode, check in report.get("randomisation", {}).items():
        finals = "  ".join(f"{m} {v:.2f}" for m, v in check["final_spearman_abs"].items())
        print(f"{mode} randomisation, Spearman |map| (final / lowest): {finals}; flagged: {', '.join(check['flagged']) or 'none'}")
    if "dead_filters" in report:
        print("dead filters: " + "  ".join(f"{r['layer']} {len(r['dead'])}/{r['n_filters']} ({r['dead_fraction']:.0%})" for r in report["dead_filters"]))
    if "tcav" in report:
        print(f"TCAV ({report['tcav']['runs']} random runs, {report['tcav']['n_class_images']} merger images):")
        for score in report["tcav"]["scores"]:
            mark = "*" if score["significant"] else " "
            print(
                f"  {mark} {score['concept']:<16} {score['layer']:<6} {score['mean']:.2f} ± {score['std']:.2f} (random {score['null_mean']:.2f} ± {score['null_std']:.2f}) p_holm {score['p_adjusted']:.3g} CAV accuracy {score['cav_accuracy']:.2f}"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="mocks per domain")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, help="keep everything here (default: a temporary folder)")
    args = parser.parse_args()

    from galmerge.explain import explain_run
    from galmerge.mocks.benchmarks import make_benchmark
    from galmerge.pipeline import train_and_evaluate
    from galmerge.training import TrainConfig

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.out or Path(scratch)
        started = time.perf_counter()
        manifest = make_benchmark("sim2sim", folder / "sim2sim", n=args.n, seed=0, workers=args.workers, overwrite=True)
        drawn = time.perf_counter()
        config = TrainConfig(model="deepmerge", epochs=args.epochs, seed=0, early_stopping_patience=0, n_bootstrap=200)
        result = train_and_evaluate(manifest["files"]["source"], config=config, out=folder / "run", overwrite=True, progress=False)
        trained = time.perf_counter()
        print(f"mocks {drawn - started:.0f} s, training {trained - drawn:.0f} s; source test ROC-AUC {result.record.test.roc_auc.format()}")
        reports = {}
        for domain in ("source", "target"):
            began = time.perf_counter()
            reports[domain] = explain_run(result.run_dir, manifest["files"][domain], sanity=True, concepts="metadata", seed=0, progress=False).to_dict()
            print_report(f"{domain} ({time.perf_counter() - began:.0f} s)", reports[domain])
        (folder / "acceptance.json").write_text(json.dumps(reports, indent=2))
        print(f"\ntotal {time.perf_counter() - started:.0f} s; figures in {result.run_dir / 'explain'}")


if __name__ == "__main__":
    main()
