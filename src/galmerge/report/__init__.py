"""Self-contained HTML reports of runs and experiments, written from their saved records."""

from galmerge.report.html import write_report

__all__ = ["write_report"]
