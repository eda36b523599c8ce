"""Mock throughput per recipe: the whole command, and rendering alone.

    python benchmarks/mock_throughput.py [--recipes sdss-gz hst-f814w ...] [--n 4000] [--workers 2]
    python benchmarks/mock_throughput.py --benchmark --n 4000 --workers 2   # also galmerge mock --benchmark sim2real-sdss

For each recipe:

- **whole command**: ``galmerge mock --recipe R --n N --workers W`` in a subprocess (encounter
  integration, rendering, observation, the shortcut audit and saving included): stamps per
  second per core = N / (wall time x W); and per CPU-second of the command (user + system time
  of it and its workers), which does not depend on what else the machine is running;
- **rendering only**: one merger task and one non-merger task in this process (one core), with
  the time spent integrating encounters taken out.

The machines here are shared: wall-clock rates fall when other jobs run; CPU-second rates much
less so. Each figure is printed with both.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def whole_command(arguments: list[str], *, cores: int) -> tuple[float, float]:
    """Wall seconds and CPU seconds (children) of one galmerge command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "galmerge.cli", *arguments, "--quiet"], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def rendering_only(recipe_name: str) -> tuple[float, float]:
    """Stamps per CPU-second of one merger task and one non-merger task, integration excluded."""
    import numpy as np

    from galmerge.mocks import encounters as encounter_module
    from galmerge.mocks import generate
    from galmerge.mocks.recipes import load_recipe

    recipe = load_recipe(recipe_name)
    integration = [0.0]
    original = encounter_module.simulate_encounters

    def timed(*args, **kwargs):
        start = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            integration[0] += time.process_time() - start

    generate.simulate_encounters = timed
    try:
        generate._non_merger_task(recipe, ["disk"] * 5, 0, 999, np.array([1.0]))  # warm-up: imports, PSFs
        kinds = [k for k, share in recipe.population_shares().items() for _ in range(max(1, round(120 * share)))]
        start = time.process_time()
        batch = generate._non_merger_task(recipe, kinds, 0, 0, np.linspace(0.2, 2.0, 50))
        non_merger = len(batch.images) / (time.process_time() - start)
        integration[0] = 0.0
        start = time.process_time()
        batch = generate._merger_task(recipe, 10, 0, 0)
        merger = len(batch.images) / (time.process_time() - start - integration[0])
    finally:
        generate.simulate_encounters = original
    return merger, non_merger


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="*", default=None, help="bundled recipe names (default: all)")
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--benchmark", action="store_true", help="also time galmerge mock --benchmark sim2real-sdss")
    parser.add_argument("--shared-data", help="folder with the real SDSS data (for --benchmark)")
    args = parser.parse_args()

    from galmerge.mocks.recipes import available_recipes

    recipes = args.recipes or available_recipes()
    print(f"{'recipe':14s} {'whole command':>28s} {'rendering only (1 core)':>34s}")
    print(f"{'':14s} {'stamps/s/core':>14s} {'per CPU-s':>11s}   {'mergers/CPU-s':>15s} {'others/CPU-s':>14s}")
    with tempfile.TemporaryDirectory() as folder:
        for name in recipes:
            out = Path(folder) / f"{name}.h5"
            wall, cpu = whole_command(["mock", "--recipe", name, "--n", str(args.n), "--workers", str(args.workers), "--out", str(out)], cores=args.workers)
            merger, other = rendering_only(name)
            print(f"{name:14s} {args.n / (wall * args.workers):14.1f} {args.n / cpu:11.1f}   {merger:15.1f} {other:14.1f}   (wall {wall:.0f} s, CPU {cpu:.0f} s)", flush=True)
        if args.benchmark:
            command = ["mock", "--benchmark", "sim2real-sdss", "--n", str(args.n), "--workers", str(args.workers), "--out", str(Path(folder) / "s2r")]
            if args.shared_data:
                command += ["--shared-data", args.shared_data]
            wall, cpu = whole_command(command, cores=args.workers)
            print(
                f"\ngalmerge mock --benchmark sim2real-sdss --n {args.n} --workers {args.workers}: wall {wall:.0f} s, CPU {cpu:.0f} s "
                f"(real pictures loaded, sky bank cut, {args.n} mocks rendered and audited)"
            )


if __name__ == "__main__":
    main()
