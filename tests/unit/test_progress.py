import io

import pytest
from rich.console import Console

from loadtest_supervisor.live.progress import LiveFigures, ProgressLine
from loadtest_supervisor.metrics.stats import MergedStats, Stats

HDR = 1e-3


def merged(ok, errors=0, latency_ms=10):
    stats = Stats()
    for _ in range(ok):
        stats.record(200, latency_ms * 1000)
    for _ in range(errors):
        stats.record(503, latency_ms * 1000, "http_5xx")
    return LiveFigures.of(MergedStats.of([stats.snapshot()]))


def plain_console():
    return Console(file=io.StringIO(), force_terminal=False, width=200)


def lines(console):
    return console.file.getvalue().splitlines()


def test_plain_output_at_most_every_five_seconds_and_on_stop():
    console = plain_console()
    progress = ProgressLine(console, total_s=60)
    progress.start()
    for second in range(1, 13):
        progress.update(float(second), merged(100 * second))
    progress.stop()

    out = lines(console)
    assert [line.split()[0] for line in out] == ["00:05/01:00", "00:10/01:00", "00:12/01:00"]
    assert "1,200 requests" in out[-1]
    assert "100.0 req/s" in out[-1]


def test_plain_line_content():
    console = plain_console()
    progress = ProgressLine(console, total_s=90)
    progress.start()
    progress.update(1.0, merged(100))
    # 300 more requests in the 2 s since the last update: 150 req/s, not the average.
    progress.update(3.0, merged(396, errors=4, latency_ms=20))
    progress.stop()

    (line,) = lines(console)
    assert line.startswith("00:03/01:30  400 requests  150.0 req/s  errors 1.00%")
    p50 = float(line.split("p50 ")[1].split(" ms")[0])
    p99 = float(line.split("p99 ")[1].split(" ms")[0])
    assert p50 == pytest.approx(20.0, rel=HDR)
    assert p99 == pytest.approx(20.0, rel=HDR)


def test_stop_does_not_repeat_a_line_just_printed():
    console = plain_console()
    progress = ProgressLine(console, total_s=10)
    progress.start()
    progress.update(5.0, merged(50))
    progress.stop()

    assert len(lines(console)) == 1


def test_stop_without_updates_prints_nothing():
    console = plain_console()
    progress = ProgressLine(console, total_s=10)
    progress.start()
    progress.stop()

    assert console.file.getvalue() == ""


def test_long_runs_show_hours_and_empty_totals_show_zeros():
    console = plain_console()
    progress = ProgressLine(console, total_s=3 * 86400)
    progress.start()
    progress.update(3725.0, merged(0))
    progress.stop()

    (line,) = lines(console)
    assert line == (
        "01:02:05/72:00:00  0 requests  0.0 req/s  errors 0.00%  p50 0.00 ms  p99 0.00 ms"
    )


def test_terminal_redraws_one_line_and_keeps_the_last_one():
    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    progress = ProgressLine(console, total_s=60)
    progress.start()
    for second in range(1, 4):
        progress.update(float(second), merged(10 * second))
    progress.stop()

    out = console.file.getvalue()
    for second in range(1, 4):
        assert f"00:0{second}/01:00" in out
    # Redrawn in place: one line feed in all, after the final state, which stays on screen.
    assert out.count("\n") == 1
    last_drawn = out.split("\r")[-1]
    assert "00:03/01:00  30 requests  10.0 req/s" in last_drawn
    assert last_drawn.index("00:03") < last_drawn.index("\n")
