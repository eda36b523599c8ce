"""What a person sees while galmerge works and when it reports: progress, and numbers with their uncertainty.

Progress: a tqdm bar on a terminal; elsewhere (a log file, CI, a notebook's captured output) one
line when a stage starts and one when it ends, instead of thousands of carriage-return updates.

Numbers: one formatting of a value with an interval, or of a mean over seeds, shared by the
command line, the HTML report, the tables and the tests.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Iterable, Iterator, Sequence, TypeVar

__all__ = ["progress_bar", "format_interval", "format_seed_mean", "format_number"]

T = TypeVar("T")


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def progress_bar(iterable: Iterable[T], *, desc: str, total: int | None = None, unit: str = "it", enabled: bool = True, stream=None) -> Iterator[T]:
    """Iterate over ``iterable`` showing progress on ``stream`` (default standard error).

    Parameters
    ----------
    desc : str
        What the stage does ("rendering mocks").
    total : int, optional
        Number of items (default ``len(iterable)`` when it has one).
    enabled : bool
        ``False``: no output at all (the ``--quiet`` of the command line).
    stream : file, optional
        Where to write; a terminal gets a tqdm bar, anything else a line at the start and the end.
    """
    stream = sys.stderr if stream is None else stream
    if not enabled:
        yield from iterable
        return
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    if _is_terminal(stream):
        from tqdm.auto import tqdm

        yield from tqdm(iterable, desc=desc, total=total, unit=unit, file=stream)
        return
    started = time.perf_counter()
    print(f"{desc}: started ({total if total is not None else '?'} {unit})", file=stream, flush=True)
    count = 0
    for item in iterable:
        count += 1
        yield item
    print(f"{desc}: done, {count} {unit} in {time.perf_counter() - started:.1f} s", file=stream, flush=True)


def format_number(value: float | None, *, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals; ``-`` when there is none (None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def format_interval(value: float | None, interval: Sequence[float] | None = None, *, digits: int = 3) -> str:
    """``0.912 [0.880, 0.940]``: a value and its interval (just the value when there is no interval)."""
    text = format_number(value, digits=digits)
    if interval is None or text == "-" or any(math.isnan(v) for v in interval):
        return text
    low, high = interval
    return f"{text} [{low:.{digits}f}, {high:.{digits}f}]"


def format_seed_mean(mean: float | None, std: float | None = None, *, n_seeds: int = 1, digits: int = 3) -> str:
    """``0.912 ± 0.010`` over several seeds; just ``0.912`` for one seed (a spread of one value is no spread)."""
    text = format_number(mean, digits=digits)
    if n_seeds < 2 or std is None or text == "-":
        return text
    return f"{text} ± {std:.{digits}f}"
