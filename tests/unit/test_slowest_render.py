"""The "Slowest requests" section as Markdown and HTML render it: a request without a trace
says why, in its place, and gets no lanes; one with a timeline gets a lane per phase."""

from __future__ import annotations

from slakit.report.html import render_html
from slakit.report.markdown import render_markdown
from slakit.report.model import Phase, SlowestRequests, SlowRequest
from tests.report_factory import START, realistic_report

MISSING = "no timeline: Jaeger holds no trace " + "a" * 32
TRACED = SlowRequest(
    trace_id="b" * 32,
    kind="rag",
    start=START,
    ttft_s=0.305,
    latency_s=0.337,
    timeline=[
        Phase(name="gateway", span="slakit-gateway: rag.query", start_ms=1.4, duration_ms=335),
        Phase(name="retrieve", span="slakit-gateway: retrieve", start_ms=1.4, duration_ms=274),
        Phase(name="first token", span="slakit-gateway: generate", start_ms=305),
    ],
    cause="retrieval 274 ms in Elasticsearch: 90% of its 305 ms TTFT",
)
UNTRACED = SlowRequest(trace_id="a" * 32, kind="chat", start=START, latency_s=0.5, cause=MISSING)


def report():
    section = SlowestRequests(n=2, source="http://127.0.0.1:19686", by_latency=[UNTRACED, TRACED])
    return realistic_report(seconds=60).model_copy(update={"slowest": section})


def test_markdown_says_why_a_request_has_no_timeline():
    md = render_markdown(report()).split("### Slowest requests", 1)[1].split("###", 1)[0]
    assert "By time to first token" not in md  # a ranking without requests is left out
    untraced, traced = md.split("\n1. ", 1)[1].split("\n2. ", 1)
    assert untraced.rstrip().endswith(f"**{MISSING}**") and "   - " not in untraced
    assert "retrieve at 1.4 ms for 274 ms · first token at 305 ms" in traced


def test_html_draws_lanes_only_for_the_traced_request():
    html = render_html(report()).split('id="slowest"', 1)[1].split("</section>", 1)[0]
    untraced, traced = html.split("<li>")[1:]
    assert MISSING in untraced and 'class="lane' not in untraced
    assert traced.count('class="lane lane-') == 4  # the client's and one per phase
    assert 'lane-retrieve" title="slakit-gateway: retrieve"' in traced
