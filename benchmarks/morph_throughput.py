"""Time per galaxy of the morphometry CNN and of the Imfit Sersic fit on the same stamps, same CPU, one run.

    python benchmarks/morph_throughput.py RUN [--data sersic_test.h5] [--n-cnn 2000] [--n-fit 30] [--repeats 3]

Both use one thread of one core (torch.set_num_threads(1); Imfit with maxThreads=1) and are
timed in CPU seconds of this process (time.process_time), so other jobs on a shared machine
slow the wall clock but not the figures. CNN: the catalog path (preprocessing, network,
uncertainties, flags) on ``--n-cnn`` stamps, median of ``--repeats``. Fitter: mean CPU seconds
per stamp over the first ``--n-fit`` stamps (fits vary by 10x from stamp to stamp, so the mean is
the throughput). Without ``--data`` the stamps are drawn with the run's recipe at S/N 10-1000.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("--data", help="morphometry set (default: drawn here)")
    parser.add_argument("--n-cnn", type=int, default=2000)
    parser.add_argument("--n-fit", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from galmerge.data import ImageSet, concatenate
    from galmerge.mocks.morphometry import MorphometryOptions, generate_morphometry, psf_images_for
    from galmerge.mocks.realism.noise import electrons_per_nanomaggy
    from galmerge.morphology import fit_sersic, predict_morphometry
    from galmerge.morphology.network import MorphometryModel

    model = MorphometryModel.load(args.run)
    if args.data:
        stamps = ImageSet.load(args.data)
    else:
        options = MorphometryOptions(stamp_size=model.spec.input_size)
        stamps = generate_morphometry("hst-f160w", max(args.n_cnn, args.n_fit), seed=99, options=options, progress=False)
    cnn_set = stamps if len(stamps) >= args.n_cnn else concatenate([stamps] * int(np.ceil(args.n_cnn / len(stamps))))
    cnn_set = cnn_set[np.arange(args.n_cnn)]
    torch.set_num_threads(1)
    predict_morphometry(model, cnn_set[np.arange(64)])  # warm-up
    cnn = []
    for _ in range(args.repeats):
        started = time.process_time()
        predict_morphometry(model, cnn_set)
        cnn.append((time.process_time() - started) / len(cnn_set))
    cnn_seconds = statistics.median(cnn)
    info = stamps.meta.meta
    fits = fit_sersic(stamps[np.arange(args.n_fit)], psf_images_for(stamps), electrons_per_unit=electrons_per_nanomaggy(zeropoint=info["zeropoint"], exptime_s=info["exptime_s"]), progress=False)
    fit_seconds = float(np.nansum(fits["cpu_seconds"]) / len(fits))
    print(f"stamps: {stamps.image_shape[0]}x{stamps.image_shape[1]} px, {stamps.source}")
    print(f"CNN ({model.spec.architecture} + regression head), 1 thread: {cnn_seconds * 1e3:.3f} ms per galaxy (median of {args.repeats} x {len(cnn_set)})")
    print(f"Imfit Sersic fit, 1 thread:    {fit_seconds:.3f} s per galaxy (mean of {len(fits)}; median {np.nanmedian(fits['cpu_seconds']):.3f} s)")
    print(f"CNN is {fit_seconds / cnn_seconds:.0f}x faster per galaxy")


if __name__ == "__main__":
    main()
