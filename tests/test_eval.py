"""`gskill eval` end to end: mined fixture tasks, mini-SWE-agent in real containers, scripted models
behind the gateway, grading in fresh containers."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import threading
import time

import docker.errors
import pytest

from gskill.schema import EvalRecord, RunConfig, read_tasks
from harnesses.gateway import scripted
from harnesses.sandbox import SandboxError
from harnesses.taskenv import open_task_sandbox
from tests.helpers import ROOT, gskill

SENTINELS = {
    "OPENAI_API_KEY": "sk-SENTINEL-openai-4f1c",
    "ANTHROPIC_API_KEY": "sk-ant-SENTINEL-9d2e",
    "GEMINI_API_KEY": "SENTINEL-gemini-77aa",
}


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
        commands = [
            json.loads(call["function"]["arguments"])["command"]
            for m in agent_trace["messages"]
            for call in m.get("tool_calls") or []
        ]
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
    done = gskill(
        "eval",
        "--tasks",
        str(tasks_dir),
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
    # The inspector did print the container's environment (so the check below is not vacuous) ...
    assert "PATH=/opt/gskill-venv/bin" in everything and "HOSTNAME=" in everything
    # ... and no key value is anywhere: not in the container, the traces, the records or the output.
    for name, value in SENTINELS.items():
        assert value not in everything, name


def test_a_cheating_agent_cannot_recover_the_fix(tasks_dir, host_server):
    task = read_tasks(tasks_dir / "tasks.jsonl")[0]
    fixed_lines = [
        line[1:].strip() for line in task.patch.splitlines() if line.startswith("+") and not line.startswith("+++")
    ]
    hidden_tests = [line[1:].strip() for line in task.test_patch.splitlines() if line.startswith("+def test_")]
    assert fixed_lines and hidden_tests
    box = open_task_sandbox(task)
    try:
        attempts = [
            "git log --all -p",
            "git reflog",
            "git stash list",
            "git show HEAD",
            "git fsck --lost-found --unreachable 2>&1",
            "git count-objects -v",
            "ls -la /tmp /root",
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
        found = box.exec(
            f"grep -rlF {json.dumps(needle)} / --exclude-dir=proc --exclude-dir=sys 2>/dev/null | head", timeout=300
        )
        assert found.output.strip() == "", found.output
        # Nor is it on the network: no registry to download the released project from, no outside
        # address, no server on the host (mini-SWE-agent's container has no network at all).
        assert_no_way_out(box, task, host_port=host_server)
    finally:
        box.stop()


@pytest.fixture
def host_server():
    """A throwaway HTTP server on the host's 0.0.0.0 that hands out a secret: (port, secret)."""
    import http.server
    import secrets

    secret = "HOST-SECRET-" + secrets.token_hex(8)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(secret.encode())

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], secret
    server.shutdown()
    server.server_close()


def host_addresses() -> list[str]:
    """Every IPv4 address of this host a container might try: Docker's bridge, the host's own names."""
    import socket

    from harnesses.sandbox import bridge_gateway_ip

    found = {bridge_gateway_ip()}
    for name in (socket.gethostname(), socket.getfqdn()):
        try:
            found.update(socket.gethostbyname_ex(name)[2])
        except OSError:
            pass
    return sorted(address for address in found if not address.startswith("127."))


# Run in the task container: every connection attempt, and what came of it.
_PROBE = r"""
import json, socket, sys, urllib.request
results = {}
for target in json.loads(sys.argv[1]):
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
        results[target] = "CONNECTED"
    except OSError as exc:
        results[target] = f"{type(exc).__name__}: {exc}"
for url in json.loads(sys.argv[2]):
    try:
        results[url] = "FETCHED " + urllib.request.urlopen(url, timeout=5).read(200).decode(errors="replace")
    except Exception as exc:
        results[url] = f"{type(exc).__name__}: {exc}"
print(json.dumps(results))
"""


def assert_no_way_out(box, task, *, host_port: tuple[int, str] | None = None, allowed: str = "") -> None:
    """Registries (PyPI, npm, the Go proxy), raw outside addresses and the host's ports are all out
    of reach from `box`; `allowed` is the one URL that may answer (the gateway)."""
    project = task.repo.rsplit("/", 1)[-1] or "pip"
    targets = [
        "pypi.org:443",
        "files.pythonhosted.org:443",
        "registry.npmjs.org:443",
        "proxy.golang.org:443",
        "1.1.1.1:443",
        "8.8.8.8:53",
        "140.82.112.3:443",
    ]
    urls = [
        f"https://pypi.org/simple/{project}/",
        f"https://registry.npmjs.org/{project}",
        "https://proxy.golang.org/golang.org/x/text/@v/list",
        "http://1.1.1.1/",
    ]
    secret = ""
    if host_port is not None:
        port, secret = host_port
        for address in host_addresses():
            targets.append(f"{address}:{port}")
            urls.append(f"http://{address}:{port}/")
    done = box.exec(
        f"python3 -c {shlex.quote(_PROBE)} {shlex.quote(json.dumps(targets))} {shlex.quote(json.dumps(urls))}",
        timeout=300,
    )
    assert done.ok, done.output
    results = json.loads(done.output.strip().splitlines()[-1])
    reached = {target: outcome for target, outcome in results.items() if outcome.startswith(("CONNECTED", "FETCHED"))}
    assert not reached, reached
    # The package managers themselves (those the image has): pip for the project and for pip itself.
    for command in (
        f"pip download --no-deps --no-cache-dir --timeout 5 --retries 0 -d /tmp/dl {shlex.quote(project)} pip",
        f"command -v npm >/dev/null && npm pack --prefer-online {shlex.quote(project)}",
        "command -v go >/dev/null && GOFLAGS=-mod=mod GOPROXY=https://proxy.golang.org go mod download golang.org/x/text@latest",
    ):
        tried = box.exec(f"cd /tmp && {command}", timeout=120)
        assert not tried.ok, (command, tried.output[-500:])
    assert box.exec("ls /tmp/dl 2>/dev/null | wc -l", timeout=30).output.strip() == "0"
    if secret:
        assert secret not in done.output
    if allowed:
        answer = box.exec(
            f"python3 -c {shlex.quote('import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).status)')} "
            f"{shlex.quote(allowed)}",
            timeout=60,
        )
        assert "401" in answer.output, answer.output  # the gateway answers (and wants a rollout's token)


def test_task_containers_reach_nothing_but_the_gateway(tasks_dir, host_server, tmp_path):
    """mini-SWE-agent's container (no network), and a container agent's (Codex CLI, Claude Code): the
    gateway is reachable through its socket, nothing else is — not the internet, not the host's ports,
    not the gateway's own TCP port on the Docker bridge."""
    from harnesses.agents import adapter_for
    from harnesses.gateway.server import Gateway
    from harnesses.rollout import open_agent_sandbox
    from harnesses.sandbox import bridge_gateway_ip

    task = read_tasks(tasks_dir / "tasks.jsonl")[0]
    with Gateway(host=bridge_gateway_ip()) as gateway:  # where start_gateway puts a container agent's gateway
        for agent in ("mini", "codex", "claude"):
            box, base_url = open_agent_sandbox(
                task, adapter_for(agent), gateway, gateway.url, limits=None, run_id="test-network", tools_dir=tmp_path
            )
            try:
                assert box.exec("ls /sys/class/net", timeout=30).output.split() == ["lo"], agent
                gateway_port = gateway.url.rsplit(":", 1)[1]
                assert_no_way_out(
                    box, task, host_port=host_server, allowed="" if agent == "mini" else f"{base_url}/v1/models"
                )
                direct = box.exec(
                    f"python3 -c 'import socket; socket.create_connection((\"{bridge_gateway_ip()}\", {gateway_port}), timeout=5)'",
                    timeout=60,
                )
                assert not direct.ok, direct.output
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

    tasks = [
        task for folder in (mined_tasks, tally_tasks, library_tasks) for task in read_tasks(folder / "tasks.jsonl")
    ]
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
    assert (
        summary["runs"] == 1
        and summary["resolved"] == 1
        and summary["infra_retries"] == 1
        and summary["infra_errors"] == 0
    )
    records = [EvalRecord.model_validate_json(line) for line in (tmp_path / "rollouts.jsonl").read_text().splitlines()]
    assert len(records) == 1 and records[0].retries == 1 and records[0].rollout.attempt == 2
    assert (
        tmp_path / "traces" / f"{task.instance_id}.run0.attempt1.gateway.jsonl"
    ).exists()  # the killed attempt's trace


def test_the_rollout_modules_import_one_way_at_module_level():
    """evaluate → executor → ray_executor → rollout: no module imports another inside a function to
    dodge a cycle, and each imports on its own in a fresh interpreter."""
    import ast

    modules = {f"harnesses.{name}" for name in ("rollout", "executor", "ray_executor", "evaluate")}
    for module in sorted(modules):
        tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
        functions = [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
        hidden = {
            inner.module for node in functions for inner in ast.walk(node) if isinstance(inner, ast.ImportFrom)
        } & modules
        assert not hidden, f"{module} imports {hidden} inside a function"
        done = subprocess.run(
            [sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]


class _FailingBox:
    """A sandbox whose every command fails with `error` (the agent's host-side loop sees it raised)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def exec(self, command, timeout=None, env=None, workdir=None):
        raise self.error


@pytest.mark.parametrize(
    "error,infra",
    [
        (SandboxError("container gskill-x is gone"), True),
        (docker.errors.NotFound("No such container"), True),
        (ValueError("the agent's own bug"), False),
    ],
)
def test_the_agent_outcome_says_by_type_whether_its_sandbox_killed_it(error, infra, tmp_path):
    """The rollout's infra decision reads a typed flag (`is_infra_failure` of the exception), not the error text."""
    from harnesses.agents import adapter_for
    from harnesses.agents.base import RunRequest
    from harnesses.gateway.server import Gateway

    with Gateway() as gateway:
        session = gateway.open_session(model="scripted/noop")
        request = RunRequest(
            problem_statement="Fix it.",
            skill="",
            skill_mode="",
            base_url=session.base_url,
            token=session.token,
            model_label="noop",
            step_limit=5,
            cost_limit=0,
            wall_time_limit_s=60,
            command_timeout_s=30,
        )
        outcome = adapter_for("mini").run(_FailingBox(error), request)
    assert outcome.error.startswith(type(error).__name__) and outcome.infra_error is infra


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_ends_a_run_whose_rollout_retries_its_model(tasks_dir, tmp_path, docker_client, signum):
    """SIGTERM or SIGINT while a rollout retries its model (the agent backs off for minutes): the
    process exits non-zero within seconds, its containers are gone and none starts after the signal,
    the finished record stays, and a re-run resumes from it."""
    run_dir, task_id = tmp_path / "run", read_tasks(tasks_dir / "tasks.jsonl")[1].instance_id
    first = gskill(
        "eval", "--tasks", str(tasks_dir), "--model", "scripted/oracle", "--max-tasks", "1", "--out", str(run_dir)
    )
    assert first.returncode == 0, first.stderr[-3000:]
    finished = (run_dir / "rollouts.jsonl").read_text()
    # The provider refuses every call (429s): the gateway retries, then answers 502; the agent backs off.
    command = [
        sys.executable,
        "-m",
        "gskill",
        "eval",
        "--tasks",
        str(tasks_dir),
        "--model",
        "scripted/oracle",
        "--scripted",
        "throttle=1000000",
        "--out",
        str(run_dir),
    ]
    with (tmp_path / "stderr.txt").open("w") as stderr:
        run = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
    ours = {"label": f"gskill.owner-pid={run.pid}"}
    try:
        trace = run_dir / "traces" / f"{task_id}.run0.attempt1.gateway.jsonl"
        deadline = time.monotonic() + 240
        while not (trace.is_file() and '"status": 502' in trace.read_text()):
            assert time.monotonic() < deadline and run.poll() is None, (tmp_path / "stderr.txt").read_text()[-3000:]
            time.sleep(0.2)
        assert docker_client.containers.list(filters=ours), "the retrying rollout's container should be up"
        signalled = time.time()
        run.send_signal(signum)
        assert run.wait(timeout=30) == 128 + signum, (tmp_path / "stderr.txt").read_text()[-3000:]
        assert time.time() - signalled < 15
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
            for container in docker_client.containers.list(all=True, filters=ours):
                container.remove(force=True)
    assert docker_client.containers.list(all=True, filters=ours) == []
    created = docker_client.events(
        since=int(signalled),
        until=int(time.time()) + 1,
        decode=True,
        filters={"type": "container", "event": "create", **ours},
    )
    assert list(created) == [], "a container started after the stop signal"
    assert (run_dir / "rollouts.jsonl").read_text() == finished  # the finished record, nothing of the cut rollout

    resumed = gskill("eval", "--tasks", str(tasks_dir), "--model", "scripted/oracle", "--out", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (run_dir / "rollouts.jsonl").read_text().startswith(finished)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["runs"] == 2 and summary["resolved"] == 2 and summary["infra_errors"] == 0


def test_bad_eval_inputs_are_one_line_errors(tasks_dir, tmp_path):
    cases = [
        (
            ["--tasks", str(tmp_path / "nowhere"), "--model", "scripted/noop", "--out", str(tmp_path / "o")],
            "no task file",
        ),
        (
            ["--tasks", str(tasks_dir), "--split", "dev", "--model", "scripted/noop", "--out", str(tmp_path / "o")],
            "--split",
        ),
        (
            [
                "--tasks",
                str(tasks_dir),
                "--model",
                "scripted/noop",
                "--skill",
                str(tmp_path / "none.md"),
                "--out",
                str(tmp_path / "o"),
            ],
            "no skill file",
        ),
        (
            ["--tasks", str(tasks_dir), "--agent", "aider", "--model", "scripted/noop", "--out", str(tmp_path / "o")],
            "unknown agent",
        ),
    ]
    for args, message in cases:
        done = gskill("eval", *args)
        assert done.returncode == 2 and message in done.stderr and done.stderr.strip().count("\n") == 0, done.stderr


def test_grading_statuses_in_fresh_containers(tasks_dir):
    from gskill.schema import GradeStatus
    from harnesses.grading import grade

    task = next(
        t for t in read_tasks(tasks_dir / "tasks.jsonl") if t.FAIL_TO_PASS == ["tests/test_core.py::test_perimeter"]
    )
    # The gold patch, with a custom scorer that sees the live grading sandbox.
    lines = lambda box, task: float(box.exec("wc -l < src/shapes/core.py", timeout=30).output.strip())  # noqa: E731
    resolved = grade(task, task.patch, scorers={"core_lines": lines})
    assert (
        resolved.status is GradeStatus.RESOLVED
        and resolved.f2p_passed == task.FAIL_TO_PASS
        and resolved.scores["core_lines"] > 5
    )
    assert grade(task, "").status is GradeStatus.NO_PATCH
    assert (
        grade(task, "diff --git a/nope.py b/nope.py\n--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-x\n+y\n").status
        is GradeStatus.PATCH_FAILED_TO_APPLY
    )
    # Fixing perimeter but breaking area: a P2P regression (the patch is made in a task container).
    box = open_task_sandbox(task)
    try:
        box.write_file("/tmp/gold.diff", task.patch)
        box.exec(
            "git apply /tmp/gold.diff && rm /tmp/gold.diff && sed -i 's/return width \\* height/return width + height/' src/shapes/core.py",
            timeout=30,
        )
        regression = box.diff()
        # An agent that "fixes" the task by writing the hidden test itself, trivially passing.
        box.exec(
            "git checkout -q -- . && printf '\\n\\ndef test_perimeter():\\n    assert True\\n' >> tests/test_core.py",
            timeout=30,
        )
        self_graded = box.diff()
    finally:
        box.stop()
    result = grade(task, regression)
    assert (
        result.status is GradeStatus.P2P_REGRESSION
        and result.f2p_failed == []
        and "tests/test_core.py::test_area" in result.p2p_failed
    )
    # Test files the task restores are reset first: the agent's own test_perimeter is replaced.
    assert grade(task, self_graded).status is GradeStatus.F2P_FAILED


def test_the_network_opt_in_is_recorded_and_flagged(tasks_dir, tmp_path):
    """`limits.network: true` gives task containers a network again; each rollout records it, and
    `gskill doctor` and `gskill report` say so. The default says "off" and records False."""
    from gskill.engine.store import RunStore

    on = {"GSKILL_LIMITS__NETWORK": "true"}
    run_dir = tmp_path / "run"
    done = gskill(
        "eval",
        "--tasks",
        str(tasks_dir),
        "--model",
        "scripted/inspector",
        "--max-tasks",
        "1",
        "--out",
        str(run_dir),
        env=on,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((run_dir / "rollouts.jsonl").read_text().splitlines()[0])
    assert record["rollout"]["network"] is True
    # The opt-in container is on Docker's bridge; a container agent then calls the gateway's bridge address.
    from gskill.schema import SandboxLimits
    from harnesses.agents import adapter_for
    from harnesses.gateway.server import Gateway
    from harnesses.rollout import open_agent_sandbox
    from harnesses.sandbox import bridge_gateway_ip

    task = read_tasks(tasks_dir / "tasks.jsonl")[0]
    with Gateway(host=bridge_gateway_ip()) as gateway:
        box, base_url = open_agent_sandbox(
            task,
            adapter_for("codex"),
            gateway,
            gateway.url,
            limits=SandboxLimits(network=True),
            run_id="test-network-on",
            tools_dir=tmp_path,
        )
        try:
            assert "eth0" in box.exec("ls /sys/class/net", timeout=30).output and base_url == gateway.url
        finally:
            box.stop()

    doctor_on, doctor_off = gskill("doctor", env=on), gskill("doctor")
    assert "task network" in doctor_on.stdout and "ON (limits.network: true)" in doctor_on.stdout
    assert "task network" in doctor_off.stdout and "off: task containers have no network" in doctor_off.stdout

    # A learn folder (one scored seed) whose rollouts had the network: the report flags it.
    learn_dir = tmp_path / "learn"
    (learn_dir / "rollouts" / "abc").mkdir(parents=True)
    store = RunStore(learn_dir / "store.sqlite")
    store.save_candidate(
        0,
        {
            "index": 0,
            "components": {"skill": ""},
            "parents": [],
            "operator": "seed",
            "iteration": 0,
            "val_scores": {"t1": 1.0},
            "val_mean": 1.0,
            "tokens": 0,
        },
    )
    store.close()
    rollouts = learn_dir / "rollouts" / "abc" / "rollouts.jsonl"
    rollouts.write_text((run_dir / "rollouts.jsonl").read_text())
    assert gskill("report", str(learn_dir)).returncode == 0
    page = (learn_dir / "report.html").read_text()
    assert "Task containers had a network in 1 of 1 rollouts" in page and "ON in 1 of 1 rollouts" in page
    record["rollout"]["network"] = False
    rollouts.write_text(json.dumps(record) + "\n")
    assert gskill("report", str(learn_dir)).returncode == 0
    assert "had a network" not in (learn_dir / "report.html").read_text()
