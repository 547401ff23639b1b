"""Ports of the embedded stack: a part's port inside the kernel's ephemeral range is warned
about before anything starts (a readiness poll can connect to itself there and hold it)."""

from __future__ import annotations

import pytest

from slakit.stack import supervisor
from slakit.stack.config import StackConfig


def test_a_port_in_the_ephemeral_range_is_named_with_the_variable_that_moves_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    kernel = supervisor.ephemeral_range()
    assert kernel is not None and len(kernel) > 1000  # Linux: /proc/sys/net/ipv4/...
    inside = kernel.start + 200
    supervisor.warn_ephemeral_ports(
        StackConfig(elasticsearch={"port": inside, "transport_port": inside + 100})
    )
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    assert f"port {inside} is in the kernel's ephemeral range" in lines[0]
    assert lines[0].endswith("with SLAKIT_STACK_ELASTICSEARCH__PORT)")
    assert lines[1].endswith("with SLAKIT_STACK_ELASTICSEARCH__TRANSPORT_PORT)")


def test_the_default_ports_are_below_the_ephemeral_range(
    capsys: pytest.CaptureFixture[str],
) -> None:
    supervisor.warn_ephemeral_ports(StackConfig())
    assert capsys.readouterr().err == ""
