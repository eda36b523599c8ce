"""Mock stamps per second per core, for each class, with encounters reused across stamps.

    python benchmarks/mock_throughput.py [--recipe deepmerge-hst] [--tasks 3]

Each class runs whole generation tasks in this one process (one core) after a warm-up task:
a merger task integrates a few encounters and renders many stamps of each (snapshot, view,
redshift and galaxy look drawn anew each time; see ``MockOptions``), a non-merger task renders
as many galaxies. Also prints the
cost of the encounter integration alone, and, for comparison, a merger rendered from its own
encounter (no reuse). Medians over tasks; the machines here are shared.
"""

from __future__ import annotations

import argparse
import statistics
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="deepmerge-hst")
    parser.add_argument("--tasks", type=int, default=3)
    args = parser.parse_args()

    import numpy as np

    from galmerge.mocks.encounters import draw_encounter_parameters, simulate_encounters
    from galmerge.mocks.generate import MockOptions, _merger_task, _non_merger_task
    from galmerge.mocks.recipes import load_recipe

    recipe = load_recipe(args.recipe)
    options = MockOptions()
    per_task = options.encounters_per_task * options.stamps_per_encounter
    _non_merger_task(recipe, options, 0, 999, 10)  # warm-up: imports, cosmology tables, PSFs

    def rate(function) -> tuple[float, list[float]]:
        rates = []
        for task in range(args.tasks):
            start = time.perf_counter()
            function(task)
            rates.append(per_task / (time.perf_counter() - start))
        return statistics.median(rates), rates

    print(f"recipe {recipe.name}: {recipe.stamp_size}x{recipe.stamp_size}x{len(recipe.bands)} stamps, one core, medians of {args.tasks} tasks\n")
    non_merger, all_non = rate(lambda task: _non_merger_task(recipe, options, 0, task, per_task))
    merger, all_merger = rate(lambda task: _merger_task(recipe, options, 0, task))
    print(f"{'non-mergers (disks, spheroids, clumpy, projected pairs)':58s} {non_merger:7.1f} stamps/s   ({', '.join(f'{r:.0f}' for r in all_non)})")
    label = f"mergers, encounters reused ({options.stamps_per_encounter} stamps each)"
    print(f"{label:58s} {merger:7.1f} stamps/s   ({', '.join(f'{r:.0f}' for r in all_merger)})")

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    simulate_encounters([draw_encounter_parameters(rng, n_particles=options.n_particles) for _ in range(options.encounters_per_task)], rng)
    per_encounter = (time.perf_counter() - start) / options.encounters_per_task
    single = MockOptions(encounters_per_task=1, stamps_per_encounter=1)
    start = time.perf_counter()
    for task in range(5):
        _merger_task(recipe, single, 1, task)
    no_reuse = 5 / (time.perf_counter() - start)
    print(f"{'encounter integration alone':58s} {per_encounter:7.3f} s per encounter")
    print(f"{'mergers without reuse (one stamp per encounter)':58s} {no_reuse:7.1f} stamps/s")
    print(f"\n20,000 stamps (half mergers) on 2 cores: ~{20000 / (2 * 2 / (1 / merger + 1 / non_merger)) / 60:.1f} min before matching")


if __name__ == "__main__":
    main()
