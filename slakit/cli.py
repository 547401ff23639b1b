"""The `slakit` command line: parses, calls one function, maps errors to exit codes.

Exit codes: 0 success, 1 a failure of the system under test or of the stack,
2 bad input (one readable line per problem, never a traceback).

Over 400 lines because each command's help text is written here, beside its options: it is
the CLI's documentation (`--help` teaches), and each command's body is a line or two.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from slakit.errors import SlakitError, safe_text
from slakit.stack.config import StackConfig, load_stack_config

app = typer.Typer(
    help="Prove a self-hosted LLM + retrieval stack meets its SLAs, and know when it stops.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    add_completion=False,
)
stack_app = typer.Typer(
    help="The embedded reference stack: real Elasticsearch, real vLLM on CPU, the RAG "
    "gateway, Prometheus and Alertmanager, all on loopback.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(stack_app, name="stack")
out = Console()

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Stack config YAML (fields of StackConfig). Environment SLAKIT_STACK_* overrides it.",
        exists=False,
    ),
]
StateOpt = Annotated[
    Path | None,
    typer.Option("--state-dir", help="Where logs, data and PIDs live [default: .slakit/stack]"),
]


def _stack_config(config: Path | None, state_dir: Path | None, **extra: object) -> StackConfig:
    overrides = {k: v for k, v in {"state_dir": state_dir, **extra}.items() if v is not None}
    return load_stack_config(config, **overrides)


@stack_app.command("up")
def stack_up(
    engine: Annotated[
        str | None, typer.Option(help="vllm (real, default) or sim (simulated, for fault tests)")
    ] = None,
    replicas: Annotated[
        int | None,
        typer.Option(help="Engine instances [default: 1]; more than one run behind HAProxy"),
    ] = None,
    secure: Annotated[
        bool,
        typer.Option(
            "--secure",
            help="Elasticsearch with security: HTTPS with a generated CA, one user per part",
        ),
    ] = False,
    config: ConfigOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Start every part, wait until each answers its health check, index the corpus,
    and print the URLs. On failure: names the part, shows its log's last lines, stops
    what it started, exits 1."""
    from slakit.stack import supervisor

    es = {"secure": True} if secure else None
    cfg = _stack_config(config, state_dir, engine=engine, replicas=replicas, elasticsearch=es)
    parts = supervisor.up(cfg)
    table = Table(title="slakit stack is up")
    table.add_column("part")
    table.add_column("url")
    table.add_column("log")
    for p in parts:
        table.add_row(p.part, p.url, p.log)
    out.print(table)


@stack_app.command("status")
def stack_status(
    as_json: Annotated[bool, typer.Option("--json", help="JSON list for scripts")] = False,
    config: ConfigOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Health table: part, pid, URL, healthy, uptime, and where it runs (niceness, cores;
    see `slakit.stack.placement`). Exit 1 if any part is unhealthy."""
    from slakit.stack import supervisor

    rows = supervisor.status(_stack_config(config, state_dir))
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "part": r.part,
                        "pid": r.pid,
                        "url": r.url,
                        "healthy": r.healthy,
                        "uptime_s": round(r.uptime_s, 1),
                        "nice": r.placement.nice if r.placement else None,
                        "cpus": r.placement.cpus if r.placement else None,
                    }
                    for r in rows
                ],
                indent=2,
            )
        )
    else:
        table = Table()
        for col in ("part", "pid", "url", "healthy", "uptime", "nice", "cpus"):
            table.add_column(col)
        for r in rows:
            mark = "[green]yes[/green]" if r.healthy else "[red]no[/red]"
            where = (str(r.placement.nice), r.placement.cpus) if r.placement else ("", "")
            table.add_row(r.part, str(r.pid), r.url, mark, f"{r.uptime_s:.0f} s", *where)
        out.print(table if rows else "stack is not running")
    if not rows or not all(r.healthy for r in rows):
        raise typer.Exit(1)


@stack_app.command("down")
def stack_down(
    purge: Annotated[bool, typer.Option(help="Also delete data, logs and indices")] = False,
    config: ConfigOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Stop everything `up` started (by recorded PID, newest first)."""
    from slakit.stack import supervisor

    stopped = supervisor.down(_stack_config(config, state_dir), purge=purge)
    out.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@stack_app.command("restart-instance")
def stack_restart_instance(
    replica: Annotated[
        int | None, typer.Argument(help="Replica number (1..N); none: every one in turn")
    ] = None,
    config: ConfigOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Restart engine replicas without failing a request (as a model update would): each
    is drained through the balancer, stopped, started, and put back once it is UP."""
    from slakit.stack import instances, supervisor

    cfg = supervisor.running_config(_stack_config(config, state_dir))
    events = (
        instances.rolling_restart(cfg) if replica is None else [instances.restart(cfg, replica)]
    )
    for e in events:
        out.print(f"replica {e.replica}: drained and back in the pool in {e.back_at - e.at:.1f} s")


@stack_app.command("kill-instance")
def stack_kill_instance(
    replica: Annotated[int, typer.Argument(help="Replica number (1..N)")],
    config: ConfigOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """SIGKILL one engine replica (an outage, for failover drills); returns once the
    balancer took it out. `restart-instance` brings it back."""
    from slakit.stack import instances, supervisor

    e = instances.kill(supervisor.running_config(_stack_config(config, state_dir)), replica)
    out.print(
        f"replica {e.replica} (pid {e.pid}) killed; out of the pool after {e.out_at - e.at:.2f} s"
    )


@stack_app.command("logs")
def stack_logs(
    part: Annotated[
        str,
        typer.Argument(
            help="elasticsearch, vllm, sim, gateway, prometheus, alertmanager or webhook"
        ),
    ],
    lines: Annotated[int, typer.Option("--lines", "-n")] = 40,
    config: ConfigOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Print the last lines of one part's log."""
    from slakit.stack import process, supervisor

    path = supervisor.log_path(_stack_config(config, state_dir), part)
    print("\n".join(process.tail(path, lines)))


run_app = typer.Typer(
    help="Run load against a target and judge its SLOs.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(run_app, name="run")


@run_app.command("scenario")
def run_scenario_cmd(
    path: Annotated[Path, typer.Argument(help="Scenario YAML (see `slakit schema`)")],
    target: Annotated[
        Path | None,
        typer.Option(help="YAML with explicit target URLs, overriding the scenario's target"),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Reports go to OUT/<run-id>/")] = Path(
        "reports"
    ),
    baseline: Annotated[
        Path | None,
        typer.Option(help="An earlier report.json (or its directory) to compare against"),
    ] = None,
    wire_check: Annotated[
        bool,
        typer.Option(
            "--wire-check",
            help="Capture the load's own traffic on loopback (tcpdump; root or CAP_NET_RAW) "
            "and report the client's measurement error against the wire. Not for sweeps.",
        ),
    ] = False,
) -> None:
    """Offer the scenario's load, pull server-side metrics for the same window, judge
    every SLO and write report.json, junit.xml, summary.md and report.html.

    Exit code: **0** every SLO met (or warn), **1** an SLO failed or was inconclusive,
    the run was cut short, or its measurement error broke `gate.max_measurement_error`,
    **2** bad input or an unreachable target.
    """
    from slakit.scenario import load_scenario

    load_scenario(path)  # bad input fails here, fast, before any load machinery loads
    from slakit.run import run_scenario

    report, run_dir = run_scenario(
        path, out_dir, baseline_path=baseline, target_file=target, wire_check=wire_check
    )
    _print_verdict(report)
    if report.repeats:
        from slakit.report.repeats import repeat_text

        out.print(f"  {_inert(repeat_text(report))}")
    measured = report.measurement
    if measured and measured.verdict:
        out.print(f"  measurement error: {measured.verdict}: {_inert(measured.detail)}")
    print(f"reports: {run_dir}/ (report.html, summary.md, junit.xml, report.json)")
    raise typer.Exit(report.exit_code)


def _print_verdict(report) -> None:
    """The verdict table. Every string in a report may come from a target (an error
    reason) or from a hand-edited file: control characters and rich markup are shown
    inert, never interpreted."""
    from slakit.report.findings import describe

    title = f"{report.scenario_name}: {report.verdict.upper()}"
    if report.partial_reason:
        title += f" (partial: {report.partial_reason})"
    table = Table(title=_inert(title))
    for col in ("slo", "objective", "measured", "samples", "verdict"):
        table.add_column(col)
    colours = {"pass": "green", "warn": "yellow", "fail": "red", "inconclusive": "magenta"}
    for r in report.slos:
        c = colours[r.verdict]
        cells = (_inert(r.name), _inert(r.objective), _inert(r.detail), str(r.samples))
        table.add_row(*cells, f"[{c}]{r.verdict}[/{c}]")
    out.print(table)
    for fault in report.faults:
        out.print(f"  fault: {_inert(describe(fault))}")
    for finding in report.limits:
        out.print(f"  limited by: {_inert(describe(finding))}")


def _inert(text: str) -> str:
    return escape(safe_text(text))


@app.command("check")
def check_cmd(
    report_path: Annotated[
        Path, typer.Argument(metavar="REPORT", help="report.json or its run directory")
    ],
    baseline: Annotated[Path | None, typer.Option(help="report to compare against")] = None,
    max_regression: Annotated[
        float | None, typer.Option(help="allowed worsening vs the baseline, in percent (e.g. 10)")
    ] = None,
) -> None:
    """The CI gate on a stored report, without load. Exit 0 / 1 / 2 as `run scenario`;
    a report (or baseline) whose data does not add up is refused with exit 2."""
    from slakit.errors import InputError
    from slakit.gate import regate, verified_report

    if max_regression is not None and not 0 <= max_regression < math.inf:
        raise InputError(f"--max-regression: expected a percentage >= 0, got {max_regression:g}")
    report = regate(
        verified_report(report_path),
        verified_report(baseline) if baseline else None,
        max_regression,
    )
    _print_verdict(report)
    raise typer.Exit(report.exit_code)


@app.command("report")
def report_cmd(
    report_path: Annotated[Path, typer.Argument(metavar="REPORT")],
    format: Annotated[str, typer.Option("--format", "-f", help="html, md or junit")] = "html",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file to write [default: stdout]")
    ] = None,
) -> None:
    """Re-render a stored report as HTML, Markdown or JUnit."""
    from slakit.errors import InputError
    from slakit.report.writer import RENDERERS, load_report

    if format not in RENDERERS:
        raise InputError(f"--format: expected one of {', '.join(RENDERERS)}, got {format!r}")
    text = RENDERERS[format][1](load_report(report_path))
    if output:
        output.write_text(text)
    else:
        print(text)


@app.command("schema")
def schema_cmd() -> None:
    """Print the scenario file's JSON Schema (for editors and CI linting)."""
    from slakit.scenario import Scenario

    print(json.dumps(Scenario.model_json_schema(), indent=2))


gen_app = typer.Typer(
    help="Generate Prometheus alert rules and Grafana dashboards from an SLO spec (or a "
    "scenario file's `slos`): the same objects the CI gate judges.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(gen_app, name="gen")
dashboards_app = typer.Typer(
    help="Grafana dashboards: import generated JSON into Grafana.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(dashboards_app, name="dashboards")
SpecArg = Annotated[
    Path, typer.Argument(help="SLO spec YAML (scenarios/slo-spec.yaml) or a scenario file")
]


@gen_app.command("alerts")
def gen_alerts(
    spec: SpecArg,
    out_dir: Annotated[Path, typer.Option("--out", help="output directory")] = Path("alert_rules"),
    short_windows: Annotated[
        bool, typer.Option(help="divide every window and `for:` by 20, for live tests")
    ] = False,
    formats: Annotated[
        list[str],
        typer.Option(
            "--format",
            help="prometheus (default), openslo, openslo-v1alpha, sloth; repeatable",
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(help="run `promtool check rules` and `promtool test rules` on the output"),
    ] = True,
) -> None:
    """Burn-rate SLO alerts (multi-window, multi-burn-rate) with recording rules, resource
    and health alerts, and a promtool unit test for every rule. Exit 1 if promtool objects."""
    from slakit.generate.alerts import generate_alerts
    from slakit.generate.promtool import validate

    paths = generate_alerts(
        spec, out_dir, short_windows=short_windows, formats=tuple(formats or ["prometheus"])
    )
    for path in paths:
        out.print(f"wrote {path}")
    rules = [p for p in paths if p.name.endswith(".rules.yml")]
    if check and rules:  # exports only: no Prometheus rule to check, so nothing is said
        problems = validate(rules, [p for p in paths if p.name.endswith(".test.yml")])
        for problem in problems:
            print(f"slakit: {problem}", file=sys.stderr)
        if problems:
            raise typer.Exit(1)
        out.print("promtool: rules valid, every rule's unit test passes")


@gen_app.command("dashboards")
def gen_dashboards(
    spec: Annotated[Path | None, typer.Argument(help="SLO spec or scenario (optional)")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="output directory")] = Path("dashboards"),
) -> None:
    """Grafana dashboards (vLLM, Elasticsearch, GPU, RAG gateway, SLO overview) built with
    grafana-foundation-sdk, plus provisioning files for a Grafana to load them."""
    from slakit.generate.dashboards import generate_dashboards

    for path in generate_dashboards(spec, out_dir):
        out.print(f"wrote {path}")


@dashboards_app.command("import")
def dashboards_import(
    directory: Annotated[Path, typer.Argument(help="directory of dashboard JSON")],
    grafana_url: Annotated[str, typer.Option(help="e.g. http://grafana:3000")],
    folder: Annotated[str, typer.Option(help="Grafana folder (created if missing)")] = "slakit",
    overwrite: Annotated[bool, typer.Option(help="replace dashboards with the same uid")] = False,
    datasource: Annotated[
        list[str], typer.Option(help="map a datasource uid: FROM=TO (repeatable)")
    ] = None,
) -> None:
    """Import dashboards through Grafana's HTTP API. Credentials only from the environment:
    `GRAFANA_TOKEN`, or `GRAFANA_USER` and `GRAFANA_PASSWORD`."""
    from slakit.errors import InputError
    from slakit.grafana import import_dashboards

    mapping = {}
    for item in datasource or []:
        source, sep, target = item.partition("=")
        if not sep or not source or not target:
            raise InputError(f"--datasource: expected FROM=TO, got {item!r}")
        mapping[source] = target
    for url in import_dashboards(
        directory, grafana_url, folder=folder, overwrite=overwrite, datasource_uid_map=mapping
    ):
        out.print(f"imported {url}")


exporter_app = typer.Typer(
    help="Run one of slakit's Prometheus exporters in the foreground until stopped. Each also "
    "installs as its own command (slakit-gpu-exporter, slakit-es-exporter, "
    "slakit-inference-exporter); settings from --config YAML or SLAKIT_<NAME>_EXPORTER_* "
    "variables (secrets only from the environment or the file, never on the command line).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(exporter_app, name="exporter")
HostOpt = Annotated[str | None, typer.Option(help="listen address [default: 127.0.0.1]")]
PortOpt = Annotated[int | None, typer.Option(help="listen port [default: the exporter's]")]
ExporterConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML settings file")]


def _run_exporter(module: str, host: str | None, port: int | None, config: Path | None) -> None:
    """Run the exporter's own `main` with these flags; its exit code is the command's."""
    import importlib

    argv = [
        a
        for flag, value in (("--host", host), ("--port", port), ("--config", config))
        if value is not None
        for a in (flag, str(value))
    ]
    raise typer.Exit(importlib.import_module(f"slakit.exporters.{module}").main(argv))


@exporter_app.command("gpu")
def exporter_gpu(
    host: HostOpt = None, port: PortOpt = None, config: ExporterConfigOpt = None
) -> None:
    """NVML GPU metrics under dcgm-exporter's names (default port 19400). Without a GPU or
    driver it keeps running and serves `slakit_gpu_nvml_up 0` with the reason."""
    _run_exporter("gpu", host, port, config)


@exporter_app.command("es")
def exporter_es(
    host: HostOpt = None, port: PortOpt = None, config: ExporterConfigOpt = None
) -> None:
    """Elasticsearch health, node, thread-pool and index stats under the community
    exporter's names, plus a canary search and index freshness (default port 19114)."""
    _run_exporter("elasticsearch", host, port, config)


@exporter_app.command("inference")
def exporter_inference(
    host: HostOpt = None, port: PortOpt = None, config: ExporterConfigOpt = None
) -> None:
    """A canary prober of an OpenAI-compatible endpoint (TTFT, inter-token, total latency)
    and of the gateway's RAG stages (default port 19500)."""
    _run_exporter("inference", host, port, config)


@stack_app.command("check")
def stack_check(config: ConfigOpt = None, state_dir: StateOpt = None) -> None:
    """Send one real request through every part (search, stream, RAG, scrape, alerting)
    and print what each answered. Exit 1 if any check fails."""
    from slakit.stack.smoke import run_checks

    results = run_checks(_stack_config(config, state_dir))
    table = Table(title="stack check")
    for col in ("check", "ok", "detail"):
        table.add_column(col)
    for r in results:
        table.add_row(r.name, "[green]ok[/green]" if r.ok else "[red]FAIL[/red]", r.detail)
    out.print(table)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def main() -> None:
    """Console entry point. Typer's standalone mode handles the command line itself (a
    usage error is one line and exit 2, `--help`, Ctrl-C as 130, typer.Exit's codes);
    SlakitError becomes its problems on stderr and its exit code."""
    try:
        app()
    except SlakitError as exc:
        for problem in exc.problems:  # may quote what a target sent: no control characters
            print(f"slakit: {safe_text(problem)}", file=sys.stderr)
        sys.exit(exc.exit_code)
