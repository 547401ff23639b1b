"""What does a scrape cost? slakit's Elasticsearch exporter vs Debian's community exporter.

Both run against one embedded Elasticsearch 8.19.7 (its own ports 27400/27500) holding the
index mix of `tests/es_mix.py` (17 indices: yellow, a closed one, deletes, aliases), each
exporting every family of the mix (the community exporter with shards and aliases on), and
are scraped in interleaved rounds, one exporter at a time, by one keep-alive client that
accepts gzip as Prometheus does. Per exporter: scrape latency (client-side wall time of
`GET /metrics`) and the exporter process's CPU per scrape (psutil user + system over the
round, divided by its scrapes), plus Elasticsearch's CPU per scrape (what answering the
exporter costs the node). slakit runs as the stack runs it: canary search every 10 s and
index freshness on, which the CPU figure includes. Target: slakit's CPU per scrape at most
half the community exporter's.

    .venv/bin/python benchmarks/es_exporter_scrape.py [--scrapes 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import _common as c
import httpx
import psutil
from elasticsearch import Elasticsearch

from slakit.stack import elasticsearch, process
from slakit.stack.config import StackConfig
from tests.es_mix import CORPUS, build_mix

ES_PORTS = {"port": 27400, "transport_port": 27500}
DEBIAN_EXPORTER = "/usr/bin/prometheus-elasticsearch-exporter"
TARGET = 0.5  # slakit's CPU per scrape / the community exporter's, at most


@dataclass
class Exporter:
    name: str
    url: str
    pid: int
    latencies: list[float] = field(default_factory=list)
    cpu_s: float = 0.0
    es_cpu_s: float = 0.0
    scrapes: int = 0
    body_bytes: int = 0
    samples: int = 0

    def cpu_ms(self) -> float:
        return 1000 * self.cpu_s / self.scrapes

    def es_cpu_ms(self) -> float:
        return 1000 * self.es_cpu_s / self.scrapes

    def latency_ms(self, pct: float) -> float:
        return 1000 * statistics.quantiles(self.latencies, n=100)[int(pct) - 1]

    def mean_ms(self) -> float:
        return 1000 * statistics.fmean(self.latencies)


def cpu_s(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def busy_s() -> float:
    """CPU time every process on the machine has used (all cores, since boot)."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + t.steal


def scrape_round(client: httpx.Client, exporter: Exporter, es: psutil.Process, n: int) -> None:
    """`n` scrapes back to back; CPU of the exporter and of Elasticsearch around them."""
    cpu0, es0 = cpu_s(exporter.pid), c.tree_cpu_s(es)
    for _ in range(n):
        started = time.perf_counter()
        resp = client.get(f"{exporter.url}/metrics")
        exporter.latencies.append(time.perf_counter() - started)
        resp.raise_for_status()
    exporter.cpu_s += cpu_s(exporter.pid) - cpu0
    exporter.es_cpu_s += c.tree_cpu_s(es) - es0
    exporter.scrapes += n
    exporter.body_bytes = len(resp.content)
    exporter.samples = sum(1 for line in resp.text.splitlines() if line and line[0] != "#")


def start_elasticsearch(work: Path) -> tuple[StackConfig, int]:
    cfg = StackConfig(state_dir=work / "stack", elasticsearch=ES_PORTS)
    spec = elasticsearch.spec(cfg)
    pid = process.start(spec)
    deadline = time.monotonic() + spec.timeout_s
    while not process.check_health(spec):
        if not process.is_running(pid) or time.monotonic() > deadline:
            process.stop(pid)
            raise RuntimeError("elasticsearch did not start: " + " | ".join(process.tail(spec.log)))
        time.sleep(0.5)
    return cfg, pid


def purge(cfg: StackConfig) -> None:
    link = cfg.state_dir / "elasticsearch"
    if link.is_symlink():
        shutil.rmtree(link.resolve(), ignore_errors=True)
    shutil.rmtree(cfg.state_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapes", type=int, default=200, help="scrapes per round [200]")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per exporter [5]")
    args = parser.parse_args()
    work = c.workdir("es-exporter")
    cfg, es_pid = start_elasticsearch(work)
    try:
        es_url = cfg.url(cfg.elasticsearch.port)
        mix = build_mix(Elasticsearch(es_url))
        ours_port, theirs_port = c.free_port(), c.free_port()
        ours_argv = [c.PYTHON, "-m", "slakit.exporters.elasticsearch"]
        ours_argv += ["--host", c.HOST, "--port", str(ours_port)]
        theirs_argv = [
            DEBIAN_EXPORTER,
            f"--es.uri={es_url}",
            f"--web.listen-address={c.HOST}:{theirs_port}",
            "--es.all",
            "--es.indices",
            "--es.shards",
            "--es.aliases",
        ]
        env = {
            "SLAKIT_ES_EXPORTER_URL": es_url,
            "SLAKIT_ES_EXPORTER_FRESHNESS_INDEX": CORPUS,
        }
        ours_url, theirs_url = (f"http://{c.HOST}:{p}" for p in (ours_port, theirs_port))
        with (
            c.server(ours_argv, f"{ours_url}/health", 30, work / "slakit.log", env) as ours_proc,
            c.server(
                theirs_argv, f"{theirs_url}/metrics", 60, work / "community.log"
            ) as theirs_proc,
            httpx.Client(timeout=30) as client,
        ):
            ours = Exporter("slakit", ours_url, ours_proc.pid)
            theirs = Exporter("community 1.5 (Debian)", theirs_url, theirs_proc.pid)
            es = psutil.Process(es_pid)
            for exporter in (ours, theirs):  # warm up: connections, caches, JIT
                scrape_round(client, exporter, es, 20)
                exporter.latencies.clear()
                exporter.cpu_s = exporter.es_cpu_s = exporter.scrapes = 0
            load = c.wait_quiet("the scrape rounds")
            me = psutil.Process()
            busy0, mine0, started = busy_s(), cpu_s(me.pid), time.monotonic()
            for round_no in range(args.rounds):
                order = (ours, theirs) if round_no % 2 == 0 else (theirs, ours)
                for exporter in order:
                    scrape_round(client, exporter, es, args.scrapes)
            # Cores other sessions kept busy meanwhile: the machine's CPU time less the
            # exporters', Elasticsearch's and this client's.
            measured = sum(e.cpu_s + e.es_cpu_s for e in (ours, theirs)) + cpu_s(me.pid) - mine0
            others = (busy_s() - busy0 - measured) / (time.monotonic() - started)
    finally:
        process.stop(es_pid)
        purge(cfg)

    rows = [
        [
            e.name,
            str(e.scrapes),
            str(e.samples),
            f"{e.body_bytes / 1024:.0f}",
            c.fmt(e.latency_ms(50), ".1f"),
            c.fmt(e.latency_ms(95), ".1f"),
            c.fmt(e.mean_ms(), ".1f"),
            c.fmt(e.cpu_ms(), ".2f"),
            c.fmt(e.es_cpu_ms(), ".2f"),
        ]
        for e in (ours, theirs)
    ]
    p50 = c.ratio(ours.latency_ms(50), theirs.latency_ms(50))
    p95 = c.ratio(ours.latency_ms(95), theirs.latency_ms(95))
    cpu = c.ratio(ours.cpu_ms(), theirs.cpu_ms())
    es_cpu = c.ratio(ours.es_cpu_ms(), theirs.es_cpu_ms())
    rows.append(
        [
            "slakit / community",
            "",
            "",
            "",
            c.fmt(p50, ".2f"),
            c.fmt(p95, ".2f"),
            c.fmt(c.ratio(ours.mean_ms(), theirs.mean_ms()), ".2f"),
            c.fmt(cpu, ".2f"),
            c.fmt(es_cpu, ".2f"),
        ]
    )
    c.print_table(
        f"Elasticsearch exporter scrape cost: {args.rounds} x {args.scrapes} scrapes each, "
        f"interleaved, {len(mix.docs) + 1} indices, {sum(mix.docs.values())} documents "
        f"(load avg {load:.2f} before; other processes kept {others:.2f} cores busy)",
        [
            "exporter",
            "scrapes",
            "samples",
            "KiB",
            "p50 ms",
            "p95 ms",
            "mean ms",
            "exporter CPU ms/scrape",
            "ES CPU ms/scrape",
        ],
        rows,
    )
    print(f"work dir: {work}")
    verdict = "meets" if cpu is not None and cpu <= TARGET else "misses"
    c.readme_line(
        f"Elasticsearch exporter scrape ({len(mix.docs) + 1}-index mix, single-node ES "
        f"8.19.7, 2 cores, others using {others:.2f} of them): slakit p50 "
        f"{ours.latency_ms(50):.1f} ms and {ours.cpu_ms():.1f} ms CPU per scrape vs the "
        f"community exporter's "
        f"{theirs.latency_ms(50):.1f} ms and {theirs.cpu_ms():.1f} ms (latency {p50:.2f}x, "
        f"CPU {cpu:.2f}x; {verdict} the {TARGET}x CPU target)."
    )


if __name__ == "__main__":
    main()
