"""The layers the README states, checked on every import of `slakit/`: a module imports
from its own layer or below, never above, so the catalogue stays the bottom and the CLI
the top. Read with `ast`, nothing imported."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.servers import REPO

LAYERS = [
    {"slakit.catalogue"},
    {
        "slakit.sli",
        "slakit.units",
        "slakit.errors",
        "slakit.yamlconf",
        "slakit.sse",
        "slakit.paths",
        "slakit.settings",
        "slakit.ecslog",
        "slakit.es_auth",
    },
    {"slakit.scenario", "slakit.report", "slakit.verdict", "slakit.limits", "slakit.stack.config"},
    {
        "slakit.gateway",
        "slakit.exporters",
        "slakit.stack",
        "slakit.load",
        "slakit.wire",
        "slakit.metrics",
        "slakit.evaluate",
        "slakit.generate",
        "slakit.target",
        "slakit.traces",
    },
    {
        "slakit.run",
        "slakit.aggregate",
        "slakit.gate",
        "slakit.grafana",
        "slakit.cli",
        "slakit.entry",
        "slakit.__main__",
        "slakit",
    },
]


def layer(module: str) -> int:
    """The layer of `module`: the one naming its longest prefix."""
    best = None
    for index, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and (
                best is None or len(name) > len(best[1])
            ):
                best = (index, name)
    assert best is not None, f"{module} is in no layer: add it to the README and LAYERS"
    return best[0]


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted((REPO / "slakit").rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(module: str, path: Path) -> set[str]:
    """The slakit modules `path` imports (absolute and relative), at any depth of its body."""
    found = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            found |= {f"{base}.{a.name}" for a in node.names}  # a module, or a name in one
    return {name for name in found if name == "slakit" or name.startswith("slakit.")}


def test_every_import_goes_to_the_same_layer_or_below() -> None:
    known = modules()
    upward = []
    for module, path in known.items():
        own = layer(module)
        for target in imports(module, path):
            while target not in known and "." in target:  # `from pkg import name`
                target = target.rsplit(".", 1)[0]
            if layer(target) > own:
                upward.append(
                    f"{module} (layer {own + 1}) imports {target} (layer {layer(target) + 1})"
                )
    assert not upward, "\n".join(upward)
