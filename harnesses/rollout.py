"""One rollout unit: a `RolloutJob` run against a gateway → an `EvalRecord`.

    record = run_job(RolloutJob(task=task, config=config, skill=skill, run_dir=folder), gateway)

`run_job` is rollout + grade, with infrastructure failures retried (a fresh container each time):
every executor (`harnesses.executor`, `harnesses.ray_executor`) runs jobs through it and nothing else.
Infrastructure failures (the container vanished, the engine failed, the task's patches do not apply
to its image, the provider kept failing) are flagged `infra_error` so callers retry them; they are
never scored as the agent's failure. `harnesses.taskenv.is_infra_failure` decides it for an exception.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from gskill.schema import EvalRecord, ExitStatus, patch_files, RunConfig, SandboxLimits, Rollout, Task, Usage
from harnesses.agents import adapter_for
from harnesses.agents import tools as agent_tools
from harnesses.agents.base import RunRequest
from harnesses.agents.tools import CONTAINER_ROOT
from harnesses.gateway.models import is_scripted
from harnesses.gateway.server import Caps, Gateway
from harnesses.grading import grade
from harnesses.sandbox import INJECTED_AGENT_PATHS, DockerSandbox, Stopping, bridge_gateway_ip, shutting_down
from harnesses.sandbox.network import gateway_mount, start_forwarder
from harnesses.taskenv import is_infra_failure, open_task_sandbox

_EXIT = {
    "Submitted": ExitStatus.SUBMITTED,
    "LimitsExceeded": ExitStatus.LIMITS_EXCEEDED,
    "TimeExceeded": ExitStatus.TIMEOUT,
}


@dataclass(frozen=True, kw_only=True)
class RolloutJob:
    """Everything one (task, run) needs, wherever it runs (it is pickled to Ray nodes)."""

    task: Task
    config: RunConfig
    run_dir: Path  # traces go to `run_dir/traces` (on Ray: a node's folder, shipped back to the driver's)
    run_index: int = 0
    skill: str = ""
    skill_mode: str = ""  # adapter-specific; "" = the adapter's default
    # Instruction texts besides the skill (gskill.surfaces: "agents-md", "system-prompt"), each delivered
    # where the agent reads it (the adapter's `surface_places`).
    surfaces: dict[str, str] = field(default_factory=dict)
    limits: SandboxLimits | None = None
    infra_retries: int = 2  # infrastructure failures retried before one is recorded
    scripted: dict | None = None  # extra metadata for scripted models (`--scripted`)


def skill_hash(skill: str) -> str:
    return hashlib.sha256(skill.encode()).hexdigest()[:16] if skill.strip() else ""


def scripted_metadata(task: Task, *, seed: int, attempt: int, extra: dict | None = None) -> dict:
    """What a scripted model may know about the task it serves. Never sent to a real provider."""
    touched = patch_files(task.patch)
    return {
        "instance_id": task.instance_id,
        "gold_patch": task.patch,
        "needs": touched,
        "tests": list(task.FAIL_TO_PASS),  # `needs-two-facts` wants their test files in the AGENTS.md surface
        "seed": seed,
        "attempt": attempt,
        **(extra or {}),
    }


def open_agent_sandbox(
    task: Task,
    adapter,
    gateway: Gateway,
    base_url: str,
    *,
    limits: SandboxLimits | None,
    run_id: str,
    tools_dir: Path | None,
) -> tuple[DockerSandbox, str]:
    """The task container `adapter`'s agent works in, and the gateway's URL as the agent sees it
    (`base_url` when the agent runs on the host, or the container has the network opt-in). A container
    agent gets the tool cache mounted read-only; without a network (the default) its one way out is
    the gateway's socket (`harnesses.sandbox.network`)."""
    mounts, network = {}, (limits or SandboxLimits()).network
    if adapter.tool is not None:
        mounts[str(tools_dir)] = {"bind": CONTAINER_ROOT, "mode": "ro"}
        if not network:
            mounts.update(gateway_mount(gateway.listen_unix()))
    box = open_task_sandbox(task, limits=limits, run_id=run_id, mounts=mounts)
    if adapter.tool is None or network:
        return box, base_url
    try:
        return box, start_forwarder(box, gateway.listen_unix())
    except BaseException:
        box.stop()
        raise


def run_job(job: RolloutJob, gateway: Gateway, *, tools_dir: Path | None = None) -> EvalRecord:
    """Rollout + grade, an infrastructure failure retried up to `job.infra_retries` times. `tools_dir`:
    the agent tool cache (mounted read-only for container agents). A process that is stopping (SIGTERM,
    SIGINT: `harnesses.sandbox.shut_down_sandboxes`) raises `Stopping` instead of returning a record:
    a rollout the stop cut short is neither the agent's result nor an infrastructure failure."""
    task, retries = job.task, 0
    while True:
        if shutting_down():
            raise Stopping(f"gskill is stopping: {task.instance_id} run {job.run_index} not started")
        rollout = run_rollout(job, gateway, attempt=retries + 1, tools_dir=tools_dir)
        record = EvalRecord(instance_id=task.instance_id, run_index=job.run_index, rollout=rollout, retries=retries)
        if not rollout.infra_error:
            record.grade = grade(
                task,
                rollout.patch,
                limits=job.limits,
                timeout=job.config.test_timeout_s,
                run_id=f"grade-{task.instance_id[:40]}",
                log_path=job.run_dir / "grades" / f"{task.instance_id}.run{job.run_index}.attempt{retries + 1}.log",
            )
        if shutting_down():
            raise Stopping(f"gskill is stopping: {task.instance_id} run {job.run_index} left unrecorded")
        if not record.infra_error or retries >= job.infra_retries:
            return record
        retries += 1


def run_rollout(job: RolloutJob, gateway: Gateway, *, attempt: int = 1, tools_dir: Path | None = None) -> Rollout:
    """One attempt at `job`: the agent's rollout, ungraded; traces under `job.run_dir/traces`."""
    task, config, skill, limits = job.task, job.config, job.skill, job.limits
    trace_dir, run_index, skill_mode = job.run_dir / "traces", job.run_index, job.skill_mode
    adapter = adapter_for(config.agent)
    began = time.monotonic()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    stem = f"{task.instance_id}.run{run_index}.attempt{attempt}"
    trace_dir.mkdir(parents=True, exist_ok=True)
    metadata = (
        scripted_metadata(task, seed=config.seed + run_index, attempt=attempt, extra=job.scripted)
        if is_scripted(config.model)
        else {}
    )
    session = gateway.open_session(
        model=config.model,
        rollout_id=stem,
        trace_path=trace_dir / f"{stem}.gateway.jsonl",
        metadata=metadata,
        caps=Caps(max_calls=config.step_limit + 5, max_cost_usd=config.cost_limit_usd),
        endpoint=config.endpoints.get(config.model),
    )
    agent_trace = trace_dir / f"{stem}.agent.{'json' if adapter.tool is None else 'jsonl'}"
    record = Rollout(
        instance_id=task.instance_id,
        agent=config.agent,
        model=config.model,
        skill_hash=skill_hash(skill),
        seed=config.seed + run_index,
        attempt=attempt,
        exit_status=ExitStatus.ERROR,
        started_at=started_at,
        trace_path=f"traces/{agent_trace.name}",
    )
    record.network = (limits or SandboxLimits()).network
    if adapter.tool is not None and tools_dir is None:
        raise ValueError(f"{config.agent} runs from the agent tool cache: pass tools_dir")
    box = None
    try:
        box, base_url = open_agent_sandbox(
            task, adapter, gateway, session.base_url, limits=limits, run_id=stem[:60], tools_dir=tools_dir
        )
        request = RunRequest(
            problem_statement=task.problem_statement,
            skill=skill,
            skill_mode=skill_mode,
            surfaces=dict(job.surfaces),
            base_url=base_url,
            token=session.token,
            model_label=config.model.replace("/", "_"),
            step_limit=config.step_limit,
            cost_limit=config.cost_limit_usd,
            wall_time_limit_s=config.wall_time_limit_s,
            command_timeout_s=config.command_timeout_s,
            skill_template=config.skill_template,
            trace_path=agent_trace,
        )
        outcome = adapter.run(box, request)
        record.exit_status = _EXIT.get(outcome.exit_status, ExitStatus.ERROR)
        if session.limit_hit:
            record.exit_status = ExitStatus.LIMITS_EXCEEDED
        record.error = outcome.error or session.limit_hit
        record.steps, record.agent_reported = outcome.steps, outcome.reported
        # The fresh repo's diff; injected agent folders and the adapter's own files excluded.
        record.patch = box.diff(exclude=tuple(INJECTED_AGENT_PATHS) + tuple(outcome.injected_paths))
        # An agent that died because the container or the provider did is not the agent's failure.
        if outcome.infra_error or (record.exit_status is ExitStatus.ERROR and session.provider_errors):
            record.infra_error = True
    except Exception as exc:
        if not is_infra_failure(exc):
            raise
        record.infra_error, record.error = True, f"{type(exc).__name__}: {exc}"[:2000]
    finally:
        if box is not None:
            try:
                box.stop()
            except Exception:
                pass
        usage = gateway.close_session(session)
        record.usage = Usage(**usage.model_dump())
        record.wall_time_s = round(time.monotonic() - began, 2)
    return record


def start_gateway(agent: str, cache_dir: Path | None, limiter=None) -> tuple[Gateway, Path | None]:
    """A gateway for `agent`'s rollouts on this machine, and the folder of its binary (None for an agent
    that runs in this process). A containerised agent reaches the gateway on the Docker bridge."""
    adapter = adapter_for(agent)
    if adapter.tool is None:
        return Gateway(limiter=limiter).start(), None
    if cache_dir is None:
        raise ValueError(f"{agent} needs cache_dir (its binary lives in the tool cache)")
    agent_tools.install(adapter.tool, cache_dir)
    return Gateway(host=bridge_gateway_ip(), limiter=limiter).start(), agent_tools.tools_dir(cache_dir)
