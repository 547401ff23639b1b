"""The report: everything needed to re-render and re-gate a run, versioned.

`report.json` is this model serialised. Renderers (JUnit, Markdown, HTML) read only this;
`slakit check` re-gates from it (and from the samples beside it) without sending load.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

SCHEMA_VERSION = 1

Verdict = Literal["pass", "warn", "fail", "inconclusive"]

SERVER, TOKENIZER, WORDS = "server", "tokenizer", "words"
"""How a kind's prompts were sized (`Sample.tokens_in_sized_by`, `slakit.load.sizing`):
by the target's /tokenize, by a local tokenizer, or approximately, one word per token."""


class SloResult(BaseModel):
    """One objective's verdict, with the measured value and how many samples back it."""

    name: str
    sli: str
    title: str  # the SLI's human title
    side: Literal["client", "server"]
    aggregation: str
    objective: str  # as written, e.g. "< 500ms"
    warn: str | None = None
    scope: str | None = None
    turn: str | None = None  # conversations' first or later turns only
    dimension: str  # seconds | ratio | per_second | number
    value: float | None = None  # in the SLI's base unit (seconds, ratio 0..1, per second)
    samples: int = 0
    verdict: Verdict
    detail: str = ""  # one line: why this verdict (e.g. "p95 812 ms > 500 ms")
    per_kind: dict[str, float | None] = Field(default_factory=dict)
    baseline_value: float | None = None
    regression: float | None = None  # relative change vs baseline; + means worse


class KindSummary(BaseModel):
    """Per request kind (and `all`): counts and the headline percentiles."""

    requests: int
    errors: int
    error_rate: float
    throughput_rps: float
    latency_p50: float | None = None
    latency_p95: float | None = None
    latency_p99: float | None = None
    ttft_p50: float | None = None
    ttft_p95: float | None = None
    ttft_p99: float | None = None
    tpot_p50: float | None = None
    itl_p50: float | None = None
    itl_p99: float | None = None
    output_tokens_per_s: float | None = None
    errors_by_class: dict[str, int] = Field(default_factory=dict)
    # Prompt tokens asked for (`input_tokens`) vs counted by the server (usage), means over
    # the successful requests with both; how the prompts were sized (server | tokenizer |
    # words, comma-joined when kinds differ); words are approximate by nature.
    tokens_in_requested_mean: float | None = None
    tokens_in_actual_mean: float | None = None
    tokens_in_mismatched: int = 0  # requests the server counted otherwise than asked
    tokens_in_sized_by: str | None = None
    # Open loop: the same latencies timed from when each request was due (coordinated
    # omission corrected); equal to the above when nothing went out late.
    ttft_from_due_p99: float | None = None
    latency_from_due_p99: float | None = None


class Point(BaseModel):
    """One second-bucket of the client time series (times: epoch seconds)."""

    t: float
    requests: int
    errors: int
    latency_p50: float | None = None
    latency_p95: float | None = None
    ttft_p95: float | None = None
    output_tokens: int = 0


class ServerSeries(BaseModel):
    """A server-side series over the run window, as Prometheus returned it. Series of one
    dashboard panel share `panel` (its title) and are drawn together, told apart by `legend`."""

    name: str
    title: str
    panel: str = ""
    legend: str = ""
    unit: str  # seconds | ratio | number | per_second
    promql: str
    points: list[tuple[float, float]] = Field(default_factory=list)
    note: str = ""  # e.g. "no data: the exporter is not scraped"


class ScrapeSettings(BaseModel):
    """How the server-side series were read (`slakit.metrics.read_scrape`): the scrape
    interval of the jobs behind them, where slakit read it, and the range-query step and
    rolling rate window that follow from it."""

    interval_s: float
    source: Literal["targets", "config", "default"]  # Prometheus's API, or the stack default
    jobs: list[str] = Field(default_factory=list)  # the jobs whose largest interval it is
    step_s: float
    rate_window_s: float


class SweepStep(BaseModel):
    rate: float  # offered; a closed-loop step's (`concurrency` in flight) is what it achieved
    achieved_rps: float
    verdict: Verdict
    slos: list[SloResult]
    concurrency: int | None = None  # a closed-loop step: requests in flight
    note: str = ""  # e.g. the step ended early: the target was saturated


class StageLoad(BaseModel):
    """One rate stage (or ramp) of an open-loop run: what it asked for and what went out."""

    start_rps: float
    end_rps: float  # a ramp's end; a stage's rate again
    duration_s: float
    sent: int  # requests due in the stage that were sent
    achieved_rps: float  # requests sent in the stage per second of it


class LoadInfo(BaseModel):
    mode: Literal["users", "rate", "sweep", "trace"]
    requested_rps: float | None = None
    offered_rps: float | None = None  # open loop: what the (random) schedule actually offered
    achieved_rps: float
    kept_up: bool = True
    note: str = ""  # says so when the target could not keep the requested rate
    late_share: float = 0.0  # open loop: share of requests that went out late
    late_after_s: float | None = None  # "late" meant this much after due; None: older report
    from_due_differs: list[str] = Field(default_factory=list)
    """SLIs (ttft, latency) whose p99 from the due time is materially above the client's
    (`slakit.catalogue.thresholds.FROM_DUE_MATERIAL`): the client's own numbers understate
    the wait."""
    workers: int = 0
    # Every request of the run (warm-up included) ended one way: completed, failed (an
    # error class), or cut (in flight when the run ended, with its cut_reason). In open
    # loop these and never_sent (due, but no user was free) add up to offered.
    offered: int | None = None  # open loop: requests the schedule made due
    stages: list[StageLoad] = Field(default_factory=list)  # rate stages or a ramp, each
    completed: int = 0
    failed: int = 0
    cut: int = 0
    never_sent: int = 0
    # What generating the load cost: CPU seconds of the generator process(es) while their
    # users ran, per request sent, and as cores (CPU over wall time, summed over processes).
    generator_cpu_s: float | None = None
    generator_cpu_per_request_s: float | None = None
    generator_cores: float | None = None


class RepeatRun(BaseModel):
    """One run of a repeated scenario: where its own reports are and how it went."""

    dir: str  # under the combined report's directory
    status: Literal["complete", "partial"]
    verdict: Verdict


class SloSpread(BaseModel):
    """One SLO over the runs of a repeated scenario (`slakit.repeat`): a value per run,
    their mean and a bootstrap interval of the mean at `confidence`; `judged_on` says
    which of them the gate judged (`mean`, or the interval's pessimistic end)."""

    name: str
    values: list[float | None]
    mean: float | None = None
    low: float | None = None
    high: float | None = None
    confidence: float
    judged_on: Literal["mean", "low", "high"]


class RepeatSummary(BaseModel):
    runs: list[RepeatRun]
    repeat: int  # runs the scenario asked for (more than ran, if one was cut)
    slos: list[SloSpread]


class ErrorStats(BaseModel):
    """Signed values in seconds (client minus wire) over `count` values; None when none."""

    count: int = 0
    p50_s: float | None = None
    p99_s: float | None = None
    max_s: float | None = None
    min_s: float | None = None  # the most negative: a client that saw things too early
    abs_p99_s: float | None = None
    """p99 of |client - wire|: what `gate.max_measurement_error` bounds, as a client that
    stamps a token too early is as wrong as one that stamps it too late."""


class MeasurementError(BaseModel):
    """What the wire says of a client's numbers (`slakit.wire.arbitrate`)."""

    matched_by: Literal["trace", "order"]
    matched: int
    unmatched_samples: int  # no wire request carried their trace: never sent, or not captured
    unmatched_wire: int  # wire requests no sample claims (no traceparent, or an unknown one)
    unmatched_wire_by_path: dict[str, int] = Field(default_factory=dict)
    """Those by `METHOD path`: what else the run sent, e.g. the prompt sizing's /tokenize."""
    relayed: int  # later wire requests of a trace already seen: a proxy passing it on
    itl_mismatched: int  # matched requests whose client and wire token counts differ
    errors: dict[str, ErrorStats]  # by SLI name: ttft, itl, tpot, latency
    send_delay: ErrorStats  # the request's first byte on the wire minus the sample's start


class MeasurementReport(BaseModel):
    """`run scenario --wire-check`: the run's client timings against a loopback capture of
    its own traffic. `error` is None when no capture ran; the report then carries this
    only to say that the scenario's `gate.max_measurement_error` went unchecked."""

    error: MeasurementError | None = None
    capture_clean: bool = False  # tcpdump ran until stopped and exited 0
    dropped_packets: int | None = None  # by the kernel; None: tcpdump did not say
    headless_connections: int = 0  # open before the capture: read from a whole request
    broken_connections: int = 0  # bytes missing, or not HTTP/1.1: read up to the problem
    wire_slos: list[SloResult] = Field(default_factory=list)
    """The scenario's client-side SLOs judged on wire times, over the same window."""
    changed_verdicts: list[str] = Field(default_factory=list)
    """Names of the SLOs whose verdict on wire times differs from the client's."""
    verdict: Verdict | None = None  # the bound's; None: the scenario sets no bound
    detail: str = ""  # one line: why the bound held, failed, or was not checked


class QueueRising(BaseModel):
    """vLLM's waiting requests rose over the run (means of its first and last third)."""

    kind: Literal["queue_rising"] = "queue_rising"
    first: float
    last: float


class KvCacheFull(BaseModel):
    """vLLM's KV cache reached `peak`, at or above the `threshold` that counts as full."""

    kind: Literal["kv_cache_full"] = "kv_cache_full"
    peak: float
    threshold: float


class RetrieveDominates(BaseModel):
    """The gateway's retrieve stage (Elasticsearch) took longer than generation (means)."""

    kind: Literal["retrieve_dominates"] = "retrieve_dominates"
    retrieve_s: float
    generate_s: float


class RequestsFailed(BaseModel):
    kind: Literal["requests_failed"] = "requests_failed"
    by_class: dict[str, int]  # error class -> requests


class RateNotKept(BaseModel):
    """The open-loop rate was not kept (the load section says why)."""

    kind: Literal["rate_not_kept"] = "rate_not_kept"
    requested_rps: float
    late_share: float
    late_after_s: float
    never_sent: int
    offered: int | None = None


class Correlated(BaseModel):
    """The server series (by title) most correlated with the client's p95 latency."""

    kind: Literal["correlated"] = "correlated"
    series: str
    r: float


class FaultSeen(BaseModel):
    """A fault the scenario did to an engine replica (`faults:`) and what it cost: when the
    balancer took the replica out and had it back, and the requests that failed from the
    fault until then (`slakit.stack.fault_outcomes`)."""

    kind: Literal["fault"] = "fault"
    action: str  # kill | restart | errors
    replica: int
    pid: int | None = None
    at: float | None = None  # wall clock of the kill, the drain's start, the errors' start
    offset_s: float | None = None  # seconds after the load's start
    out_s: float | None = None  # until the balancer sent it no more requests (failover)
    back_s: float | None = None  # until it served again (restart; errors: breaker closed)
    opened: int = 0  # errors: how often its breaker opened
    failed: int = 0
    error: str | None = None  # the fault could not be done: why


class LogMessage(BaseModel):
    message: str
    count: int


class LogErrors(BaseModel):
    """The ERROR log lines of the run's window, from Elasticsearch: how many, and the most
    frequent messages. `absent` says why none could be counted (no Elasticsearch, no log
    shipped into it): absent logs are not zero ERROR lines."""

    index: str
    count: int | None = None
    top: list[LogMessage] = Field(default_factory=list)
    absent: str | None = None


class TextFinding(BaseModel):
    """A finding as words only: what reports written before findings were data hold."""

    kind: Literal["text"] = "text"
    text: str


Finding = Annotated[
    QueueRising
    | KvCacheFull
    | RetrieveDominates
    | RequestsFailed
    | RateNotKept
    | Correlated
    | TextFinding,
    Field(discriminator="kind"),
]
"""One "what limited it" finding: its kind and values; the words are the renderers'
(`slakit.report.findings`)."""


class Phase(BaseModel):
    """One stage of a request's span timeline, in ms from when its client sent it."""

    name: str  # gateway, retrieve, engine call, engine front end, engine queue, prefill, decode,
    # first token
    span: str  # the span it was read from: "service: span name"
    start_ms: float
    duration_ms: float = 0.0  # 0: an instant (first token)


class SlowRequest(BaseModel):
    """One of the run's slowest requests, explained by its trace (`slakit.traces`)."""

    trace_id: str
    kind: str
    start: float  # epoch seconds, when its client sent it
    ttft_s: float | None = None
    latency_s: float
    timeline: list[Phase] = Field(default_factory=list)  # empty: no trace (`cause` says why)
    cause: str  # one line: what took its time, or why there is no timeline


class SlowestRequests(BaseModel):
    """The "Slowest requests" section: the N slowest successful requests by TTFT and by
    end-to-end latency, each with its timeline and cause."""

    n: int
    source: str | None = None  # the Jaeger query URL the traces were read from
    by_ttft: list[SlowRequest] = Field(default_factory=list)
    by_latency: list[SlowRequest] = Field(default_factory=list)
    note: str = ""  # e.g. why no trace could be read


class Report(BaseModel):
    schema_version: int = Field(SCHEMA_VERSION, strict=True)
    run_id: str
    scenario_name: str
    scenario_path: str
    scenario: dict  # the validated scenario, as JSON
    target: dict
    started_at: float
    ended_at: float
    warmup_end: float
    status: Literal["complete", "partial"]
    partial_reason: str | None = None
    load: LoadInfo
    slos: list[SloResult]
    kinds: dict[str, KindSummary]  # includes "all"
    timeseries: list[Point]
    server: list[ServerSeries]
    sweep: list[SweepStep] = Field(default_factory=list)
    capacity_rps: float | None = None  # sweep: highest rate at which every SLO held
    capacity_concurrency: int | None = None  # concurrency sweep: the level capacity_rps is at
    search_note: str = ""  # how the sweep went when it did more than step up (words)
    limits: list[Finding] = Field(default_factory=list)  # "what limited it"
    alerts: list[dict] = Field(default_factory=list)  # alert notifications seen in the window
    faults: list[FaultSeen] = Field(default_factory=list)  # the scenario's `faults:`, done
    log_errors: LogErrors | None = None  # None: a report from before logs were counted
    baseline_run_id: str | None = None
    measurement: MeasurementReport | None = None  # --wire-check, or a bound left unchecked
    repeats: RepeatSummary | None = None
    """`repeat: N` scenarios: the runs behind this report and each SLO's spread over them;
    the SLO results here are judged on that spread, the load and series are the last run's."""
    slowest: SlowestRequests | None = None
    """None: a report from before slakit explained its slowest requests, or none asked."""
    scrape: ScrapeSettings | None = None
    """None: no Prometheus was queried, or a report from before slakit read the interval
    (it assumed 5 s)."""
    verdict: Verdict
    exit_code: int

    @field_validator("limits", mode="before")
    @classmethod
    def _text_limits(cls, limits: object) -> object:
        """Reports written before findings were data hold sentences: keep them as text."""
        if not isinstance(limits, list):
            return limits
        return [{"kind": "text", "text": f} if isinstance(f, str) else f for f in limits]

    @field_validator("schema_version")
    @classmethod
    def _known_schema(cls, version: int) -> int:
        """Fields of another schema version mean other things: reading one as this version
        would re-gate on values that were never measured as this version measures them."""
        if version != SCHEMA_VERSION:
            raise ValueError(f"this slakit reads schema version {SCHEMA_VERSION}, not {version}")
        return version
