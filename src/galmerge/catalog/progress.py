"""Progress of a long pass over objects: a tqdm bar with objects/s and ETA, or a line every so often.

On a terminal this is a tqdm bar; in a log file (a batch job) a bar's carriage returns are noise,
so it prints a line per tenth of the work or per minute, whichever comes first.
"""

from __future__ import annotations

import sys
import time

__all__ = ["ObjectProgress"]


class ObjectProgress:
    """Count objects done out of ``total``; ``enabled=False`` prints nothing."""

    def __init__(self, total: int, *, desc: str, enabled: bool = True, initial: int = 0):
        self.total, self.desc, self.enabled = total, desc, enabled
        self.done = initial
        self.start = time.perf_counter()
        self.start_count = initial
        self.bar = None
        self.next_line = 0.0
        if enabled and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit="obj", unit_scale=True, smoothing=0.1)
        elif enabled:
            self._line()

    def update(self, count: int) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
        elif self.enabled and (time.perf_counter() >= self.next_line or self.done >= self.total):
            self._line()

    def _line(self) -> None:
        elapsed = time.perf_counter() - self.start
        rate = (self.done - self.start_count) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        percent = 100.0 * self.done / self.total if self.total else 100.0
        print(
            f"{self.desc}: {self.done:,}/{self.total:,} objects ({percent:.0f} %), {rate:,.0f} obj/s, ETA {eta:.0f} s"
            if eta == eta
            else f"{self.desc}: {self.done:,}/{self.total:,} objects ({percent:.0f} %)",
            file=sys.stderr,
            flush=True,
        )
        self.next_line = time.perf_counter() + min(60.0, max(5.0, 0.1 * self.total / rate if rate > 0 else 5.0))

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> "ObjectProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
