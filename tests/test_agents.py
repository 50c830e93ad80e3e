"""Codex CLI and Claude Code — the REAL binaries from the npm registry — in task containers, their
model calls going through the gateway to scripted models; graded like mini-SWE-agent's."""

from __future__ import annotations

import json

import pytest

from gskill.schema import RunConfig, read_tasks
from harnesses.agents import TOOLS
from harnesses.agents.tools import installed
from harnesses.evaluate import evaluate

SKILL = "Bugs in shapes live in src/shapes/core.py; run `python -m pytest tests -q` to check a fix. Marker: GSKILL-SKILL-7c1f."


@pytest.fixture(scope="module")
def cache_dir():
    """The real tool cache, with both binaries: missing registry = skip here, failure in CI."""
    import os

    from gskill.config import load_settings
    from gskill.errors import GskillError
    from harnesses.agents.tools import install

    cache = load_settings().cache_dir
    try:
        for tool in TOOLS.values():
            install(tool, cache)
    except GskillError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the real agent binaries: {exc}")
        pytest.skip(f"agent binaries unavailable: {exc}")
    return cache


@pytest.mark.parametrize("agent", ["codex", "claude"])
@pytest.mark.parametrize("model,resolved", [("scripted/oracle", 2), ("scripted/noop", 0)])
def test_real_agents_resolve_with_the_oracle_and_not_with_noop(
    agent, model, resolved, mined_tasks, cache_dir, tmp_path
):
    tasks = read_tasks(mined_tasks / "tasks.jsonl")
    summary = evaluate(
        tasks,
        config=RunConfig(agent=agent, model=model, workers=2, step_limit=20, wall_time_limit_s=300),
        skill="",
        run_dir=tmp_path,
        cache_dir=cache_dir,
    )
    assert installed(TOOLS[agent], cache_dir) is not None
    assert summary["resolved"] == resolved and summary["infra_errors"] == 0, json.dumps(summary)
    assert summary["statuses"] == ({"resolved": 2} if resolved else {"no_patch": 2})
    for line in (tmp_path / "rollouts.jsonl").read_text().splitlines():
        record = json.loads(line)
        rollout = record["rollout"]
        assert rollout["exit_status"] == "submitted", rollout["error"]
        # The tokens in the record are the gateway's count of the calls it served.
        calls = [
            json.loads(l)
            for l in (tmp_path / "traces" / f"{rollout['instance_id']}.run0.attempt1.gateway.jsonl")
            .read_text()
            .splitlines()
        ]
        assert rollout["usage"]["calls"] == len(calls) >= 3
        assert rollout["usage"]["input_tokens"] == sum(c["usage"]["input_tokens"] for c in calls) > 0
        assert {c["api"] for c in calls} == {"codex": {"responses"}, "claude": {"messages"}}[agent]
        if resolved:
            assert rollout["patch"].startswith("diff --git a/src/shapes/core.py")
        # The agent's own account is kept beside the gateway's (which is what we score with).
        assert rollout["agent_reported"].get("input_tokens", 0) > 0 and rollout["steps"] >= 1
        if agent == "codex":
            assert (
                tmp_path / "traces" / f"{rollout['instance_id']}.run0.attempt1.agent.session.jsonl"
            ).stat().st_size > 0


@pytest.mark.parametrize(
    "agent,mode,expect",
    [
        ("codex", "agents-md", "text"),
        ("codex", "skill", "listing"),
        ("codex", "repo-skill", "listing"),
        ("claude", "claude-md", "text"),
        ("claude", "system-prompt", "text"),
        ("claude", "skill", "listing"),
        ("claude", "repo-skill", "listing"),
    ],
)
def test_the_skill_reaches_the_model(agent, mode, expect, mined_tasks, cache_dir, tmp_path):
    task = read_tasks(mined_tasks / "tasks.jsonl")[:1]
    summary = evaluate(
        task,
        config=RunConfig(agent=agent, model="scripted/noop", workers=1, step_limit=10, wall_time_limit_s=300),
        skill=SKILL,
        skill_mode=mode,
        run_dir=tmp_path,
        cache_dir=cache_dir,
    )
    assert summary["infra_errors"] == 0 and summary["skill_mode"] == mode
    first = json.loads(next((tmp_path / "traces").glob("*.gateway.jsonl")).read_text().splitlines()[0])
    request = json.dumps(first["request"])
    if expect == "text":
        assert "GSKILL-SKILL-7c1f" in request  # the whole skill is in the prompt
    else:
        assert "repository-skill" in request  # the skill is listed (name + description); its body loads on use
    if agent == "codex":  # bundled skills and web search are off: only our skill is offered
        assert "imagegen" not in request and '"web_search"' not in json.dumps(first["request"]["tools"])
    record = json.loads((tmp_path / "rollouts.jsonl").read_text().splitlines()[0])
    assert ".agents" not in record["rollout"]["patch"] and ".claude" not in record["rollout"]["patch"]


def test_doctor_reports_agents_and_bad_agent_inputs_are_one_line_errors(cache_dir, mined_tasks, tmp_path):
    from tests.helpers import gskill

    done = gskill("doctor")
    assert (
        "agent codex" in done.stdout
        and "agent claude" in done.stdout
        and "@openai/codex@0.169.0-linux-x64 ready" in done.stdout
    )
    empty = gskill("doctor", env={"GSKILL_CACHE_DIR": str(tmp_path / "empty-cache")})
    assert "gskill agents install codex" in empty.stdout  # missing agents are named, not fatal
    for args, message in (
        (["agents", "install", "aider"], "unknown agent"),
        (
            [
                "eval",
                "--tasks",
                str(mined_tasks),
                "--agent",
                "codex",
                "--skill-mode",
                "claude-md",
                "--model",
                "scripted/noop",
                "--out",
                str(tmp_path / "o"),
            ],
            "--skill-mode",
        ),
    ):
        failed = gskill(*args)
        assert failed.returncode == 2 and message in failed.stderr and failed.stderr.strip().count("\n") == 0, (
            failed.stderr
        )


def test_transfer_matrix_runs_every_registered_agent(cache_dir, mined_tasks, tmp_path):
    """`gskill transfer --matrix` with one cell per agent of the registry (mini, Codex CLI, Claude Code,
    OpenCode, Gemini CLI), scripted/oracle everywhere: every cell's two arms ran and resolved the task."""
    from harnesses.agents import AGENTS
    from tests.helpers import gskill

    (tmp_path / "skill.md").write_text(SKILL + "\n")
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "val.jsonl").write_text(read_tasks(mined_tasks / "tasks.jsonl")[0].model_dump_json() + "\n")
    matrix = ",".join(f"{name}:scripted/oracle" for name in AGENTS)
    done = gskill(
        "transfer",
        "--skill",
        str(tmp_path / "skill.md"),
        "--tasks",
        str(tmp_path / "tasks"),
        "--split",
        "val",
        "--matrix",
        matrix,
        "--runs",
        "1",
        "--out",
        str(tmp_path / "transfer"),
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    cells = json.loads((tmp_path / "transfer" / "transfer.json").read_text())["cells"]
    assert sorted(cell["agent"] for cell in cells) == sorted(AGENTS)
    for cell in cells:
        assert cell["pairs"] == 1 and cell["excluded_infra_pairs"] == 0, cell
        assert cell["baseline"]["resolved"] == cell["skill"]["resolved"] == 1, cell
