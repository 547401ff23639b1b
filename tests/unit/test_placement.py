"""Where the stack's parts run: the core and priority plan of `slakit.stack.placement`."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys

import pytest

from slakit.stack import placement, process
from slakit.stack.parts import PARTS
from slakit.stack.process import PartSpec
from tests.conftest import run_cli
from tests.servers import wait_until


def test_engine_gets_every_core_but_the_last() -> None:
    assert placement.engine_cores({0, 1}) == "0"
    assert placement.engine_cores({0, 1, 2, 3}) == "0,1,2"
    assert placement.engine_cores({3}) == "nobind"


def test_observers_are_stack_parts_and_the_request_path_keeps_default_priority() -> None:
    keys = {key for key, _, _ in PARTS}
    assert placement.OBSERVERS <= keys and "elasticsearch" in keys
    for key in ("engine", "gateway"):
        assert placement.nice_for(key) == 0
    assert placement.nice_for("elasticsearch") == placement.ELASTICSEARCH_NICE < 0
    assert placement.nice_for("prometheus") == placement.OBSERVER_NICE > 0


@pytest.mark.skipif(
    os.geteuid() != 0,
    reason="raising a niceness needs root (CAP_SYS_NICE); unprivileged, slakit leaves it at 0",
)
def test_a_part_run_as_another_user_gets_its_raised_niceness_children_too(tmp_path) -> None:
    """As Elasticsearch starts: as its own user (`nobody` stands in), a launcher that
    starts the server at once (a shell starting `sleep`), each at the raised niceness."""
    spec = PartSpec(
        "probe", ["sh", "-c", "sleep 30 & wait"], "", tmp_path / "probe.log", "", 10,
        user="nobody", nice=placement.ELASTICSEARCH_NICE,
    )  # fmt: skip
    pid = process.start(spec)
    try:
        children = f"/proc/{pid}/task/{pid}/children"
        wait_until(lambda: open(children).read().split(), 10, "the launched child")
        (child,) = map(int, open(children).read().split())
        for started in (pid, child):
            assert os.getpriority(os.PRIO_PROCESS, started) == placement.ELASTICSEARCH_NICE
            assert os.stat(f"/proc/{started}").st_uid == pwd.getpwnam("nobody").pw_uid
    finally:
        os.killpg(pid, signal.SIGKILL)


def test_placement_of_a_running_process_reads_its_niceness_and_cores() -> None:
    here = placement.Placement.of(os.getpid())
    assert here.nice == os.getpriority(os.PRIO_PROCESS, 0)
    assert here.cpus == placement._ranges(sorted(os.sched_getaffinity(0)))
    assert placement._ranges([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
    assert placement.Placement.of(2**22 + 7) is None  # no such process


def test_the_generator_asks_for_realtime_then_nice_and_refuses_an_unknown_choice(
    tmp_path,
) -> None:
    """`slakit run` sets its scheduling first thing (as root: SCHED_RR, not inherited by
    what it starts); a choice it does not know is exit 2."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import subprocess\nfrom slakit.stack.placement import prioritise_generator\n"
        "print(prioritise_generator())\n"
        "print(subprocess.run(['chrt', '-p', '$$'], capture_output=True, text=True).stdout)\n"
    )
    root = os.geteuid() == 0
    expected = {
        "realtime": f"SCHED_RR {placement.GENERATOR_RT_PRIORITY}" if root else "nice 0",
        "nice": f"nice {placement.GENERATOR_NICE}" if root else "nice 0",
        "default": "nice 0",
    }
    for asked, got in expected.items():
        out = subprocess.run(
            [sys.executable, str(probe)],
            capture_output=True,
            text=True,
            env={**os.environ, placement.GENERATOR_PRIORITY_ENV: asked},
            timeout=60,
        )
        lines = out.stdout.splitlines()
        assert lines[0] == got, out.stderr
    child = subprocess.run(
        ["chrt", "-p", str(os.getpid())], capture_output=True, text=True
    ).stdout  # this test process: never changed by the probes
    assert "SCHED_OTHER" in child
    bad = run_cli("run", "scenario", "x.yaml", env={placement.GENERATOR_PRIORITY_ENV: "fast"})
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [
        "slakit: SLAKIT_GENERATOR_PRIORITY: expected one of realtime, nice, default, got 'fast'"
    ]


def test_what_the_realtime_generator_starts_runs_as_an_ordinary_process(tmp_path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import subprocess\nfrom slakit.stack.placement import prioritise_generator\n"
        "prioritise_generator()\n"
        "print(subprocess.run(['sh', '-c', 'chrt -p $$'], capture_output=True, text=True).stdout)"
    )
    out = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, timeout=60)
    assert "SCHED_OTHER" in out.stdout and "SCHED_RR" not in out.stdout, out.stdout + out.stderr
