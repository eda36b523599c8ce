"""The summary in words that opens a report: what was trained on what, the headline numbers, what they mean."""

from __future__ import annotations

from galmerge.runs import Evaluation, ExperimentRecord, MethodResult, RunRecord

__all__ = ["run_summary", "experiment_summary"]


def _percent(value: float) -> str:
    return f"{100 * value:.0f}%"


def _calls(evaluation: Evaluation, name: str) -> str:
    entry = evaluation.thresholds[name]
    return f"at p >= {entry.threshold:.2f} it finds {_percent(entry.recall.value)} of the mergers, and {_percent(entry.precision.value)} of the images it calls mergers are mergers"


def run_summary(record: RunRecord, values: dict, provenance: dict) -> str:
    """Paragraphs (separated by blank lines) describing a run and its scores."""
    model = values.get("model", {})
    architecture = model.get("architecture") if isinstance(model, dict) else model
    adaptation = values.get("adaptation", {}) if isinstance(values.get("adaptation"), dict) else {"method": values.get("method", "none")}
    sizes = record.n_images
    text = [
        f"The {architecture} network was trained on {sizes.get('train', '?')} labelled images of {provenance.get('data', 'the source data')} "
        f"and its checkpoint chosen by {record.best_checkpoint['monitor']} on {sizes.get('val', '?')} more."
    ]
    if adaptation.get("method", "none") != "none" or adaptation.get("extras"):
        terms = [adaptation.get("method", "none")] + list(adaptation.get("extras", []))
        text[0] += (
            f" It was adapted to {sizes.get('target_train', '?')} unlabelled images of {provenance.get('target', 'the target domain')} with {' + '.join(t for t in terms if t != 'none')}; target labels, if any, were used only to score it."
        )
    paragraphs = [" ".join(text)]
    for title, evaluation in (("source test split", record.test), ("target test split", record.target_test)):
        if evaluation is None:
            continue
        line = (
            f"On its {title} ({evaluation.n} images never used for training or selection, {evaluation.n_mergers} mergers) it reaches "
            f"ROC-AUC {evaluation.roc_auc.format()} and PR-AUC {evaluation.pr_auc.format()} (95% bootstrap intervals; a random "
            f"ranking gives a PR-AUC of about {evaluation.n_mergers / max(evaluation.n, 1):.2f}). {_calls(evaluation, 'default').capitalize()}"
        )
        if "target_recall" in evaluation.thresholds:
            line += f"; {_calls(evaluation, 'target_recall')} (the threshold chosen on validation images for {_percent(record_target_recall(values))} recall)"
        paragraphs.append(line + ".")
    if record.test is not None:
        paragraphs.append(
            "For your survey: these numbers hold for images like the test images. On images from another telescope, depth or "
            "simulation they are usually lower; score the run on labelled images of your own survey (galmerge evaluate) before trusting its catalog."
        )
    return "\n\n".join(paragraphs)


def record_target_recall(values: dict) -> float:
    selection = values.get("selection", {})
    return float(selection.get("target_recall", values.get("target_recall", 0.9)) if isinstance(selection, dict) else 0.9)


def _headline(method: MethodResult, domain: str, *, one_seed: bool) -> str:
    """ROC-AUC of a method on a domain, with its interval (one seed) or spread over seeds."""
    summary = method.summary.get(f"{domain}_roc_auc")
    if summary is None:
        return "-"
    evaluations = method.run_evaluations(domain)
    if one_seed and len(evaluations) == 1:
        return evaluations[0].roc_auc.format()
    return summary.format() + f" over {summary.n_seeds} seeds"


def experiment_summary(record: ExperimentRecord) -> str:
    """Paragraphs describing an experiment: the set-up, the domain gap, the best method, and what it means."""
    description = record.description
    sizes = description.get("n_images", {})
    one_seed = len(record.seeds) == 1
    trained = [name for name, m in record.methods.items() if not m.is_finetuned]
    setup = (
        f"galmerge trained the {description.get('model', '?')} network for up to {description.get('epochs', '?')} epochs on "
        f"{sizes.get('train', '?')} labelled source images ({record.files.get('source')}) and, where a method adapts, on "
        f"{sizes.get('target_train', '?')} unlabelled target images ({record.files.get('target')}), with {len(trained)} methods "
        f"({', '.join(trained)}) and {len(record.seeds)} seed{'s' if len(record.seeds) > 1 else ''}. Every number below is measured on "
        f"held-out images that no method trained on or chose its checkpoint with" + (f": {record.files['evaluation']} for the target." if record.files.get("evaluation") else ".")
    )
    paragraphs = [setup]
    reference = record.methods.get(record.reference or "")
    if reference is not None and record.domain_gap_roc_auc is not None:
        adapted = [(name, m) for name, m in record.methods.items() if not m.is_finetuned and name != record.reference and "target_roc_auc" in m.summary]
        text = (
            f"Without adaptation ({record.reference}) the network reaches ROC-AUC {_headline(reference, 'source', one_seed=one_seed)} on source images "
            f"and {_headline(reference, 'target', one_seed=one_seed)} on target images: a domain gap of {record.domain_gap_roc_auc:.3f}."
        )
        if adapted:
            best_name, best = max(adapted, key=lambda item: item[1].summary["target_roc_auc"].mean or float("-inf"))
            closure = f", closing {_percent(best.gap_closure)} of the gap" if best.gap_closure is not None else ""
            text += f" The best method on the target, {best_name}, reaches {_headline(best, 'target', one_seed=one_seed)}{closure}."
            others = [f"{name} {_headline(m, 'target', one_seed=one_seed)}" for name, m in adapted if name != best_name]
            if others:
                text += f" The others: {'; '.join(others)}."
        paragraphs.append(text)
        paragraphs.append(
            "What this means for your survey: if your images differ from your training images as much as the target differs from the "
            "source here, expect the target numbers, not the source ones. "
            + (
                "Intervals are 95% bootstrap intervals over the test images; with one seed they do not include the spread between trainings, which a run with more seeds measures."
                if one_seed
                else "The spread is the standard deviation over seeds, the variation between trainings on the same images."
            )
        )
    finetuned = [name for name, m in record.methods.items() if m.is_finetuned]
    if finetuned:
        paragraphs.append(
            "Few-label rows fine-tune a method with K labelled target images and score it on the labelled target images left over; "
            "compare each with its K=0 row, which is scored on the same images: "
            + "; ".join(f"{name} {record.methods[name].summary['target_roc_auc'].format()}" for name in finetuned if "target_roc_auc" in record.methods[name].summary)
            + "."
        )
    return "\n\n".join(paragraphs)
