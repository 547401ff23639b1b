"""`slakit` run with its wall clock stepped mid-run, as an NTP step would do it.

    python -m tests.stepped_clock STEP_S TRIGGER_FILE slakit-args...

`time.time` and `time.time_ns` jump STEP_S seconds (negative: back) once TRIGGER_FILE
exists (the test creates it while requests are in flight); the monotonic clocks do not.
This stands in for changing the machine's clock, which a test must not do to a shared
machine and which libfaketime 0.9.10 (Debian's) cannot do here: under it, Python 3.11's
`time.sleep` fails with EINVAL.
"""

from __future__ import annotations

import os
import runpy
import sys
import time

LOOK_EVERY_S = 0.005


def main() -> None:
    step_s, trigger = float(sys.argv[1]), sys.argv[2]
    real_time, real_ns = time.time, time.time_ns
    state = {"stepped": False, "looked": 0.0}

    def offset_s() -> float:
        now = time.monotonic()
        if not state["stepped"] and now - state["looked"] >= LOOK_EVERY_S:
            state["looked"], state["stepped"] = now, os.path.exists(trigger)
        return step_s if state["stepped"] else 0.0

    time.time = lambda: real_time() + offset_s()
    time.time_ns = lambda: real_ns() + int(offset_s() * 1e9)
    sys.argv = ["slakit", *sys.argv[3:]]
    runpy.run_module("slakit", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
