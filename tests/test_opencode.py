"""OpenCode — the REAL binary from the npm registry — in task containers without a network, its model
calls going through the gateway's Chat Completions endpoint to scripted models; graded like the others."""

from __future__ import annotations

import json
import threading
import time

import pytest

from gskill.schema import EvalRecord, RunConfig, read_tasks
from harnesses.agents import TOOLS
from harnesses.agents.tools import installed
from harnesses.evaluate import evaluate
from harnesses.gateway import scripted

SKILL = "Bugs in shapes live in src/shapes/core.py; run `python -m pytest tests -q` to check a fix. Marker: GSKILL-SKILL-7c1f."
SENTINELS = {
    "OPENAI_API_KEY": "sk-sentinel-openai-0c3d",
    "ANTHROPIC_API_KEY": "sk-ant-sentinel-51be",
    "OPENCODE_API_KEY": "sentinel-opencode-9e07",
}


@pytest.fixture(scope="module")
def cache_dir():
    """The real tool cache with OpenCode's binary: missing registry = skip here, failure in CI."""
    import os

    from gskill.config import load_settings
    from gskill.errors import GskillError
    from harnesses.agents.tools import install

    cache = load_settings().cache_dir
    try:
        install(TOOLS["opencode"], cache)
    except GskillError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the real OpenCode binary: {exc}")
        pytest.skip(f"OpenCode's binary is unavailable: {exc}")
    return cache


def _calls(run_dir, instance_id: str, attempt: int = 1) -> list[dict]:
    trace = run_dir / "traces" / f"{instance_id}.run0.attempt{attempt}.gateway.jsonl"
    return [json.loads(line) for line in trace.read_text().splitlines()]


@pytest.mark.parametrize("model,resolved", [("scripted/oracle", 2), ("scripted/noop", 0)])
def test_opencode_resolves_with_the_oracle_and_not_with_noop(model, resolved, mined_tasks, cache_dir, tmp_path):
    tasks = read_tasks(mined_tasks / "tasks.jsonl")
    summary = evaluate(
        tasks,
        config=RunConfig(
            agent="opencode", model=model, workers=2, step_limit=20, wall_time_limit_s=300, command_timeout_s=90
        ),
        skill="",
        run_dir=tmp_path,
        cache_dir=cache_dir,
    )
    assert installed(TOOLS["opencode"], cache_dir) is not None
    assert summary["resolved"] == resolved and summary["infra_errors"] == 0, json.dumps(summary)
    assert summary["statuses"] == ({"resolved": 2} if resolved else {"no_patch": 2})
    for line in (tmp_path / "rollouts.jsonl").read_text().splitlines():
        rollout = json.loads(line)["rollout"]
        assert rollout["exit_status"] == "submitted", rollout["error"]
        calls = _calls(tmp_path, rollout["instance_id"])
        # Three model turns (look, act, answer): no title-generation call, every call a tool-offering turn.
        assert rollout["usage"]["calls"] == len(calls) == 3 and rollout["steps"] == 3
        assert rollout["usage"]["input_tokens"] == sum(c["usage"]["input_tokens"] for c in calls) > 0
        assert {c["api"] for c in calls} == {"chat"}
        for call in calls:
            tools = {tool["function"]["name"] for tool in call["request"]["tools"]}
            assert {"bash", "read", "edit", "write"} <= tools and "webfetch" not in tools
            bash = next(tool["function"] for tool in call["request"]["tools"] if tool["function"]["name"] == "bash")
            assert "time out after 90000ms" in bash["description"]  # the run's command timeout
            assert "customize-opencode" not in json.dumps(call["request"])  # its built-in skill is denied
        # The task arrives verbatim (on stdin: a message argument would be re-quoted by `opencode run`).
        task = next(t for t in tasks if t.instance_id == rollout["instance_id"])
        first_user = next(m for m in calls[0]["request"]["messages"] if m["role"] == "user")
        assert scripted.content_text(first_user["content"]) == task.problem_statement
        if resolved:
            assert rollout["patch"].startswith("diff --git a/src/shapes/core.py")
        # OpenCode's own account (its step-finish events) is kept beside the gateway's.
        reported = rollout["agent_reported"]
        assert reported["steps"] == 3 and reported["input_tokens"] == rollout["usage"]["input_tokens"]
        events = (tmp_path / rollout["trace_path"]).read_text().splitlines()
        assert [json.loads(e)["type"] for e in events].count("step_finish") == 3


@pytest.mark.parametrize(
    "mode,expect",
    [("agents-md", "text"), ("system-prompt", "text"), ("skill", "listing"), ("repo-skill", "listing")],
)
def test_the_skill_reaches_opencodes_model(mode, expect, mined_tasks, cache_dir, tmp_path):
    task = read_tasks(mined_tasks / "tasks.jsonl")[:1]
    summary = evaluate(
        task,
        config=RunConfig(agent="opencode", model="scripted/noop", workers=1, step_limit=10, wall_time_limit_s=300),
        skill=SKILL,
        skill_mode=mode,
        run_dir=tmp_path,
        cache_dir=cache_dir,
    )
    assert summary["infra_errors"] == 0 and summary["skill_mode"] == mode
    first = _calls(tmp_path, task[0].instance_id)[0]
    system = scripted.content_text(first["request"]["messages"][0]["content"])
    assert first["request"]["messages"][0]["role"] == "system"
    assert "You are opencode" in system  # OpenCode's own prompt is kept in every mode
    if expect == "text":
        assert "GSKILL-SKILL-7c1f" in system  # the whole skill is in the system prompt
    else:
        # Listed (name + description) among the available skills; its body loads through the `skill` tool.
        assert "<name>repository-skill</name>" in system and "GSKILL-SKILL-7c1f" not in system
    record = json.loads((tmp_path / "rollouts.jsonl").read_text().splitlines()[0])
    assert record["rollout"]["exit_status"] == "submitted" and record["rollout"]["patch"] == ""


def test_opencodes_step_limit_ends_the_rollout(mined_tasks, cache_dir, tmp_path):
    """`steps` = the step limit: at the last step OpenCode asks for a text answer (noop needs 3 turns)."""
    task = read_tasks(mined_tasks / "tasks.jsonl")[:1]
    evaluate(
        task,
        config=RunConfig(agent="opencode", model="scripted/noop", workers=1, step_limit=2, wall_time_limit_s=300),
        skill="",
        run_dir=tmp_path,
        cache_dir=cache_dir,
    )
    rollout = json.loads((tmp_path / "rollouts.jsonl").read_text().splitlines()[0])["rollout"]
    assert rollout["exit_status"] == "limits_exceeded" and rollout["steps"] == 2, rollout
    calls = _calls(tmp_path, task[0].instance_id)
    assert len(calls) == 2 and "MAXIMUM STEPS REACHED" in json.dumps(calls[-1]["request"])


def test_no_api_key_reaches_opencodes_container_traces_or_logs(mined_tasks, cache_dir, tmp_path):
    from tests.helpers import gskill

    run_dir = tmp_path / "run"
    done = gskill(
        "eval",
        "--tasks",
        str(mined_tasks),
        "--agent",
        "opencode",
        "--model",
        "scripted/inspector",
        "--max-tasks",
        "1",
        "--out",
        str(run_dir),
        env=SENTINELS,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    everything = done.stdout + done.stderr
    for path in run_dir.rglob("*"):
        if path.is_file():
            everything += path.read_text(errors="replace")
    # The inspector ran `env` through OpenCode's bash tool (so the check below is not vacuous) ...
    assert "OPENCODE_DISABLE_MODELS_FETCH=1" in everything and "GSKILL_GATEWAY_TOKEN=gsk-rollout-" in everything
    # ... and no provider key is anywhere: not in the container, the traces, the records or the output.
    for name, value in SENTINELS.items():
        assert value not in everything, name


@scripted.policy("opencode-slow-oracle")
def _slow_oracle(request):
    """The oracle, with a first step slow enough for the test to remove the container under it."""
    if scripted._step(request) == 0:
        return scripted._act(request, ["sleep 7"], "Waiting")
    first = next(i for i, message in enumerate(request.messages) if message.get("role") == "assistant")
    request.messages = request.messages[:first] + request.messages[first + 1 :]  # the oracle's plan, a step later
    return scripted.oracle(request)


def test_a_killed_opencode_rollout_is_an_infra_error_and_is_retried(mined_tasks, cache_dir, tmp_path, docker_client):
    task = read_tasks(mined_tasks / "tasks.jsonl")[0]
    killed: list[str] = []

    def kill_the_first_attempts_container() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not killed:
            for container in docker_client.containers.list(filters={"label": "gskill.task"}, ignore_removed=True):
                if container.attrs["Config"]["Labels"].get("gskill.task") != task.instance_id[:60]:
                    continue
                try:  # only while OpenCode's bash tool runs the policy's `sleep 7`: OpenCode is mid-run
                    running = " ".join(" ".join(row) for row in container.top().get("Processes") or [])
                except Exception:
                    continue
                if "sleep 7" in running:
                    container.remove(force=True)
                    killed.append(container.name)
                    return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_the_first_attempts_container)
    killer.start()
    summary = evaluate(
        [task],
        config=RunConfig(
            agent="opencode", model="scripted/opencode-slow-oracle", workers=1, step_limit=20, wall_time_limit_s=300
        ),
        skill="",
        run_dir=tmp_path,
        cache_dir=cache_dir,
    )
    killer.join()
    assert killed, "the test never saw OpenCode's container mid-run"
    assert summary["resolved"] == 1 and summary["infra_retries"] == 1 and summary["infra_errors"] == 0, summary
    records = [EvalRecord.model_validate_json(line) for line in (tmp_path / "rollouts.jsonl").read_text().splitlines()]
    assert len(records) == 1 and records[0].retries == 1 and records[0].rollout.attempt == 2
    assert _calls(tmp_path, task.instance_id, attempt=1)  # the killed attempt's calls are kept


def test_parse_reads_opencodes_events():
    """Final status and OpenCode's own usage from its JSON event stream (no container)."""
    from harnesses.agents.opencode import OpenCodeAgent

    def finish(reason, tokens, cost=0.0):
        return {"type": "step_finish", "part": {"reason": reason, "tokens": tokens, "cost": cost}}

    tokens = {"input": 100, "output": 7, "reasoning": 2, "cache": {"read": 40, "write": 0}}
    done = [{"type": "step_start"}, finish("tool-calls", tokens, 0.01), {"type": "step_start"}, finish("stop", tokens)]
    outcome = OpenCodeAgent().parse("\n".join(json.dumps(event) for event in done) + "\nnot json\n")
    assert outcome.exit_status == "Submitted" and outcome.steps == 2
    assert outcome.reported == {
        "steps": 2,
        "input_tokens": 200,
        "output_tokens": 14,
        "reasoning_tokens": 4,
        "cache_read_tokens": 80,
        "cache_write_tokens": 0,
        "cost_usd": 0.01,
    }
    error = {"type": "error", "error": {"name": "APIError", "data": {"message": "Quota exceeded"}}}
    failed = OpenCodeAgent().parse(json.dumps(done[0]) + "\n" + json.dumps(error))
    assert failed.exit_status == "AgentError" and failed.error == "APIError: Quota exceeded"
    assert OpenCodeAgent().parse("Segmentation fault\n").exit_status == ""  # the runner reports the exit code
