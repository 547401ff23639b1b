"""Open-loop arrival schedules: due times handed out in real time as they fall due, and
the offered / backlog counts written beside the samples. Each test stays well under 3 s."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import gevent
import pytest

from slakit.load.arrivals import ArrivalSchedule, read_schedules
from slakit.scenario.schedules import Pace


def take_all(schedule: ArrivalSchedule) -> list[float]:
    """Every due time the schedule hands out, until it says it is over (None)."""
    due = []
    with gevent.Timeout(5):
        while (next_due := schedule.take()) is not None:
            due.append(next_due)
    return due


@pytest.mark.timeout(10)
def test_constant_schedule_offers_evenly_spaced_due_times_in_real_time() -> None:
    begin = time.monotonic()
    schedule = ArrivalSchedule(Pace.fixed(50, 1.0, "constant"))
    due = take_all(schedule)
    taken_by = time.monotonic()

    assert 50 <= len(due) <= 51  # [start, start + 1 s) at 50/s; float steps may add one
    assert schedule.offered == len(due)
    assert due[0] == pytest.approx(begin, abs=0.1)
    gaps = [b - a for a, b in zip(due, due[1:], strict=False)]
    assert gaps == pytest.approx([0.02] * len(gaps), abs=1e-6)  # float steps
    assert due[-1] - due[0] < 1.0
    # open loop: due times are handed out when they fall due, not all at once
    assert taken_by - begin >= 0.9
    # over is over: every later take answers at once, for every user
    with gevent.Timeout(0.1):
        assert schedule.take() is None and schedule.take() is None


@pytest.mark.timeout(10)
def test_poisson_due_times_follow_the_seeded_exponential_gaps() -> None:
    schedule = ArrivalSchedule(Pace.fixed(200, 0.3, "poisson"), seed=11)
    due = take_all(schedule)
    reference = random.Random(11)
    expected_gaps, t = [], 0.0
    while True:
        gap = reference.expovariate(200)
        t += gap
        if t >= 0.3:
            break
        expected_gaps.append(gap)
    gaps = [b - a for a, b in zip(due, due[1:], strict=False)]
    assert gaps == pytest.approx(expected_gaps, abs=1e-6)  # float steps


@pytest.mark.timeout(10)
def test_close_records_offered_and_never_sent_due_times(tmp_path: Path) -> None:
    schedule = ArrivalSchedule(Pace.fixed(100, 0.2, "constant"))
    schedule.take()  # starts the dispatcher; nobody takes the rest: they pile up
    gevent.sleep(0.4)
    path = tmp_path / "schedule-local.json"
    schedule.close(path)
    data = json.loads(path.read_text())
    assert data["rps"] == 100
    assert 20 <= data["offered"] <= 21
    assert data["backlog"] == data["offered"] - 1


@pytest.mark.timeout(10)
def test_close_stops_the_dispatcher(tmp_path: Path) -> None:
    schedule = ArrivalSchedule(Pace.fixed(100, 10, "constant"))
    begin = time.monotonic()
    schedule.take()
    gevent.sleep(0.1)
    schedule.close(tmp_path / "schedule-a.json")
    elapsed = time.monotonic() - begin  # a busy machine oversleeps: count what was due
    offered = json.loads((tmp_path / "schedule-a.json").read_text())["offered"]
    assert 5 <= offered <= elapsed * 100 + 1
    gevent.sleep(0.2)
    assert schedule.offered == offered  # nothing more is offered after close


def test_close_before_any_take_records_nothing_offered(tmp_path: Path) -> None:
    ArrivalSchedule(Pace.fixed(10, 5, "poisson")).close(tmp_path / "schedule-x.json")
    assert json.loads((tmp_path / "schedule-x.json").read_text()) == {
        "rps": 10,
        "offered": 0,
        "backlog": 0,
    }


def test_read_schedules_sums_every_process(tmp_path: Path) -> None:
    for name, offered, backlog in [("local", 100, 3), ("worker-1", 40, 0), ("worker-2", 7, 5)]:
        (tmp_path / f"schedule-{name}.json").write_text(
            json.dumps({"rps": 1, "offered": offered, "backlog": backlog})
        )
    (tmp_path / "samples-local.jsonl").write_text('{"offered": 1000, "backlog": 1000}\n')
    (tmp_path / "other.json").write_text(json.dumps({"offered": 1000, "backlog": 1000}))
    assert read_schedules(tmp_path) == (147, 8)


def test_read_schedules_of_a_closed_loop_run_is_zero(tmp_path: Path) -> None:
    assert read_schedules(tmp_path) == (0, 0)


@pytest.mark.timeout(10)
def test_read_schedules_reads_what_close_wrote(tmp_path: Path) -> None:
    for name in ("a", "b"):
        schedule = ArrivalSchedule(Pace.fixed(100, 0.05, "constant"))
        schedule.take()
        gevent.sleep(0.1)
        schedule.close(tmp_path / f"schedule-{name}.json")
    offered, backlog = read_schedules(tmp_path)
    assert 10 <= offered <= 12  # 5 (or 6) per schedule
    assert backlog == offered - 2  # one taken from each


@pytest.mark.timeout(10)
def test_the_most_recently_free_user_takes_the_next_due_time() -> None:
    """Eight users, requests that end before the next falls due: one user sends them all
    (its connection stays warm), where a first-come queue would rotate all eight. The
    request takes no time, so the user is free again before the dispatcher can run, on a
    machine however busy (a 2 ms request lost that race twice at load average 5-9). Due
    times are 100 ms apart: two fall due together (and rightly go to two users) only if
    the process waits that long for a core (at 40 a second it did once, at load 10)."""
    schedule = ArrivalSchedule(Pace.fixed(10, 2.0, "constant"))
    sent_by: list[int] = []

    def user(index: int) -> None:
        while schedule.take() is not None:
            sent_by.append(index)  # the request: done before the user asks again

    with gevent.Timeout(5):
        gevent.joinall([gevent.spawn(user, i) for i in range(8)], raise_error=True)
    assert len(sent_by) == schedule.offered >= 19
    assert len(set(sent_by)) == 1, sent_by


@pytest.mark.timeout(10)
def test_busy_users_leave_due_times_waiting_oldest_first() -> None:
    """Two users busy 100 ms each at 50 due times a second: the rest wait, and go out in
    the order they fell due (each taken one is later than the last)."""
    schedule = ArrivalSchedule(Pace.fixed(50, 0.4, "constant"))
    taken: list[float] = []

    def user() -> None:
        while (due := schedule.take()) is not None:
            taken.append(due)
            gevent.sleep(0.1)

    with gevent.Timeout(5):
        gevent.joinall([gevent.spawn(user) for _ in range(2)], raise_error=True)
    assert taken == sorted(taken) and len(taken) == schedule.offered
