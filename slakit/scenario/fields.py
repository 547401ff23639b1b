"""Field types every part of a scenario shares: strict models, durations, objectives,
URLs, and the bounds of a scenario's name."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
)

from slakit.units import parse_duration, parse_objective
from slakit.yamlconf import Located

# The name is part of the run directory's name (`<time>-<name>`), which a file system
# bounds at 255 bytes; a longer name is a description.
MAX_NAME_CHARS = 100
# What a run directory's name keeps of the scenario name; anything else becomes `-`.
_UNSAFE_IN_DIR_NAME = re.compile(r"[^A-Za-z0-9._-]+")

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda seconds: f"{Decimal(repr(seconds)).normalize():f}s", return_type=str),
    Field(
        description="a duration with a unit: '500ms', '30s', '2m'",
        json_schema_extra={"type": "string", "pattern": r"^\d+(\.\d+)?(ms|s|m|h)$"},
    ),
]


def _objective(text: str) -> str:
    parse_objective(text)
    return text


ObjectiveText = Annotated[
    str,
    AfterValidator(_objective),
    Field(description="e.g. '< 500ms', '>= 99.5%', '< 1%', '> 5 rps'"),
]


class Strict(Located):
    """Unknown fields are typos; NaN and infinity are never a rate, weight or size (NaN
    even slips past every bound: `nan <= 5000` is not false but unordered)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _http_url(value: str) -> str:
    """Refuse what is not an absolute http(s) URL (`http//x`) here, with its line, instead
    of as an unreachable target later."""
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = parts._replace(scheme="")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL like 'http://127.0.0.1:8000', got {value!r}")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
