"""One self-contained HTML page for a run or an experiment: figures embedded, opens offline."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from galmerge.errors import CheckpointError, OutputExistsError

__all__ = ["write_report"]

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; } td, th { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
td:first-child, th:first-child { text-align: left; } pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; } figure img { max-width: 560px; border: 1px solid #eee; }
figcaption { font-size: 0.8em; color: #555; max-width: 560px; }
"""

# Records how many figures decoded and drew, for the page's own check and for tests.
CHECK = """
window.addEventListener("load", function () {
  var images = document.querySelectorAll("img");
  var drawn = Array.prototype.filter.call(images, function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-figures", images.length);
  document.body.setAttribute("data-rendered-figures", drawn);
});
"""


def _image(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)}</figcaption></figure>'


def _figures(items) -> str:
    return "\n".join(_image(path, caption) for path, caption in items if path.exists())


def _table(header, rows) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _score_rows(metrics: dict, names) -> tuple[list, list]:
    header = ["split", "n (mergers)", "ROC-AUC [95%]", "PR-AUC [95%]", "Brier", "accuracy", "precision", "recall", "F1"]
    rows = []
    for key, title in names:
        report = metrics.get(key)
        if not report:
            continue

        def ci(entry):
            low, high = entry.get("ci95", [float("nan")] * 2)
            return f"{entry['value']:.3f} [{low:.3f}, {high:.3f}]"

        point = report["thresholds"]["default"]
        rows.append([title, f"{report['n']} ({report['n_mergers']})", ci(report["roc_auc"]), ci(report["pr_auc"]), f"{report['brier']['value']:.3f}"]
                    + [f"{point[m]['value']:.3f}" for m in ("accuracy", "precision", "recall", "f1")])
    return header, rows


def _run_sections(run: Path) -> list[str]:
    metrics = json.loads((run / "metrics.json").read_text())
    sections = [f"<h2>Configuration</h2><pre>{html.escape((run / 'config.toml').read_text())}</pre>"]
    header, rows = _score_rows(metrics, (("val", "source validation"), ("test", "source test"), ("target_test", "target test")))
    sections.append(f"<h2>Scores</h2>{_table(header, rows)}<p>Checkpoint chosen by <b>{html.escape(metrics['best_checkpoint']['monitor'])}</b>; thresholds {html.escape(json.dumps(metrics['thresholds']))}.</p>")
    figures = run / "figures"
    sections.append("<h2>Figures</h2>" + _figures([
        (figures / "learning_curves.png", "Learning curves"),
        (figures / "roc.png", "ROC, source test split"), (figures / "pr.png", "Precision-recall, source test split"),
        (figures / "confusion_default.png", "Confusion matrix at p >= 0.5"), (figures / "confusion_target_recall.png", "Confusion matrix at the target-recall threshold"),
        (figures / "target" / "roc.png", "ROC, target test split"), (figures / "target" / "pr.png", "Precision-recall, target test split"),
        (figures / "montage.png", "Most confident calls and worst mistakes, source test split"),
        (figures / "target" / "montage.png", "Most confident calls and worst mistakes, target test split"),
    ]))
    for evaluation in sorted((run / "evaluations").glob("*/")) if (run / "evaluations").exists() else []:
        figure_dir = evaluation if (evaluation / "roc.png").exists() else next(iter(evaluation.glob("*_figures")), evaluation)
        sections.append(f"<h3>Evaluation: {html.escape(evaluation.name)}</h3>" + _figures([(figure_dir / n, f"{evaluation.name}: {c}") for n, c in (("roc.png", "ROC"), ("pr.png", "precision-recall"), ("montage.png", "montage"))]))
    return sections + _explain_sections(run)


def _explain_sections(run: Path, *, label: str = "") -> list[str]:
    """The figures of every ``galmerge explain`` folder of a run (``<run>/explain/<data>/``)."""
    folders = sorted(p for p in (run / "explain").glob("*/") if any(p.glob("*.png"))) if (run / "explain").exists() else []
    return [
        f"<h2>Interpretation{html.escape(label)}: {html.escape(folder.name)}</h2>"
        + _figures([(png, f"{folder.name}: {png.stem.replace('_', ' ')}") for png in sorted(folder.glob("*.png"))])
        for folder in folders
    ]


def _experiment_sections(folder: Path) -> list[str]:
    from galmerge.evaluation.experiment import table_rows

    record = json.loads((folder / "experiment.json").read_text())
    sections = [f"<h2>Protocol</h2><pre>{html.escape(json.dumps({k: record[k] for k in ('name', 'seeds', 'files')}, indent=2))}</pre>"]
    header, rows = table_rows(record)
    gap = record.get("domain_gap_roc_auc")
    note = f"<p>Reference: <b>{html.escape(record.get('reference', ''))}</b>; domain gap in ROC-AUC {gap:.3f}. Gap closure = (AUC<sub>target,DA</sub> - AUC<sub>target,ref</sub>) / (AUC<sub>source,ref</sub> - AUC<sub>target,ref</sub>). Mean ± standard deviation over seeds; precision, recall, F1 and accuracy at p >= 0.5.</p>" if gap is not None else ""
    sections.append(f"<h2>Results</h2>{_table(header, rows)}{note}")
    figures = folder / "figures"
    sections.append("<h2>ROC and precision-recall curves</h2>" + _figures([(figures / f"{kind}_{domain}.png", f"{kind.upper()} curves, {domain}") for domain in ("source", "target") for kind in ("roc", "pr")]))
    sections.append("<h2>Feature space (t-SNE)</h2>" + _figures([(p, p.stem.replace("tsne_", "")) for p in sorted(figures.glob("tsne_*.png"))]))
    learning, montages = [], []
    for name, method in record["methods"].items():
        if not method["runs"]:
            continue
        run = Path(method["runs"][0]["run_dir"])
        learning.append((run / "figures" / "learning_curves.png", f"{name}: learning curves (first seed)"))
        for candidate in (run / "evaluations" / "target_evaluation" / "metrics_figures" / "montage.png", run / "figures" / "target" / "montage.png"):
            if candidate.exists():
                montages.append((candidate, f"{name}: most confident mergers and worst mistakes on the target"))
                break
    sections.append("<h2>Learning curves</h2>" + _figures(learning))
    sections.append("<h2>Most confident mergers and worst mistakes</h2>" + _figures(montages))
    curves = sorted((folder / "finetune").glob("*/*/finetune_curve.png")) if (folder / "finetune").exists() else []
    if curves:
        sections.append("<h2>Few-label transfer</h2>" + _figures([(p, f"{p.parent.parent.name}, {p.parent.name}") for p in curves]))
    for name, method in record["methods"].items():
        if method["runs"]:
            sections.extend(_explain_sections(Path(method["runs"][0]["run_dir"]), label=f" ({name}, first seed)"))
    return sections


def write_report(path, *, out=None, overwrite: bool = True) -> Path:
    """Write ``report.html`` for a run directory or an experiment folder; returns its path.

    Raises
    ------
    CheckpointError
        If ``path`` is neither a run directory nor an experiment folder.
    """
    folder = Path(path)
    if (folder / "experiment.json").exists():
        sections, title = _experiment_sections(folder), f"galmerge experiment: {folder.name}"
    elif (folder / "metrics.json").exists() and (folder / "config.toml").exists():
        sections, title = _run_sections(folder), f"galmerge run: {folder.name}"
    else:
        raise CheckpointError(f"{folder}: neither a run directory (metrics.json) nor an experiment folder (experiment.json)")
    out = Path(out) if out is not None else folder / "report.html"
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out}: already exists")
    page = f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style><script>{CHECK}</script></head><body><h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>"
    out.write_text(page)
    return out
