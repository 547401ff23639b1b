"""Where the stack's parts run: the core and priority plan of `slakit.stack.placement`."""

from __future__ import annotations

import os
import subprocess
import sys

from slakit.stack import placement
from slakit.stack.parts import PARTS
from tests.conftest import run_cli


def test_engine_gets_every_core_but_the_last() -> None:
    assert placement.engine_cores({0, 1}) == "0"
    assert placement.engine_cores({0, 1, 2, 3}) == "0,1,2"
    assert placement.engine_cores({3}) == "nobind"


def test_observers_are_stack_parts_and_the_request_path_keeps_default_priority() -> None:
    keys = {key for key, _, _ in PARTS}
    assert placement.OBSERVERS <= keys
    for key in ("elasticsearch", "engine", "gateway"):
        assert placement.nice_for(key) == 0
    assert placement.nice_for("prometheus") == placement.OBSERVER_NICE > 0


def test_placement_of_a_running_process_reads_its_niceness_and_cores() -> None:
    here = placement.Placement.of(os.getpid())
    assert here.nice == os.getpriority(os.PRIO_PROCESS, 0)
    assert here.cpus == placement._ranges(sorted(os.sched_getaffinity(0)))
    assert placement._ranges([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
    assert placement.Placement.of(2**22 + 7) is None  # no such process


def test_the_generator_runs_at_the_niceness_asked_for_and_refuses_a_bad_one(tmp_path) -> None:
    """`slakit run` raises its own priority first thing (root may); a bad value is exit 2."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os\nfrom slakit.stack.placement import prioritise_generator\n"
        "print(prioritise_generator(), os.getpriority(os.PRIO_PROCESS, 0))\n"
    )
    root = os.geteuid() == 0
    for asked, expected in (("-3", -3 if root else 0), ("4", 0)):
        out = subprocess.run(
            [sys.executable, str(probe)],
            capture_output=True,
            text=True,
            env={**os.environ, placement.GENERATOR_NICE_ENV: asked},
            timeout=60,
        )
        assert out.stdout.split() == [str(expected)] * 2, out.stderr  # never lowers it
    bad = run_cli("run", "scenario", "nothing.yaml", env={placement.GENERATOR_NICE_ENV: "fast"})
    assert bad.returncode == 2
    expected_line = "slakit: SLAKIT_GENERATOR_NICE: expected a niceness (-20..19), got 'fast'"
    assert bad.stderr.splitlines() == [expected_line]
