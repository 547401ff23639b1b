"""The `slakit` console script. Load-generating commands run on gevent (Locust), which
must patch the standard library before anything imports `ssl` or `socket`; this entry
point does that first, for those commands only, then hands over to the CLI."""

from __future__ import annotations

import sys

GEVENT_COMMANDS = {"run"}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in GEVENT_COMMANDS:
        import os

        # gevent's default resolver is a thread pool; the generator's real-time scheduling
        # is not inherited by threads, so a new connection waited for that thread whenever
        # the core was busy (send delay p99 55 ms beside the stack, measured on the wire).
        # Targets are loopback addresses and /etc/hosts names: resolve them in place.
        os.environ.setdefault("GEVENT_RESOLVER", "block")
        from gevent import monkey

        monkey.patch_all()
        from slakit.errors import InputError
        from slakit.stack.placement import prioritise_generator

        try:
            prioritise_generator()
        except InputError as exc:
            print(f"slakit: {exc}", file=sys.stderr)
            sys.exit(exc.exit_code)
    from slakit.cli import main as cli_main

    cli_main()
