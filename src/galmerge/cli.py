"""The ``galmerge`` command: a thin shell where every subcommand calls one library function.

Heavy libraries (torch, lightning, astropy) are imported inside the subcommands, so
``galmerge --help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DATA_HELP = (
    "data: X.npy,y.npy | X.npy (unlabelled) | set.h5 | catalog.csv | folder of FITS/JPEG/PNG "
    "cutouts | one .fits/.jpg | toy[:N] (built-in synthetic set)"
)


def _split_bands(text):
    return None if text is None else [b.strip() for b in text.split(",") if b.strip()]


def _train_overrides(args) -> dict:
    values = {
        "model": args.model, "epochs": args.epochs, "seed": args.seed, "batch_size": args.batch_size,
        "lr": args.lr, "input_size": args.input_size, "stretch": args.stretch, "accelerator": args.accelerator,
        "early_stopping_patience": args.patience, "lr_schedule": args.lr_schedule, "monitor": args.monitor,
        "method": args.method, "transfer_weight": args.transfer_weight, "entropy_weight": args.entropy_weight,
        "fisher_w_intra": args.fisher_w_intra, "fisher_w_inter": args.fisher_w_inter, "dann_lr_multiplier": args.dann_lr_multiplier,
    }
    if args.no_augment:
        values["augment"] = False
    if args.fisher:
        values["fisher"] = True
    if args.entropy:
        values["entropy"] = True
    return {k: v for k, v in values.items() if v is not None}


def cmd_train(args) -> int:
    from galmerge.training import TrainConfig, train

    overrides = _train_overrides(args)
    if args.resume is not None:
        config = TrainConfig(epochs=overrides["epochs"]) if "epochs" in overrides else None
        result = train(args.source, target=args.target, config=config, resume=args.resume, progress=not args.quiet)
    else:
        if args.source is None:
            from galmerge.errors import ConfigError

            raise ConfigError("train needs --source DATA (or --resume RUN)")
        config = TrainConfig.from_toml(args.config, **overrides) if args.config else TrainConfig.from_dict(overrides, source="command line")
        result = train(args.source, target=args.target, config=config, out=args.out, overwrite=args.overwrite, init_from=args.init_from, progress=not args.quiet)
    print(f"run directory: {result.run_dir}")
    for name, title in (("test", "source test split"), ("target_test", "target test split")):
        if name in result.metrics:
            print(f"{title}: {_summary(result.metrics[name])}")
    return 0


def cmd_finetune(args) -> int:
    from galmerge.training.finetune import FinetuneOptions, finetune_curve

    ks = [int(k) for k in str(args.n_labels).split(",")]
    options = FinetuneOptions(mode="head" if args.head_only else "full", lr=args.lr, layer_decay=args.layer_decay, epochs=args.epochs, seed=args.seed, with_adaptation=args.with_adaptation)
    curve = finetune_curve(args.run, args.target_labelled, n_labels=ks, out=args.out, options=options, progress=not args.quiet)
    print(f"wrote {curve['path']}/finetune.json and finetune_curve.png ({curve['n_evaluation']} evaluation images, {curve['n_evaluation_mergers']} mergers)")
    return 0


def cmd_evaluate(args) -> int:
    from galmerge.evaluation import evaluate_run

    report = evaluate_run(args.run, args.data, out=args.out, overwrite=args.overwrite, backend=args.backend, n_bootstrap=args.bootstrap, progress=not args.quiet)
    print(_summary(report))
    if report["n_excluded"]:
        print(f"excluded {report['n_excluded']} images the run trained or validated on")
    print(f"metrics written to {report['path']}")
    return 0


def cmd_explain(args) -> int:
    from galmerge.explain import explain_run

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    report = explain_run(
        args.run, args.data, out=args.out, overwrite=args.overwrite, methods=methods, n_images=args.n, layer=args.layer,
        baseline=args.baseline, sanity=args.sanity, concepts=args.tcav, tcav_runs=args.tcav_runs, compare=args.compare,
        seed=args.seed, progress=not args.quiet,
    )
    print(_explain_summary(report))
    return 0


def _explain_summary(report: dict) -> str:
    classes = report["images"]["class"]
    lines = [f"explained {len(classes)} images ({sum(classes)} mergers) of {report['data']} with {', '.join(report['methods'])}"]
    if report["n_excluded"]:
        lines.append(f"excluded {report['n_excluded']} images the run trained or validated on")
    if "dead_filters" in report:
        lines.append("dead filters: " + ", ".join(f"{r['layer']} {len(r['dead'])}/{r['n_filters']}" for r in report["dead_filters"]))
    for feature, methods in report.get("mask_scores", {}).items():
        lines.append(f"{feature} mask (share of |attribution| inside / pointing game; shuffled masks in brackets):")
        for method, entry in methods.items():
            lines.append(f"  {method:<16} {entry['share_in_mask']:.3f} ({entry['shuffled_share_in_mask']:.3f})  {entry['pointing_game']:.3f} ({entry['shuffled_pointing_game']:.3f})  n={entry['n_images']}")
    for mode, check in report.get("randomisation", {}).items():
        finals = ", ".join(f"{m} {v:.2f}" for m, v in check["final_spearman_abs"].items())
        lines.append(f"{mode} randomisation, Spearman |map| after: {finals}; flagged: {', '.join(check['flagged']) or 'none'}")
    if "tcav" in report:
        lines.append(f"TCAV significant concepts (merger class): {', '.join(report['tcav']['significant']) or 'none'}")
    lines.append(f"figures and explain.json in {Path(report['path']).parent}")
    return "\n".join(lines)


def cmd_predict(args) -> int:
    from galmerge.catalog import predict_catalog_file

    path, count = predict_catalog_file(args.run, args.data, out=args.out, overwrite=args.overwrite, backend=args.backend, tta=args.tta, batch_size=args.batch_size, progress=not args.quiet)
    print(f"wrote {count} rows to {path}")
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

        manifest = make_benchmark(args.benchmark, args.out, n=args.n, seed=args.seed, workers=args.workers, progress=not args.quiet, overwrite=args.overwrite, shared_data=args.shared_data, recipe=args.recipe)
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
    from galmerge.mocks import make_mock_file

    result = make_mock_file(args.recipe, args.n, args.out, seed=args.seed, workers=args.workers, pristine=args.pristine, overwrite=args.overwrite, progress=not args.quiet)
    print(f"wrote {result.mocks!r} to {result.path}")
    print(f"KS statistics mergers vs non-mergers (noiseless): {result.mocks.meta.meta['ks_statistics']}")
    print(f"shortcut audit: {'passed' if result.audit.passed else 'FLAGGED ' + ', '.join(result.audit.flagged)} (full audit: galmerge audit {result.path})")
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


def cmd_observe(args) -> int:
    from astropy.io import fits

    from galmerge.mocks import observe_fits

    stamp = observe_fits(args.image, recipe=args.recipe, redshift=args.redshift, units=args.units, seed=args.seed)
    if args.out.exists() and not args.overwrite:
        from galmerge.errors import OutputExistsError

        raise OutputExistsError(f"{args.out}: already exists; choose another --out or pass --overwrite")
    header = fits.Header({"PIXSCALE": stamp.pixel_scale_arcsec, "BUNIT": "nanomaggy" if stamp.bands[0] != "R" else "RGB 0-1"})
    for i, band in enumerate(stamp.bands):
        header[f"BAND{i + 1}"] = band
    fits.PrimaryHDU(stamp.images, header=header).writeto(args.out, overwrite=args.overwrite)
    print(f"wrote {args.out}: {stamp.images.shape[0]} bands of {stamp.images.shape[1]}x{stamp.images.shape[2]} px at {stamp.pixel_scale_arcsec:.4f} arcsec/px")
    return 0


def cmd_experiment(args) -> int:
    from galmerge.evaluation.experiment import run_experiment, table_rows

    record = run_experiment(args.config, args.out, workers=args.workers, progress=not args.quiet)
    header, rows = table_rows(record)
    keep = [0] + [header.index(c) for c in ("source roc_auc", "target roc_auc", "target pr_auc", "gap closure", "epoch s")]
    for row in [header] + rows:
        print("  ".join(f"{row[i]:>16s}" if i else f"{row[i]:26s}" for i in keep))
    print(f"report: {record['report']}")
    return 0


def cmd_report(args) -> int:
    from galmerge.report import write_report

    print(f"wrote {write_report(args.path, out=args.out)}")
    return 0


def cmd_demo(args) -> int:
    from galmerge.demo import run_demo

    run_demo(out=args.out, n_per_domain=args.n, epochs=args.epochs, workers=args.workers, progress=not args.quiet)
    return 0


def _summary(report: dict) -> str:
    def fmt(entry):
        low, high = entry.get("ci95", [float("nan")] * 2)
        return f"{entry['value']:.3f} [{low:.3f}, {high:.3f}]"

    lines = [f"n = {report['n']} ({report['n_mergers']} mergers); values with 95% bootstrap intervals"]
    for name in ("roc_auc", "pr_auc", "brier"):
        lines.append(f"  {name:<10} {fmt(report[name])}")
    for name, entry in report["thresholds"].items():
        metrics = ", ".join(f"{m} {entry[m]['value']:.3f}" for m in ("accuracy", "precision", "recall", "f1"))
        lines.append(f"  at p >= {entry['threshold']:.3f} ({name}): {metrics}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    from galmerge import __version__

    parser = argparse.ArgumentParser(prog="galmerge", description="Find merging galaxies in telescope images with CNNs.")
    parser.add_argument("--version", action="version", version=f"galmerge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p):
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        return p

    train = common(sub.add_parser("train", help="train a classifier and evaluate it on its test split", description="Train on labelled data (split 70/10/20 by --seed), keep the best checkpoint by validation ROC-AUC, and score the held-out test split."))
    train.add_argument("--source", help=f"labelled training {DATA_HELP}")
    train.add_argument("--model", help="deepmerge (default) or resnet18")
    train.add_argument("--config", type=Path, help="TOML file of training options (see TrainConfig); command-line options win")
    train.add_argument("--out", type=Path, help="new run directory (default runs/<time>-<model>)")
    train.add_argument("--overwrite", action="store_true", help="replace --out if it is an earlier run")
    train.add_argument("--epochs", type=int)
    train.add_argument("--seed", type=int, help="fixes split, initialisation, data order (default 0)")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float, help="peak learning rate")
    train.add_argument("--lr-schedule", choices=["one-cycle", "deepmerge-cycle", "constant"])
    train.add_argument("--input-size", type=int, help="network input side in pixels (default 75)")
    train.add_argument("--stretch", choices=["none", "asinh"])
    train.add_argument("--patience", type=int, help="early-stopping patience in epochs (0: off)")
    train.add_argument("--no-augment", action="store_true", help="no random flips and rotations")
    train.add_argument("--accelerator", help="cpu, gpu or auto")
    train.add_argument("--init-from", type=Path, help="start from a run's model (same architecture) or a torchvision resnet18 .pth")
    train.add_argument("--resume", type=Path, help="continue an interrupted run directory from its last checkpoint")
    adapt = train.add_argument_group("domain adaptation (needs --target; target labels are never used)")
    adapt.add_argument("--target", help=f"images of the domain to adapt to: {DATA_HELP}")
    adapt.add_argument("--method", choices=["none", "mmd", "dann", "coral"])
    adapt.add_argument("--transfer-weight", type=float, help="weight of the MMD/DANN/CORAL loss (default 1)")
    adapt.add_argument("--fisher", action="store_true", help="add the Fisher loss on source features")
    adapt.add_argument("--fisher-w-intra", type=float)
    adapt.add_argument("--fisher-w-inter", type=float)
    adapt.add_argument("--entropy", action="store_true", help="add entropy minimisation on both domains")
    adapt.add_argument("--entropy-weight", type=float, help="default 0.05")
    adapt.add_argument("--dann-lr-multiplier", type=float, help="domain classifier learning-rate factor (default 0.1)")
    adapt.add_argument("--monitor", choices=["val_roc_auc", "val_accuracy", "val_loss", "target_entropy", "target_im", "domain_confusion"], help="what picks the best checkpoint")
    train.set_defaults(func=cmd_train)

    finetune = common(sub.add_parser("finetune", help="fine-tune a run with K labelled target images; curve of target scores against K", description="Draws one class-balanced pool of labelled target images, fine-tunes the run's model on its first K for each K, and scores every copy on the same held-out rest."))
    finetune.add_argument("run", type=Path, help="run directory")
    finetune.add_argument("--target-labelled", required=True, help=f"labelled target images: {DATA_HELP}")
    finetune.add_argument("--n-labels", default="0,25,50,100,200", help="comma-separated K values (default 0,25,50,100,200)")
    finetune.add_argument("--head-only", action="store_true", help="train only the dense head (default: all layers, layer-wise lr decay)")
    finetune.add_argument("--with-adaptation", action="store_true", help="keep the run's domain-adaptation losses (source batches + unlabelled target batches) while fine-tuning")
    finetune.add_argument("--lr", type=float, default=3e-4)
    finetune.add_argument("--layer-decay", type=float, default=0.5)
    finetune.add_argument("--epochs", type=int, default=40)
    finetune.add_argument("--seed", type=int, default=0)
    finetune.add_argument("--out", type=Path, help="new folder (default <run>/finetune)")
    finetune.set_defaults(func=cmd_finetune)

    evaluate = common(sub.add_parser("evaluate", help="score a trained run on labelled data", description="Score a run on labelled data; images the run trained or validated on are excluded."))
    evaluate.add_argument("run", type=Path, help="run directory")
    evaluate.add_argument("--data", required=True, help=f"labelled {DATA_HELP}")
    evaluate.add_argument("--out", type=Path, help="metrics JSON (default <run>/evaluations/<data>/metrics.json)")
    evaluate.add_argument("--overwrite", action="store_true")
    evaluate.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"])
    evaluate.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for intervals (default 1000)")
    evaluate.set_defaults(func=cmd_evaluate)

    explain = common(sub.add_parser("explain", help="what a run's network looks at: activations, saliency, Grad-CAM, TCAV, sanity checks", description="Explain a run's model on images it never trained on: feature maps and dead filters, saliency, SmoothGrad, Integrated Gradients and Grad-CAM montages (scored against the ground-truth masks of mocks), and optionally TCAV concepts and randomisation sanity checks. Writes PNG figures and explain.json."))
    explain.add_argument("run", type=Path, help="run directory or model.safetensors")
    explain.add_argument("--data", required=True, help=f"images to explain: {DATA_HELP}")
    explain.add_argument("--methods", default="activations,saliency,smoothgrad,ig,gradcam", help="comma-separated, from activations, saliency, smoothgrad, ig, gradcam (default all)")
    explain.add_argument("--n", type=int, default=16, help="images in the montages, half mergers (default 16)")
    explain.add_argument("--layer", help="Grad-CAM layer (default the last conv block: relu3 for deepmerge, layer4 for resnet18)")
    explain.add_argument("--baseline", default="zeros", choices=["zeros", "blurred", "sky_noise"], help="Integrated Gradients baseline (default zeros: an image without light)")
    explain.add_argument("--tcav", nargs="?", const="metadata", metavar="CONCEPTS_DIR", help="run TCAV for the merger class; concepts from CONCEPTS_DIR (one set per entry, random* entries as counterparts) or, without it, from the data's mock metadata and masks")
    explain.add_argument("--tcav-runs", type=int, default=10, help="random counterpart sets per concept (default 10)")
    explain.add_argument("--sanity", action="store_true", help="cascading and independent model-randomisation checks (Adebayo et al. 2018)")
    explain.add_argument("--compare", help=f"a second set (e.g. the target domain) for a feature-space Grad-CAM comparison: {DATA_HELP}")
    explain.add_argument("--seed", type=int, default=0)
    explain.add_argument("--out", type=Path, help="folder (default <run>/explain/<data>)")
    explain.add_argument("--overwrite", action="store_true")
    explain.set_defaults(func=cmd_explain)

    predict = common(sub.add_parser("predict", help="write a catalog of merger probabilities", description="Predict p(merger) for every image and write a catalog (ECSV, CSV or FITS by extension)."))
    predict.add_argument("run", type=Path, help="run directory or model.safetensors")
    predict.add_argument("data", help=DATA_HELP)
    predict.add_argument("--out", type=Path, required=True, help="catalog file: .ecsv, .csv or .fits")
    predict.add_argument("--overwrite", action="store_true")
    predict.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"], help="auto: ONNX Runtime when installed")
    predict.add_argument("--tta", action="store_true", help="average over the 8 flips/rotations; adds p_merger_std")
    predict.add_argument("--batch-size", type=int, default=256)
    predict.set_defaults(func=cmd_predict)

    convert = common(sub.add_parser("convert", help="convert any supported data to one ImageSet file (.h5)"))
    convert.add_argument("data", help=DATA_HELP)
    convert.add_argument("--out", type=Path, required=True, help="ImageSet file (.h5)")
    convert.add_argument("--size", type=int, help="resize pictures/FITS cutouts to SIZE x SIZE pixels")
    convert.add_argument("--bands", help="comma-separated band names")
    convert.add_argument("--label-column", help="label column of a CSV catalog (default is_merger or label)")
    convert.add_argument("--overwrite", action="store_true")
    convert.set_defaults(func=cmd_convert)

    mock = common(sub.add_parser("mock", help="make labelled mock mergers and non-mergers for a survey", description="Draw mergers (restricted three-body encounters, by the recipe's merger definition) and non-mergers (the recipe's population), frame and observe both alike with a survey recipe, audit them for shortcuts, and save an ImageSet with labels, metadata and tidal/companion masks."))
    mock.add_argument("--recipe", help="survey recipe name or TOML file (galmerge mock --list)")
    mock.add_argument("--benchmark", choices=["sim2sim", "sim2real-sdss"], help="write a ready-made domain-adaptation benchmark into the folder --out (--recipe replaces the sim2real-sdss source recipe)")
    mock.add_argument("--montage", action="store_true", help="write a labelled montage PNG (mergers by stage, non-mergers by kind, two depths)")
    mock.add_argument("--list", action="store_true", help="list the bundled recipes")
    mock.add_argument("--n", type=int, default=2000, help="images (per domain for --benchmark)")
    mock.add_argument("--seed", type=int, default=0)
    mock.add_argument("--out", type=Path)
    mock.add_argument("--workers", type=int, help="processes (default: all cores); the output does not depend on it")
    mock.add_argument("--pristine", action="store_true", help="no noise and no field sources")
    mock.add_argument("--shared-data", type=Path, help="folder with the real SDSS data for sim2real-sdss (default ../shared/data)")
    mock.add_argument("--overwrite", action="store_true")
    mock.set_defaults(func=cmd_mock)

    audit = common(sub.add_parser("audit", help="check labelled mocks for shortcuts: simple statistics that give the label away", description="Measure framing, background, display and shape statistics of every stamp and report how well each separates mergers from non-mergers (ROC-AUC), beside real labelled images when given, plus combined classifiers. Writes audit.json and audit.png; exits 1 when a statistic is flagged."))
    audit.add_argument("mocks", type=Path, help=f"labelled stamps: {DATA_HELP}")
    audit.add_argument("--real", help="real labelled images of the same kind (catalog CSV, ImageSet, folder), e.g. gz1_dev/labels.csv")
    audit.add_argument("--out", type=Path, help="folder for audit.json and audit.png (default <mocks>_audit)")
    audit.add_argument("--overwrite", action="store_true")
    audit.set_defaults(func=cmd_audit)

    calibrate = common(sub.add_parser("calibrate", help="fit a survey recipe to real pictures of the survey (display, field of view, population, real sky)", description="Cut real sky backgrounds from unlabelled real pictures, fit the recipe's display, field of view and non-merger population so that mock statistics match the real ones, and write the calibrated recipe, its sky bank, a report and the realism score before and after. Labels are never used."))
    calibrate.add_argument("recipe", help="recipe name or TOML file with a [display] and fov_r90 (e.g. sdss-gri)")
    calibrate.add_argument("--real", required=True, help="unlabelled real pictures: a folder (with index.csv or images/), a catalog CSV or an ImageSet file")
    calibrate.add_argument("--out", type=Path, required=True, help="calibrated recipe (.toml); the sky bank and report are written beside it")
    calibrate.add_argument("--rounds", type=int, default=2, help="fitting rounds (default 2)")
    calibrate.add_argument("--no-cnn", action="store_true", help="skip the pixel-CNN realism score (about a minute)")
    calibrate.add_argument("--seed", type=int, default=0)
    calibrate.add_argument("--workers", type=int, help="processes for mock generation")
    calibrate.add_argument("--overwrite", action="store_true")
    calibrate.set_defaults(func=cmd_calibrate)

    observe = common(sub.add_parser("observe", help="make an idealised simulation image look like a survey's", description="Resample, convolve, add noise (and render colour JPEGs) to a FITS image with a kpc or arcsec pixel scale (CDELT1/CUNIT1, PIXKPC or PIXSCALE)."))
    observe.add_argument("image", type=Path, help="FITS image (H, W) or cube (bands, H, W)")
    observe.add_argument("--recipe", required=True)
    observe.add_argument("--redshift", type=float, help="needed when the scale is in kpc")
    observe.add_argument("--units", default="nanomaggies", choices=["nanomaggies", "mag_arcsec2"])
    observe.add_argument("--seed", type=int, default=0)
    observe.add_argument("--out", type=Path, required=True)
    observe.add_argument("--overwrite", action="store_true")
    observe.set_defaults(func=cmd_observe)

    experiment = common(sub.add_parser("experiment", help="run a protocol (methods x seeds) and write the DeepMerge II table and a report", description="Trains every method of a TOML protocol for every seed, scores source and target, and writes table.csv/table.md, figures, experiment.json and report.html (see configs/)."))
    experiment.add_argument("config", type=Path, help="protocol TOML (configs/sim2sim.toml, configs/sim2real-sdss.toml)")
    experiment.add_argument("--out", type=Path, help="new folder (default runs/experiment-<name>)")
    experiment.add_argument("--workers", type=int, help="processes for mock generation")
    experiment.set_defaults(func=cmd_experiment)

    report = common(sub.add_parser("report", help="write a self-contained HTML report of a run or experiment"))
    report.add_argument("path", type=Path, help="run directory or experiment folder")
    report.add_argument("--out", type=Path, help="HTML file (default <path>/report.html)")
    report.set_defaults(func=cmd_report)

    demo = common(sub.add_parser("demo", help="a reduced sim2sim experiment (noDA, MMD, DANN; one seed) with its HTML report"))
    demo.add_argument("--out", type=Path, help="new folder (default runs/demo-<time>)")
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
