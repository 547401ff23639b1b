"""Where the stack's parts run: the core and priority plan of `slakit.stack.placement`."""

from __future__ import annotations

import os

from slakit.stack import placement
from slakit.stack.parts import PARTS


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
