"""The ``galmerge`` command: a thin shell where every subcommand parses its arguments and calls one library function.

The training options are generated from the configuration sections and the registry of
adaptation methods (:func:`galmerge.training.config.add_train_arguments`). Heavy libraries
(torch, lightning, astropy) are imported inside the subcommands, so ``galmerge --help`` answers
at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DATA_HELP = "data: X.npy,y.npy | X.npy (unlabelled) | set.h5 | catalog.csv | folder of FITS/JPEG/PNG cutouts | one .fits/.jpg | toy[:N] (built-in synthetic set)"
BACKEND_HELP = "auto: PyTorch on a GPU, else ONNX Runtime on the CPU when installed, else PyTorch"
DEVICE_HELP = "auto (a CUDA GPU when PyTorch sees one, else the CPU), cpu, cuda or cuda:N"


def _split_bands(text):
    return None if text is None else [b.strip() for b in text.split(",") if b.strip()]


def cmd_train(args) -> int:
    from galmerge.pipeline import train_and_evaluate
    from galmerge.training.config import TrainConfig, train_overrides

    overrides = train_overrides(args)
    common = {"target": args.target, "progress": not args.quiet}
    if args.resume is not None:
        result = train_and_evaluate(args.source, resume=args.resume, overrides=overrides, **common)
    else:
        config = TrainConfig.from_toml(args.config, **overrides) if args.config else TrainConfig.from_dict(overrides, source="command line")
        result = train_and_evaluate(args.source, config=config, out=args.out, overwrite=args.overwrite, init_from=args.init_from, **common)
    print(f"run directory: {result.run_dir}")
    adaptation = result.config.adaptation  # what --method auto became
    if adaptation.active_methods():
        weight = f" (transfer weight {adaptation.transfer_weight:g})" if adaptation.method != "none" else ""
        print(f"adaptation: {' + '.join(adaptation.active_methods())}{weight}, {result.config.model.batchnorm} BatchNorm")
    for evaluation, title in ((result.record.test, "source test split"), (result.record.target_test, "target test split")):
        if evaluation is not None:
            print(f"{title}: {evaluation.summary()}")
    return 0


def cmd_finetune(args) -> int:
    from galmerge.pipeline import finetune_curve
    from galmerge.training.config import FinetuneOptions

    options = FinetuneOptions(**{name: value for name, value in vars(args).items() if name in FinetuneOptions.__dataclass_fields__})
    curve = finetune_curve(
        args.run,
        args.target_labelled,
        n_labels=[int(k) for k in str(args.n_labels).split(",")],
        unlabelled=args.unlabelled,
        baselines=not args.no_baselines,
        n_folds=args.folds,
        n_repeats=args.repeats,
        out=args.out,
        overwrite=args.overwrite,
        options=options,
        progress=not args.quiet,
    )
    print(curve.summary())
    print(f"wrote {curve.path}/{curve.FILENAME} and {curve.FIGURE}")
    return 0


def cmd_evaluate(args) -> int:
    from galmerge.pipeline import evaluate_run

    evaluation = evaluate_run(
        args.run, args.data, out=args.out, overwrite=args.overwrite, backend=args.backend, device=args.device, n_bootstrap=args.bootstrap, adapt_bn=args.adapt_bn, progress=not args.quiet
    )
    print(evaluation.summary())
    if evaluation.n_excluded:
        print(f"excluded {evaluation.n_excluded} images the run trained or validated on")
    print(f"metrics written to {evaluation.path}")
    return 0


def cmd_adapt_bn(args) -> int:
    from galmerge.pipeline import adapt_run_to_survey

    print(adapt_run_to_survey(args.run, args.images, domain=args.domain, overwrite=args.overwrite, progress=not args.quiet).summary())
    return 0


def cmd_pretrain(args) -> int:
    from galmerge.training.pretrain import PretrainOptions, pretrain_contrastive

    options = PretrainOptions(architecture=args.model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, temperature=args.temperature, seed=args.seed)
    result = pretrain_contrastive(args.images, options=options, out=args.out, overwrite=args.overwrite, progress=not args.quiet)
    print(f"wrote {result.path} (contrastive loss {result.losses[0]:.3f} -> {result.losses[-1]:.3f}); use it with galmerge train --init-from {result.path}")
    return 0


def cmd_explain(args) -> int:
    from galmerge.explain import explain_run

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    explanation = explain_run(
        args.run,
        args.data,
        out=args.out,
        overwrite=args.overwrite,
        methods=methods,
        n_images=args.n,
        layer=args.layer,
        baseline=args.baseline,
        sanity=args.sanity,
        concepts=args.tcav,
        tcav_runs=args.tcav_runs,
        compare=args.compare,
        seed=args.seed,
        progress=not args.quiet,
    )
    print(explanation.summary())
    return 0


def cmd_predict(args) -> int:
    from galmerge.catalog.stream import predict_survey

    result = predict_survey(
        args.run,
        args.data,
        out=args.out,
        catalog=args.catalog,
        size=args.size,
        pixels=args.pixels,
        bands=_split_bands(args.bands),
        overwrite=args.overwrite,
        resume=args.resume,
        backend=args.backend,
        device=args.device,
        tta=args.tta,
        prior=args.prior,
        ood=not args.no_ood,
        statistics=not args.no_statistics,
        cluster=args.cluster,
        batch_size=args.batch_size,
        part_rows=args.part_rows,
        progress=not args.quiet,
    )
    print(result.summary())
    return 0


def cmd_cutout(args) -> int:
    from galmerge.catalog.cutouts import cut_mosaics

    result = cut_mosaics(
        args.mosaics, args.catalog, size=args.size, out=args.out, pixels=args.pixels, bands=_split_bands(args.bands), shard_rows=args.shard_rows, overwrite=args.overwrite, progress=not args.quiet
    )
    rate = result.n_objects / result.seconds if result.seconds > 0 else float("nan")
    print(
        f"objects in {result.n_objects}, cutouts out {result.n_objects}, flagged {result.n_edge} at an edge and {result.n_no_pixels} without pixels, {result.seconds:.1f} s ({rate:,.0f} obj/s) -> {result.path}"
    )
    return 0


def cmd_export(args) -> int:
    from galmerge.catalog.export import export_onnx

    print(f"wrote {export_onnx(args.run, args.out, overwrite=args.overwrite)}")
    return 0


def cmd_convert(args) -> int:
    from galmerge.data import load_imageset

    imageset = load_imageset(args.data, size=args.size, bands=_split_bands(args.bands), label_column=args.label_column, progress=not args.quiet)
    path = imageset.save(args.out, overwrite=args.overwrite)
    print(f"wrote {imageset!r} to {path}")
    return 0


def cmd_mock(args) -> int:
    from galmerge.errors import ConfigError

    if args.list:
        from galmerge.mocks import available_recipes, load_recipe

        for name in available_recipes():
            print(f"{name:16s} {load_recipe(name).description}")
        return 0
    if args.out is None:
        raise ConfigError("mock needs --out (a .h5 file, a folder for --benchmark, a .png for --montage)")
    if args.benchmark:
        from galmerge.mocks.benchmarks import make_benchmark

        manifest = make_benchmark(
            args.benchmark, args.out, n=args.n, seed=args.seed, workers=args.workers, progress=not args.quiet, overwrite=args.overwrite, shared_data=args.shared_data, recipe=args.recipe
        )
        for domain, audit in manifest["audit"].items():
            print(f"{domain}: shortcut audit {'passed' if audit['passed'] else 'FLAGGED ' + ', '.join(audit['flagged'])}")
        print(f"wrote {args.out}/manifest.json")
        return 0
    if args.recipe is None:
        raise ConfigError("mock needs --recipe NAME (see galmerge mock --list) or --benchmark NAME")
    if args.montage:
        from galmerge.mocks.montage import render_montage

        print(f"wrote {render_montage(args.recipe, args.out, seed=args.seed, workers=args.workers, progress=not args.quiet)}")
        return 0
    if args.task == "morphometry":
        return cmd_mock_morphometry(args)
    from galmerge.pipeline import write_mock_set

    result = write_mock_set(args.recipe, args.out, n=args.n, seed=args.seed, pristine=args.pristine, workers=args.workers, overwrite=args.overwrite, progress=not args.quiet)
    print(result.summary())
    return 0


def cmd_audit(args) -> int:
    from galmerge.mocks.audit import audit_files

    report, out = audit_files(args.mocks, real=args.real, out=args.out, overwrite=args.overwrite, progress=not args.quiet)
    width = max(len(s.name) for s in report.statistics + report.combined)
    header = f"{'statistic':{width}s}  {'kind':10s} {'mock AUC':>8s}" + (f" {'real AUC':>8s}" if report.n_real is not None else "")
    print(header)
    for entry in report.statistics + report.combined:
        real = f" {entry.real_auc:8.3f}" if entry.real_auc is not None else ""
        print(f"{entry.name:{width}s}  {entry.kind:10s} {entry.mock_auc:8.3f}{real}{'  FLAGGED' if entry.flagged else ''}")
    print(f"{'passed' if report.passed else 'flagged: ' + ', '.join(report.flagged)}; wrote {out}/audit.json and audit.png")
    return 0 if report.passed else 1


def cmd_calibrate(args) -> int:
    from galmerge.mocks.calibrate import calibrate_recipe

    result = calibrate_recipe(args.recipe, args.real, args.out, rounds=args.rounds, seed=args.seed, cnn=not args.no_cnn, workers=args.workers, overwrite=args.overwrite, progress=not args.quiet)
    for label in ("before", "after"):
        entry = getattr(result, label)
        cnn = f", CNN {entry['realism_cnn_auc']:.3f}" if entry["realism_cnn_auc"] is not None else ""
        print(f"realism score {label} calibration (mock vs real ROC-AUC; 0.5 = indistinguishable): statistics {entry['realism_statistics_auc']:.3f}{cnn}")
    print(f"wrote {result.path}, sky bank {result.sky_bank}, report {result.report.parent}")
    return 0


def cmd_mock_morphometry(args) -> int:
    from galmerge.mocks.morphometry import MorphometryOptions, generate_morphometry
    from galmerge.runs import output_file

    options = MorphometryOptions(psf_file=args.psf_file, psf_pixel_scale_arcsec=args.psf_pixel_scale, renderer=args.renderer, stamp_size=args.stamp_size)
    if args.r_e_pixels:
        options.r_e_pixels = tuple(float(v) for v in args.r_e_pixels.split(","))
    if args.depth_offset:
        options.depth_offset_mag = tuple(float(v) for v in args.depth_offset.split(","))
    out = output_file(args.out, overwrite=args.overwrite)  # refused before anything is rendered
    mocks = generate_morphometry(args.recipe, args.n, seed=args.seed, options=options, progress=not args.quiet)
    print(f"wrote {mocks!r} to {mocks.save(out, overwrite=args.overwrite)}")
    return 0


def cmd_morph_train(args) -> int:
    from galmerge.morphology import MorphometryConfig, train_morphometry

    overrides = {"model": args.model, "epochs": args.epochs, "seed": args.seed, "batch_size": args.batch_size, "lr": args.lr, "apertures": False if args.no_apertures else None}
    config = MorphometryConfig.from_toml(args.config, **overrides) if args.config else MorphometryConfig(**{k: v for k, v in overrides.items() if v is not None})
    run = train_morphometry(args.source, out=args.out, config=config, init_from=args.init_from, overwrite=args.overwrite, progress=not args.quiet)
    summary = ", ".join(f"{name} {v['r2']:.3f} ({v['coverage_1sigma']:.2f})" for name, v in run.metrics["validation"].items())
    print(f"run directory: {run.run_dir}\nvalidation R^2 (share within 1 sigma): {summary}")
    return 0


def cmd_morph_predict(args) -> int:
    from galmerge.morphology import predict_morphometry_file

    path, count = predict_morphometry_file(args.run, args.data, out=args.out, psf_fwhm_arcsec=args.psf_fwhm, overwrite=args.overwrite, progress=not args.quiet)
    print(f"wrote {count} rows to {path}")
    return 0


def cmd_morph_benchmark(args) -> int:
    from galmerge.morphology.benchmark import benchmark_morphometry, format_benchmark

    result = benchmark_morphometry(
        args.run,
        args.data,
        out=args.out,
        fitter=not args.no_fitter,
        fitter_rows=args.fitter_n,
        fitter_catalog=args.fitter_catalog,
        forecast=not args.no_forecast,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    print(format_benchmark(result.record))
    print(f"wrote {result.path}")
    return 0


def cmd_morph_transfer(args) -> int:
    from galmerge.data import load_imageset
    from galmerge.morphology.transfer import finetune_morphometry_curve

    ks = [int(k) for k in args.n_labels.split(",")]
    from astropy.table import Table

    pool_fits = Table.read(args.pool_fits, format="ascii.ecsv") if args.pool_fits else None
    record = finetune_morphometry_curve(
        args.run,
        load_imageset(args.pool, progress=False),
        load_imageset(args.test, progress=False),
        n_labels=ks,
        pool_fits=pool_fits,
        out=args.out,
        epochs=args.epochs,
        seed=args.seed,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    for k in record["n_labels"]:
        point = record["points"][str(k)]
        print(f"K={k:4d}: " + ", ".join(f"{name} {value:.3f}" for name, value in point["r2"].items()) + (f" ({point['labels_dropped']} fits dropped)" if point["labels_dropped"] else ""))
    print(f"wrote {record['path']}/transfer.json and transfer_curve.png")
    return 0


def cmd_measure(args) -> int:
    from galmerge.data import load_imageset
    from galmerge.morphology import MorphologyOptions, measure_morphology
    from galmerge.runs import output_file

    out = output_file(args.out, overwrite=args.overwrite)
    imageset = load_imageset(args.images, size=args.size, progress=not args.quiet)
    table = measure_morphology(imageset, options=MorphologyOptions(band=args.band), workers=args.workers, progress=not args.quiet)
    table.write(out, format={".csv": "ascii.csv", ".fits": "fits"}.get(out.suffix, "ascii.ecsv"), overwrite=args.overwrite)
    print(f"wrote {len(table)} rows to {out} ({int((table['flag'] > 0).sum())} flagged)")
    return 0


def cmd_observe(args) -> int:
    from galmerge.pipeline import write_observed_fits

    print(write_observed_fits(args.image, args.out, recipe=args.recipe, redshift=args.redshift, units=args.units, seed=args.seed, overwrite=args.overwrite))
    return 0


def cmd_experiment(args) -> int:
    from galmerge.pipeline import run_experiment

    record = run_experiment(args.config, args.out, overwrite=args.overwrite, workers=args.workers, progress=not args.quiet)
    header, rows = record.table("transfer")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) if i == 0 else cell.rjust(width) for i, (cell, width) in enumerate(zip(row, widths))))
    print(f"report: {record.report}")
    return 0


def cmd_report(args) -> int:
    from galmerge.report import write_report

    print(f"wrote {write_report(args.path, out=args.out, overwrite=args.overwrite)}")
    return 0


def cmd_demo(args) -> int:
    from galmerge.pipeline import run_demo

    run_demo(out=args.out, overwrite=args.overwrite, n_per_domain=args.n, epochs=args.epochs, workers=args.workers, progress=not args.quiet)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from galmerge import __version__
    from galmerge.training.config import add_finetune_arguments, add_train_arguments

    parser = argparse.ArgumentParser(prog="galmerge", description="Find merging galaxies in telescope images with CNNs.")
    parser.add_argument("--version", action="version", version=f"galmerge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p):
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        return p

    train = common(
        sub.add_parser(
            "train",
            help="train a classifier and evaluate it on its test split",
            description="Train on labelled data (split 70/10/20 by --seed), keep the best checkpoint by --monitor, and score the held-out test split. Options are grouped as in TrainConfig's sections; defaults in brackets.",
        )
    )
    train.add_argument("--source", help=f"labelled training {DATA_HELP}")
    train.add_argument("--target", help=f"images of the domain to adapt to (target labels are never used for training): {DATA_HELP}")
    train.add_argument("--config", type=Path, help="TOML file of training options (see TrainConfig); command-line options win")
    train.add_argument("--out", type=Path, help="new run directory (default runs/<time>-<model>)")
    train.add_argument("--overwrite", action="store_true", help="replace --out if it is an earlier run")
    train.add_argument("--init-from", type=Path, help="start from a run's model (same architecture) or a torchvision resnet18 .pth")
    train.add_argument("--resume", type=Path, help="continue an interrupted run directory from its last checkpoint (only --epochs and hardware options may change)")
    add_train_arguments(train)
    train.set_defaults(func=cmd_train)

    finetune = common(
        sub.add_parser(
            "finetune",
            help="few-label transfer: the run fine-tuned on K labelled survey images, against the same labels alone; curve of scores against K",
            description="Repeated stratified cross-validation over the labelled survey images: for every fold, K labels (half mergers) are drawn from the other folds; the run (after AdaBN on the unlabelled survey) is fine-tuned on them, and baselines (the same network from scratch, gradient boosting on image statistics) are trained on them; every labelled image is scored out of fold.",
        )
    )
    finetune.add_argument("run", type=Path, help="run directory")
    finetune.add_argument("--target-labelled", required=True, help=f"labelled survey images: {DATA_HELP}")
    finetune.add_argument("--unlabelled", help=f"unlabelled survey images for AdaBN (default: the run's target images): {DATA_HELP}")
    finetune.add_argument("--n-labels", default="0,10,25,50,100", help="comma-separated K values (default 0,10,25,50,100)")
    finetune.add_argument("--folds", type=int, default=5, help="stratified folds (default 5)")
    finetune.add_argument("--repeats", type=int, default=2, help="repeats of the cross-validation (default 2)")
    finetune.add_argument("--no-baselines", action="store_true", help="only the fine-tuned run (no from-scratch and statistics baselines)")
    finetune.add_argument("--out", type=Path, help="new folder (default <run>/finetune)")
    finetune.add_argument("--overwrite", action="store_true", help="replace --out if it is an earlier fine-tuning folder")
    add_finetune_arguments(finetune)
    finetune.set_defaults(func=cmd_finetune)

    evaluate = common(sub.add_parser("evaluate", help="score a trained run on labelled data", description="Score a run on labelled data; images the run trained or validated on are excluded."))
    evaluate.add_argument("run", type=Path, help="run directory")
    evaluate.add_argument("--data", required=True, help=f"labelled {DATA_HELP}")
    evaluate.add_argument("--out", type=Path, help="new folder for metrics.json, predictions.ecsv and figures (default <run>/evaluations/<data>)")
    evaluate.add_argument("--overwrite", action="store_true", help="replace --out if it is an earlier evaluation")
    evaluate.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"], help=BACKEND_HELP)
    evaluate.add_argument("--device", default="auto", help=DEVICE_HELP)
    evaluate.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for intervals (default 1000)")
    evaluate.add_argument("--adapt-bn", metavar="IMAGES", help=f"recompute BatchNorm statistics on these unlabelled images of the survey first (AdaBN; not saved): {DATA_HELP}")
    evaluate.set_defaults(func=cmd_evaluate)

    adapt_bn = common(
        sub.add_parser(
            "adapt-bn",
            help="recompute a run's BatchNorm statistics on a new survey's unlabelled images (AdaBN)",
            description="Adds a BatchNorm domain with the statistics of the given unlabelled images to the run's model and predicts with it from then on; the model's other domains are kept.",
        )
    )
    adapt_bn.add_argument("run", type=Path, help="run directory")
    adapt_bn.add_argument("images", help=f"unlabelled images of the survey (labels are ignored): {DATA_HELP}")
    adapt_bn.add_argument("--domain", default="survey", help="name of the new BatchNorm domain (default survey)")
    adapt_bn.add_argument("--overwrite", action="store_true", help="replace a domain of that name")
    adapt_bn.set_defaults(func=cmd_adapt_bn)

    pretrain = common(
        sub.add_parser(
            "pretrain",
            help="pretrain a network contrastively on a survey's unlabelled images (SimCLR)",
            description="Self-supervised pretraining on unlabelled survey images; writes a model file to start training from (galmerge train --init-from FILE).",
        )
    )
    pretrain.add_argument("images", help=f"unlabelled images of the survey: {DATA_HELP}")
    pretrain.add_argument("--out", type=Path, required=True, help="model file to write (.safetensors)")
    pretrain.add_argument("--model", default="deepmerge", help="architecture (default deepmerge)")
    pretrain.add_argument("--epochs", type=int, default=40, help="passes over the images (default 40)")
    pretrain.add_argument("--batch-size", type=int, default=256, help="images per step, two views each (default 256)")
    pretrain.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 2e-3)")
    pretrain.add_argument("--temperature", type=float, default=0.2, help="of the contrastive loss (default 0.2)")
    pretrain.add_argument("--seed", type=int, default=0)
    pretrain.add_argument("--overwrite", action="store_true")
    pretrain.set_defaults(func=cmd_pretrain)

    explain = common(
        sub.add_parser(
            "explain",
            help="what a run's network looks at: activations, saliency, Grad-CAM, TCAV, sanity checks",
            description="Explain a run's model on images it never trained on: feature maps and dead filters, saliency, SmoothGrad, Integrated Gradients and Grad-CAM montages (scored against the ground-truth masks of mocks), and optionally TCAV concepts and randomisation sanity checks. Writes PNG figures and explain.json.",
        )
    )
    explain.add_argument("run", type=Path, help="run directory or model.safetensors")
    explain.add_argument("--data", required=True, help=f"images to explain: {DATA_HELP}")
    explain.add_argument("--methods", default="activations,saliency,smoothgrad,ig,gradcam", help="comma-separated, from activations, saliency, smoothgrad, ig, gradcam (default all)")
    explain.add_argument("--n", type=int, default=16, help="images in the montages, half mergers (default 16)")
    explain.add_argument("--layer", help="Grad-CAM layer (default the last conv block: relu3 for deepmerge, layer4 for resnet18)")
    explain.add_argument("--baseline", default="zeros", choices=["zeros", "blurred", "sky_noise"], help="Integrated Gradients baseline (default zeros: an image without light)")
    explain.add_argument(
        "--tcav",
        nargs="?",
        const="metadata",
        metavar="CONCEPTS_DIR",
        help="run TCAV for the merger class; concepts from CONCEPTS_DIR (one set per entry, random* entries as counterparts) or, without it, from the data's mock metadata and masks",
    )
    explain.add_argument("--tcav-runs", type=int, default=10, help="random counterpart sets per concept (default 10)")
    explain.add_argument("--sanity", action="store_true", help="cascading and independent model-randomisation checks (Adebayo et al. 2018)")
    explain.add_argument("--compare", help=f"a second set (e.g. the target domain) for a feature-space Grad-CAM comparison: {DATA_HELP}")
    explain.add_argument("--seed", type=int, default=0)
    explain.add_argument("--out", type=Path, help="folder (default <run>/explain/<data>)")
    explain.add_argument("--overwrite", action="store_true", help="replace --out if it is an earlier explanation")
    explain.set_defaults(func=cmd_explain)

    predict = common(
        sub.add_parser(
            "predict",
            help="write a catalog of merger probabilities, streaming, resumable, on one machine or a Dask cluster",
            description="Predict p(merger) for every object and write the catalog as it goes (Parquet, FITS, ECSV or CSV by extension). A killed run continues with --resume.",
        )
    )
    predict.add_argument("run", help="run directory or model.safetensors; RUN1,RUN2,... for an ensemble (mean and spread)")
    predict.add_argument("data", help=f"ImageSet .h5, folder of cutout shards (galmerge cutout), mosaics with --catalog, or {DATA_HELP}")
    predict.add_argument("--out", type=Path, required=True, help="catalog file: .parquet, .fits, .ecsv or .csv")
    predict.add_argument("--catalog", help="source list (CSV, ECSV, FITS) with RA/Dec: DATA are then mosaics, cut on the fly")
    predict.add_argument("--size", help="cutout side with --catalog: pixels (75), arcsec (3arcsec) or a radius column multiple (4*petroR90_r)")
    predict.add_argument("--pixels", type=int, help="resample cutouts to this side")
    predict.add_argument("--bands", help="comma-separated band names of the mosaics")
    predict.add_argument("--overwrite", action="store_true", help="replace an earlier galmerge catalog (or its unfinished parts)")
    predict.add_argument("--resume", action="store_true", help="continue an interrupted catalog where it stopped")
    predict.add_argument("--cluster", help="Dask: local, local:N, tcp://HOST:PORT, slurm:N or pbs:N (default: this process)")
    predict.add_argument("--prior", type=float, help="survey merger fraction: move p(merger) from the training prior to it (Bayes' rule)")
    predict.add_argument("--no-ood", action="store_true", help="skip the distance to the training images (ood_score)")
    predict.add_argument("--no-statistics", action="store_true", help="skip the runs' statistics classifier (p_merger_statistics; it measures each image, about 1-2 ms per image on a CPU core)")
    predict.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"], help=BACKEND_HELP)
    predict.add_argument("--device", default="auto", help=DEVICE_HELP)
    predict.add_argument("--tta", action="store_true", help="average over the 8 flips/rotations; adds p_merger_std")
    predict.add_argument("--batch-size", type=int, default=512)
    predict.add_argument("--part-rows", type=int, default=16384, help="rows per written part (the most a kill can cost)")
    predict.set_defaults(func=cmd_predict)

    cutout = common(
        sub.add_parser(
            "cutout",
            help="cut every source of a catalog from survey mosaics into ImageSet files",
            description="Cut sources from mosaics (one FITS per band, comma-separated; or folders of tiles) by their RA/Dec through the WCS; bands on other grids are reprojected; edge, off-footprint and NaN cutouts are flagged, never dropped.",
        )
    )
    cutout.add_argument("mosaics", nargs="+", help="g.fits,r.fits,i.fits (bands of one tile), a multi-band FITS, or a folder of tiles")
    cutout.add_argument("--catalog", required=True, help="source list (CSV, ECSV, FITS) with RA/Dec (or x/y) and ids")
    cutout.add_argument("--size", required=True, help="cutout side: pixels (75), arcsec (3arcsec) or a radius column multiple (4*petroR90_r)")
    cutout.add_argument("--out", type=Path, required=True, help="one ImageSet .h5, or a folder of shards")
    cutout.add_argument("--pixels", type=int, help="resample cutouts to this side (default: as cut; 75 for radius sizes)")
    cutout.add_argument("--bands", help="comma-separated band names (default: FILTER keywords)")
    cutout.add_argument("--shard-rows", type=int, default=50_000, help="objects per shard of a folder output")
    cutout.add_argument("--overwrite", action="store_true")
    cutout.set_defaults(func=cmd_cutout)

    export = common(sub.add_parser("export", help="export a run's model (ONNX, with preprocessing and class order in the metadata)"))
    export.add_argument("run", type=Path, help="run directory or model.safetensors")
    export.add_argument("--format", default="onnx", choices=["onnx"])
    export.add_argument("--out", type=Path, required=True, help="model.onnx")
    export.add_argument("--overwrite", action="store_true")
    export.set_defaults(func=cmd_export)

    convert = common(sub.add_parser("convert", help="convert any supported data to one ImageSet file (.h5)"))
    convert.add_argument("data", help=DATA_HELP)
    convert.add_argument("--out", type=Path, required=True, help="ImageSet file (.h5)")
    convert.add_argument("--size", type=int, help="resize pictures/FITS cutouts to SIZE x SIZE pixels")
    convert.add_argument("--bands", help="comma-separated band names")
    convert.add_argument("--label-column", help="label column of a CSV catalog (default is_merger or label)")
    convert.add_argument("--overwrite", action="store_true")
    convert.set_defaults(func=cmd_convert)

    mock = common(
        sub.add_parser(
            "mock",
            help="make labelled mock mergers and non-mergers for a survey",
            description="Draw mergers (restricted three-body encounters, by the recipe's merger definition) and non-mergers (the recipe's population), frame and observe both alike with a survey recipe, audit them for shortcuts, and save an ImageSet with labels, metadata and tidal/companion masks.",
        )
    )
    mock.add_argument("--recipe", help="survey recipe name or TOML file (galmerge mock --list)")
    mock.add_argument(
        "--benchmark", choices=["sim2sim", "sim2real-sdss"], help="write a ready-made domain-adaptation benchmark into the folder --out (--recipe replaces the sim2real-sdss source recipe)"
    )
    mock.add_argument("--montage", action="store_true", help="write a labelled montage PNG (mergers by stage, non-mergers by kind, two depths)")
    mock.add_argument("--list", action="store_true", help="list the bundled recipes")
    mock.add_argument("--n", type=int, default=2000, help="images (per domain for --benchmark)")
    mock.add_argument("--seed", type=int, default=0)
    mock.add_argument("--out", type=Path)
    mock.add_argument("--workers", type=int, help="processes (default: all cores); the output does not depend on it")
    mock.add_argument("--pristine", action="store_true", help="no noise and no field sources")
    mock.add_argument("--task", default="mergers", choices=["mergers", "morphometry"], help="mergers (default) or morphometry: single Sersic galaxies with their parameters in the table")
    mock.add_argument("--psf-file", help="morphometry: FITS file of PSF images (one per HDU) used instead of the recipe's PSF")
    mock.add_argument("--psf-pixel-scale", type=float, help="morphometry: pixel scale of --psf-file in arcsec (default its PIXSCALE)")
    mock.add_argument("--stamp-size", type=int, help="morphometry: stamp side in pixels (default the recipe's)")
    mock.add_argument("--r-e-pixels", help="morphometry: LOW,HIGH major-axis r_e range in pixels (default 1,20)")
    mock.add_argument("--depth-offset", help="morphometry: LOW,HIGH added to the recipe depth in mag (default -1,1; negative: noisier)")
    mock.add_argument("--renderer", default="kspace", choices=["kspace", "galsim"], help="morphometry: fast k-space renderer (default) or GalSim")
    mock.add_argument("--shared-data", type=Path, help="folder with the real SDSS data for sim2real-sdss (default ../shared/data)")
    mock.add_argument("--overwrite", action="store_true")
    mock.set_defaults(func=cmd_mock)

    morph = sub.add_parser("morph", help="CNN morphometry: Sersic parameters with uncertainties, against a classical fitter")
    morph_sub = morph.add_subparsers(dest="morph_command", required=True, metavar="STEP")
    morph_train = common(morph_sub.add_parser("train", help="train a morphometry network on a set with Sersic truth (galmerge mock --task morphometry)"))
    morph_train.add_argument("--source", required=True, help="morphometry set (.h5)")
    morph_train.add_argument("--out", type=Path, help="new run directory")
    morph_train.add_argument("--config", type=Path, help="TOML of MorphometryConfig options")
    morph_train.add_argument("--model", help="deepmerge (default) or resnet18")
    morph_train.add_argument("--epochs", type=int)
    morph_train.add_argument("--batch-size", type=int)
    morph_train.add_argument("--lr", type=float)
    morph_train.add_argument("--seed", type=int)
    morph_train.add_argument("--init-from", type=Path, help="start from another morphometry run")
    morph_train.add_argument("--no-apertures", action="store_true", help="no aperture magnitudes as inputs (the magnitude from the pixels alone)")
    morph_train.add_argument("--overwrite", action="store_true")
    morph_train.set_defaults(func=cmd_morph_train)
    morph_predict = common(morph_sub.add_parser("predict", help="catalog of Sersic parameters and uncertainties"))
    morph_predict.add_argument("run", type=Path)
    morph_predict.add_argument("data", help=DATA_HELP)
    morph_predict.add_argument("--out", type=Path, required=True, help="catalog: .ecsv, .csv or .fits")
    morph_predict.add_argument("--psf-fwhm", type=float, help="PSF FWHM in arcsec when the data's table has none")
    morph_predict.add_argument("--overwrite", action="store_true")
    morph_predict.set_defaults(func=cmd_morph_predict)
    morph_bench = common(morph_sub.add_parser("benchmark", help="CNN and Imfit side by side on a set with truth: R2, bias, NMAD, outliers by S/N and size, time per galaxy"))
    morph_bench.add_argument("run", type=Path)
    morph_bench.add_argument("--data", required=True, help="morphometry set with truth (.h5)")
    morph_bench.add_argument("--out", type=Path, required=True, help="folder for benchmark.json and figures")
    morph_bench.add_argument("--fitter-n", type=int, help="fit only the first N stamps (both methods are also scored on those)")
    morph_bench.add_argument("--fitter-catalog", type=Path, help="fitter.ecsv of an earlier benchmark on the same stamps, reused instead of fitting again")
    morph_bench.add_argument("--no-fitter", action="store_true")
    morph_bench.add_argument("--no-forecast", action="store_true", help="skip the Fisher forecast of the R^2 an efficient estimator could reach (~30-60 ms per 75 px stamp)")
    morph_bench.add_argument("--overwrite", action="store_true")
    morph_bench.set_defaults(func=cmd_morph_benchmark)
    morph_transfer = common(morph_sub.add_parser("transfer", help="few-label transfer curve: fine-tune on K fitter-labelled stamps of a new domain"))
    morph_transfer.add_argument("run", type=Path)
    morph_transfer.add_argument("--pool", required=True, help="stamps of the new domain to label with the fitter (.h5)")
    morph_transfer.add_argument("--test", required=True, help="stamps of the new domain with truth (.h5)")
    morph_transfer.add_argument("--pool-fits", type=Path, help="Imfit fits of the pool's first stamps (an earlier run's pool_fits.ecsv), reused instead of fitting again")
    morph_transfer.add_argument("--n-labels", default="0,25,50,100,200")
    morph_transfer.add_argument("--epochs", type=int, default=40)
    morph_transfer.add_argument("--seed", type=int, default=0)
    morph_transfer.add_argument("--out", type=Path, required=True)
    morph_transfer.add_argument("--overwrite", action="store_true")
    morph_transfer.set_defaults(func=cmd_morph_transfer)

    measure = common(sub.add_parser("measure", help="non-parametric morphology (CAS, Gini-M20, MID, shape asymmetry) of every image, with statmorph"))
    measure.add_argument("images", help=DATA_HELP)
    measure.add_argument("--out", type=Path, required=True, help="table: .ecsv (default), .csv or .fits")
    measure.add_argument("--band", type=int, help="band index measured (default: the sum of the bands)")
    measure.add_argument("--size", type=int, help="resize pictures/FITS cutouts to SIZE x SIZE pixels")
    measure.add_argument("--workers", type=int, default=1)
    measure.add_argument("--overwrite", action="store_true")
    measure.set_defaults(func=cmd_measure)

    audit = common(
        sub.add_parser(
            "audit",
            help="check labelled mocks for shortcuts: simple statistics that give the label away",
            description="Measure framing, background, display and shape statistics of every stamp and report how well each separates mergers from non-mergers (ROC-AUC), beside real labelled images when given, plus combined classifiers. Writes audit.json and audit.png; exits 1 when a statistic is flagged.",
        )
    )
    audit.add_argument("mocks", type=Path, help=f"labelled stamps: {DATA_HELP}")
    audit.add_argument("--real", help="real labelled images of the same kind (catalog CSV, ImageSet, folder), e.g. gz1_dev/labels.csv")
    audit.add_argument("--out", type=Path, help="folder for audit.json and audit.png (default <mocks>_audit)")
    audit.add_argument("--overwrite", action="store_true")
    audit.set_defaults(func=cmd_audit)

    calibrate = common(
        sub.add_parser(
            "calibrate",
            help="fit a survey recipe to real pictures of the survey (display, field of view, population, real sky)",
            description="Cut real sky backgrounds from unlabelled real pictures, fit the recipe's display, field of view and non-merger population so that mock statistics match the real ones, and write the calibrated recipe, its sky bank, a report and the realism score before and after. Labels are never used.",
        )
    )
    calibrate.add_argument("recipe", help="recipe name or TOML file with a [display] and fov_r90 (e.g. sdss-gri)")
    calibrate.add_argument("--real", required=True, help="unlabelled real pictures: a folder (with index.csv or images/), a catalog CSV or an ImageSet file")
    calibrate.add_argument("--out", type=Path, required=True, help="calibrated recipe (.toml); the sky bank and report are written beside it")
    calibrate.add_argument("--rounds", type=int, default=2, help="fitting rounds (default 2)")
    calibrate.add_argument("--no-cnn", action="store_true", help="skip the pixel-CNN realism score (about a minute)")
    calibrate.add_argument("--seed", type=int, default=0)
    calibrate.add_argument("--workers", type=int, help="processes for mock generation")
    calibrate.add_argument("--overwrite", action="store_true")
    calibrate.set_defaults(func=cmd_calibrate)

    observe = common(
        sub.add_parser(
            "observe",
            help="make an idealised simulation image look like a survey's",
            description="Resample, convolve, add noise (and render colour JPEGs) to a FITS image with a kpc or arcsec pixel scale (CDELT1/CUNIT1, PIXKPC or PIXSCALE).",
        )
    )
    observe.add_argument("image", type=Path, help="FITS image (H, W) or cube (bands, H, W)")
    observe.add_argument("--recipe", required=True)
    observe.add_argument("--redshift", type=float, help="needed when the scale is in kpc")
    observe.add_argument("--units", default="nanomaggies", choices=["nanomaggies", "mag_arcsec2"])
    observe.add_argument("--seed", type=int, default=0)
    observe.add_argument("--out", type=Path, required=True)
    observe.add_argument("--overwrite", action="store_true")
    observe.set_defaults(func=cmd_observe)

    experiment = common(
        sub.add_parser(
            "experiment",
            help="run a protocol (methods x seeds) and write the DeepMerge II table and a report",
            description="Trains every method of a TOML protocol for every seed, scores source and target, and writes table.csv/table.md, figures, experiment.json and report.html (see configs/).",
        )
    )
    experiment.add_argument("config", type=Path, help="protocol TOML (configs/sim2sim.toml, configs/sim2real-sdss.toml)")
    experiment.add_argument("--out", type=Path, help="new folder (default runs/experiment-<name>)")
    experiment.add_argument("--overwrite", action="store_true", help="replace --out if it is an earlier experiment")
    experiment.add_argument("--workers", type=int, help="processes for mock generation")
    experiment.set_defaults(func=cmd_experiment)

    report = common(sub.add_parser("report", help="write a self-contained HTML report of a run or experiment"))
    report.add_argument("path", type=Path, help="run directory or experiment folder")
    report.add_argument("--out", type=Path, help="HTML file (default <path>/report.html)")
    report.add_argument("--overwrite", action="store_true", help="replace an existing page")
    report.set_defaults(func=cmd_report)

    demo = common(sub.add_parser("demo", help="a reduced sim2sim experiment (noDA, MMD, DANN; one seed) with its HTML report"))
    demo.add_argument("--out", type=Path, help="new folder (default runs/demo-<time>)")
    demo.add_argument("--overwrite", action="store_true", help="replace --out if it is an earlier demo")
    demo.add_argument("--n", type=int, default=2500, help="mocks per domain (default 2500)")
    demo.add_argument("--epochs", type=int, default=15)
    demo.add_argument("--workers", type=int)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from galmerge.errors import GalmergeError

    try:
        return args.func(args)
    except GalmergeError as error:
        print(f"galmerge: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("galmerge: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
