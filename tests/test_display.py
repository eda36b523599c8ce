"""Progress a person can follow in a terminal and in a log, and numbers formatted one way everywhere."""

import io

from galmerge.display import format_interval, format_seed_mean, progress_bar


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_in_a_log_is_one_line_at_the_start_and_one_at_the_end():
    log = io.StringIO()
    assert list(progress_bar(range(500), desc="rendering mocks", unit="task", stream=log)) == list(range(500))
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in log.getvalue()
    assert lines[0] == "rendering mocks: started (500 task)" and lines[1].startswith("rendering mocks: done, 500 task in ")


def test_progress_on_a_terminal_is_a_bar_and_quiet_is_silent():
    terminal = FakeTerminal()
    list(progress_bar(range(50), desc="reading", stream=terminal))
    assert "\r" in terminal.getvalue() and "50/50" in terminal.getvalue()
    silent = io.StringIO()
    assert list(progress_bar(iter(range(3)), desc="x", enabled=False, stream=silent)) == [0, 1, 2]
    assert silent.getvalue() == ""


def test_numbers_with_intervals_and_over_seeds():
    assert format_interval(0.91234, (0.88, 0.9401)) == "0.912 [0.880, 0.940]"
    assert format_interval(0.91234, None) == "0.912"
    assert format_interval(float("nan"), (0.1, 0.2)) == "-"
    assert format_seed_mean(0.9, 0.01, n_seeds=3) == "0.900 ± 0.010"
    assert format_seed_mean(0.9, 0.0, n_seeds=1) == "0.900"  # one seed has no spread to show
