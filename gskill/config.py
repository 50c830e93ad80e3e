"""Load `Settings` from an optional YAML file with `GSKILL_*` environment overrides."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from gskill.errors import GskillError
from gskill.schema import Settings

PREFIX = "GSKILL_"
# GSKILL_* variables that are not settings: markers gskill sets for commands run in its sandboxes
# (harnesses.sandbox) and the gateway token it hands to Codex. A run nested in one of them must still start.
NOT_SETTINGS = frozenset({"GSKILL_EXEC_ID", "GSKILL_SANDBOX_ID", "GSKILL_GATEWAY_TOKEN"})


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
    reject_unknown_environment()
    try:
        return Settings(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(root)"
        source = f"config file {config_file}" if config_file else "configuration"
        raise GskillError(f"{source}: {where}: {first['msg']} ({exc.error_count()} error(s))") from None


def reject_unknown_environment() -> None:
    """pydantic-settings rejects an unknown nested key (`GSKILL_LIMITS__MEMRY`) but silently ignores an
    unknown top-level one (`GSKILL_BASE_IMAG`): reject both, naming the likely intended variable."""
    fields = {PREFIX + name.upper() for name in Settings.model_fields}
    for variable in sorted(os.environ):
        name = variable.upper()
        if not name.startswith(PREFIX) or name in NOT_SETTINGS or name.split("__")[0] in fields:
            continue
        close = difflib.get_close_matches(name.split("__")[0], sorted(fields), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise GskillError(f"configuration: environment variable {variable} is not a gskill setting{hint}")
