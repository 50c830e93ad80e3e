"""Load `Settings` from an optional YAML file with `GSKILL_*` environment overrides."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from gskill.errors import GskillError
from gskill.schema import Settings


def load_settings(config_file: Path | None = None) -> Settings:
    """Defaults < YAML file < environment. Any problem is one readable line."""
    data: dict = {}
    if config_file is not None:
        try:
            text = Path(config_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise GskillError(f"cannot read config file {config_file}: {exc.strerror or exc}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise GskillError(f"config file {config_file} is not valid YAML{where}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise GskillError(f"config file {config_file} must be a YAML mapping, got {type(loaded).__name__}")
        data = loaded
    try:
        return Settings(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(root)"
        source = f"config file {config_file}" if config_file else "configuration"
        raise GskillError(f"{source}: {where}: {first['msg']} ({exc.error_count()} error(s))") from None
