"""How every service part reads its settings (the three exporters, the gateway): flags,
then environment, then file, then defaults.

Each part's settings model subclasses `ServiceSettings` with its own env prefix (e.g.
`SLAKIT_<NAME>_EXPORTER_`, `SLAKIT_GATEWAY_`), so credentials come from the environment
and beat a file.
The layers are pydantic-settings sources in that order (flags are the init arguments, the
`--config` YAML a source below the environment); one validation of the merged values, and
each problem is an `InputError` line naming the layer it came from: the flag, the
variable, or the file's line.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any, Self

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource

from slakit.errors import InputError
from slakit.yamlconf import Loc, format_validation_error, read_yaml

# The fields of the `--config` file being loaded; empty when a model is built directly.
_FILE_VALUES: ContextVar[dict[str, Any] | None] = ContextVar("settings_file", default=None)

FLAGS, ENVIRONMENT = "command line", "environment"


class _FileSource(PydanticBaseSettingsSource):
    """The `--config` file's fields, as one pydantic-settings source."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_VALUES.get() or {})


class ServiceSettings(BaseSettings):
    """Base of the exporters' and the gateway's settings models."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _FileSource(settings_cls)

    @classmethod
    def load(cls, path: Path | None = None, **flags: Any) -> Self:
        """Defaults < YAML file `path` < environment < `flags` (the command line's, None
        for unset ones); InputError with one line per problem, by where it was written."""
        flags = {name: value for name, value in flags.items() if value is not None}
        values, lines = _read(path)
        token = _FILE_VALUES.set(values)
        try:
            return cls(**flags)
        except ValidationError as exc:
            raise InputError(*_problems(cls, exc, flags, path, lines)) from None
        finally:
            _FILE_VALUES.reset(token)


def _read(path: Path | None) -> tuple[dict[str, Any], dict[Loc, int]]:
    """The file's fields and their lines ({} for no file)."""
    if path is None:
        return {}, {}
    data, lines = read_yaml(path)
    if data is None:
        return {}, lines
    if not isinstance(data, dict):
        raise InputError(f"{path}:1: expected a mapping of fields at the top level")
    return data, lines


def _problems(
    cls: type[ServiceSettings],
    exc: ValidationError,
    flags: dict[str, Any],
    path: Path | None,
    lines: dict[Loc, int],
) -> list[str]:
    """One line per error, said of the layer whose value won for its field (an error about
    no field, a cross-field check, goes to the file if there is one)."""
    env = EnvSettingsSource(cls)()
    said = {
        FLAGS: format_validation_error(exc, FLAGS),
        ENVIRONMENT: format_validation_error(exc, ENVIRONMENT),
        None: format_validation_error(exc, str(path), lines) if path else None,
    }
    problems = []
    for index, error in enumerate(exc.errors()):
        loc = error["loc"]
        layer = (
            FLAGS if _gives(flags, loc) else ENVIRONMENT if _gives(env, loc) or not path else None
        )
        problems.append(said[layer][index])
    return problems


def _gives(values: dict[str, Any], loc: tuple) -> bool:
    """Whether `values` (one layer's, nested by part) holds the value at `loc`, or the
    value that contains it; an error about no field (`loc` empty) belongs to no layer."""
    for key in loc:
        if not isinstance(values, dict) or key not in values:
            return False
        values = values[key]
    return bool(loc)
