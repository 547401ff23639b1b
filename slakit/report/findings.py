"""The words of "what limited it": each finding of the report model as one sentence, for
the Markdown and HTML reports and the terminal alike (the report stores values only)."""

from __future__ import annotations

import time
from functools import singledispatch

from slakit.report.model import (
    Correlated,
    FaultSeen,
    KvCacheFull,
    QueueRising,
    RateNotKept,
    RequestsFailed,
    RetrieveDominates,
    TextFinding,
)


@singledispatch
def describe(finding) -> str:
    """One sentence naming what moved with the violation."""
    raise TypeError(f"no words for {type(finding).__name__}")


@describe.register
def _(f: QueueRising) -> str:
    return (
        f"vLLM waiting requests rose from {f.first:.1f} to {f.last:.1f}: "
        "requests queued for the engine"
    )


@describe.register
def _(f: KvCacheFull) -> str:
    return (
        f"vLLM KV cache reached {f.peak:.0%} (full from {f.threshold:.0%}): "
        "the batch could not grow"
    )


@describe.register
def _(f: RetrieveDominates) -> str:
    return (
        f"the gateway's retrieve stage (Elasticsearch, {f.retrieve_s * 1000:.0f} ms mean) "
        f"took longer than generation ({f.generate_s * 1000:.0f} ms)"
    )


@describe.register
def _(f: RequestsFailed) -> str:
    ranked = sorted(f.by_class.items(), key=lambda e: -e[1])
    return "requests failed: " + ", ".join(f"{n} × {cls}" for cls, n in ranked)


@describe.register
def _(f: RateNotKept) -> str:
    due = f" of {f.offered} due" if f.offered is not None else ""
    return (
        f"the requested {f.requested_rps:g} req/s was not kept: {f.late_share:.0%} of "
        f"requests went out more than {f.late_after_s * 1000:.0f} ms late and "
        f"{f.never_sent}{due} were never sent"
    )


@describe.register
def _(f: Correlated) -> str:
    return f"{f.series} moved with client p95 latency (r = {f.r:.2f})"


@describe.register
def _(f: TextFinding) -> str:
    return f.text


@describe.register
def _(f: FaultSeen) -> str:
    if f.error is not None:
        return f"{f.action} of replica {f.replica} was not done: {f.error}"
    when = f"{time.strftime('%H:%M:%S', time.gmtime(f.at))} UTC, +{f.offset_s:.1f} s into the load"
    lost = f"{f.failed} request{'s' * (f.failed != 1)}"
    if f.action == "kill":
        return (
            f"replica {f.replica} (pid {f.pid}) killed at {when}: the balancer took it out "
            f"after {f.out_s:.2f} s (failover); {lost} lost"
        )
    if f.action == "restart":
        return (
            f"replica {f.replica} restarted at {when}: drained, restarted and back in the "
            f"pool after {f.back_s:.1f} s; {lost} failed meanwhile"
        )
    opened = f"first after {f.out_s:.2f} s" if f.out_s is not None else "never"
    return (
        f"replica {f.replica} answered errors from {when}: its circuit breaker opened "
        f"{f.opened} time{'s' * (f.opened != 1)} ({opened}); {lost} failed until it "
        f"served cleanly again {f.back_s:.1f} s after the errors began"
    )
