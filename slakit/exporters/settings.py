"""How every exporter reads its settings: flags, then environment, then file, then defaults.

Each exporter's settings model subclasses `ExporterSettings` with its own env prefix
(`SLAKIT_<NAME>_EXPORTER_`); credentials therefore come from the environment and beat a
file. Problems are `InputError`s naming the file line, the variable or the flag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from slakit.errors import InputError
from slakit.yamlconf import format_validation_error, load_model


class ExporterSettings(BaseSettings):
    """Base of the exporters' settings models (set `validate_assignment=True`: flags are
    applied by assignment and validated then)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # As in the stack's config: the environment (where secrets live) wins over the file.
        return env_settings, init_settings

    @classmethod
    def load(cls, path: Path | None = None, **overrides: Any) -> Self:
        """Defaults + optional YAML file + environment, then `overrides` (command-line
        flags) on top; InputError with file:line on problems."""
        try:
            cfg = cls() if path is None else load_model(path, cls)
        except ValidationError as exc:
            raise InputError(*format_validation_error(exc, "environment")) from None
        try:
            for name, value in overrides.items():
                setattr(cfg, name, value)  # validated: validate_assignment
        except ValidationError as exc:
            raise InputError(*format_validation_error(exc, "command line")) from None
        return cfg
