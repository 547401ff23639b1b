"""Load YAML into pydantic models and report problems as `file:line: field: expectation`.

PyYAML's composed node tree keeps the line of every key; pydantic's error `loc` is the
path of keys. Joining the two gives users one readable line per problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from slakit.errors import InputError

Model = TypeVar("Model", bound=BaseModel)


class FieldProblem(ValueError):
    """A cross-field check's error that knows which field (path below the model) it is
    about, so the reported line is that field's, not the model's."""

    def __init__(self, path: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


Loc = tuple[Any, ...]


def _lines(node: yaml.Node, path: Loc, out: dict[Loc, int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[path + (key.value,)] = key.start_mark.line + 1
            _lines(value, path + (key.value,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, path + (i,), out)


def read_yaml(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse `path`; return the data and a map from key path to line number."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{where}: malformed YAML: {reason}") from None
    lines: dict[Loc, int] = {}
    if node is not None:
        _lines(node, (), lines)
    return data, lines


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int | None:
    # pydantic inserts union tags and model names into loc; walk back to the longest
    # prefix of real keys that the YAML has.
    keys = [k for k in loc if isinstance(k, int) or k in _all_keys(lines)]
    while keys:
        if tuple(keys) in lines:
            return lines[tuple(keys)]
        keys.pop()
    return lines.get(())


def _all_keys(lines: dict[Loc, int]) -> set[Any]:
    return {k for path in lines for k in path}


def format_validation_error(
    exc: ValidationError, source: str, lines: dict[Loc, int] | None = None
) -> list[str]:
    """One `source:line: field: message` string per pydantic error."""
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldProblem):
            loc += cause.path
        field = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_for(loc, lines or {})
        where = f"{source}:{line}" if line else source
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "missing":
            message = "required field is missing"
        problems.append(f"{where}: {field}: {message}")
    return problems


def load_model(path: Path, model: type[Model], overrides: dict[str, Any] | None = None) -> Model:
    """Read a YAML file into `model`, raising InputError with file:line problems."""
    data, lines = read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{path}:1: expected a mapping of fields at the top level")
    data = {**data, **(overrides or {})}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(*format_validation_error(exc, str(path), lines)) from None
