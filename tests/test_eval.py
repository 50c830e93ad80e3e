"""`gskill eval` end to end: mined fixture tasks, mini-SWE-agent in real containers, scripted models
behind the gateway, grading in fresh containers."""

from __future__ import annotations

import json
import shlex
import threading
import time

import pytest

from gskill.schema import EvalRecord, RunConfig, read_tasks
from harnesses.gateway import scripted
from harnesses.taskenv import open_task_sandbox
from tests.test_cli import gskill

SENTINELS = {"OPENAI_API_KEY": "sk-SENTINEL-openai-4f1c", "ANTHROPIC_API_KEY": "sk-ant-SENTINEL-9d2e",
             "GEMINI_API_KEY": "SENTINEL-gemini-77aa"}  # fmt: skip


@pytest.fixture(scope="module")
def tasks_dir(mined_tasks):
    return mined_tasks


def test_oracle_resolves_everything_and_noop_nothing(tasks_dir, tmp_path):
    runs = {}
    for model in ("scripted/oracle", "scripted/noop"):
        run_dir = tmp_path / model.split("/")[1]
        done = gskill("eval", "--tasks", str(tasks_dir), "--agent", "mini", "--model", model, "--out", str(run_dir))
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        runs[model] = json.loads((run_dir / "summary.json").read_text())
        assert "say nothing about real models" in done.stdout
    oracle, noop = runs["scripted/oracle"], runs["scripted/noop"]
    assert oracle["resolve_rate"] == 1.0 and oracle["resolved"] == 2 and oracle["statuses"] == {"resolved": 2}
    assert noop["resolve_rate"] == 0.0 and noop["statuses"] == {"no_patch": 2}
    assert oracle["calls"] == 6 and oracle["input_tokens"] > 0  # 3 steps per task, counted by the gateway

    records = [json.loads(line) for line in (tmp_path / "oracle" / "rollouts.jsonl").read_text().splitlines()]
    for record in records:
        rollout = record["rollout"]
        assert rollout["exit_status"] == "submitted" and rollout["patch"].startswith("diff --git a/src/shapes/core.py")
        assert record["grade"]["f2p_passed"] and not record["grade"]["p2p_failed"]
        agent_trace = json.loads((tmp_path / "oracle" / rollout["trace_path"]).read_text())
        commands = [json.loads(call["function"]["arguments"])["command"] for m in agent_trace["messages"] for call in m.get("tool_calls") or []]
        assert commands[0] == "git status --short" and "git apply" in commands[1]
    gateway_traces = list((tmp_path / "oracle" / "traces").glob("*.gateway.jsonl"))
    assert len(gateway_traces) == 2 and all(len(path.read_text().splitlines()) == 3 for path in gateway_traces)

    # Resume: everything is recorded, nothing runs again.
    again = gskill("eval", "--tasks", str(tasks_dir), "--model", "scripted/oracle", "--out", str(tmp_path / "oracle"))
    assert again.returncode == 0 and len((tmp_path / "oracle" / "rollouts.jsonl").read_text().splitlines()) == 2
    # The same folder with another model is refused: runs are compared, never pooled.
    other = gskill("eval", "--tasks", str(tasks_dir), "--model", "scripted/noop", "--out", str(tmp_path / "oracle"))
    assert other.returncode == 2 and "another model" in other.stderr and other.stderr.strip().count("\n") == 0


def test_no_api_key_reaches_a_container_a_trace_or_a_log(tasks_dir, tmp_path):
    run_dir = tmp_path / "run"
    done = gskill("eval", "--tasks", str(tasks_dir), "--model", "scripted/inspector", "--max-tasks", "1", "--out", str(run_dir), env=SENTINELS)
    assert done.returncode == 0, done.stderr[-3000:]
    everything = done.stdout + done.stderr
    for path in run_dir.rglob("*"):
        if path.is_file():
            everything += path.read_text(errors="replace")
    # The inspector did print the container's environment (so the check below is not vacuous) ...
    assert "PATH=/opt/gskill-venv/bin" in everything and "HOSTNAME=" in everything
    # ... and no key value is anywhere: not in the container, the traces, the records or the output.
    for name, value in SENTINELS.items():
        assert value not in everything, name


def test_a_cheating_agent_cannot_recover_the_fix(tasks_dir):
    task = read_tasks(tasks_dir / "tasks.jsonl")[0]
    fixed_lines = [line[1:].strip() for line in task.patch.splitlines() if line.startswith("+") and not line.startswith("+++")]
    hidden_tests = [line[1:].strip() for line in task.test_patch.splitlines() if line.startswith("+def test_")]
    assert fixed_lines and hidden_tests
    box = open_task_sandbox(task)
    try:
        attempts = [
            "git log --all -p", "git reflog", "git stash list", "git show HEAD", "git fsck --lost-found --unreachable 2>&1",
            "git count-objects -v", "ls -la /tmp /root",
            "find / -xdev \\( -name '*.orig' -o -name '*.rej' -o -name '*.diff' -o -name '*.patch' -o -name '*.jsonl' \\) -not -path '/proc/*' 2>/dev/null",
            "pip cache dir 2>&1; ls -R /root/.cache 2>&1 | head -50",
        ]
        for command in attempts:
            output = box.exec(command, timeout=120).output
            for secret in fixed_lines + hidden_tests:
                assert secret not in output, (command, secret)
        assert box.exec("git rev-list --all --count", timeout=30).output.strip() == "1"
        # The whole filesystem, every file: the fixed line is nowhere (the grep itself is excluded).
        needle = fixed_lines[0]
        found = box.exec(f"grep -rlF {json.dumps(needle)} / --exclude-dir=proc --exclude-dir=sys 2>/dev/null | head", timeout=300)
        assert found.output.strip() == "", found.output
    finally:
        box.stop()


# One line per distinct modification time in the tree (run before anything writes __pycache__).
DISTINCT_TIMES = "find . -printf '%T@\\n' | sort -u"


def _collectable(box, test_ids: list[str]) -> set[str]:
    """The test ids pytest can collect in the sandbox's tree."""
    loop = " ".join(shlex.quote(test) for test in test_ids)
    script = f'for id in {loop}; do python -m pytest --collect-only -q -p no:cacheprovider "$id" >/dev/null 2>&1 && echo "COLLECTED $id"; done'
    output = box.exec(script, timeout=300).output
    return {line.split(" ", 1)[1] for line in output.splitlines() if line.startswith("COLLECTED ")}


def test_no_task_shows_its_fix_by_file_times_or_its_fail_to_pass_tests(mined_tasks, tally_tasks, library_tasks):
    """Every task of mining runs of each strategy (commit-mirror: `shapes` and `tally`; commit-historical:
    `tally`; procedural: `shop`). The patched files would be the only new ones, and F2P tests the task
    could not hide (inherited from a mixin, or already there at a historical task's parent) would let
    the agent run the very tests that grade it."""
    from harnesses.grading import grade

    tasks = [task for folder in (mined_tasks, tally_tasks, library_tasks) for task in read_tasks(folder / "tasks.jsonl")]
    assert {task.strategy.value for task in tasks} == {"commit-mirror", "commit-historical", "procedural"}
    aged, visible, some_p2p_collected = {}, {}, False
    for task in tasks:
        box = open_task_sandbox(task)
        try:
            times = box.exec(DISTINCT_TIMES, timeout=120).output.split()
            collected = _collectable(box, task.FAIL_TO_PASS + task.PASS_TO_PASS)
        finally:
            box.stop()
        if len(times) != 1:
            aged[task.instance_id] = len(times)
        if collected & set(task.FAIL_TO_PASS):
            visible[task.instance_id] = sorted(collected & set(task.FAIL_TO_PASS))
        some_p2p_collected |= bool(collected & set(task.PASS_TO_PASS))  # the check is not vacuous
    assert aged == {} and visible == {} and some_p2p_collected, (aged, visible)
    # Grading containers too: one modification time once the patches and the tests are in.
    for task in {task.strategy: task for task in tasks}.values():
        count = lambda box, task: float(len(box.exec(DISTINCT_TIMES, timeout=120).output.split()))  # noqa: E731
        graded = grade(task, task.patch, scorers={"times": count})
        assert graded.resolved and graded.scores["times"] == 1.0, (task.instance_id, graded.status, graded.scores)


@scripted.policy("slow-oracle")
def _slow_oracle(request):
    """The oracle, with a first step slow enough for the test to remove the container under it."""
    if scripted._step(request) == 0:
        return scripted._act(request, ["sleep 6"], "Waiting")
    first = next(i for i, message in enumerate(request.messages) if message.get("role") == "assistant")
    request.messages = request.messages[:first] + request.messages[first + 1 :]  # the oracle's plan, a step later
    return scripted.oracle(request)


def test_a_killed_rollout_is_an_infra_error_and_is_retried(tasks_dir, tmp_path, docker_client):
    from harnesses.evaluate import evaluate

    task = read_tasks(tasks_dir / "tasks.jsonl")[0]
    killed: list[str] = []

    def kill_first_task_container() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for container in docker_client.containers.list(filters={"label": "gskill.task"}, ignore_removed=True):
                if container.attrs["Config"]["Labels"].get("gskill.task") == task.instance_id[:60]:
                    # Kill only while the agent's `sleep 6` runs: a fixed delay raced the rollout on a busy machine.
                    try:
                        running = " ".join(" ".join(row) for row in container.top().get("Processes") or [])
                    except Exception:
                        continue
                    if "sleep 6" not in running:
                        continue
                    container.remove(force=True)
                    killed.append(container.name)
                    return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_first_task_container)
    killer.start()
    config = RunConfig(agent="mini", model="scripted/slow-oracle", workers=1)
    summary = evaluate([task], config=config, skill="", run_dir=tmp_path)
    killer.join()
    assert killed, "the test never saw the rollout's container"
    assert summary["runs"] == 1 and summary["resolved"] == 1 and summary["infra_retries"] == 1 and summary["infra_errors"] == 0
    records = [EvalRecord.model_validate_json(line) for line in (tmp_path / "rollouts.jsonl").read_text().splitlines()]
    assert len(records) == 1 and records[0].retries == 1 and records[0].rollout.attempt == 2
    assert (tmp_path / "traces" / f"{task.instance_id}.run0.attempt1.gateway.jsonl").exists()  # the killed attempt's trace


def test_bad_eval_inputs_are_one_line_errors(tasks_dir, tmp_path):
    cases = [
        (["--tasks", str(tmp_path / "nowhere"), "--model", "scripted/noop", "--out", str(tmp_path / "o")], "no task file"),
        (["--tasks", str(tasks_dir), "--split", "dev", "--model", "scripted/noop", "--out", str(tmp_path / "o")], "--split"),
        (["--tasks", str(tasks_dir), "--model", "scripted/noop", "--skill", str(tmp_path / "none.md"), "--out", str(tmp_path / "o")], "no skill file"),
        (["--tasks", str(tasks_dir), "--agent", "aider", "--model", "scripted/noop", "--out", str(tmp_path / "o")], "unknown agent"),
    ]
    for args, message in cases:
        done = gskill("eval", *args)
        assert done.returncode == 2 and message in done.stderr and done.stderr.strip().count("\n") == 0, done.stderr


def test_grading_statuses_in_fresh_containers(tasks_dir):
    from gskill.schema import GradeStatus
    from harnesses.grading import grade

    task = next(t for t in read_tasks(tasks_dir / "tasks.jsonl") if t.FAIL_TO_PASS == ["tests/test_core.py::test_perimeter"])
    # The gold patch, with a custom scorer that sees the live grading sandbox.
    lines = lambda box, task: float(box.exec("wc -l < src/shapes/core.py", timeout=30).output.strip())  # noqa: E731
    resolved = grade(task, task.patch, scorers={"core_lines": lines})
    assert resolved.status is GradeStatus.RESOLVED and resolved.f2p_passed == task.FAIL_TO_PASS and resolved.scores["core_lines"] > 5
    assert grade(task, "").status is GradeStatus.NO_PATCH
    assert grade(task, "diff --git a/nope.py b/nope.py\n--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-x\n+y\n").status is GradeStatus.PATCH_FAILED_TO_APPLY
    # Fixing perimeter but breaking area: a P2P regression (the patch is made in a task container).
    box = open_task_sandbox(task)
    try:
        box.write_file("/tmp/gold.diff", task.patch)
        box.exec("git apply /tmp/gold.diff && rm /tmp/gold.diff && sed -i 's/return width \\* height/return width + height/' src/shapes/core.py", timeout=30)
        regression = box.diff()
        # An agent that "fixes" the task by writing the hidden test itself, trivially passing.
        box.exec("git checkout -q -- . && printf '\\n\\ndef test_perimeter():\\n    assert True\\n' >> tests/test_core.py", timeout=30)
        self_graded = box.diff()
    finally:
        box.stop()
    result = grade(task, regression)
    assert result.status is GradeStatus.P2P_REGRESSION and result.f2p_failed == [] and "tests/test_core.py::test_area" in result.p2p_failed
    # Test files the task restores are reset first: the agent's own test_perimeter is replaced.
    assert grade(task, self_graded).status is GradeStatus.F2P_FAILED
