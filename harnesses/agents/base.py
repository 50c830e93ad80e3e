"""One adapter shape for every agent.

An adapter says where its model calls go (`wire`: the gateway endpoint it speaks), what it needs
installed (`tool`), and runs one rollout in a prepared task container:

    outcome = adapter.run(box, RunRequest(...))   # -> AgentOutcome

Container agents (Codex CLI, Claude Code) share `ContainerAgent`: inject the skill (files outside the
patch, or a prompt flag), build command + environment, run it in the container with the wall-time
limit, keep its event stream as the trace, parse the final event. A fourth agent is one new file
(a `ContainerAgent` subclass with `prepare`, `command` and `parse`) and its entry in the registry,
`harnesses.agents.AGENTS` (version, skill modes, npm package), which the adapter reads.

Instruction texts besides the skill (`RunRequest.surfaces`, see `gskill.surfaces`: "agents-md",
"system-prompt") reach each agent where it reads them. An adapter declares those places in ONE attribute,
`surface_places: dict[surface, SurfacePlace]`: a file in the container (texts for the same file are joined,
after whatever the skill mode wrote there), a CLI flag (its `command` reads `flag_text`), or a section of
a host agent's system prompt (mini). Each text arrives in a tag naming it (`gskill.surfaces.marked`).
A surface an adapter has no place for is an error, never silently dropped.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

from harnesses.agents import AGENTS
from harnesses.agents.tools import AgentTool, container_binary
from harnesses.sandbox import Sandbox

# The name a skill is published under inside an agent's skills folder (lowercase a-z0-9-).
SKILL_NAME = "repository-skill"
SKILL_DESCRIPTION = (
    "What an engineer should know to fix bugs in this repository: where things live, how to run the tests, "
    "conventions and pitfalls. Use it before changing code here."
)


@dataclass
class RunRequest:
    problem_statement: str
    skill: str
    skill_mode: str  # adapter-specific; "" = the adapter's default
    base_url: str  # how the agent reaches the gateway (from inside the container for container agents)
    token: str  # the rollout's gateway token: the agent's "API key"
    model_label: str
    step_limit: int
    cost_limit: float
    wall_time_limit_s: float
    command_timeout_s: float
    skill_template: str = ""
    trace_path: Path | None = None  # where the agent's own transcript goes
    surfaces: dict[str, str] = field(default_factory=dict)  # surface name -> text (the skill stays in `skill`)


@dataclass(frozen=True)
class SurfacePlace:
    """Where an agent reads one surface: exactly one of `file` (a container path; "{home}" = the adapter's
    config folder), `flag` (a CLI option taking the text) or `prompt` (a host agent's system prompt)."""

    file: str = ""
    flag: str = ""
    prompt: bool = False


def surface_texts(request: "RunRequest", places: dict[str, SurfacePlace], agent: str) -> dict[SurfacePlace, str]:
    """The request's non-empty surfaces grouped by place (joined in the request's order), each marked."""
    from gskill.surfaces import marked

    grouped: dict[SurfacePlace, list[str]] = {}
    for surface, text in request.surfaces.items():
        if not text.strip():
            continue
        if surface not in places:
            raise ValueError(f"{agent}: no place for the {surface!r} surface; it reads {', '.join(places) or 'none'}")
        grouped.setdefault(places[surface], []).append(marked(surface, text))
    return {place: "\n\n".join(texts) for place, texts in grouped.items()}


@dataclass
class AgentOutcome:
    exit_status: str  # "Submitted", "LimitsExceeded", "TimeExceeded", or an error name
    steps: int = 0
    error: str = ""
    infra_error: bool = False  # the agent died of its sandbox's or the engine's failure (`taskenv.is_infra_failure`)
    messages: list[dict] = field(default_factory=list)
    # Paths the adapter wrote into the repo (skill files) that must never count as the agent's patch.
    injected_paths: tuple[str, ...] = ()
    # What the agent itself reported (tokens, cost, turns, duration) — kept next to the gateway's
    # count, which stays the number we score with (an agent's cost uses its own price list).
    reported: dict = field(default_factory=dict)


class AgentAdapter(Protocol):
    name: str
    wire: str  # "chat" | "responses" | "messages" | "gemini"
    tool: AgentTool | None  # None: runs on the host (mini-SWE-agent)
    skill_modes: tuple[str, ...]

    def run(self, box: Sandbox, request: RunRequest) -> AgentOutcome: ...


def skill_document(skill: str, name: str = SKILL_NAME, description: str = SKILL_DESCRIPTION) -> str:
    """An Agent Skills `SKILL.md`: YAML front matter (`name` = folder name, `description`), then the text."""
    return f"---\nname: {name}\ndescription: {json.dumps(description)}\n---\n\n{skill.strip()}\n"


def json_events(output: str) -> list[dict]:
    """The JSON objects of an agent's event stream, one a line; other lines (warnings, a cut-off last
    line of a killed run) are skipped."""
    events = []
    for line in output.splitlines():
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return events


def write_text(box: Sandbox, path: str, text: str) -> None:
    box.exec(f"mkdir -p {shlex.quote(str(Path(path).parent))}", timeout=30)
    box.write_file(path, text)


class ContainerAgent:
    """A CLI agent run inside the task container from the read-only mounted tool cache."""

    name: ClassVar[str]
    wire: ClassVar[str]
    home: ClassVar[str]  # the agent's per-rollout config folder, inside the container, outside /repo
    surface_places: ClassVar[dict[str, SurfacePlace]] = {}  # where it reads each surface (see the module doc)

    @property
    def tool(self) -> AgentTool:
        return AGENTS[self.name].tool

    @property
    def skill_modes(self) -> tuple[str, ...]:
        return AGENTS[self.name].skill_modes

    @property
    def binary(self) -> str:
        return container_binary(self.tool)

    def prepare(self, box: Sandbox, request: RunRequest) -> tuple[str, ...]:
        """Write config and skill files; returns the paths written inside /repo (excluded from the patch)."""
        raise NotImplementedError

    def command(self, request: RunRequest) -> tuple[str, dict[str, str]]:
        raise NotImplementedError

    def parse(self, output: str) -> AgentOutcome:
        raise NotImplementedError

    def flag_text(self, request: RunRequest, flag: str) -> str:
        """The surfaces' text for one of the adapter's `flag` places ("" = none)."""
        texts = surface_texts(request, self.surface_places, self.name)
        return next((text for place, text in texts.items() if place.flag == flag), "")

    def write_surface_files(self, box: Sandbox, request: RunRequest) -> None:
        """Append each `file` place's surfaces to the file (after what `prepare` wrote there)."""
        for place, text in surface_texts(request, self.surface_places, self.name).items():
            if place.file:
                path = place.file.format(home=self.home)
                before = box.exec(f"cat {shlex.quote(path)} 2>/dev/null", timeout=30).output
                write_text(box, path, (before.rstrip("\n") + "\n\n" if before.strip() else "") + text + "\n")

    def collect(self, box: Sandbox, trace_path: Path) -> None:
        """Copy the agent's own session files out of the container, next to its event stream."""

    def run(self, box: Sandbox, request: RunRequest) -> AgentOutcome:
        mode = request.skill_mode or self.skill_modes[0]
        if mode not in self.skill_modes:
            raise ValueError(f"{self.name}: unknown skill mode {mode!r}; choose from {', '.join(self.skill_modes)}")
        request.skill_mode = mode
        injected = self.prepare(box, request)
        self.write_surface_files(box, request)
        command, env = self.command(request)
        result = box.exec(f"{command} < /dev/null", timeout=request.wall_time_limit_s, env=env)
        if request.trace_path is not None:
            request.trace_path.parent.mkdir(parents=True, exist_ok=True)
            request.trace_path.write_text(result.output)
        if result.timed_out:
            return AgentOutcome(
                "TimeExceeded", error=f"{self.name} ran past {request.wall_time_limit_s:g} s", injected_paths=injected
            )
        outcome = self.parse(result.output)
        outcome.injected_paths = injected
        if request.trace_path is not None:
            self.collect(box, request.trace_path)
        if not outcome.exit_status:
            outcome.exit_status = "AgentError"
            outcome.error = outcome.error or f"{self.name} exited {result.exit_code}: {result.output.strip()[-500:]}"
        return outcome
