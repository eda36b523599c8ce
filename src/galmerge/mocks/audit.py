"""The shortcut audit: does anything but morphology tell a mock's class?

A network trained on mocks learns whatever separates the classes there. If that is a rendering
artefact (mergers off-centre by a pixel, a brighter background, a different noise), it scores
well on mocks and at random on real images. The audit measures a battery of simple statistics
(:mod:`galmerge.mocks.image_statistics`) on every stamp and reports, for each, how well it
separates mergers from non-mergers (ROC-AUC), and the same for three combined classifiers
(gradient-boosted trees on all statistics, on the nuisance and framing ones, and on the
nuisance ones only; cross-validated).

A statistic is **flagged**

- when real labelled images are given: if it separates the mocks clearly (AUC > 0.6 in either
  direction) and by more than 0.08 more than it separates the real images in that direction
  (this holds for the combined classifiers too);
- without real labels: if it is a nuisance or framing statistic (one that says nothing, or
  next to nothing, about morphology) and separates the mocks clearly (AUC > 0.6 either way);
  of the combined classifiers, the one on the nuisance statistics is judged so. The classifier
  on nuisance and framing statistics together is reported but not judged without real labels:
  framing statistics carry a little morphology each, and together they separate real mergers
  too (ROC-AUC ~0.63 on Galaxy Zoo 1).

**Framing statistics against non-merger pairs.** A merger's companion moves its framing
statistics: its light next to the nucleus shifts the centroid of the central pixels, it is
sometimes the brightest pixel, and it puts light near the frame's edge. That is morphology, and
real mergers show it too (on Galaxy Zoo 1 the brightest pixel's distance from the centre
separates them with AUC 0.56, the edge flux with 0.60). In galmerge's ground-based mocks such
statistics separate mergers from all non-mergers at 0.60-0.64, only through mergers whose
companion lies within 0.5 R90 (centring) or beyond 1 R90 (edge flux). So when a set marks its
non-merger pairs (a ``kind`` metadata column with ``projected_pair``, ``flyby`` or
``bound_pair``, as galmerge's mocks have; at least :data:`MIN_PAIRED` of them), a framing
statistic is judged without real labels by how it separates mergers from those pairs, in the
direction it separates them from all non-mergers (pairs with even more of it, such as edge light
from companions farther out, explain the separation); its AUC against all non-mergers is still
reported. A framing rule that differs by class moves mergers against pairs as much as against
single galaxies, so it is still flagged; what this misses is a rule that treats every stamp
with a second galaxy alike and single galaxies otherwise (as survey pipelines' deblending does).
Nuisance statistics are judged against all non-mergers: in stamps with sky, a companion
cannot explain them.

**Stamps without sky.** In noiseless renders (the ``sim2sim`` source, DeepMerge II's pristine
stamps, most TNG or Illustris images) and in pictures whose display clips the sky to black, the
corners hold nothing but the galaxies' own faint light: a companion or tidal debris lifts them
(in the ``sim2sim`` source mergers' corners are twice as bright, AUC 0.63; 0.49 against
non-merger pairs). When neither class shows sky, the corner statistics (background level,
noise and their colours) count as morphology: reported, not judged without real labels, and
left out of the combined nuisance classifiers. The test is per class, so a class-specific sky
or pedestal (one class with sky, the other without) is still judged: each class's median
stamp must have corners, level and scatter alike, below :data:`SKY_FREE_RATIO` of its centre's
brightness (the ``sim2sim`` source: ~1e-4; the noisy recipes and real SDSS pictures: about
1e-2 and more).

It works on any labelled set of stamps, so an astronomer can audit their own TNG or Illustris
images the same way (``galmerge audit their_set.h5``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from galmerge.errors import DataError, LabelError, OutputExistsError
from galmerge.mocks.image_statistics import STATISTIC_KINDS, StatisticTable, measure_image_statistics
from galmerge.mocks.recipes import PAIRED_NON_MERGER_KINDS

__all__ = ["AuditReport", "StatisticAudit", "audit_imageset", "audit_files", "SEPARATION", "EXCESS", "MIN_PAIRED", "SKY_FREE_RATIO", "CORNER_STATISTICS"]

SEPARATION = 0.60  # an AUC beyond 0.6 (or below 0.4) separates the classes clearly
EXCESS = 0.08  # ... and beyond the real images' AUC by this much is a shortcut
MIN_PAIRED = 100  # non-merger pairs needed to judge framing statistics against them (AUC error ~0.03)
SKY_FREE_RATIO = 1e-3  # corners under this share of the centre's brightness hold no sky (module doc)
CORNER_STATISTICS = ("background_level", "background_noise", "background_colour", "noise_colour")


@dataclass
class StatisticAudit:
    """One statistic (or combined classifier): its class-separating ROC-AUC on the mocks and real images."""

    name: str
    kind: str
    mock_auc: float
    real_auc: float | None = None
    paired_auc: float | None = None  # mergers against the non-merger pairs (framing statistics)
    flagged: bool = False
    reason: str = ""
    description: str = ""


@dataclass
class AuditReport:
    """The audit of one labelled mock set, optionally beside real labelled images."""

    statistics: list
    combined: list
    n_mock: int
    n_mock_mergers: int
    n_real: int | None = None
    n_real_mergers: int | None = None
    n_paired: int | None = None  # non-merger pairs the framing statistics were judged against
    sky_free: bool = False  # no sky in the corners: corner statistics read as morphology
    source: str = ""
    real_source: str | None = None
    thresholds: dict = field(default_factory=lambda: {"separation": SEPARATION, "excess": EXCESS})

    @property
    def flagged(self) -> list[str]:
        return [s.name for s in self.statistics + self.combined if s.flagged]

    @property
    def passed(self) -> bool:
        return not self.flagged

    def summary(self) -> dict:
        return {"passed": self.passed, "flagged": self.flagged, **asdict(self)}

    def write(self, path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.summary(), indent=2, default=float))
        return path


def _auc(labels: np.ndarray, values: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if np.ptp(values) == 0:
        return 0.5
    return float(roc_auc_score(labels, values))


def _judge(entry: StatisticAudit) -> None:
    direction = 1.0 if entry.mock_auc >= 0.5 else -1.0
    separation = abs(entry.mock_auc - 0.5)
    if 0.5 + separation <= SEPARATION:
        return
    if entry.real_auc is not None:
        real_separation = (entry.real_auc - 0.5) * direction
        if separation - real_separation > EXCESS:
            entry.flagged = True
            entry.reason = f"separates the mocks (AUC {entry.mock_auc:.3f}) by {separation - real_separation:.3f} more than the real images ({entry.real_auc:.3f})"
    elif entry.kind == "framing" and entry.paired_auc is not None:
        if 0.5 + (entry.paired_auc - 0.5) * direction > SEPARATION:
            entry.flagged = True
            entry.reason = f"separates mergers even from non-merger pairs, in the same direction (AUC {entry.paired_auc:.3f}; {entry.mock_auc:.3f} against all non-mergers)"
    elif entry.kind in ("nuisance", "framing"):
        entry.flagged = True
        entry.reason = f"says nothing about morphology yet separates the mocks (AUC {entry.mock_auc:.3f})"


def _cross_validated_auc(features: np.ndarray, labels: np.ndarray, *, seed: int, folds: int = 3) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = int(min(folds, np.bincount(labels).min()))
    if folds < 2:
        return float("nan")
    model = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=15, random_state=seed)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_predict(model, features, labels, cv=splitter, method="predict_proba")[:, 1]
    return _auc(labels, scores)


def audit_statistics(mock: StatisticTable, labels, *, real: StatisticTable | None = None, real_labels=None, paired=None, seed: int = 0, source: str = "", real_source: str | None = None) -> AuditReport:
    """The audit from measured statistics (see :func:`audit_imageset`).

    ``paired`` marks the non-mergers that show a second galaxy (boolean, one per stamp); with at
    least :data:`MIN_PAIRED` of them, framing statistics are judged against them (module doc).
    """
    labels = np.asarray(labels).astype(np.int64)
    real_labels = None if real_labels is None else np.asarray(real_labels).astype(np.int64)
    pairs = None if paired is None else np.asarray(paired, bool) & (labels == 0)
    control = (labels == 1) | pairs if pairs is not None and pairs.sum() >= MIN_PAIRED else None
    sky_free = _sky_free(mock, labels)
    entries = []
    for j, name in enumerate(mock.names):
        kind, description = STATISTIC_KINDS[name]
        if sky_free and name in CORNER_STATISTICS:
            kind, description = "morphology", f"{description} (no sky in these stamps: the galaxies' own faint light)"
        entry = StatisticAudit(name, kind, _auc(labels, mock.values[:, j]), description=description)
        if real is not None:
            entry.real_auc = _auc(real_labels, real.values[:, j])
        if control is not None and kind == "framing":
            entry.paired_auc = _auc(labels[control], mock.values[control, j])
        _judge(entry)
        entries.append(entry)
    combined = []
    for name, wanted, judged_as in (("combined: all statistics", ("nuisance", "framing", "morphology"), "combined"), ("combined: nuisance and framing", ("nuisance", "framing"), "combined"), ("combined: nuisance", ("nuisance",), "nuisance")):
        columns = [j for j, statistic in enumerate(entries) if statistic.kind in wanted]
        if not columns:
            continue
        entry = StatisticAudit(name, judged_as, _cross_validated_auc(mock.values[:, columns], labels, seed=seed), description="gradient-boosted trees, 3-fold cross-validated")
        if real is not None:
            entry.real_auc = _cross_validated_auc(real.values[:, columns], real_labels, seed=seed)
        _judge(entry)
        combined.append(entry)
    return AuditReport(
        statistics=entries, combined=combined, n_mock=len(labels), n_mock_mergers=int(labels.sum()),
        n_real=None if real_labels is None else len(real_labels), n_real_mergers=None if real_labels is None else int(real_labels.sum()),
        n_paired=None if control is None else int(pairs.sum()), sky_free=sky_free, source=source, real_source=real_source,
    )


def _sky_free(mock: StatisticTable, labels: np.ndarray) -> bool:
    """Whether neither class shows sky in its corners: level and scatter under
    :data:`SKY_FREE_RATIO` of the centre's brightness in the median stamp of each class."""
    needed = ("background_level", "background_noise", "centre_brightness")
    if not set(needed) <= set(mock.names):
        return False
    level, noise, centre = (mock.column(name) for name in needed)
    ratio = np.maximum(np.abs(level), noise) / np.maximum(np.abs(centre), 1e-30)
    return all(np.median(ratio[labels == c]) < SKY_FREE_RATIO for c in (0, 1))


def audit_imageset(mocks, real=None, *, seed: int = 0) -> AuditReport:
    """Audit a labelled set of stamps, optionally beside real labelled images of the same kind.

    Parameters
    ----------
    mocks : ImageSet
        Labelled stamps (both classes). A ``kind`` metadata column marks non-merger pairs
        (``projected_pair``, ``flyby``, ``bound_pair``), against which framing statistics are
        judged (module doc).
    real : ImageSet, optional
        Real labelled stamps of the same kind (same bands; resized to the mocks' size when loaded
        through :func:`audit_files`).

    Raises
    ------
    LabelError
        A set without labels or with one class.
    DataError
        Real images with other bands or another size than the mocks.
    """
    labels = mocks.require_both_classes(purpose="the shortcut audit")
    mock_stats = measure_image_statistics(mocks.images)
    real_stats = real_labels = None
    if real is not None:
        real_labels = real.require_both_classes(purpose="the shortcut audit's real side")
        if real.images.shape[1:] != mocks.images.shape[1:]:
            raise DataError(f"{real.source}: real images are {real.images.shape[1:]}, the mocks {mocks.images.shape[1:]}; give stamps of one kind")
        real_stats = measure_image_statistics(real.images)
    paired = np.isin(np.asarray(mocks.meta["kind"]).astype(str), PAIRED_NON_MERGER_KINDS) if "kind" in mocks.meta.colnames else None
    return audit_statistics(mock_stats, labels, real=real_stats, real_labels=real_labels, paired=paired, seed=seed, source=str(mocks.source), real_source=None if real is None else str(real.source))


def audit_files(mocks_path, *, real=None, out=None, overwrite: bool = False, seed: int = 0, progress: bool = True) -> tuple[AuditReport, Path]:
    """Audit an ImageSet file (or anything :func:`galmerge.data.load_imageset` reads), writing
    ``audit.json`` and ``audit.png`` into the folder ``out`` (default ``<mocks>_audit`` beside it).

    ``real`` names labelled real images (a catalog CSV such as ``gz1_dev/labels.csv``, an
    ImageSet file or a folder), resized to the mocks' stamp size. Nothing is written when an
    input is bad.
    """
    from galmerge.data import load_imageset

    mocks = load_imageset(str(mocks_path), progress=progress)
    if mocks.labels is None:
        raise LabelError(f"{mocks_path}: no labels to audit (the audit compares mergers with non-mergers)")
    real_set = None
    if real is not None:
        real_set = load_imageset(str(real), size=mocks.images.shape[-1], progress=progress)
        if real_set.labels is None:
            raise LabelError(f"{real}: no merger labels (a column is_merger or label)")
    out = Path(out) if out is not None else Path(str(mocks_path)).with_suffix("").parent / f"{Path(str(mocks_path)).stem}_audit"
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise OutputExistsError(f"{out}: already exists; choose another --out or pass --overwrite")
    report = audit_imageset(mocks, real_set, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    report.write(out / "audit.json")
    plot_audit(report, out / "audit.png")
    return report, out


def plot_audit(report: AuditReport, path) -> Path:
    """Bar chart of each statistic's class-separating AUC on the mocks (and real images), flags in red."""
    from matplotlib.figure import Figure

    entries = report.statistics + report.combined
    figure = Figure(figsize=(7.5, 0.28 * len(entries) + 1.4), dpi=110, layout="constrained")
    axes = figure.subplots()
    rows = np.arange(len(entries))[::-1]
    separation = [abs(e.mock_auc - 0.5) + 0.5 for e in entries]
    colours = ["tab:red" if e.flagged else ("tab:blue" if e.kind != "nuisance" else "tab:gray") for e in entries]
    axes.barh(rows + 0.18, separation, height=0.36, color=colours, label="mocks")
    direction = [1.0 if e.mock_auc >= 0.5 else -1.0 for e in entries]
    if report.n_real is not None:
        real = [0.5 + (e.real_auc - 0.5) * d if e.real_auc is not None and np.isfinite(e.real_auc) else 0.5 for e, d in zip(entries, direction)]
        axes.barh(rows - 0.18, real, height=0.36, color="tab:green", label="real (same direction)")
    paired = [(0.5 + (e.paired_auc - 0.5) * d, row + 0.18) for row, e, d in zip(rows, entries, direction) if e.paired_auc is not None]
    if paired:
        axes.scatter(*zip(*paired), marker="|", s=90, color="k", label=f"mocks: against {report.n_paired} non-merger pairs", zorder=3)
    axes.axvline(SEPARATION, color="k", lw=0.8, ls="--")
    axes.set_yticks(rows, [e.name for e in entries], fontsize=7)
    axes.set_xlim(0.4, 1.0)
    axes.set_xlabel("class-separating ROC-AUC (max of AUC, 1 - AUC)")
    verdict = ("passed" if report.passed else f"flagged: {', '.join(report.flagged)}") + ("; no sky: corners as morphology" if report.sky_free else "")
    axes.set_title(f"shortcut audit ({report.n_mock} mocks): {verdict}"[:110], fontsize=8)
    axes.legend(fontsize=7, loc="lower right")
    path = Path(path)
    figure.savefig(path)
    return path
