"""Load YAML into pydantic models and report problems as `file:line: field: expectation`.

PyYAML's composed node tree keeps the line of every key; pydantic's error `loc` is the
path of keys. Joining the two gives users one readable line per problem.

The files are the user's, so reading them is bounded: a size limit, no aliases (a few
bytes of `*a` can expand to gigabytes), a nesting limit (the composer recurses), and a
key written twice is an error instead of the last one silently winning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, PrivateAttr, ValidationError

from slakit.errors import InputError

Model = TypeVar("Model", bound=BaseModel)
Loc = tuple[Any, ...]

# A scenario or config file is a few KB; anything near this is not one.
MAX_YAML_BYTES = 1024 * 1024
# Scenario and config files nest about 6 levels; the composer recurses once per level.
MAX_DEPTH = 64


class FieldProblem(ValueError):
    """A cross-field check's error that knows which field (path below the model) it is
    about, so the reported line is that field's, not the model's."""

    def __init__(self, path: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


class Located(BaseModel):
    """A model that remembers where in which file it was written, so checks made after
    loading (an unset environment variable, an unreadable prompt file, a target that
    refuses) can still name the `file:line` of the field they are about."""

    _source: str | None = PrivateAttr(None)
    _lines: dict[Loc, int] = PrivateAttr(default_factory=dict)
    _path: Loc = PrivateAttr(())

    def where(self, field: str) -> str:
        """`file:line: dotted.field` of one of this model's fields (the line of the nearest
        written ancestor if the field was left at its default)."""
        loc = self._path + (field,)
        line = _nearest_line(loc, self._lines)
        prefix = f"{self._source}:{line}" if self._source and line else self._source
        return f"{prefix}: {_dotted(loc)}" if prefix else _dotted(loc)


class _Refused(yaml.MarkedYAMLError):
    """Well-formed YAML that slakit does not read (aliases, too deep)."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and nesting deeper than MAX_DEPTH while composing,
    before anything is expanded or recursed into, and values it cannot build at their line."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            raise _Refused(
                problem="aliases (*name) are not allowed: one alias can expand to gigabytes; "
                "write the value out",
                problem_mark=self.peek_event().start_mark,
            )
        if self._depth >= MAX_DEPTH:
            raise _Refused(
                problem=f"nested deeper than {MAX_DEPTH} levels",
                problem_mark=self.peek_event().start_mark,
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """A value PyYAML cannot build (an integer past Python's 4300 digits, a 13th month)
        raises ValueError without a line; give it the node's."""
        try:
            return super().construct_object(node, deep)
        except ValueError as exc:
            raise _Refused(
                problem=f"cannot read this value: {str(exc).split(';')[0]}",
                problem_mark=node.start_mark,
            ) from None


def read_text(path: Path, max_bytes: int) -> str:
    """The UTF-8 text of a user's file; InputError (with the line of the first bad byte)
    for an unreadable, oversized, binary or otherwise encoded (UTF-16, Latin-1) file."""
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if len(data) > max_bytes:
        raise InputError(f"{path}: larger than {max_bytes} bytes; this cannot be the right file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{path}:{line}: encoding: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
            "save the file as UTF-8"
        ) from None


def read_yaml(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse `path`; return the data and a map from key path to line number."""
    text = read_text(path, MAX_YAML_BYTES)
    try:
        node, data = _parse(text)
    except yaml.YAMLError as exc:
        raise InputError(_yaml_problem(path, text, exc)) from None
    return data, _line_map(node, path) if node is not None else {}


def _parse(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for lines) and the data, from one bounded parse."""
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        return node, loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()


def _yaml_problem(path: Path, text: str, exc: yaml.YAMLError) -> str:
    """One `file:line: what: reason` line for a YAML error."""
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        line = mark.line + 1
    elif isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
    else:
        line = None
    where = f"{path}:{line}" if line else str(path)
    what = "refused YAML" if isinstance(exc, _Refused) else "malformed YAML"
    reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{where}: {what}: {reason}"


def _line_map(root: yaml.Node, path: Path) -> dict[Loc, int]:
    """Key path -> line of its value. A key written twice in one mapping is an InputError
    naming both lines (YAML itself would keep the last one without a word)."""
    lines: dict[Loc, int] = {}
    problems: list[tuple[int, str]] = []
    pending: list[tuple[yaml.Node, Loc]] = [(root, ())]
    while pending:
        node, loc = pending.pop()
        lines[loc] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, Any], int] = {}
            for key, value in node.value:
                line = key.start_mark.line + 1
                if (key.tag, key.value) in first:
                    problems.append(
                        (
                            line,
                            f"{path}:{line}: {_dotted(loc + (key.value,))}: duplicate key, "
                            f"also written at line {first[key.tag, key.value]}",
                        )
                    )
                first.setdefault((key.tag, key.value), line)
                pending.append((value, loc + (key.value,)))
        elif isinstance(node, yaml.SequenceNode):
            pending.extend((item, loc + (i,)) for i, item in enumerate(node.value))
    if problems:
        raise InputError(*(problem for _, problem in sorted(problems)))
    return lines


def _dotted(loc: Loc) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _nearest_line(loc: Loc, lines: dict[Loc, int]) -> int | None:
    """The line of `loc`, or of its longest prefix that the YAML has."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _line_for(loc: Loc, lines: dict[Loc, int], keys: set[Any]) -> int | None:
    # pydantic inserts union tags and model names into loc; keep only the real keys
    # (`keys`: every key the YAML has, computed once per error report, not per error).
    return _nearest_line(tuple(k for k in loc if isinstance(k, int) or k in keys), lines)


def format_validation_error(
    exc: ValidationError, source: str, lines: dict[Loc, int] | None = None
) -> list[str]:
    """One `source:line: field: message` string per pydantic error."""
    lines = lines or {}
    keys = {k for path in lines for k in path}
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldProblem):
            loc += cause.path
        line = _line_for(loc, lines, keys)
        where = f"{source}:{line}" if line else source
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "missing":
            message = "required field is missing"
        problems.append(f"{where}: {_dotted(loc)}: {message}")
    return problems


def _locate(value: object, source: str, lines: dict[Loc, int], loc: Loc) -> None:
    """Tell every Located model in a validated tree its file and key path."""
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _locate(item, source, lines, loc + (i,))
    elif isinstance(value, BaseModel):
        if isinstance(value, Located):
            value._source, value._lines, value._path = source, lines, loc
        for name in type(value).model_fields:
            _locate(getattr(value, name), source, lines, loc + (name,))


def load_model(path: Path, model: type[Model], overrides: dict[str, Any] | None = None) -> Model:
    """Read a YAML file into `model`, raising InputError with file:line problems."""
    data, lines = read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{path}:1: expected a mapping of fields at the top level")
    data = {**data, **(overrides or {})}
    try:
        loaded = model.model_validate(data)
    except ValidationError as exc:
        raise InputError(*format_validation_error(exc, str(path), lines)) from None
    _locate(loaded, str(path), lines, ())
    return loaded
