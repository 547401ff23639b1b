"""The words of "what limited it": each finding of the report model as one sentence, for
the Markdown and HTML reports and the terminal alike (the report stores values only)."""

from __future__ import annotations

from functools import singledispatch

from slakit.report.model import (
    Correlated,
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
