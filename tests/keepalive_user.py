"""`python -m tests.keepalive_user URL SERVER_PID PAUSE`: one slakit user, built as a run
builds it (`build_plan`, `make_user`), sends a streamed chat to URL, waits PAUSE, sends
another, and prints a JSON line: each request's error and status, the local port of the
connection its pool kept, and the requests and failures it reported to Locust.

PAUSE `stall` stalls the server (SERVER_PID) across its keep-alive deadline instead: it is
stopped just before the deadline and resumed STALL_PAST_S after it, with the second request
sent in between, once its connection idled past `KEEPALIVE_REUSE_S`. A child process,
because Locust must monkey-patch before anything imports ssl (pytest has).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from locust.env import Environment  # noqa: E402

from slakit.catalogue.defaults import KEEPALIVE_REUSE_S, KEEPALIVE_S  # noqa: E402
from slakit.load.samples import SampleWriter  # noqa: E402
from slakit.load.users import build_plan, make_user  # noqa: E402
from slakit.scenario import Scenario  # noqa: E402
from slakit.target import ResolvedTarget  # noqa: E402

STALL_PAST_S = 0.5
"""The server stalls this long past its keep-alive deadline (a busy machine's core)."""
STOP_BEFORE_S = 0.6
"""It is stopped this long before the deadline, still after KEEPALIVE_REUSE_S of idling."""
SCENARIO = {
    "name": "keepalive",
    "workload": [{"kind": "chat", "stream": True, "input_tokens": 16, "output_tokens": 4}],
    "load": {"users": {"stages": [{"users": 1, "spawn_rate": 1, "duration": "10s"}]}},
    "slos": [{"name": "errors", "sli": "error_rate", "aggregation": "ratio", "objective": "< 1%"}],
}


def _pooled_port(user) -> int:
    """The local port of the one connection the user's pool holds between requests."""
    (client,) = user.client.client.clientpool.clients.values()
    (sock,) = client._connection_pool._pool._socket_queue.queue  # IdleLimit's own pool
    return sock.getsockname()[1]


def _at(when: float) -> None:
    gevent.sleep(max(0.0, when - time.monotonic()))


def main(url: str, server_pid: int, pause: str) -> None:
    target = ResolvedTarget(url, None, None, None, model="slakit-tiny", engine="sim")
    with tempfile.TemporaryDirectory() as out:
        plan = build_plan(
            Scenario.model_validate(SCENARIO), target, SampleWriter(Path(out) / "s.jsonl")
        )
        env, reported = Environment(), []
        env.events.request.add_listener(lambda exception, **_: reported.append(exception))
        user = make_user(plan)(env)
        samples = [plan.send(user.client, 0.0)]
        idle_from, ports = time.monotonic(), [_pooled_port(user)]
        if pause == "stall":
            _at(idle_from + KEEPALIVE_S - STOP_BEFORE_S)
            os.kill(server_pid, signal.SIGSTOP)
            _at(idle_from + KEEPALIVE_REUSE_S + (KEEPALIVE_S - KEEPALIVE_REUSE_S) / 2)
            request = gevent.spawn(plan.send, user.client, 0.0)
            _at(idle_from + KEEPALIVE_S + STALL_PAST_S)
            os.kill(server_pid, signal.SIGCONT)
            samples.append(request.get(timeout=10))
        else:
            gevent.sleep(float(pause))
            samples.append(plan.send(user.client, 0.0))
        ports.append(_pooled_port(user) if samples[-1].error is None else None)
    print(
        json.dumps(
            {
                "errors": [s.error for s in samples],
                "statuses": [s.status for s in samples],
                "ports": ports,
                "requests": len(reported),
                "failures": sum(e is not None for e in reported),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
