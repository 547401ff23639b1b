"""`python -m slakit` is the `slakit` command."""

from slakit.entry import main

main()
