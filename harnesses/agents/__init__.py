"""Agents that act in a task container: one adapter per agent (see `base.AgentAdapter`)."""

from __future__ import annotations

AGENTS = ("mini", "codex", "claude")


def adapter_for(name: str):
    if name == "mini":
        from harnesses.mini import MiniAgent

        return MiniAgent()
    if name == "codex":
        from harnesses.agents.codex import CodexAgent

        return CodexAgent()
    if name == "claude":
        from harnesses.agents.claude import ClaudeAgent

        return ClaudeAgent()
    raise ValueError(f"unknown agent {name!r}; choose from {', '.join(AGENTS)}")
