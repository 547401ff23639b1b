"""The Locust user and load shapes slakit runs, built from a scenario.

One lean `FastHttpUser` picks a request kind per request by weight (seeded), so the mix
is exact in both closed-loop (`users`) and open-loop (`rate`) modes; its keep-alive
connections are reopened once the server may have closed them (`connections.py`). In open
loop each user takes the next due time from a shared ArrivalSchedule and records how late
it went.
Every request sent is written: with its outcome, or, if the run ends while it is still
in flight, as `cut` with the reason (the plan keeps the requests in flight for that).
"""

from __future__ import annotations

import inspect
import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from locust import FastHttpUser, LoadTestShape, constant, task
from locust.exception import StopUser

from slakit.es_auth import EsAuth
from slakit.load.arrivals import ArrivalSchedule
from slakit.load.connections import limit_idle_connections
from slakit.load.kinds import EXECUTORS, Executor
from slakit.load.profiles import Step
from slakit.load.prompts import warm_prompt_sources
from slakit.load.samples import CUT, Sample, SampleWriter
from slakit.scenario import Distribution, RequestKind, Scenario
from slakit.scenario.schedules import Due, Pace
from slakit.target import ResolvedTarget


@dataclass
class Plan:
    """Everything the users of one process share: kinds, schedule, sample sink."""

    names: list[str]
    weights: list[float]
    executors: list[Executor]
    writer: SampleWriter
    rng: random.Random
    timeout_s: float
    schedule: ArrivalSchedule | None = None
    think_time: float = 0.0
    es_auth: EsAuth | None = None  # the TLS trust of a secured Elasticsearch target
    in_flight: dict[int, Sample] = field(default_factory=dict)
    cpu_started: float = field(default_factory=time.process_time)

    def pick(self) -> int:
        return self.rng.choices(range(len(self.names)), self.weights)[0]

    def send(self, client, late_s: float, due: float | None = None) -> Sample:
        """One request of a kind picked by weight, within the request deadline, written
        once it has its outcome. Killed mid-request, it stays in flight for `close`. A
        due time that carries lengths (a trace's `Due`) gives the request its lengths."""
        index = self.pick()
        sample = Sample(self.names[index], 0.0, late_s=late_s)
        sample.begin()  # the executor stamps it again just before its send
        self.in_flight[id(sample)] = sample
        if isinstance(due, Due):
            self.executors[index](client, sample, self.timeout_s, due.lengths)
        else:
            self.executors[index](client, sample, self.timeout_s)
        del self.in_flight[id(sample)]
        self.writer.write(sample)
        return sample

    def close(self, cut_reason: str) -> None:
        """Once no user runs: write the requests still in flight as cut, flush samples,
        record the open-loop schedule's offered and unsent counts and what this process
        spent generating the load."""
        for sample in self.in_flight.values():
            sample.finish()
            sample.error, sample.cut_reason = CUT, cut_reason
            self.writer.write(sample)
        self.in_flight.clear()
        self.writer.close()
        name = self.writer.path.stem.removeprefix("samples-")
        if self.schedule is not None:
            self.schedule.close(self.writer.path.with_name(f"schedule-{name}.json"))
        cost = GeneratorCost(time.process_time() - self.cpu_started, self.writer.count)
        self.writer.path.with_name(f"generator-{name}.json").write_text(json.dumps(asdict(cost)))


@dataclass
class GeneratorCost:
    """What one generator process spent on its load: CPU seconds (user + system, every
    greenlet: users, arrivals, Locust's own), and the requests it sent."""

    cpu_s: float
    requests: int


def read_generator_costs(run_dir: Path) -> GeneratorCost | None:
    """The generator processes' costs of a run (every step of a sweep), summed; None when
    none was recorded."""
    costs = [GeneratorCost(**json.loads(p.read_text())) for p in run_dir.rglob("generator-*.json")]
    if not costs:
        return None
    return GeneratorCost(sum(c.cpu_s for c in costs), sum(c.requests for c in costs))


def build_plan(
    scenario: Scenario,
    target: ResolvedTarget,
    writer: SampleWriter,
    *,
    pace: Pace | None = None,
    seed_offset: int = 0,
) -> Plan:
    rng = random.Random(scenario.seed * 1000 + seed_offset)
    warm_prompt_sources()  # load the corpus now, not inside the first timed request
    schedule = ArrivalSchedule(pace, seed=scenario.seed + seed_offset) if pace else None
    executors = [EXECUTORS[k.kind](_sized_for(k, pace), target, rng) for k in scenario.workload]
    _warm_locust_stop()  # after sizing, whose imports are then in the cache too
    return Plan(
        names=scenario.kind_names(),
        weights=[k.weight for k in scenario.workload],
        executors=executors,
        writer=writer,
        rng=rng,
        timeout_s=scenario.load.request_timeout,
        schedule=schedule,
        think_time=scenario.load.users.think_time if scenario.load.users else 0.0,
        es_auth=target.es_auth,
    )


def _warm_locust_stop() -> None:
    """Fill the cache `inspect` maps loaded modules to their files with (the first
    `inspect.stack()` of a process builds it: 100 ms over the ~2,000 modules of a run),
    now, before any request is timed. Locust's `Runner.stop` calls `inspect.stack()` to
    log its caller when the shape ends the schedule: uncached, that blocked every
    greenlet for 100 ms while any request was still in flight, and their tokens were
    stamped late (measured: the last three requests of a wire-checked run whose target
    answered slowly at the end, client TTFT 12-36 ms over the wire's, stamped at one
    instant 100 ms after the schedule's end)."""
    inspect.stack()


def _sized_for(kind: RequestKind, pace: Pace | None) -> RequestKind:
    """A trace's kinds (chat or completions) have prompts sized for every input length
    in its rows; each request then takes the length its row asks for."""
    if pace is None or not pace.trace:
        return kind
    lengths = [row.input_tokens for row in pace.trace]
    tokens = Distribution(dist="uniform", min=min(lengths), max=max(lengths))
    return kind.model_copy(update={"input_tokens": tokens})


def make_user(plan: Plan) -> type[FastHttpUser]:
    """A FastHttpUser class bound to `plan` (absolute URLs, so `host` is a placeholder)."""

    class SlakitUser(FastHttpUser):
        host = "http://127.0.0.1"
        network_timeout = plan.timeout_s
        connection_timeout = min(5.0, plan.timeout_s)
        wait_time = constant(plan.think_time)
        if plan.es_auth is not None:
            # TLS as the target's Elasticsearch credential says (Locust's default is
            # unverified); geventhttpclient asks the factory for a context per host.
            insecure = not plan.es_auth.verify_tls
            ssl_context_factory = staticmethod(lambda cafile=None: plan.es_auth.ssl_context())

        def __init__(self, environment) -> None:
            super().__init__(environment)
            limit_idle_connections(self.client)

        @task
        def one_request(self) -> None:
            late, due = 0.0, None
            if plan.schedule is not None:
                due = plan.schedule.take()
                if due is None:
                    raise StopUser  # the schedule is over: no request, and no busy loop
                late = time.monotonic() - due
            sample = plan.send(self.client, late, due)
            if sample.ttft_s is not None:
                self.environment.events.request.fire(
                    request_type="TTFT",
                    name=sample.kind,
                    response_time=sample.ttft_s * 1000,
                    response_length=0,
                    exception=None,
                    context={},
                )

    return SlakitUser


def make_shape(steps: list[tuple[float, int, float]]) -> type[LoadTestShape]:
    """A shape from (duration_s, users, spawn_rate) steps; stops after the last."""

    class StepsShape(LoadTestShape):
        def tick(self):
            elapsed = self.get_run_time()
            for end, users, rate in _cumulative(steps):
                if elapsed < end:
                    return users, rate
            return None

    return StepsShape


def _cumulative(steps: list[tuple[float, int, float]]):
    end = 0.0
    for duration, users, rate in steps:
        end += duration
        yield end, users, rate


def shape_steps(scenario: Scenario, step: Step) -> list[tuple[float, int, float]]:
    """The step's user steps: `concurrency` users for its duration (closed loop), the
    `users` stages, or open loop, users for max concurrency to take the due times."""
    load = scenario.load
    if step.concurrency is None and load.users:
        return [(s.duration, s.users, s.spawn_rate) for s in load.users.stages]
    users = step.concurrency or load.open_loop_slots
    # Locust warns above 100 users/s; arrivals start with the first user anyway.
    return [(step.duration, users, float(min(users, 100)))]
