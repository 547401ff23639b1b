"""The `slakit` console script. Load-generating commands run on gevent (Locust), which
must patch the standard library before anything imports `ssl` or `socket`; this entry
point does that first, for those commands only, then hands over to the CLI."""

from __future__ import annotations

import sys

GEVENT_COMMANDS = {"run"}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in GEVENT_COMMANDS:
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
