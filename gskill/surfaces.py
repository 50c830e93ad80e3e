"""The instruction texts `gskill learn` can evolve together ("surfaces"): one registry, imported by the CLI,
the learn adapter, publishing and the report. Import-light: no engine, no harness.

A candidate is `{surface name: text}`. `--surfaces skill` (the default) is the single-skill search gskill
always ran: the same seed candidate `{"skill": ...}`, the same prompts, the same store. With more surfaces,
each reflection step edits one of them (round robin, or the one the failures implicate) and is told which
one it edits (`description`); each surface has its own token budget; a `--freeze`d surface keeps its seed
text in every candidate.

Where an agent reads each surface is the adapter's business (`harnesses.agents.base.SurfacePlace`: every
adapter declares its places in one attribute, `surface_places`); where `gskill skills publish` writes it
is `published` here and `gskill.skills.PUBLISHERS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from gskill.checks import DEFAULT_TOKEN_BUDGET
from gskill.errors import GskillError


@dataclass(frozen=True)
class Surface:
    name: str  # the `--surfaces` value and the candidate's component name
    description: str  # told to the reflection model when it edits this surface
    token_budget: int  # default budget (tiktoken o200k_base); the skill's is --token-budget
    published: str  # where `gskill skills publish` writes it
    # Phrases in a failed rollout's side information (trace, outcome) that implicate this surface, for
    # `--surface-choice implicated`: a step edits the surface whose phrases the failures mention most.
    cues: tuple[str, ...] = ()


SURFACES: dict[str, Surface] = {
    surface.name: surface
    for surface in (
        Surface(
            "skill",
            "You edit the skill: an Agent Skills document (SKILL.md) the agent loads before fixing a bug. It holds "
            "the repository knowledge: where code lives, how its parts relate, conventions and pitfalls.",
            DEFAULT_TOKEN_BUDGET,
            "REPO/.skills/<name>/SKILL.md (installed per agent by `gskill skills install`)",
            cues=("where to look", "which file", "could not find the code"),
        ),
        Surface(
            "agents-md",
            "You edit the AGENTS.md section the agent reads as project instructions (Codex: AGENTS.md, Claude "
            "Code: CLAUDE.md, mini-SWE-agent: appended to its instructions). It holds how to work in this "
            "project: how to run and read the tests, which test file covers which code, commands and rules.",
            1000,
            "a marked section of REPO/AGENTS.md (<!-- gskill:begin <name> agents-md --> ... <!-- gskill:end <name> agents-md -->)",
            cues=("how to run the tests", "which test", "test command"),
        ),
        Surface(
            "system-prompt",
            "You edit text appended to the agent's system prompt (mini-SWE-agent: its system template; Claude "
            "Code: --append-system-prompt; Codex: appended to AGENTS.md, as it has no appendable system prompt). "
            "It holds how the agent should work: its process, what to check before submitting.",
            500,
            "REPO/.skills/<name>/system-prompt.md (pass it to claude --append-system-prompt; mini: append to its "
            "system template; codex: add it to AGENTS.md)",
            cues=("how to work", "gave up", "step limit"),
        ),
    )
}
DEFAULT_SURFACES = ("skill",)
SURFACE_CHOICES = ("round-robin", "implicated")


def parse_surfaces(text: str) -> list[str]:
    """`--surfaces a,b`: known names, no repeats, at least one; in the registry's order."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in SURFACES]
    if unknown or not names:
        raise GskillError(
            f"--surfaces takes a comma-separated list of {', '.join(SURFACES)}; not {unknown[0] if unknown else text!r}"
        )
    if len(set(names)) != len(names):
        raise GskillError(f"--surfaces names a surface twice: {text!r}")
    return [name for name in SURFACES if name in names]


def is_default(surfaces: list[str] | tuple[str, ...]) -> bool:
    """The single-skill search gskill has always run (its prompts and store identity stay as they were)."""
    return tuple(surfaces) == DEFAULT_SURFACES


def best_file(surface: str) -> str:
    """The learn run's file holding the best candidate's text of `surface` (the skill's: best_skill.md)."""
    return "best_skill.md" if surface == "skill" else f"best_{surface}.md"


def marked(surface: str, text: str) -> str:
    """A surface's text as a rollout's agent receives it in a file or prompt it shares with other text
    (AGENTS.md, CLAUDE.md, a system prompt): in a tag naming the surface. Not an HTML comment: Claude Code
    drops those from CLAUDE.md. (Published AGENTS.md sections use comment markers: `gskill.skills`.)"""
    return f'<gskill-surface name="{surface}">\n{text.strip()}\n</gskill-surface>'
