"""`python -m slakit.gateway`: one uvicorn worker, no access log; logs are ECS JSON lines
(`slakit.ecslog`): one per request served (`request_log`), uvicorn's warnings and up.

Settings: flags > environment > `--config` file > defaults (`settings.py`); a bad one is
one line per problem and exit 2. API keys and the rate limit have no flag
(SLAKIT_GATEWAY_API_KEYS, SLAKIT_GATEWAY_RATE_LIMIT_RPS), so they never show in a process
list. The client address the failed-auth limiter counts by is the connection's own:
`X-Forwarded-For` is believed only from the proxies SLAKIT_GATEWAY_TRUSTED_PROXIES names
(comma-separated addresses), else any local client could claim a new address per guess.
`--priority` asks for the scheduling the embedded stack gives it
(`slakit.stack.placement.GATEWAY_PRIORITY`) before any thread starts, so its threads share it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn

from slakit import ecslog
from slakit.catalogue.defaults import KEEPALIVE_S
from slakit.errors import InputError
from slakit.gateway.app import create_app
from slakit.gateway.request_log import LOGGER
from slakit.gateway.settings import GatewaySettings
from slakit.gateway.tracing import SERVICE
from slakit.stack import placement


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m slakit.gateway", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--config", type=Path, default=None, help="YAML file of settings fields")
    p.add_argument("--engine-url", help="OpenAI-compatible engine base URL")
    p.add_argument("--es-url", help="Elasticsearch URL")
    p.add_argument("--index")
    p.add_argument("--model", help="served model name")
    p.add_argument("--top-k", type=int)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--passage-words", type=int)
    p.add_argument("--spans-file", type=Path)
    p.add_argument("--priority", choices=placement.PRIORITIES, default="default")
    args = vars(p.parse_args(argv))
    host, port, config = args.pop("host"), args.pop("port"), args.pop("config")
    placement.prioritise(args.pop("priority"), inherited=True)
    try:
        settings = GatewaySettings.load(config, **args)
    except InputError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        sys.exit(exc.exit_code)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        workers=1,
        log_level="warning",
        log_config=ecslog.dict_config(SERVICE, {LOGGER: "INFO"}),  # ECS JSON lines
        access_log=False,
        timeout_keep_alive=KEEPALIVE_S,  # what the load's and others' clients plan for
        proxy_headers=settings.trusted_proxies is not None,
        forwarded_allow_ips=settings.trusted_proxies,
    )


if __name__ == "__main__":
    main()
