"""`gskill eval|learn --executor ray` on a real local Ray cluster (a head and a second node, on loopback):
the same summary as the local executor, rollouts on both nodes, a node killed mid-run, the driver killed
and resumed, provider rate limits kept cluster-wide, and a node whose Docker lacks the env image."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.helpers import IN_CI, ROOT, gskill, optional


@contextlib.contextmanager
def local_cluster(worker_env: dict[str, str] | None = None):
    """A head node (where the driver attaches) and a second node whose processes see `worker_env`."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    cluster = optional("ray.cluster_utils").Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    saved = {key: os.environ.get(key) for key in worker_env or {}}
    os.environ.update(worker_env or {})  # the node's raylet, and so its workers, inherit this environment
    try:
        worker = cluster.add_node(num_cpus=1)
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    cluster.wait_for_nodes()
    try:
        yield cluster, worker
    finally:
        cluster.shutdown()


@pytest.fixture()
def cluster(base_image):
    with local_cluster() as running:
        yield running


@pytest.fixture(scope="module")
def empty_docker(base_image):
    """A second Docker engine on this machine that holds no image: what a fresh cluster node has. It gets
    its own bridge, so the machine's docker0 (and the first engine's NAT) stay untouched."""
    for tool in ("dockerd", "ip"):
        if shutil.which(tool) is None or os.geteuid() != 0:
            if IN_CI:
                pytest.fail(f"CI=true needs root and {tool} for a second Docker engine", pytrace=False)
            pytest.skip(f"a second Docker engine needs root and {tool}")
    import docker

    root = Path(tempfile.mkdtemp(prefix="gd2-", dir="/tmp"))  # short: a unix socket path has ~100 bytes
    bridge = f"gsk{os.getpid() % 100000}"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", "172.29.77.1/24", "dev", bridge], check=True)
    subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
    url = f"unix://{root}/docker.sock"
    log = (root / "dockerd.log").open("w")
    engine = subprocess.Popen(
        [
            "dockerd",
            "--host",
            url,
            "--data-root",
            f"{root}/data",
            "--exec-root",
            f"{root}/exec",
            "--pidfile",
            f"{root}/docker.pid",
            "--bridge",
            bridge,
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                client = docker.DockerClient(base_url=url, timeout=120)  # asks the engine its version at once
                client.ping()
                break
            except Exception:
                if time.monotonic() > deadline or engine.poll() is not None:
                    pytest.fail(f"the second dockerd did not start: {(root / 'dockerd.log').read_text()[-1500:]}")
                time.sleep(0.5)
        yield url, client
    finally:
        engine.send_signal(signal.SIGTERM)
        try:
            engine.wait(timeout=60)
        except subprocess.TimeoutExpired:
            engine.kill()
        subprocess.run(["ip", "link", "del", bridge], check=False)
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_records(process, run_dir, count: int) -> None:
    """Until `run_dir` holds `count` records, while `process` still runs (so a kill lands mid-run)."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if (run_dir / "rollouts.jsonl").is_file() and len(_records(run_dir)) >= count:
            break
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before anything could be killed"


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / "rollouts.jsonl").read_text().splitlines()]


def test_ray_executor_matches_local_and_uses_both_nodes(cluster, mined_tasks, tmp_path):
    cluster, _ = cluster
    local = gskill(
        "eval",
        "--tasks",
        str(mined_tasks),
        "--model",
        "scripted/oracle",
        "--runs",
        "2",
        "--out",
        str(tmp_path / "local"),
    )
    ray = gskill(
        "eval",
        "--tasks",
        str(mined_tasks),
        "--model",
        "scripted/oracle",
        "--runs",
        "2",
        "--executor",
        "ray",
        "--ray-address",
        cluster.address,
        "--out",
        str(tmp_path / "ray"),
    )
    assert local.returncode == 0 and ray.returncode == 0, ray.stdout[-2000:] + ray.stderr[-3000:]
    same = ("tasks", "runs", "scored_runs", "resolved", "resolve_rate", "statuses", "calls", "infra_errors")
    summaries = [json.loads((tmp_path / name / "summary.json").read_text()) for name in ("local", "ray")]
    assert {k: summaries[0][k] for k in same} == {k: summaries[1][k] for k in same} and summaries[1][
        "resolve_rate"
    ] == 1.0
    records = _records(tmp_path / "ray")
    assert len({r["rollout"]["node"] for r in records}) == 2  # both nodes ran rollouts
    for record in records:  # the node's traces came back into the driver's run folder
        assert (tmp_path / "ray" / record["rollout"]["trace_path"]).is_file()


def test_a_node_killed_mid_run_loses_nothing_and_counts_each_rollout_once(cluster, mined_tasks, tmp_path):
    cluster, worker = cluster
    run_dir = tmp_path / "run"
    command = _eval(mined_tasks, run_dir, cluster.address, "--runs", "4")
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_records(process, run_dir, 2)
    cluster.remove_node(worker, allow_graceful=False)  # kill the second node's processes
    stdout, stderr = process.communicate(timeout=400)
    assert process.returncode == 0, stdout[-2000:] + stderr[-3000:]
    records = _records(run_dir)
    keys = [(r["instance_id"], r["run_index"]) for r in records]
    assert len(keys) == len(set(keys)) == 8  # 2 tasks x 4 runs, each once
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["runs"] == 8 and summary["resolve_rate"] == 1.0


def test_learn_runs_its_rollouts_on_the_cluster(cluster, library_tasks, tmp_path):
    cluster, _ = cluster
    run_dir = tmp_path / "learn"
    done = gskill(
        "learn",
        "--tasks",
        str(library_tasks),
        "--model",
        "scripted/needs-skill",
        "--reflection-model",
        "scripted/reflector",
        "--scripted",
        "base=0",
        "--max-metric-calls",
        "45",
        "--no-test",
        "--executor",
        "ray",
        "--ray-address",
        cluster.address,
        "--out",
        str(run_dir),
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    evidence = json.loads((run_dir / "evidence.json").read_text())
    # 45 calls: the seed and up to three iterations, so the first epoch's minibatches reach every module
    # the validation tasks need (one iteration may train on modules validation never asks about).
    assert evidence["spend"]["metric_calls"] <= 45 and evidence["best"]["val_mean"] > evidence["seed"]["val_mean"]
    nodes = {
        json.loads(line)["rollout"]["node"]
        for path in (run_dir / "rollouts").glob("*/rollouts.jsonl")
        for line in path.read_text().splitlines()
    }
    assert len(nodes) == 2 and "" not in nodes, done.stderr[
        -3000:
    ]  # every rollout ran on a cluster node, on both of them


def _eval(tasks, out, address, *extra):
    return [
        sys.executable,
        "-m",
        "gskill",
        "eval",
        "--tasks",
        str(tasks),
        "--model",
        "scripted/oracle",
        "--executor",
        "ray",
        "--ray-address",
        address,
        "--out",
        str(out),
        *extra,
    ]


def _gskill_containers(client) -> set[str]:
    return {container.name for container in client.containers.list(all=True, filters={"label": "gskill.managed=1"})}


def test_the_driver_killed_mid_run_resumes_without_redoing_a_finished_rollout(
    cluster, mined_tasks, tmp_path, docker_client
):
    cluster, _ = cluster
    run_dir = tmp_path / "run"
    command = _eval(mined_tasks, run_dir, cluster.address, "--runs", "4")
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_records(process, run_dir, 2)
    deadline = time.monotonic() + 30
    while not _gskill_containers(docker_client) and time.monotonic() < deadline:
        time.sleep(0.05)  # kill while a rollout has a container up
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = (run_dir / "rollouts.jsonl").read_text()
    assert 2 <= len(before.splitlines()) < 8
    time.sleep(3)  # Ray ends the dead driver's runner actors
    orphans = _gskill_containers(docker_client)
    assert orphans  # the killed driver's runners died with their containers still up
    resumed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    # The new driver's runners removed the containers the killed one's left on their nodes.
    assert not orphans & _gskill_containers(docker_client), orphans
    after = (run_dir / "rollouts.jsonl").read_text()
    assert after.startswith(before)  # nothing finished was lost or rewritten
    keys = [(r["instance_id"], r["run_index"]) for r in _records(run_dir)]
    assert len(keys) == len(set(keys)) == 8  # and nothing finished was run again
    assert json.loads((run_dir / "summary.json").read_text())["resolve_rate"] == 1.0


def test_a_rate_limit_holds_for_the_whole_cluster(cluster, mined_tasks, tmp_path):
    """rpm=60 (one call a second, no burst) across both nodes' gateways: the times the calls left for
    the provider, from every node's traces, keep it; a limit per node would let two leave together."""
    cluster, _ = cluster
    run_dir = tmp_path / "run"
    done = subprocess.run(
        _eval(
            mined_tasks,
            run_dir,
            cluster.address,
            "--runs",
            "3",
            "--workers",
            "4",
            "--per-node",
            "2",
            "--rate-limit",
            "rpm=60",
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    records = _records(run_dir)
    assert len({r["rollout"]["node"] for r in records}) == 2
    sent = sorted(
        json.loads(line)["sent"]
        for path in (run_dir / "traces").glob("*.gateway.jsonl")
        for line in path.read_text().splitlines()
        if json.loads(line).get("status") == 200
    )
    assert len(sent) >= 12
    slack = 0.5  # a loaded machine's late wake-ups and the booking call's round trip
    for i in range(len(sent)):
        for j in range(i + 1, len(sent)):
            assert sent[j] - sent[i] >= (j - i) * 1.0 - slack, (i, j, sent)
    assert sum(r["rollout"]["usage"]["rate_wait_s"] for r in records) > 0


def test_a_node_without_the_env_image_loads_the_drivers_copy_once(empty_docker, mined_tasks, tmp_path):
    import docker

    from gskill.schema import read_tasks

    url, second = empty_docker
    image = read_tasks(mined_tasks / "tasks.jsonl")[0].image_name
    began = int(time.time()) - 1
    with local_cluster({"DOCKER_HOST": url}) as (cluster, worker):
        done = subprocess.run(
            _eval(mined_tasks, tmp_path / "run", cluster.address, "--runs", "3", "--workers", "4", "--per-node", "2"),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    records = _records(tmp_path / "run")
    assert {r["rollout"]["node"] for r in records} >= {worker.node_id}  # rollouts ran on the image-less node
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["resolve_rate"] == 1.0
    assert second.images.get(image).id == docker.from_env().images.get(image).id  # the driver's build, not another
    loads = list(
        second.events(since=began, until=int(time.time()) + 1, filters={"type": "image", "event": "load"}, decode=True)
    )
    assert len(loads) == 1  # once for the node, however many of its rollouts needed it


def test_a_node_without_docker_is_left_out_with_a_warning(mined_tasks, tmp_path):
    with local_cluster({"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}) as (cluster, worker):
        done = subprocess.run(
            _eval(mined_tasks, tmp_path / "run", cluster.address, "--runs", "2"),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert f"Ray node {worker.node_id[:12]} runs no rollouts: no Docker engine answers" in " ".join(done.stderr.split())
    assert worker.node_id not in {r["rollout"]["node"] for r in _records(tmp_path / "run")}
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["resolve_rate"] == 1.0


def test_executor_ray_without_ray_installed_says_what_to_install(mined_tasks, tmp_path):
    shadow = tmp_path / "shadow" / "ray"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('no ray here')\n")
    done = subprocess.run(
        _eval(mined_tasks, tmp_path / "run", "auto"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "shadow")},
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].endswith("--executor ray needs Ray: pip install 'gskill[ray]'")
