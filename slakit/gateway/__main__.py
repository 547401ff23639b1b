"""`python -m slakit.gateway`: one uvicorn worker, warnings only, no access log.

API keys and the rate limit come from the environment (SLAKIT_GATEWAY_API_KEYS,
SLAKIT_GATEWAY_RATE_LIMIT_RPS), so they never show in a process list. The client address
the failed-auth limiter counts by is the connection's own: `X-Forwarded-For` is believed
only from the proxies SLAKIT_GATEWAY_TRUSTED_PROXIES names (comma-separated addresses),
else any local client could claim a new address per guess. `--priority` asks for the
scheduling the embedded stack gives it (`slakit.stack.placement.GATEWAY_PRIORITY`),
before any thread starts so its threads share it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn

from slakit.gateway.app import create_app
from slakit.gateway.settings import TRUSTED_PROXIES_ENV, GatewaySettings
from slakit.stack import placement


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m slakit.gateway", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--engine-url", required=True, help="OpenAI-compatible engine base URL")
    p.add_argument("--es-url", required=True, help="Elasticsearch URL")
    p.add_argument("--index", default=GatewaySettings.index)
    p.add_argument("--model", required=True, help="served model name")
    p.add_argument("--top-k", type=int, default=GatewaySettings.top_k)
    p.add_argument("--max-tokens", type=int, default=GatewaySettings.max_tokens)
    p.add_argument("--passage-words", type=int, default=GatewaySettings.passage_words)
    p.add_argument("--spans-file", type=Path, default=None)
    p.add_argument("--priority", choices=placement.PRIORITIES, default="default")
    args = p.parse_args(argv)
    placement.prioritise(args.priority, inherited=True)
    settings = GatewaySettings.from_env(
        engine_url=args.engine_url,
        es_url=args.es_url,
        model=args.model,
        index=args.index,
        top_k=args.top_k,
        max_tokens=args.max_tokens,
        passage_words=args.passage_words,
        spans_file=args.spans_file,
    )
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        workers=1,
        log_level="warning",
        access_log=False,
        proxy_headers=bool(os.environ.get(TRUSTED_PROXIES_ENV)),
        forwarded_allow_ips=os.environ.get(TRUSTED_PROXIES_ENV) or None,
    )


if __name__ == "__main__":
    main()
