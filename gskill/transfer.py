"""`gskill transfer`: does a learned skill help other agents and models? Paired, with honest statistics.

For every (agent, model) cell of the matrix, the same tasks run twice per seed — once with no skill
(baseline), once with the skill — through `gskill eval`'s machinery (so each arm is a normal, resumable
eval folder: `OUT/<cell>/{baseline,skill}/`). A pair is (task, run index): both arms use the same seed
for it. Per cell we report each arm's resolve rate with a 95% Wilson interval, the paired difference
with the exact McNemar p-value, mean/median wall time, tokens and cost, and the tasks that flipped.

Pairs with an infrastructure error in either arm are left out (never scored), and counted.
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from gskill.checks import check_skill_mode
from gskill.errors import GskillError
from gskill.schema import EvalRecord, RunConfig, SandboxLimits, Task
from gskill.stats import mcnemar_exact, wilson
from harnesses.agents import AGENTS


@dataclass
class Cell:
    agent: str
    model: str
    skill_mode: str = ""
    scripted: dict[str, Any] = field(default_factory=dict)  # parameters of scripted/ models

    @property
    def name(self) -> str:
        extra = "".join(f"-{k}{v:g}" if isinstance(v, float) else f"-{k}{v}" for k, v in sorted(self.scripted.items()))
        mode = f"-{self.skill_mode}" if self.skill_mode else ""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{self.agent}-{self.model}{mode}{extra}")

    @property
    def label(self) -> str:
        params = "&".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(self.scripted.items())
        )
        return (
            f"{self.agent}:{self.model}"
            + (f"@{self.skill_mode}" if self.skill_mode else "")
            + (f"#{params}" if params else "")
        )


def parse_matrix(text: str) -> list[Cell]:
    """`agent:model[@skill-mode][#key=value&...]`, comma-separated (`#...` only for scripted/ models)."""
    cells = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        head, _, params = item.partition("#")
        agent, sep, model = head.partition(":")
        model, _, mode = model.partition("@")
        if not sep or agent not in AGENTS or not model:
            raise GskillError(f"--matrix cell {item!r} is not agent:model with agent one of {', '.join(AGENTS)}")
        scripted: dict[str, Any] = {}
        for pair in filter(None, params.split("&")):
            key, eq, value = pair.partition("=")
            if not eq or not model.startswith("scripted/"):
                raise GskillError(f"--matrix cell {item!r}: #key=value parameters are for scripted/ models only")
            try:
                scripted[key] = float(value)
            except ValueError:
                scripted[key] = value
        check_skill_mode(agent, mode, f"--matrix cell {item!r}: skill mode")
        cells.append(Cell(agent, model, mode, scripted))
    if not cells:
        raise GskillError("--matrix names no cell (e.g. mini:openai/gpt-5-mini,claude:anthropic/claude-haiku-4-5)")
    if len({cell.name for cell in cells}) != len(cells):
        raise GskillError("--matrix names the same cell twice")
    return cells


def latest_records(run_dir: Path) -> dict[tuple[str, int], EvalRecord]:
    from harnesses.evaluate import read_records

    return {(r.instance_id, r.run_index): r for r in read_records(run_dir / "rollouts.jsonl")}


def compare(baseline: dict[tuple[str, int], EvalRecord], skilled: dict[tuple[str, int], EvalRecord]) -> dict[str, Any]:
    """The paired statistics of one cell from its two arms' records."""
    keys = sorted(set(baseline) & set(skilled))
    pairs = [(baseline[k], skilled[k]) for k in keys if not baseline[k].infra_error and not skilled[k].infra_error]
    n = len(pairs)
    base_wins = sum(b.resolved for b, _ in pairs)
    skill_wins = sum(s.resolved for _, s in pairs)
    gained = sorted(f"{b.instance_id}#{b.run_index}" for b, s in pairs if s.resolved and not b.resolved)
    lost = sorted(f"{b.instance_id}#{b.run_index}" for b, s in pairs if b.resolved and not s.resolved)

    def arm(records: list[EvalRecord], wins: int) -> dict[str, Any]:
        times = [r.rollout.wall_time_s for r in records]
        low, high = wilson(wins, n)
        return {
            "resolved": wins,
            "runs": n,
            "resolve_rate": round(wins / n, 4) if n else 0.0,
            "ci95": [round(low, 4), round(high, 4)],
            "mean_duration_s": round(statistics.mean(times), 2) if times else 0.0,
            "median_duration_s": round(statistics.median(times), 2) if times else 0.0,
            "input_tokens": sum(r.rollout.usage.input_tokens for r in records),
            "output_tokens": sum(r.rollout.usage.output_tokens for r in records),
            "cost_usd": round(sum(r.rollout.usage.cost_usd for r in records), 6),
        }

    return {
        "pairs": n,
        "excluded_infra_pairs": len(keys) - n,
        "baseline": arm([b for b, _ in pairs], base_wins),
        "skill": arm([s for _, s in pairs], skill_wins),
        "difference": round((skill_wins - base_wins) / n, 4) if n else 0.0,
        "mcnemar_p": round(mcnemar_exact(len(gained), len(lost)), 6),
        "fail_to_pass": gained,
        "pass_to_fail": lost,
    }


TABLE_HEADERS = (
    "agent:model",
    "pairs",
    "baseline (95% CI)",
    "with skill (95% CI)",
    "Δ",
    "McNemar p",
    "flips +/−",
    "median s base → skill",
    "cost $ base → skill",
)


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    """One row of display strings per cell (the markdown table and the HTML report show the same)."""
    rows = []
    for cell in result["cells"]:
        b, s = cell["baseline"], cell["skill"]
        rows.append(
            [
                cell["cell"],
                str(cell["pairs"]),
                f"{b['resolve_rate']:.0%} ({b['ci95'][0]:.0%}–{b['ci95'][1]:.0%})",
                f"{s['resolve_rate']:.0%} ({s['ci95'][0]:.0%}–{s['ci95'][1]:.0%})",
                f"{cell['difference']:+.0%}",
                f"{cell['mcnemar_p']:.3g}",
                f"+{len(cell['fail_to_pass'])}/−{len(cell['pass_to_fail'])}",
                f"{b['median_duration_s']:.1f} → {s['median_duration_s']:.1f}",
                f"{b['cost_usd']:.2f} → {s['cost_usd']:.2f}",
            ]
        )
    return rows


def markdown_table(result: dict[str, Any]) -> str:
    lines = ["| " + " | ".join(TABLE_HEADERS) + " |", "|" + "---|" * len(TABLE_HEADERS)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(result)]
    return "\n".join(lines) + "\n"


def transfer(
    skill: str,
    tasks: list[Task],
    cells: list[Cell],
    *,
    runs: int,
    workers: int,
    out_dir: Path,
    run_config: RunConfig,
    limits: SandboxLimits | None,
    cache_dir: Path,
    progress: Callable[[str, int, int], None] = lambda arm, done, total: None,
    executor_options=None,
) -> dict[str, Any]:
    """`executor_options` (harnesses.executor.ExecutorOptions): where rollouts run; default a local pool
    of `workers`. One executor per agent serves all its cells (one gateway, one limiter, one set of Ray runners)."""
    from harnesses.executor import ExecutorOptions, make_executor

    if not skill.strip():
        raise GskillError("the skill file is empty: there is nothing to transfer")
    out_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"tasks": len(tasks), "runs": runs, "cells": []}
    options = executor_options or ExecutorOptions(workers=workers)
    executors: dict[str, Any] = {}
    try:
        for cell in cells:
            if cell.agent not in executors:
                executors[cell.agent] = make_executor(options, agent=cell.agent, cache_dir=cache_dir)
            result["cells"].append(
                _transfer_cell(
                    skill,
                    tasks,
                    cell,
                    executors[cell.agent],
                    runs=runs,
                    workers=workers,
                    out_dir=out_dir,
                    run_config=run_config,
                    limits=limits,
                    progress=progress,
                )
            )
    finally:
        for executor in executors.values():
            executor.close()
    (out_dir / "transfer.json").write_text(json.dumps(result, indent=2))
    (out_dir / "transfer.md").write_text(markdown_table(result))
    return result


def _transfer_cell(
    skill: str,
    tasks: list[Task],
    cell: Cell,
    executor,
    *,
    runs: int,
    workers: int,
    out_dir: Path,
    run_config: RunConfig,
    limits: SandboxLimits | None,
    progress: Callable[[str, int, int], None],
) -> dict[str, Any]:
    """Both arms of one cell on the same tasks and seeds, compared."""
    from harnesses.evaluate import evaluate

    config = run_config.model_copy(update={"agent": cell.agent, "model": cell.model, "runs": runs, "workers": workers})
    arms = {}
    for arm, text in (("baseline", ""), ("skill", skill)):
        folder = out_dir / cell.name / arm
        evaluate(
            tasks,
            config=config,
            skill=text,
            run_dir=folder,
            limits=limits,
            skill_mode=cell.skill_mode,
            executor=executor,
            scripted=cell.scripted or None,
            progress=lambda done, total, a=f"{cell.label} {arm}": progress(a, done, total),
        )
        arms[arm] = latest_records(folder)
    ids = {task.instance_id for task in tasks}
    keep = lambda records: {k: r for k, r in records.items() if k[0] in ids and k[1] < runs}  # noqa: E731
    return {
        "cell": cell.label,
        "folder": cell.name,
        "agent": cell.agent,
        "model": cell.model,
        "skill_mode": cell.skill_mode,
        "scripted": cell.model.startswith("scripted/"),
        **compare(keep(arms["baseline"]), keep(arms["skill"])),
    }
