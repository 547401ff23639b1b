"""The one `main` of every exporter: flags, settings, logging, a prober thread, serving.

Exit codes as everywhere in slakit: 2 with one `error: <where>: <field>: <problem>` line
per problem, never a traceback, for a bad `--config` file, environment variable or flag
(flag values are validated by the settings model, like the file's and the environment's);
1 when the port cannot be listened on; 0 when stopped.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from prometheus_client import CollectorRegistry, make_wsgi_app

from slakit.errors import InputError
from slakit.exporters.common import Background, serve
from slakit.settings import FLAGS, ServiceSettings

log = logging.getLogger("slakit.exporters")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True)
class Exporter:
    """What differs between the exporters; `main` does the rest."""

    module: str  # e.g. "slakit.exporters.gpu", for the usage line
    about: str  # one line for --help
    settings: type[ServiceSettings]
    # settings -> the registry a scrape reads, and the prober feeding it (if any)
    build: Callable[[Any], tuple[CollectorRegistry, Background | None]]
    started: Callable[[Any], str]  # the line logged once the settings are read
    # process-wide settings, once logging is set up (third-party loggers, metric options)
    setup: Callable[[], None] = lambda: None
    # registry -> the WSGI app serving /metrics
    metrics_app: Callable[[CollectorRegistry], Callable] = make_wsgi_app


class _Parser(argparse.ArgumentParser):
    """argparse whose problems are InputErrors (one line, no usage dump)."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{FLAGS}: {message}")


def _settings(exporter: Exporter, argv: list[str] | None) -> ServiceSettings:
    parser = _Parser(prog=f"python -m {exporter.module}", description=exporter.about)
    default = exporter.settings.model_fields["port"].default
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", help=f"port to listen on (default {default})")
    parser.add_argument("--config", type=Path, help="YAML file with the settings' fields")
    args = parser.parse_args(argv)
    return exporter.settings.load(args.config, host=args.host, port=args.port)


def main(exporter: Exporter, argv: list[str] | None = None) -> int:
    """Read the settings, start the prober, serve `/metrics` until stopped."""
    try:
        cfg = _settings(exporter, argv)
    except InputError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return exc.exit_code
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format=LOG_FORMAT)
    exporter.setup()
    registry, prober = exporter.build(cfg)
    log.info("%s", exporter.started(cfg))
    stop = threading.Event()
    thread = None
    if prober is not None:
        thread = threading.Thread(target=prober.run, args=(stop,), name="prober", daemon=True)
        thread.start()
    try:
        serve(exporter.metrics_app(registry), cfg.host, cfg.port)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", cfg.host, cfg.port, exc.strerror or exc)
        return 1
    except KeyboardInterrupt:
        log.info("stopped")
    finally:
        stop.set()
        if thread is not None:
            thread.join(cfg.timeout_s + 1)
    return 0
