"""`gskill eval`: every (task, run) through rollout → grade, in parallel on an executor, resumable.

`RUNDIR/rollouts.jsonl` gets one `EvalRecord` per finished (task, run); a re-run skips those already
recorded. Infrastructure failures are retried (a fresh container each time) up to `infra_retries`
times; a (task, run) that still fails is recorded as an infra error, counted apart from the score.
`RUNDIR/summary.json` is rewritten from the whole file at the end, so each task counts once.
"""

from __future__ import annotations

import contextlib
import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Callable

from gskill.errors import GskillError
from gskill.schema import EvalRecord, GradeStatus, RunConfig, SandboxLimits, Task, default_cache_dir
from harnesses.agents import adapter_for
from harnesses.executor import Executor, ExecutorOptions, make_executor, run_all
from harnesses.rollout import RolloutJob, skill_hash
from harnesses.sandbox.docker_backend import adopt_run_folder


def read_records(path: Path) -> list[EvalRecord]:
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                records.append(EvalRecord.model_validate_json(line))
            except ValueError:
                continue  # a line cut short by a crash: that run is simply redone
    return records


def summarize(records: list[EvalRecord], tasks: list[Task], config: RunConfig, skill: str) -> dict:
    scored = [record for record in records if not record.infra_error]
    durations = [record.rollout.wall_time_s for record in scored]
    statuses = Counter(record.grade.status.value if record.grade else "infra_error" for record in records)
    resolved = sum(record.resolved for record in scored)
    return {
        "agent": config.agent,
        "model": config.model,
        "skill_hash": skill_hash(skill),
        "tasks": len(tasks),
        "runs": len(records),
        "scored_runs": len(scored),
        "resolved": resolved,
        "resolve_rate": round(resolved / len(scored), 4) if scored else 0.0,
        "infra_errors": len(records) - len(scored),
        "infra_retries": sum(record.retries for record in records),
        "statuses": dict(sorted(statuses.items())),
        "mean_duration_s": round(statistics.mean(durations), 2) if durations else 0.0,
        "median_duration_s": round(statistics.median(durations), 2) if durations else 0.0,
        "input_tokens": sum(record.rollout.usage.input_tokens for record in records),
        "output_tokens": sum(record.rollout.usage.output_tokens for record in records),
        "cost_usd": round(sum(record.rollout.usage.cost_usd for record in records), 6),
        "calls": sum(record.rollout.usage.calls for record in records),
        "scripted_model": config.model.startswith("scripted/"),
    }


def claim_run_folder(
    run_dir: Path, config: RunConfig, skill: str, skill_mode: str = "", surfaces: dict[str, str] | None = None
) -> None:
    """A run folder holds one configuration: resuming it with another agent, model or skill would mix
    results that must be compared, not pooled. Raises GskillError on a mismatch."""
    run_dir.mkdir(parents=True, exist_ok=True)
    identity = {
        "agent": config.agent,
        "model": config.model,
        "skill_hash": skill_hash(skill),
        "skill_mode": skill_mode or "",
    }
    if surfaces:  # instruction texts besides the skill (gskill learn --surfaces); absent = none, as before
        identity["surfaces_hash"] = {name: skill_hash(text) for name, text in sorted(surfaces.items())}
    identity_path = run_dir / "run.json"
    if not identity_path.is_file():
        identity_path.write_text(json.dumps(identity, indent=2))
        return
    recorded = json.loads(identity_path.read_text())
    changed = [key for key in identity if recorded.get(key) != identity[key]]
    if changed:
        raise GskillError(
            f"{run_dir} holds a run with another {', '.join(changed)} "
            f"({', '.join(f'{k}={recorded.get(k)!r}' for k in changed)}); use a new --out folder"
        )


def evaluate(
    tasks: list[Task],
    *,
    config: RunConfig,
    skill: str,
    run_dir: Path,
    limits: SandboxLimits | None = None,
    infra_retries: int = 2,
    scripted: dict | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
    skill_mode: str = "",
    cache_dir: Path | None = None,
    executor: Executor | None = None,
    executor_options: ExecutorOptions | None = None,
    surfaces: dict[str, str] | None = None,
) -> dict:
    """Rollouts run on `executor` (shared with the caller, who closes it), else on one made here from
    `executor_options` (default: a local pool of `config.workers`). `cache_dir` holds the container
    agents' binaries (fetched on first use). Records and traces land in `run_dir` either way."""
    adapter = adapter_for(config.agent)
    run_dir.mkdir(parents=True, exist_ok=True)
    claim_run_folder(run_dir, config, skill, skill_mode, surfaces)
    adopt_run_folder(run_dir)  # a killed run's containers here go; ours carry the folder
    path = run_dir / "rollouts.jsonl"
    # Resume: a (task, run) already recorded is done — unless it was recorded as an infra error.
    previous = {(r.instance_id, r.run_index): r for r in read_records(path) if not r.infra_error}
    wanted = [(task, index) for task in tasks for index in range(config.runs)]
    todo = [(task, index) for task, index in wanted if (task.instance_id, index) not in previous]
    done = len(wanted) - len(todo)
    progress(done, len(wanted))

    def record_done(record: EvalRecord) -> None:
        nonlocal done
        with path.open("a") as handle:
            handle.write(record.model_dump_json() + "\n")
        done += 1
        progress(done, len(wanted))

    jobs = [
        RolloutJob(
            task=task,
            run_index=index,
            config=config,
            skill=skill,
            skill_mode=skill_mode,
            surfaces=dict(surfaces or {}),
            limits=limits,
            infra_retries=infra_retries,
            scripted=scripted,
            run_dir=run_dir,
        )
        for task, index in todo
    ]
    if executor is not None:
        run_all(executor, jobs, record_done)
    elif jobs:
        options = executor_options or ExecutorOptions(workers=config.workers)
        with contextlib.closing(
            make_executor(options, agent=config.agent, cache_dir=cache_dir or default_cache_dir())
        ) as owned:
            run_all(owned, jobs, record_done)
    return _finish(tasks, config, skill, skill_mode, run_dir, path, adapter)


def _finish(
    tasks: list[Task], config: RunConfig, skill: str, skill_mode: str, run_dir: Path, path: Path, adapter
) -> dict:
    # The last record per (task, run) wins: a run redone after an infra error replaces it.
    latest = {(r.instance_id, r.run_index): r for r in read_records(path)}
    ids = {task.instance_id for task in tasks}
    records = [record for key, record in sorted(latest.items()) if key[0] in ids and key[1] < config.runs]
    summary = summarize(records, tasks, config, skill)
    summary["skill_mode"] = skill_mode or adapter.skill_modes[0]
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


__all__ = ["evaluate", "read_records", "summarize", "GradeStatus"]
