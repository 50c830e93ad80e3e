"""The Sandbox protocol on both backends: commands, timeouts, files, patches, cleanup, parity."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from harnesses.sandbox import DockerSandbox, LocalSandbox, Sandbox, reap
from harnesses.sandbox.docker_backend import LABEL_MANAGED, LABEL_RUN


# The docker backend reaches its image through getfixturevalue, which the automatic marking cannot see.
@pytest.fixture(params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def sandbox(request, calc_repo) -> Sandbox:
    if request.param == "docker":
        image = request.getfixturevalue("calc_env_image")
        box = DockerSandbox.start(image, run_id=f"test-{uuid.uuid4().hex[:8]}")
    else:
        # No env image for the local backend: the test venv provides pytest, src/ provides calc.
        box = LocalSandbox.start(calc_repo, venv=sys.prefix, env={"PYTHONPATH": "src"})
    with box:
        yield box


def test_exec_reports_exit_code_output_env_and_workdir(sandbox):
    result = sandbox.exec("echo out; echo err >&2; echo $GREETING; pwd; exit 3", env={"GREETING": "hello"})
    code, output = result
    assert code == 3 and not result.timed_out
    assert {"out", "err", "hello", sandbox.workdir} <= set(output.split())
    assert sandbox.exec("pwd", workdir="src").output.strip() == f"{sandbox.workdir}/src"


def test_exec_timeout_kills_the_whole_process_tree(sandbox):
    # A background child in the group and one that escaped it with setsid must both die.
    command = (
        "sleep 300 & echo $! > bg.pid; "
        "setsid -f bash -c 'echo $$ > escaped.pid; exec sleep 301'; "
        "sleep 0.5; echo started; sleep 302"
    )
    began = time.monotonic()
    result = sandbox.exec(command, timeout=2)
    elapsed = time.monotonic() - began
    assert result.timed_out and not result.ok
    assert "started" in result.output and "timed out after 2s" in result.output
    assert elapsed < 12, f"timeout took {elapsed:.1f}s"
    # A killed process whose new parent never reaps it stays a zombie (state Z): dead, not alive.
    survivors = sandbox.exec(
        "for f in bg.pid escaped.pid; do s=$(cut -d' ' -f3 /proc/$(cat $f)/stat 2>/dev/null); "
        '[ -n "$s" ] && [ "$s" != Z ] && echo "alive $f state=$s"; done; true'
    )
    assert "alive" not in survivors.output, survivors.output


def test_write_and_read_files(sandbox):
    sandbox.write_file("notes/a.txt", "héllo\n")
    sandbox.write_file("/tmp/gskill-bin.dat", bytes(range(256)))
    assert sandbox.read_file("notes/a.txt") == "héllo\n".encode()
    assert sandbox.read_file("/tmp/gskill-bin.dat") == bytes(range(256))
    assert sandbox.exec("cat notes/a.txt").output == "héllo\n"
    with pytest.raises(FileNotFoundError):
        sandbox.read_file("does/not/exist")


def test_diff_has_edits_and_new_files_but_not_injected_agent_folders(sandbox):
    assert sandbox.diff() == ""
    sandbox.exec("sed -i 's/return a + b/return a - b/' src/calc/__init__.py")
    sandbox.write_file("src/calc/extra.py", "X = 1\n")
    for injected in (".claude/skills/s/SKILL.md", ".agents/skills/s/SKILL.md", ".codex/config.toml"):
        sandbox.write_file(injected, "skill\n")
    patch = sandbox.diff()
    assert "-    return a + b" in patch and "+    return a - b" in patch
    assert "b/src/calc/extra.py" in patch
    assert ".claude" not in patch and ".agents" not in patch and ".codex" not in patch
    # The agent's own index is untouched by patch extraction.
    assert sandbox.exec("git diff --cached --name-only").output.strip() == ""
    # Extra exclusions (e.g. an injected AGENTS.md) are honoured too.
    assert "extra.py" not in sandbox.diff(exclude=(".claude", ".agents", ".codex", "src/calc/extra.py"))


def test_local_and_docker_backends_agree_on_the_same_repo(calc_repo, calc_env_image):
    from swebench.harness.log_parsers.python import parse_log_pytest

    results = {}
    for name in ("local", "docker"):
        box = (
            LocalSandbox.start(calc_repo, venv=sys.prefix, env={"PYTHONPATH": "src"})
            if name == "local"
            else DockerSandbox.start(calc_env_image)
        )
        with box:
            before = box.exec("python -m pytest -rA -q -p no:cacheprovider tests", timeout=120)
            box.exec("sed -i 's/return high$/return low/' src/calc/__init__.py")
            after = box.exec("python -m pytest -rA -q -p no:cacheprovider tests", timeout=120)
            results[name] = {
                "before": parse_log_pytest(before.output, None),
                "after": parse_log_pytest(after.output, None),
                "codes": (before.exit_code, after.exit_code),
                "patch": box.diff(),
                "tree": box.exec("git ls-files | sort").output,
                "history": box.exec("git rev-list --count HEAD").output.strip(),
            }
    local, docker = results["local"], results["docker"]
    assert local["before"] == docker["before"] and len(local["before"]) == 7
    assert set(local["before"].values()) == {"PASSED"}
    assert local["after"] == docker["after"]
    assert local["after"]["tests/test_calc.py::test_clamp_high"] == "FAILED"
    assert local["codes"] == docker["codes"] == (0, 1)
    assert local["patch"] == docker["patch"] != ""
    assert local["tree"] == docker["tree"]
    assert local["history"] == docker["history"] == "1"  # a fresh single-commit history in both


def _our_containers(client, run_id: str) -> list:
    return client.containers.list(all=True, filters={"label": [f"{LABEL_MANAGED}=1", f"{LABEL_RUN}={run_id}"]})


def test_container_removed_after_exception_mid_run(docker_client, base_image):
    run_id = f"test-exc-{uuid.uuid4().hex[:8]}"
    with pytest.raises(RuntimeError, match="boom"):
        with DockerSandbox.start(base_image, workdir="/", run_id=run_id) as box:
            assert box.exec("echo running").output.strip() == "running"
            assert len(_our_containers(docker_client, run_id)) == 1
            raise RuntimeError("boom")
    assert _our_containers(docker_client, run_id) == []


def test_containers_carry_labels_and_limits(docker_client, base_image):
    from gskill.schema import SandboxLimits

    with DockerSandbox.start(
        base_image, workdir="/", limits=SandboxLimits(cpus=1, memory="512m", network=False), run_id="test-limits"
    ) as box:
        attrs = docker_client.containers.get(box.container_id).attrs
        assert attrs["Config"]["Labels"][LABEL_MANAGED] == "1"
        assert attrs["HostConfig"]["Memory"] == 512 * 1024 * 1024
        assert attrs["HostConfig"]["NanoCpus"] == 1_000_000_000
        assert box.exec("ls /sys/class/net").output.split() == ["lo"]  # network=none


def _spawn_sandbox_owner(base_image: str, run_id: str, tmp_path: Path, prelude: str = "") -> subprocess.Popen:
    """A separate Python process that opens a sandbox, says "ready", and sleeps."""
    script = tmp_path / f"owner-{run_id}.py"
    script.write_text(
        prelude
        + textwrap.dedent(
            f"""
            import time
            from harnesses.sandbox import DockerSandbox
            box = DockerSandbox.start({base_image!r}, workdir="/", run_id={run_id!r})
            print("ready", flush=True)
            time.sleep(600)
            """
        )
    )
    owner = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1]
    )
    assert owner.stdout.readline().strip() == "ready"
    return owner


def test_reaper_removes_containers_of_a_killed_process_only(docker_client, base_image, tmp_path):
    orphan_run = f"test-orphan-{uuid.uuid4().hex[:8]}"
    owner = _spawn_sandbox_owner(base_image, orphan_run, tmp_path)
    owner.kill()  # SIGKILL: no atexit, the container is orphaned
    owner.wait()
    assert len(_our_containers(docker_client, orphan_run)) == 1
    live_run = f"test-live-{uuid.uuid4().hex[:8]}"
    with DockerSandbox.start(base_image, workdir="/", run_id=live_run):
        removed = reap(docker_client)
        assert _our_containers(docker_client, orphan_run) == []
        assert len(_our_containers(docker_client, live_run)) == 1, "the reaper must spare live owners"
        assert removed and all(name.startswith("gskill-") for name in removed)


def test_reapers_racing_for_the_same_orphans_both_finish(docker_client, base_image, tmp_path):
    """Two Ray nodes on one Docker engine start at once, and both reap: neither may fail for it."""
    from concurrent.futures import ThreadPoolExecutor

    orphan_run = f"test-orphans-{uuid.uuid4().hex[:8]}"
    for index in range(3):
        owner = _spawn_sandbox_owner(base_image, orphan_run, tmp_path)
        owner.kill()
        owner.wait()
    with ThreadPoolExecutor(4) as pool:
        removed = [name for names in pool.map(lambda _: reap(docker_client), range(4)) for name in names]
    assert _our_containers(docker_client, orphan_run) == [] and len(removed) >= 3


class _OneRun:
    """The engine as a reaper sees it, narrowed to one run id's containers: tests of `reap --all` and
    `--force` never touch other runs' containers on a shared engine."""

    def __init__(self, client, run_id: str) -> None:
        self.client, self.run_id, self.containers = client, run_id, self

    def list(self, all: bool = False, filters: dict | None = None, **options):
        labels = [(filters or {}).get("label", f"{LABEL_MANAGED}=1"), f"{LABEL_RUN}={self.run_id}"]
        return self.client.containers.list(all=all, filters={"label": labels}, **options)


def test_reap_all_spares_live_runs_unless_forced(docker_client, base_image, tmp_path):
    from harnesses.sandbox.docker_backend import LABEL_OWNER_HOST
    from tests.helpers import assert_one_line_error, gskill

    run = f"test-all-{uuid.uuid4().hex[:8]}"
    owner = _spawn_sandbox_owner(base_image, run, tmp_path)
    owner.kill()
    owner.wait()
    foreign = DockerSandbox.start(base_image, workdir="/", run_id=run, extra_labels={LABEL_OWNER_HOST: "another-host"})
    try:
        with DockerSandbox.start(base_image, workdir="/", run_id=run) as live:
            engine = _OneRun(docker_client, run)
            names = {container.name for container in engine.list(all=True)}
            assert len(names) == 3
            # The orphan and the other host's container go; the live run's stays.
            assert sorted(reap(engine, everything=True)) == sorted(names - {live.name})
            assert [container.name for container in engine.list(all=True)] == [live.name], "--all must spare a live run"
            assert reap(engine, everything=True, force=True) == [live.name]
    finally:
        foreign.stop()
        reap(docker_client, run_id=run)
    assert_one_line_error(gskill("env", "reap", "--force"), "--force goes with --all")


def test_a_new_run_in_a_folder_removes_the_containers_a_killed_run_left_there(
    docker_client, base_image, tmp_path, monkeypatch
):
    from harnesses.sandbox import docker_backend

    monkeypatch.setattr(docker_backend, "_run_folder", "")  # this process's label, restored afterwards
    run, folder, elsewhere = f"test-folder-{uuid.uuid4().hex[:8]}", tmp_path / "run", tmp_path / "other-run"
    adopt = (
        f"from harnesses.sandbox.docker_backend import adopt_run_folder\nadopt_run_folder({str(folder / 'sub')!r})\n"
    )
    dead_here = _spawn_sandbox_owner(base_image, run, tmp_path, adopt)  # e.g. a learn run's test evaluation
    dead_here.kill()
    dead_here.wait()
    other = f"from harnesses.sandbox.docker_backend import adopt_run_folder\nadopt_run_folder({str(elsewhere)!r})\n"
    dead_elsewhere = _spawn_sandbox_owner(base_image, run + "x", tmp_path, other)
    dead_elsewhere.kill()
    dead_elsewhere.wait()
    try:
        labels = [c.labels for c in _OneRun(docker_client, run).list(all=True)]
        assert [label[docker_backend.LABEL_RUN_FOLDER] for label in labels] == [str((folder / "sub").resolve())]
        removed = docker_backend.adopt_run_folder(folder)
        assert len(removed) == 1 and _our_containers(docker_client, run) == []
        assert (
            len(_our_containers(docker_client, run + "x")) == 1
        )  # a dead run of another folder: not this run's business
        with DockerSandbox.start(base_image, workdir="/", run_id=run) as box:
            assert docker_client.containers.get(box.container_id).labels[docker_backend.LABEL_RUN_FOLDER] == str(
                folder.resolve()
            )
            docker_backend.adopt_run_folder(folder / "test" / "seed")  # nested in the run: the run's label stays
            assert docker_backend._run_folder == str(folder.resolve())
            assert docker_backend.adopt_run_folder(folder) == []  # a live run's containers stay
            assert len(_our_containers(docker_client, run)) == 1
    finally:
        reap(docker_client, run_id=run + "x")


def test_exec_in_a_removed_container_is_an_infrastructure_error(docker_client, base_image):
    from harnesses.sandbox import SandboxError

    box = DockerSandbox.start(base_image, workdir="/")
    try:
        docker_client.containers.get(box.container_id).remove(force=True)
        with pytest.raises(SandboxError):
            box.exec("echo hi")
    finally:
        box.stop()  # idempotent on a container that is already gone


def test_sigterm_to_the_cli_process_removes_its_containers(docker_client, base_image, tmp_path):
    run_id = f"test-term-{uuid.uuid4().hex[:8]}"
    # The SIGTERM handler `gskill` installs in main() turns the signal into a normal exit (atexit runs).
    prelude = "import signal\nfrom gskill.cli import _terminate\nsignal.signal(signal.SIGTERM, _terminate)"
    owner = _spawn_sandbox_owner(base_image, run_id, tmp_path, prelude)
    assert len(_our_containers(docker_client, run_id)) == 1
    owner.terminate()
    assert owner.wait(timeout=60) == 128 + 15
    assert _our_containers(docker_client, run_id) == []


def test_write_files_creates_folders_in_one_upload_and_keeps_existing_modes(docker_client, base_image):
    from harnesses.sandbox import DockerSandbox

    with DockerSandbox.start(base_image, workdir="/") as box:
        before = box.exec("stat -c %a /tmp", timeout=30).output.strip()
        box.write_files({"/tmp/a/b/c.txt": "one", "/opt/new/x.sh": b"echo two"})
        assert box.exec("cat /tmp/a/b/c.txt /opt/new/x.sh", timeout=30).output == "oneecho two"
        assert box.exec("stat -c %a /tmp", timeout=30).output.strip() == before == "1777"
