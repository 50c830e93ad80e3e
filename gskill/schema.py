"""The shared schemas of every stage: one module, pydantic models only.

Mining writes `Task`s, harnesses turn (Task, skill) into `Rollout`s and `Grade`s, the engine reads
scores, and `RunConfig` / `Settings` configure all of them. Task key names follow SWE-bench
(`instance_id`, `FAIL_TO_PASS`, ...) so that `swebench`'s grading and log parsers work unchanged;
our own fields are additions, never renames.

This module must stay import-light (pydantic only): every package imports it.
"""

from __future__ import annotations

import json
import os
import re
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

# --------------------------------------------------------------------------------------------
# Tasks


class Strategy(str, Enum):
    """How a task's bug state was produced (see ARCHITECTURE.md, Mining)."""

    COMMIT_MIRROR = "commit-mirror"
    COMMIT_HISTORICAL = "commit-historical"
    PROCEDURAL = "procedural"
    LLM_REWRITE = "llm-rewrite"
    COMPOSITE = "composite"  # two validated made-up bugs of one file, failing overlapping tests
    IMPORTED = "imported"  # taken from another dataset's instance (`gskill import`: SWE-bench, SWE-smith)


class Split(str, Enum):
    TRAIN = "train"
    VAL = "val"
    TEST = "test"


class Difficulty(BaseModel):
    """What makes a task easy or hard, measured without a model: the size of the gold fix and how
    loudly its tests point at the bug. Used to stratify splits and to calibrate what is kept."""

    model_config = ConfigDict(extra="forbid")

    files: int = 0
    hunks: int = 0
    lines: int = 0
    f2p_count: int = 0
    test_time_s: float = 0.0
    functions: int = 0  # functions/methods the bug changed
    f2p_share: float = 0.0  # FAIL_TO_PASS / the snapshot's passing tests: a bug that breaks the suite is easy
    # The failing run names a function the bug changed (its message or a traceback frame): the
    # failure leads straight to the bug, as `TypeError: isinstance() arg 2 ...` from the function does.
    points_at_bug: bool = False


class DifficultyTarget(BaseModel):
    """The difficulty distribution mined tasks are selected to match (`swesmith.difficulty`).

    Tasks are binned by FAIL_TO_PASS count: bin i holds counts up to `f2p_bins[i]`, the last bin
    everything above. The default shares approximate SWE-bench's real bugs, most of which are
    decided by one to three tests and a few by dozens; a bug that fails more than `max_suite_share`
    of the snapshot's passing tests is dropped while other tasks can fill the splits. Mining
    validates up to `oversample` × the tasks wanted, so the selection has a choice."""

    model_config = ConfigDict(extra="forbid")

    f2p_bins: list[int] = Field(default_factory=lambda: [1, 3, 10, 30])
    shares: list[float] = Field(default_factory=lambda: [0.40, 0.30, 0.18, 0.08, 0.04])
    max_suite_share: float = Field(0.10, gt=0, le=1)
    oversample: float = Field(1.2, ge=1)

    @field_validator("shares")
    @classmethod
    def _shares_sum_to_one(cls, value: list[float]) -> list[float]:
        if any(share < 0 for share in value) or abs(sum(value) - 1) > 1e-6:
            raise ValueError(f"difficulty shares must be >= 0 and sum to 1, not {value}")
        return value

    @model_validator(mode="after")
    def _bins_match_shares(self) -> DifficultyTarget:
        if len(self.shares) != len(self.f2p_bins) + 1 or self.f2p_bins != sorted(set(self.f2p_bins)):
            raise ValueError("difficulty: f2p_bins must increase and shares have one entry more than f2p_bins")
        return self

    def bin_names(self) -> list[str]:
        names, low = [], 1
        for high in self.f2p_bins:
            names.append(str(high) if high == low else f"{low}-{high}")
            low = high + 1
        return [*names, f">{self.f2p_bins[-1]}"]

    def bin_of(self, f2p_count: int) -> str:
        names = self.bin_names()
        for name, high in zip(names, self.f2p_bins):
            if f2p_count <= high:
                return name
        return names[-1]


class Task(BaseModel):
    """One fail-to-pass task. SWE-bench compatible: its JSON is a SWE-bench instance plus extras.

    `patch` is the gold fix: applied to the bug state it makes every FAIL_TO_PASS test pass and keeps
    every PASS_TO_PASS test passing. `bug_patch` takes the env image's snapshot (HEAD) to the bug
    state, for tasks mirrored onto a snapshot; it is empty when the image already holds the bug state.
    """

    # extra="allow": a SWE-bench instance may carry keys we do not model (hints_text, ...); keep them.
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    instance_id: str
    repo: str
    base_commit: str
    patch: str
    test_patch: str = ""
    problem_statement: str
    FAIL_TO_PASS: list[str]
    PASS_TO_PASS: list[str] = Field(default_factory=list)
    version: str = ""
    environment_setup_commit: str = ""
    created_at: str = ""
    # ours
    image_name: str
    bug_patch: str = ""
    strategy: Strategy
    # The language profile that runs and reads its tests (`languages/`); tasks written before
    # profiles existed are Python's.
    language: str = "python"
    source_commit: str = ""
    # Tasks of one group (one source commit, one mutated function) always share a split.
    group: str = ""
    difficulty: Difficulty = Field(default_factory=Difficulty)
    split: Split | None = None

    @field_validator("FAIL_TO_PASS", "PASS_TO_PASS", mode="before")
    @classmethod
    def _accept_json_encoded_lists(cls, value: Any) -> Any:
        # SWE-bench datasets on the hub store these as JSON strings; accept both shapes.
        if isinstance(value, str):
            return json.loads(value) if value.strip() else []
        return value

    def to_swebench(self) -> dict[str, Any]:
        """The instance as `swebench` tooling expects it (lists, plain strings)."""
        return self.model_dump(mode="json")


_DIFF_PATHS = re.compile(r"^diff --git [ab]/(\S+) [ab]/(\S+)$", re.M)


def patch_files(patch: str) -> list[str]:
    """The files a git diff touches. Mined patches come as `a/ b/` or, reversed, `b/ a/`."""
    return sorted({path for pair in _DIFF_PATHS.findall(patch) for path in pair})


def write_atomic(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` through a temporary file renamed over it: a reader, or a crash,
    sees the old file or the new one, never half of one; a failed write leaves no temporary behind."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_jsonl(path: Path, records: Iterable[BaseModel]) -> int:
    """Write models as JSON lines atomically (a crash never leaves a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [record.model_dump_json() + "\n" for record in records]
    write_atomic(path, "".join(lines))
    return len(lines)


def read_jsonl(path: Path, model: type[BaseModel]) -> Iterator[BaseModel]:
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    yield model.model_validate_json(line)
                except ValueError as exc:
                    raise ValueError(f"{path}:{line_number}: not a valid {model.__name__}: {exc}") from exc


def read_tasks(path: Path) -> list[Task]:
    return list(read_jsonl(path, Task))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Rollouts and grades


class ExitStatus(str, Enum):
    """How an agent run ended."""

    SUBMITTED = "submitted"
    LIMITS_EXCEEDED = "limits_exceeded"  # steps, tokens or dollars
    TIMEOUT = "timeout"  # wall-time limit
    ERROR = "error"


class Usage(BaseModel):
    """Model usage counted by the gateway (never by the agent's own claims)."""

    model_config = ConfigDict(extra="forbid")

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cost_usd: float = 0.0
    rate_wait_s: float = 0.0  # time calls waited for the provider's rate limits (gateway-side)

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(
            calls=self.calls + other.calls,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            rate_wait_s=self.rate_wait_s + other.rate_wait_s,
        )


class Rollout(BaseModel):
    """One agent run on one task with one candidate skill."""

    model_config = ConfigDict(extra="forbid")

    instance_id: str
    agent: str
    model: str
    skill_hash: str = ""
    seed: int = 0
    attempt: int = 1
    patch: str = ""
    exit_status: ExitStatus
    # True when the failure was ours (container died, gateway down): retried, never scored 0.
    infra_error: bool = False
    error: str = ""
    usage: Usage = Field(default_factory=Usage)
    wall_time_s: float = 0.0
    trace_path: str = ""  # JSONL of messages / tool calls / observations, relative to the run dir
    steps: int = 0  # agent turns / tool-using steps, as the agent counts them
    # The agent's own account (Codex's turn usage, Claude Code's result event: tokens, cost at its list
    # prices, turns, duration). `usage` — the gateway's count — is what gskill scores with.
    agent_reported: dict = Field(default_factory=dict)
    started_at: str = ""
    node: str = ""
    network: bool = False  # the task container had a network (`limits.network: true`)


class GradeStatus(str, Enum):
    NO_PATCH = "no_patch"
    PATCH_FAILED_TO_APPLY = "patch_failed_to_apply"
    F2P_FAILED = "f2p_failed"
    P2P_REGRESSION = "p2p_regression"
    RESOLVED = "resolved"
    INFRA_ERROR = "infra_error"


class Grade(BaseModel):
    """The verdict of a fresh container running the task's tests on a patch."""

    model_config = ConfigDict(extra="forbid")

    instance_id: str
    status: GradeStatus
    f2p_passed: list[str] = Field(default_factory=list)
    f2p_failed: list[str] = Field(default_factory=list)
    p2p_passed: list[str] = Field(default_factory=list)
    p2p_failed: list[str] = Field(default_factory=list)
    test_time_s: float = 0.0
    log_tail: str = ""
    # Where the full test log was kept (the grade can be recomputed from it: `languages.verdict`).
    log_path: str = ""
    # Custom scorers' results (name -> score), next to the tests' verdict; tests stay the default.
    scores: dict[str, float] = Field(default_factory=dict)

    @property
    def resolved(self) -> bool:
        return self.status is GradeStatus.RESOLVED


# --------------------------------------------------------------------------------------------
# Configuration


class SandboxLimits(BaseModel):
    """Resource limits for one task container."""

    model_config = ConfigDict(extra="forbid")

    cpus: float = Field(2.0, gt=0)
    memory: str = "4g"
    # Off: a task container has no network (an agent could download the released package and diff it
    # against the bug state, or call servers on the host); agents in it reach only the gateway
    # (harnesses.sandbox.network). True is an explicit opt-in that `gskill doctor` and reports flag.
    # Graders and miners never get a network.
    network: bool = False

    def offline(self) -> "SandboxLimits":
        """These limits without the network: for graders and miners, whatever the setting."""
        return self.model_copy(update={"network": False})


class ModelEndpoint(BaseModel):
    """Where a model is served and what it costs, for models litellm's defaults do not cover: a local
    OpenAI-compatible server (vLLM, llama.cpp, Ollama's /v1) is `openai/<served name>` with
    `api_base: http://host:port/v1`. One entry serves the model as agent and as reflection model.
    Holds no key: `api_key_env` names the variable holding one (a local server needs none)."""

    model_config = ConfigDict(extra="forbid")

    api_base: str = ""
    price: tuple[float, float] | None = None  # USD per million input, output tokens
    api_key_env: str = ""

    @field_validator("api_base")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"api_base must be an http:// or https:// URL, not {value!r}")
        return value.rstrip("/")

    @field_validator("price")
    @classmethod
    def _non_negative(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and min(value) < 0:
            raise ValueError(f"price must be two non-negative numbers (USD per million tokens in, out), not {value}")
        return value


class RunConfig(BaseModel):
    """How one agent run is performed. Defaults are the reference gskill run's."""

    model_config = ConfigDict(extra="forbid")

    agent: str = "mini"  # a name in the agent registry (harnesses.agents.AGENTS)
    model: str = ""
    step_limit: int = Field(50, ge=1)
    command_timeout_s: float = Field(120, gt=0)
    test_timeout_s: float = Field(300, gt=0)
    wall_time_limit_s: float = Field(1800, gt=0)
    cost_limit_usd: float = Field(3.0, ge=0)
    runs: int = Field(1, ge=1)
    workers: int = Field(2, ge=1)
    seed: int = 0
    # How the skill enters the agent's system prompt; must contain {skill}. Empty = the harness's default.
    skill_template: str = ""
    # The endpoints of the models this run calls (agent and reflection), by model name: `Settings.models`
    # plus the command's --api-base/--price. Carried with every rollout job (Ray nodes' gateways too).
    endpoints: dict[str, ModelEndpoint] = Field(default_factory=dict)

    @field_validator("agent")
    @classmethod
    def _known_agent(cls, value: str) -> str:
        from harnesses.agents import AGENTS  # pure data; the registry is the one list of agents

        if value not in AGENTS:
            raise ValueError(f"unknown agent {value!r}; choose from {', '.join(AGENTS)}")
        return value

    @field_validator("skill_template")
    @classmethod
    def _has_skill_slot(cls, value: str) -> str:
        if value and "{skill}" not in value:
            raise ValueError("skill_template must contain {skill}")
        return value


class RateLimit(BaseModel):
    """A provider's limit for the models matching `model` (a glob; "*" = every model). A glob is one
    quota shared by the models it matches; 0 = no limit of that kind."""

    model_config = ConfigDict(extra="forbid")

    model: str = "*"
    rpm: int = Field(0, ge=0)  # requests a minute
    tpm: int = Field(0, ge=0)  # tokens a minute (prompt + completion)


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gskill"


def default_runs_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "gskill" / "runs"


class Settings(BaseSettings):
    """gskill's configuration: defaults < YAML file (`--config`) < environment (`GSKILL_*`).

    Nested keys use `__` in the environment, e.g. `GSKILL_LIMITS__MEMORY=8g`.
    """

    model_config = SettingsConfigDict(env_prefix="GSKILL_", env_nested_delimiter="__", extra="forbid")

    # Any image with python3 (+venv) and git. Users with a registry pull it; air-gapped machines
    # build one with `gskill env base` and set GSKILL_BASE_IMAGE=gskill-base:bookworm.
    base_image: str = "python:3.11-slim-bookworm"
    # Used when `base_image` is neither present nor pullable (no registry): the image
    # `gskill env base` builds. Empty string disables the fallback.
    base_image_fallback: str = "gskill-base:bookworm"
    # auto = Docker when an engine answers, else the local sandbox (weaker isolation).
    sandbox: Literal["auto", "docker", "local"] = "auto"
    cache_dir: Path = Field(default_factory=default_cache_dir)
    # Where `learn REPO` and `refresh` put their run folders when no --out is given (a per-user data
    # folder: a nightly job run from a checkout must not leave an untracked folder in it).
    runs_dir: Path = Field(default_factory=default_runs_dir)
    # Host CA bundle passed into builds and containers (TLS-intercepting proxies). None = detect.
    ca_bundle: Path | None = None
    debian_mirror: str = "http://deb.debian.org/debian"
    debian_suite: str = "bookworm"
    limits: SandboxLimits = Field(default_factory=SandboxLimits)
    run: RunConfig = Field(default_factory=RunConfig)
    difficulty: DifficultyTarget = Field(default_factory=DifficultyTarget)
    # Kept by the gateway before each model call; on a Ray cluster, once for the whole cluster.
    rate_limits: list[RateLimit] = Field(default_factory=list)
    # Per model: its api_base (a self-hosted server) and price (models litellm cannot price).
    models: dict[str, ModelEndpoint] = Field(default_factory=dict)
    env_build_timeout_s: float = Field(1800, gt=0)
    min_free_disk_gb: float = Field(5.0, ge=0)

    @model_validator(mode="after")
    def _endpoints_reach_runs(self) -> "Settings":
        # Every command copies `run` for its runs: the configured endpoints travel with it.
        self.run = self.run.model_copy(update={"endpoints": {**self.run.endpoints, **self.models}})
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML file arrives as init kwargs; the environment must win over it.
        return (env_settings, init_settings)


class EvalRecord(BaseModel):
    """One line of `RUNDIR/rollouts.jsonl`: a rollout and the grade of its patch."""

    model_config = ConfigDict(extra="forbid")

    instance_id: str
    run_index: int = 0
    rollout: Rollout
    grade: Grade | None = None  # None when the rollout itself failed for infrastructure reasons
    retries: int = 0  # infrastructure failures retried before this record

    @property
    def infra_error(self) -> bool:
        return self.rollout.infra_error or (self.grade is not None and self.grade.status is GradeStatus.INFRA_ERROR)

    @property
    def resolved(self) -> bool:
        return not self.infra_error and self.grade is not None and self.grade.resolved
