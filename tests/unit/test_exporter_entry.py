"""The exporters' one entry point, run as users run it: `slakit exporter NAME` and
`python -m slakit.exporters.MODULE`, as real processes.

Bad input (a `--config` file, an environment variable, a flag) exits 2 with exactly one
`error: <where>: <field>: <problem>` line per problem and nothing else, for every exporter;
settings are layered the same way in all three: flags > environment > file > defaults.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import REPO

# CLI name -> (module under slakit.exporters, environment prefix)
EXPORTERS = {
    "gpu": ("gpu", "SLAKIT_GPU_EXPORTER_"),
    "es": ("elasticsearch", "SLAKIT_ES_EXPORTER_"),
    "inference": ("inference", "SLAKIT_INFERENCE_EXPORTER_"),
}
ENTRIES = {
    "slakit exporter": lambda name: ["-m", "slakit", "exporter", name],
    "python -m": lambda name: ["-m", f"slakit.exporters.{EXPORTERS[name][0]}"],
}


def run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """A child Python with `args`, in an environment free of any exporter settings but `env`."""
    clean = {k: v for k, v in os.environ.items() if "_EXPORTER_" not in k}
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**clean, **(env or {})},
    )


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("name", EXPORTERS)
def test_bad_file_variable_and_flag_exit_2_with_one_line_each(
    tmp_path: Path, name: str, entry: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("host: [1]\nbogus: 1\n")
    prefix = EXPORTERS[name][1]
    args = [*ENTRIES[entry](name), "--config", str(config), "--port", "0"]
    result = run(args, {f"{prefix}TIMEOUT_S": "-1"})
    assert result.returncode == 2, result.stderr
    assert sorted(result.stderr.splitlines()) == [
        f"error: {config}:1: host: Input should be a valid string",
        f"error: {config}:2: bogus: unknown field",
        "error: command line: port: Input should be greater than or equal to 1",
        "error: environment: timeout_s: Input should be greater than 0",
    ]


@pytest.mark.parametrize("name", EXPORTERS)
def test_unknown_flag_and_missing_file_exit_2_with_one_line(tmp_path: Path, name: str) -> None:
    entry = ENTRIES["python -m"](name)
    result = run([*entry, "--bogus"])
    assert (result.returncode, result.stderr) == (
        2,
        "error: command line: unrecognized arguments: --bogus\n",
    )
    missing = tmp_path / "missing.yaml"
    result = run([*entry, "--port", "abc", "--config", str(missing)])
    assert (result.returncode, result.stderr) == (
        2,
        f"error: {missing}: cannot read: No such file or directory\n",
    )


@pytest.mark.parametrize("name", EXPORTERS)
def test_flags_over_environment_over_file_over_defaults(tmp_path: Path, name: str) -> None:
    module, prefix = EXPORTERS[name]
    config = tmp_path / "exporter.yaml"
    config.write_text("host: 0.0.0.0\nport: 21001\ntimeout_s: 2\n")
    code = (
        "import importlib, sys; from pathlib import Path\n"
        "m = importlib.import_module(f'slakit.exporters.{sys.argv[1]}')\n"
        "cfg = m.load_config(Path(sys.argv[2]), port='21003', host=None)\n"
        "print(cfg.host, cfg.port, cfg.timeout_s, m.load_config().host)\n"
    )
    env = {f"{prefix}PORT": "21002", f"{prefix}TIMEOUT_S": "3"}
    result = run(["-c", code, module, str(config)], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0.0.0.0", "21003", "3.0", "127.0.0.1"]
