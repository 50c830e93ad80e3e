"""One rollout: an agent, a task, a skill, a model behind the gateway → a `Rollout` record.

Infrastructure failures (the container vanished, the engine failed, the task's patches do not
apply to its image, the provider kept failing) are flagged `infra_error` so callers retry them;
they are never scored as the agent's failure.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timezone
from pathlib import Path

from gskill.schema import ExitStatus, patch_files, RunConfig, SandboxLimits, Rollout, Task, Usage
from harnesses.gateway.models import is_scripted
from harnesses.gateway.server import Caps, Gateway
from harnesses.sandbox import INJECTED_AGENT_PATHS, DockerSandbox, SandboxError
from harnesses.sandbox.network import gateway_mount, start_forwarder
from harnesses.taskenv import TaskSetupError, open_task_sandbox

_EXIT = {"Submitted": ExitStatus.SUBMITTED, "LimitsExceeded": ExitStatus.LIMITS_EXCEEDED, "TimeExceeded": ExitStatus.TIMEOUT}


def skill_hash(skill: str) -> str:
    return hashlib.sha256(skill.encode()).hexdigest()[:16] if skill.strip() else ""


def scripted_metadata(task: Task, *, seed: int, attempt: int, extra: dict | None = None) -> dict:
    """What a scripted model may know about the task it serves. Never sent to a real provider."""
    touched = patch_files(task.patch)
    return {"instance_id": task.instance_id, "gold_patch": task.patch, "needs": touched, "seed": seed, "attempt": attempt, **(extra or {})}


def open_agent_sandbox(
    task: Task, adapter, gateway: Gateway, base_url: str, *, limits: SandboxLimits | None, run_id: str, tools_dir: Path | None,
) -> tuple[DockerSandbox, str]:  # fmt: skip
    """The task container `adapter`'s agent works in, and the gateway's URL as the agent sees it
    (`base_url` when the agent runs on the host, or the container has the network opt-in). A container
    agent gets the tool cache mounted read-only; without a network (the default) its one way out is
    the gateway's socket (`harnesses.sandbox.network`)."""
    from harnesses.agents.tools import CONTAINER_ROOT

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


def run_rollout(
    task: Task, *, config: RunConfig, skill: str, gateway: Gateway, trace_dir: Path, limits: SandboxLimits | None = None,
    attempt: int = 1, run_index: int = 0, scripted: dict | None = None, skill_mode: str = "", tools_dir: Path | None = None,
) -> Rollout:  # fmt: skip
    """`tools_dir`: the agent tool cache (mounted read-only for container agents)."""
    from harnesses.agents import adapter_for
    from harnesses.agents.base import RunRequest

    adapter = adapter_for(config.agent)
    began = time.monotonic()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    stem = f"{task.instance_id}.run{run_index}.attempt{attempt}"
    trace_dir.mkdir(parents=True, exist_ok=True)
    metadata = scripted_metadata(task, seed=config.seed + run_index, attempt=attempt, extra=scripted) if is_scripted(config.model) else {}
    session = gateway.open_session(
        model=config.model, rollout_id=stem, trace_path=trace_dir / f"{stem}.gateway.jsonl", metadata=metadata,
        caps=Caps(max_calls=config.step_limit + 5, max_cost_usd=config.cost_limit_usd),
    )  # fmt: skip
    agent_trace = trace_dir / f"{stem}.agent.{'json' if adapter.tool is None else 'jsonl'}"
    record = Rollout(
        instance_id=task.instance_id, agent=config.agent, model=config.model, skill_hash=skill_hash(skill),
        seed=config.seed + run_index, attempt=attempt, exit_status=ExitStatus.ERROR, started_at=started_at,
        trace_path=f"traces/{agent_trace.name}",
    )  # fmt: skip
    record.network = (limits or SandboxLimits()).network
    if adapter.tool is not None and tools_dir is None:
        raise ValueError(f"{config.agent} runs from the agent tool cache: pass tools_dir")
    box = None
    try:
        box, base_url = open_agent_sandbox(task, adapter, gateway, session.base_url, limits=limits, run_id=stem[:60], tools_dir=tools_dir)
        request = RunRequest(
            problem_statement=task.problem_statement, skill=skill, skill_mode=skill_mode, base_url=base_url,
            token=session.token, model_label=config.model.replace("/", "_"), step_limit=config.step_limit,
            cost_limit=config.cost_limit_usd, wall_time_limit_s=config.wall_time_limit_s,
            command_timeout_s=config.command_timeout_s, skill_template=config.skill_template, trace_path=agent_trace,
        )  # fmt: skip
        outcome = adapter.run(box, request)
        record.exit_status = _EXIT.get(outcome.exit_status, ExitStatus.ERROR)
        if session.limit_hit:
            record.exit_status = ExitStatus.LIMITS_EXCEEDED
        record.error = outcome.error or session.limit_hit
        record.steps, record.agent_reported = outcome.steps, outcome.reported
        # The fresh repo's diff; injected agent folders and the adapter's own files excluded.
        record.patch = box.diff(exclude=tuple(INJECTED_AGENT_PATHS) + tuple(outcome.injected_paths))
        # An agent that died because the container or the provider did is not the agent's failure.
        if outcome.error and ("SandboxError" in outcome.error or "No such container" in outcome.error):
            record.infra_error = True
        elif record.exit_status is ExitStatus.ERROR and session.provider_errors:
            record.infra_error = True
    except (SandboxError, TaskSetupError) as exc:
        record.infra_error, record.error = True, f"{type(exc).__name__}: {exc}"[:2000]
    except Exception as exc:  # the Docker engine itself
        if type(exc).__module__.startswith(("docker", "requests", "urllib3")):
            record.infra_error, record.error = True, f"{type(exc).__name__}: {exc}"[:2000]
        else:
            raise
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
