"""The embedded stack's settings by the one mechanism of every service part: flags beat the
environment, which beats the file, which beats the defaults, part by part; each problem is
one line naming where its value was written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from slakit.stack.config import StackConfig

PROBE = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "from slakit.errors import InputError\n"
    "from slakit.stack.config import load_stack_config\n"
    "try:\n"
    "    c = load_stack_config(Path(sys.argv[1]), **json.loads(sys.argv[2]))\n"
    "except InputError as e:\n"
    "    print(json.dumps({'problems': [l for a in e.args for l in str(a).splitlines()]}))\n"
    "else:\n"
    "    print(json.dumps({'gateway': c.gateway.model_dump(), 'sim': c.sim.model_dump()}))\n"
)


def load(tmp_path: Path, text: str, env: dict[str, str], flags: dict) -> dict:
    """`load_stack_config` in a child with exactly `env` added: the test's own environment
    stays as it is."""
    path = tmp_path / "stack.yaml"
    path.write_text(text)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(path), json.dumps(flags)],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("SLAKIT_STACK_")} | env,
        check=True,
    )
    return json.loads(out.stdout)


def test_flags_beat_the_environment_which_beats_the_file_part_by_part(tmp_path: Path) -> None:
    got = load(
        tmp_path,
        "gateway:\n  port: 18181\n  top_k: 5\nsim:\n  ttft_ms: 7\n",
        {"SLAKIT_STACK_GATEWAY__PORT": "18282", "SLAKIT_STACK_SIM__TTFT_MS": "9"},
        {"sim": {"ttft_ms": 11.0}},
    )
    defaults = StackConfig()
    assert got["gateway"]["port"] == 18282  # environment over file
    assert got["gateway"]["top_k"] == 5  # file over default, beside the environment's port
    assert got["gateway"]["max_tokens"] == defaults.gateway.max_tokens
    assert got["sim"]["ttft_ms"] == 11.0  # flag over environment over file
    assert got["sim"]["token_delay_ms"] == defaults.sim.token_delay_ms


def test_each_problem_names_the_layer_its_value_came_from(tmp_path: Path) -> None:
    got = load(
        tmp_path,
        "engine: sim\ngateway:\n  top_k: 5\n  topk: 5\n",
        {"SLAKIT_STACK_GATEWAY__PORT": "99"},
        {},
    )
    path = tmp_path / "stack.yaml"
    assert sorted(got["problems"]) == sorted(
        [
            "environment: gateway.port: expected a port between 1024 and 65535",
            f"{path}:4: gateway.topk: unknown field",
        ]
    )
