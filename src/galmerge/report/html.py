"""One self-contained HTML page for a run or an experiment: a summary in words, tables, figures; opens offline.

The page is written from the saved, typed records of a folder (:mod:`galmerge.runs.records`), so
it can be rewritten at any time (``galmerge report``) and imports no stage that made them.
Figures are embedded: line plots as PNG, image montages (large files) as JPEG at a width that a
screen shows, which keeps the page to a few megabytes.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from galmerge.errors import CheckpointError
from galmerge.report.summary import experiment_summary, run_summary
from galmerge.runs import Evaluation, ExperimentRecord, Explanation, Run, RunRecord, output_file

__all__ = ["write_report", "embedded_image"]

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
p.summary { font-size: 1.05em; max-width: 60em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.6em 0; } td, th { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
td:first-child, th:first-child { text-align: left; } caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
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

# PNG files larger than this are image montages: embedded as JPEG, at most this many pixels wide.
JPEG_ABOVE_BYTES = 150_000
MAX_EMBED_WIDTH_PX = 1100


def embedded_image(path: Path) -> tuple[str, str]:
    """(MIME type, base64 data) of a figure for the page: small PNGs as they are, large ones as JPEG."""
    data = path.read_bytes()
    if len(data) <= JPEG_ABOVE_BYTES:
        return "image/png", base64.b64encode(data).decode("ascii")
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        picture = image.convert("RGB")
        if picture.width > MAX_EMBED_WIDTH_PX:
            picture = picture.resize((MAX_EMBED_WIDTH_PX, round(picture.height * MAX_EMBED_WIDTH_PX / picture.width)), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=85, optimize=True)
    return "image/jpeg", base64.b64encode(buffer.getvalue()).decode("ascii")


def _image(path: Path, caption: str) -> str:
    mime, data = embedded_image(path)
    text = html.escape(caption)
    return f'<figure><img alt="{text}" src="data:{mime};base64,{data}"><figcaption>{text}</figcaption></figure>'


def _figures(items) -> str:
    return "\n".join(_image(Path(path), caption) for path, caption in items if Path(path).exists())


def _table(header, rows, *, caption: str | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{title}<tr>{head}</tr>{body}</table>"


def _paragraphs(text: str) -> str:
    return "".join(f'<p class="summary">{html.escape(part)}</p>' for part in text.split("\n\n") if part.strip())


def _settings_rows(values: dict, prefix: str = "") -> list[list[str]]:
    """Nested settings (a config.toml, a protocol) as (setting, value) rows."""
    rows = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(_settings_rows(value, prefix=f"{name}."))
        else:
            shown = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
            rows.append([name, "-" if shown in (None, "") else str(shown)])
    return rows


def _score_rows(parts) -> tuple[list, list]:
    header = ["split", "n (mergers)", "ROC-AUC [95%]", "PR-AUC [95%]", "Brier", "accuracy", "precision", "recall", "F1"]
    rows = []
    for title, evaluation in parts:
        if evaluation is None:
            continue
        point = evaluation.thresholds["default"]
        rows.append(
            [title, f"{evaluation.n} ({evaluation.n_mergers})", evaluation.roc_auc.format(), evaluation.pr_auc.format(), f"{evaluation.brier.value:.3f}"]
            + [f"{getattr(point, m).value:.3f}" for m in ("accuracy", "precision", "recall", "f1")]
        )
    return header, rows


def _run_sections(run: Run) -> list[str]:
    record = run.read_record()
    values, provenance = run.read_config()
    sections = [f"<h2>Summary</h2>{_paragraphs(run_summary(record, values, provenance))}"]
    header, rows = _score_rows((("source validation", record.validation), ("source test", record.test), ("target test", record.target_test)))
    thresholds = ", ".join(f"{name} p >= {value:.3f}" for name, value in record.thresholds.items())
    sections.append(
        f"<h2>Scores</h2>{_table(header, rows)}<p>Checkpoint chosen by <b>{html.escape(record.best_checkpoint['monitor'])}</b>; decision thresholds: {html.escape(thresholds)}. Precision, recall, F1 and accuracy at p &gt;= 0.5.</p>"
    )
    sections.append("<h2>Configuration</h2>" + _table(["setting", "value"], _settings_rows(values)) + _table(["provenance", "value"], _settings_rows(provenance)))
    figures = run.figures("test")
    target = run.figures("target_test")
    sections.append(
        "<h2>Figures</h2>"
        + _figures(
            [
                (figures / "learning_curves.png", "Learning curves"),
                (figures / "roc.png", "ROC, source test split"),
                (figures / "pr.png", "Precision-recall, source test split"),
                (figures / "confusion_default.png", "Confusion matrix at p >= 0.5"),
                (figures / "confusion_target_recall.png", "Confusion matrix at the target-recall threshold"),
                (target / "roc.png", "ROC, target test split"),
                (target / "pr.png", "Precision-recall, target test split"),
                (figures / "montage.png", "Most confident calls and worst mistakes, source test split"),
                (target / "montage.png", "Most confident calls and worst mistakes, target test split"),
            ]
        )
    )
    for folder in sorted(run.evaluations.glob("*/")) if run.evaluations.exists() else []:
        evaluation = Evaluation.read(folder / Evaluation.FILENAME) if (folder / Evaluation.FILENAME).exists() else None
        table = _table(*_score_rows(((folder.name, evaluation),))) if evaluation else ""
        sections.append(
            f"<h3>Evaluation: {html.escape(folder.name)}</h3>{table}"
            + _figures([(folder / n, f"{folder.name}: {c}") for n, c in (("roc.png", "ROC"), ("pr.png", "precision-recall"), ("montage.png", "montage"))])
        )
    return sections + _explain_sections(run)


def _explain_sections(run: Run, *, label: str = "") -> list[str]:
    """The figures of every ``galmerge explain`` folder of a run, with what it found in words."""
    folders = sorted(p for p in run.explanations.glob("*/") if any(p.glob("*.png"))) if run.explanations.exists() else []
    sections = []
    for folder in folders:
        found = ""
        if (folder / Explanation.FILENAME).exists():
            explanation = Explanation.read(folder / Explanation.FILENAME)
            explanation.path = None
            found = "<pre>" + html.escape(explanation.summary()) + "</pre>"
        sections.append(
            f"<h2>Interpretation{html.escape(label)}: {html.escape(folder.name)}</h2>{found}"
            + _figures([(png, f"{folder.name}: {png.stem.replace('_', ' ')}") for png in sorted(folder.glob("*.png"))])
        )
    return sections


def _protocol_rows(record: ExperimentRecord) -> list[list[str]]:
    rows = [["name", record.name], ["seeds", ", ".join(map(str, record.seeds))]]
    rows += [[f"data: {key}", str(value)] for key, value in record.files.items() if value]
    rows += _settings_rows({k: v for k, v in record.description.items() if k != "train"})
    rows += _settings_rows(record.description.get("train", {}), prefix="shared option: ")
    for name, method in record.methods.items():
        if not method.is_finetuned:
            rows.append([f"method {name}", ", ".join(f"{k} = {v}" for k, v in method.options.items()) or "-"])
    return rows


def _experiment_sections(folder: Path) -> list[str]:
    record = ExperimentRecord.read(folder / ExperimentRecord.FILENAME)
    sections = [f"<h2>Summary</h2>{_paragraphs(experiment_summary(record))}"]
    spread = "mean ± standard deviation over seeds" if len(record.seeds) > 1 else "one seed: values with 95% bootstrap intervals over the test images"
    tables = "".join(
        _table(*record.table(part), caption=caption)
        for part, caption in (
            ("transfer", "Transfer to the target domain"),
            ("target", "Target domain, all metrics"),
            ("source", "Source domain (held-out test split)"),
        )
    )
    note = f"<p>{html.escape(spread.capitalize())}. Precision, recall, F1 and accuracy at p &gt;= 0.5."
    if record.domain_gap_roc_auc is not None:
        note += (
            f" Reference: <b>{html.escape(record.reference or '')}</b>; domain gap in ROC-AUC {record.domain_gap_roc_auc:.3f}. Gap closure = "
            "(AUC<sub>target,DA</sub> - AUC<sub>target,ref</sub>) / (AUC<sub>source,ref</sub> - AUC<sub>target,ref</sub>)."
        )
    sections.append(f"<h2>Results</h2>{tables}{note}</p>")
    sections.append("<h2>Protocol</h2>" + _table(["setting", "value"], _protocol_rows(record)))
    figures = folder / "figures"
    sections.append(
        "<h2>ROC and precision-recall curves</h2>" + _figures([(figures / f"{kind}_{domain}.png", f"{kind.upper()} curves, {domain}") for domain in ("source", "target") for kind in ("roc", "pr")])
    )
    sections.append("<h2>Feature space (t-SNE)</h2>" + _figures([(p, p.stem.replace("tsne_", "")) for p in sorted(figures.glob("tsne_*.png"))]))
    learning, montages = [], []
    for name, method in record.methods.items():
        if method.first_run_dir is None:
            continue
        run = Run(method.first_run_dir)
        learning.append((run.figures("test") / "learning_curves.png", f"{name}: learning curves (first seed)"))
        for candidate in (run.evaluations / "target_evaluation" / "montage.png", run.figures("target_test") / "montage.png"):
            if candidate.exists():
                montages.append((candidate, f"{name}: most confident mergers and worst mistakes on the target"))
                break
    sections.append("<h2>Learning curves</h2>" + _figures(learning))
    sections.append("<h2>Most confident mergers and worst mistakes</h2>" + _figures(montages))
    curves = [(curve.path / curve.FIGURE, f"{name}, {curve.path.name}") for name, items in record.finetune.items() for curve in items if curve.path is not None]
    if curves:
        sections.append("<h2>Few-label transfer</h2>" + _figures(curves))
    if (folder / "mock_montage.png").exists():
        sections.append("<h2>The mocks</h2>" + _figures([(folder / "mock_montage.png", "Mock mergers by stage and non-mergers by kind, deep | shallow")]))
    for name, method in record.methods.items():
        if method.first_run_dir is not None:
            sections.extend(_explain_sections(Run(method.first_run_dir), label=f" ({name}, first seed)"))
    return sections


def write_report(path, *, out=None, overwrite: bool = False) -> Path:
    """Write ``report.html`` for a run directory or an experiment folder; returns its path.

    Parameters
    ----------
    path : path
        A run directory or an experiment folder.
    out : path, optional
        The HTML file (default ``<path>/report.html``).
    overwrite : bool
        Replace an existing page.

    Raises
    ------
    CheckpointError
        If ``path`` is neither a run directory nor an experiment folder.
    OutputExistsError
        If the page exists and ``overwrite`` is false.
    """
    folder = Path(path)
    if (folder / ExperimentRecord.FILENAME).exists():
        title = f"galmerge experiment: {folder.name}"
        build = _experiment_sections
    elif Run.is_run(folder) and (folder / RunRecord.FILENAME).exists():
        title = f"galmerge run: {folder.name}"

        def build(folder):
            return _run_sections(Run(folder))
    else:
        raise CheckpointError(f"{folder}: neither a run directory (metrics.json) nor an experiment folder (experiment.json)")
    out = output_file(out if out is not None else folder / "report.html", overwrite=overwrite)
    sections = build(folder)
    page = f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style><script>{CHECK}</script></head><body><h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>"
    out.write_text(page)
    return out
