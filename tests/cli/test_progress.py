import io

import pytest
from rich.console import Console

from pacgan_cli.cli.progress import PlainReporter, RichReporter, RunClock, format_duration, time_left


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def render(reporter: RichReporter, width: int = 80) -> list[str]:
    """The lines the live display shows, as plain text at `width` columns."""
    console = Console(width=width, record=True, file=io.StringIO())
    for renderable in reporter.progress.get_renderables():
        console.print(renderable)
    return console.export_text().splitlines()


def test_time_left_is_the_remaining_steps_at_the_pace_so_far() -> None:
    assert time_left(10.0, done=5, remaining=20) == pytest.approx(40.0)
    assert time_left(10.0, done=5, remaining=-3) == 0.0
    assert time_left(0.0, done=0, remaining=20) is None


def test_durations_are_hours_minutes_seconds_past_a_day() -> None:
    assert format_duration(0.4) == "0:00:00"
    assert format_duration(3725) == "1:02:05"
    assert format_duration(100 * 3600 + 59.6) == "100:01:00"
    assert format_duration(None) == "-:--:--"


def test_the_run_estimate_covers_the_later_stages_at_the_current_pace() -> None:
    clock = FakeClock()
    times = RunClock(clock)
    times.start_stage(40, {"run_total": 400, "run_done": 0})
    clock.now += 8.0
    times.advance(40)
    times.start_stage(120, {"run_total": 400, "run_done": 40})
    assert times.stage_left() is None and times.run_left() is None  # no pace in this stage yet
    for _ in range(12):
        clock.now += 1.0
        times.advance(1)
    assert times.stage_elapsed() == pytest.approx(12.0)
    assert times.stage_left() == pytest.approx(108.0)  # 108 steps of this stage at 1 s
    assert times.run_elapsed() == pytest.approx(20.0)  # from the first stage's start
    assert times.run_left() == pytest.approx(348.0)  # 400 - 40 - 12 steps at 1 s


def test_without_run_steps_only_the_stage_is_timed() -> None:
    times = RunClock(FakeClock())
    times.start_stage(10, {})
    assert times.run_elapsed() is None and times.run_left() is None


def test_the_training_display_fits_80_columns_and_names_every_time() -> None:
    clock = FakeClock()
    reporter = RichReporter(Console(width=80, force_terminal=True, file=io.StringIO()), clock)
    reporter.stage_started("stage 6/7 128x128", total=9000, epochs=100, run_total=63000, run_done=0)
    clock.now += 30 * 3600
    reporter.advance(9000, epoch=100, epochs=100, alpha=1.0)
    reporter.stage_finished()
    reporter.stage_started("stage 7/7 256x256", total=54000, epochs=100, run_total=63000, run_done=9000)
    clock.now += 3600
    reporter.advance(1200, epoch=3, epochs=100, alpha=0.071, d_loss=-12.345, g_loss=10.5)
    lines = render(reporter)
    reporter.close()

    assert lines == [line[:80] for line in lines] and not any("…" in line for line in lines)
    finished, current, run, status = lines
    assert finished.startswith("stage 6/7 128x128 ━")
    assert finished.split()[-4:] == ["9000/9000", "30:00:00", "elapsed", "done"]
    assert current.startswith("stage 7/7 256x256 ")  # at 2 % the bar is still blank
    assert current.split()[-5:] == ["1200/54000", "1:00:00", "elapsed", "44:00:00", "left"]
    assert run.startswith("whole run         ━")  # 16 %; 52800 more steps at the last stage's 3 s/step
    assert run.split()[-5:] == ["10200/63000", "31:00:00", "elapsed", "44:00:00", "left"]
    assert status == "epoch 3/100  alpha 0.071  D -12.345  G +10.500"


def test_a_single_stage_without_run_steps_has_no_run_row() -> None:
    clock = FakeClock()
    reporter = RichReporter(Console(width=80, force_terminal=True, file=io.StringIO()), clock)
    reporter.stage_started("classify", total=240)
    clock.now += 2.0
    reporter.advance(60)
    lines = render(reporter)
    reporter.close()
    assert len(lines) == 1 and lines[0].split()[-5:] == ["60/240", "0:00:02", "elapsed", "0:00:06", "left"]


def test_plain_lines_carry_the_stage_and_run_times(capsys: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock()
    reporter = PlainReporter(clock)
    reporter.stage_started("stage 1/2 4x4", total=10, epochs=2, run_total=30, run_done=0)
    for epoch in (1, 2):
        for _ in range(5):
            clock.now += 2.0
            reporter.advance(1, epoch=epoch, epochs=2, alpha=0.5)  # no line within a minute
        reporter.epoch_finished(epoch, 2, d_loss=-1.0, g_loss=2.0)
    reporter.stage_finished()
    reporter.stage_started("generate 4x4", total=8)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "stage 1/2 4x4: started (10 steps)",
        "stage 1/2 4x4: 5/10  epoch 1/2  alpha 0.500  D -1.000  G +2.000  "
        "elapsed 0:00:10, left 0:00:10; run elapsed 0:00:10, left 0:00:50",
        "stage 1/2 4x4: 10/10  epoch 2/2  alpha 0.500  D -1.000  G +2.000  "
        "elapsed 0:00:20, left 0:00:00; run elapsed 0:00:20, left 0:00:40",
        "stage 1/2 4x4: finished in 0:00:20; run elapsed 0:00:20, left 0:00:40",
        "generate 4x4: started (8 steps)",
    ]
