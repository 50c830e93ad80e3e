"""Reflective proposals: refine, combine, simplify — prompts in, validated candidate texts out.

A reflection model's output is only adopted after `parse_proposal` accepts it: one complete fenced
block (an odd number of fence lines means the reply was cut off), no unfinished `<think>` monologue,
not empty, not a copy of the current text, and within the token budget. A known failure of plain
GEPA is adopting a truncated reflection as the new candidate; here such a reply is rejected with a
reason and costs only the reflection call.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Sequence

from gskill.engine.types import Evaluation
from gskill.tokens import count_tokens

# Generic directives; an adapter passes its own wording (e.g. gskill.learn's, about repositories and agents).
DIRECTIVES = {
    "refine": (
        "Study the examples that failed next to the ones that succeeded. Find the failure modes and fix them in "
        "the {component}, keeping what the successful examples show already works. The {component} will be used "
        "on OTHER examples of the same kind: write what generalises, never the answer to one example."
    ),
    "combine": (
        "Two versions of the {component} each succeed on examples where the other fails. Merge them into one "
        "that keeps what is behind both sets of successes, resolves contradictions, and states each point once."
    ),
    "simplify": (
        "Shorten the {component} to at most {target} tokens while keeping everything that makes it work: remove "
        "repetition, filler and anything the evidence shows is never used."
    ),
}
FAILED_HEADING, SOLVED_HEADING = "Examples that failed", "Examples that succeeded"

_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass
class Proposal:
    text: str | None  # the parsed text (kept when only over budget, so it can be simplified)
    reason: str = ""  # why it was rejected; "" = accepted

    @property
    def ok(self) -> bool:
        return self.text is not None and not self.reason


def trim_middle(text: str, limit: int) -> str:
    """Keep the head and the tail of a long text (both matter in a trace: the plan and the end)."""
    if len(text) <= limit:
        return text
    head = int(limit * 0.6)
    tail = limit - head
    return f"{text[:head]}\n[... {len(text) - limit} characters omitted ...]\n{text[-tail:]}"


def format_side_info(info: dict[str, Any], limit: int) -> str:
    """Side information as readable sections, each trimmed head+tail to its share of `limit`."""
    if not info:
        return "(no details)"
    items = [
        (key, value if isinstance(value, str) else json.dumps(value, indent=1, default=str))
        for key, value in info.items()
    ]
    short = [(k, v) for k, v in items if len(v) <= 300]
    long = [(k, v) for k, v in items if len(v) > 300]
    room = max(400, (limit - sum(len(v) for _, v in short)) // max(1, len(long)))
    parts = []
    for key, value in items:
        value = value if len(value) <= 300 else trim_middle(value, room)
        parts.append(f"**{key}**: {value}" if "\n" not in value else f"**{key}**:\n{value}")
    return "\n".join(parts)


def _examples_section(title: str, examples: Sequence[tuple[str, Evaluation]], limit: int) -> str:
    if not examples:
        return ""
    lines = [f"## {title}"]
    for example_id, evaluation in examples:
        lines.append(f"### {example_id} (score {evaluation.score:g})")
        lines.append(format_side_info(evaluation.side_info, limit))
    return "\n\n".join(lines)


def _fenced(text: str) -> str:
    return f"````markdown\n{text.strip()}\n````" if text.strip() else "````markdown\n(empty)\n````"


def build_prompt(
    operator: str,
    *,
    component: str,
    current: str,
    score_line: str,
    examples: Sequence[tuple[str, Evaluation]] = (),
    other: str = "",
    other_score_line: str = "",
    objective: str = "",
    background: str = "",
    token_budget: int,
    target_tokens: int | None = None,
    side_info_chars: int = 6000,
    directives: dict[str, str] | None = None,
    surface: str = "",
) -> str:
    """`surface`: what the component is, when a candidate has several (e.g. "You edit the AGENTS.md
    section ..."); it becomes a "## Surface: <component>" section. Without it the prompt is as it always was."""
    directive = {**DIRECTIVES, **(directives or {})}[operator].format(
        component=component, target=target_tokens or token_budget
    )
    sections = [f"You improve a text artifact (the {component}) through reflection on how it performed."]
    if objective:
        sections.append(f"## Objective\n{objective.strip()}")
    if background:
        sections.append(f"## Background\n{background.strip()}")
    if surface:
        sections.append(f"## Surface: {component}\n{surface.strip()}")
    if operator == "combine":
        sections.append(f"## Candidate A ({score_line})\n{_fenced(current)}")
        sections.append(f"## Candidate B ({other_score_line})\n{_fenced(other)}")
    else:
        sections.append(f"## Current {component} ({score_line}, {count_tokens(current)} tokens)\n{_fenced(current)}")
    failed = [(i, e) for i, e in examples if e.score < 1.0]
    solved = [(i, e) for i, e in examples if e.score >= 1.0]
    sections.append(_examples_section(FAILED_HEADING, failed, side_info_chars))
    sections.append(_examples_section(SOLVED_HEADING, solved, side_info_chars // 2))
    sections.append(f"## Strategy: {operator}\n{directive}")
    sections.append(
        "## Output\n"
        f"Return the complete new {component} — not a diff, not a comment on it — inside ONE fenced block that "
        f"opens with ````markdown and closes with ````, and nothing after it. Hard limit: {token_budget} tokens "
        f"(tiktoken {count_tokens.__module__.rsplit('.', 1)[-1]} count)."
    )
    return "\n\n".join(section for section in sections if section)


def parse_proposal(reply: str, *, current: str, token_budget: int) -> Proposal:
    text = reply or ""
    if "<think>" in text:
        if "</think>" not in text:
            return Proposal(None, "unfinished <think> monologue")
        text = text.rsplit("</think>", 1)[1]
    lines = text.splitlines()
    fences = [i for i, line in enumerate(lines) if _FENCE.match(line)]
    if len(fences) < 2:
        return Proposal(None, "no fenced block" if not fences else "unclosed fence (truncated reply)")
    if len(fences) % 2:
        return Proposal(None, "unclosed fence (truncated reply)")
    body = "\n".join(lines[fences[0] + 1 : fences[-1]]).strip()
    if not body or body == "(empty)":
        return Proposal(None, "empty proposal")
    if body.strip() == current.strip():
        return Proposal(None, "unchanged")
    tokens = count_tokens(body)
    if tokens > token_budget:
        return Proposal(body, f"over budget ({tokens} > {token_budget} tokens)")
    return Proposal(body + "\n")
