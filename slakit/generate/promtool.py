"""Run Prometheus' own `promtool` on generated rules: `check rules` (syntax, PromQL, lint)
and `test rules` (the generated unit tests). Only promtool knows exactly what the running
Prometheus will accept, so generated files are judged by it, not by a re-implementation.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

TIMEOUT_S = 300  # the SLO tests evaluate every rule minute by minute over hours


def validate(rule_files: list[Path], test_files: list[Path]) -> list[str]:
    """Problems found by `promtool check rules` then `promtool test rules`, one readable
    line each (prefixed by the command); empty when every file passes."""
    promtool = shutil.which("promtool")
    if promtool is None:
        return ["promtool: not installed (apt-get install prometheus)"]
    problems = []
    for command, files in (("check", rule_files), ("test", test_files)):
        if files:
            problems += _run([promtool, command, "rules", *map(str, files)], command)
    return problems


def _run(argv: list[str], command: str) -> list[str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return [f"promtool {command} rules: no answer within {TIMEOUT_S} s"]
    if done.returncode == 0:
        return []
    lines = [line.rstrip() for line in (done.stdout + done.stderr).splitlines()]
    useful = [line.strip() for line in lines if line.strip() and line.strip() != "FAILED:"]
    return [f"promtool {command} rules: {line}" for line in useful] or [
        f"promtool {command} rules: exit code {done.returncode}"
    ]
