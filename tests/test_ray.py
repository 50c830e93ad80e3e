"""`gskill eval --executor ray` on a real local Ray cluster (a head and a second node, on loopback):
the same summary as the local executor, rollouts on both nodes, and a node killed mid-run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import IN_CI
from tests.test_cli import ROOT, gskill


@pytest.fixture()
def cluster(base_image):
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        from ray.cluster_utils import Cluster
    except ImportError:
        if IN_CI:
            pytest.fail("CI=true requires ray (the dev extra installs it)", pytrace=False)
        pytest.skip("ray is not installed")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    worker = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster, worker
    cluster.shutdown()


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / "rollouts.jsonl").read_text().splitlines()]


def test_ray_executor_matches_local_and_uses_both_nodes(cluster, mined_tasks, tmp_path):
    cluster, _ = cluster
    local = gskill("eval", "--tasks", str(mined_tasks), "--model", "scripted/oracle", "--runs", "2", "--out", str(tmp_path / "local"))
    ray = gskill("eval", "--tasks", str(mined_tasks), "--model", "scripted/oracle", "--runs", "2", "--executor", "ray",
                 "--ray-address", cluster.address, "--out", str(tmp_path / "ray"))  # fmt: skip
    assert local.returncode == 0 and ray.returncode == 0, ray.stdout[-2000:] + ray.stderr[-3000:]
    same = ("tasks", "runs", "scored_runs", "resolved", "resolve_rate", "statuses", "calls", "infra_errors")
    summaries = [json.loads((tmp_path / name / "summary.json").read_text()) for name in ("local", "ray")]
    assert {k: summaries[0][k] for k in same} == {k: summaries[1][k] for k in same} and summaries[1]["resolve_rate"] == 1.0
    records = _records(tmp_path / "ray")
    assert len({r["rollout"]["node"] for r in records}) == 2  # both nodes ran rollouts
    for record in records:  # the node's traces came back into the driver's run folder
        assert (tmp_path / "ray" / record["rollout"]["trace_path"]).is_file()


def test_a_node_killed_mid_run_loses_nothing_and_counts_each_rollout_once(cluster, mined_tasks, tmp_path):
    cluster, worker = cluster
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "gskill", "eval", "--tasks", str(mined_tasks), "--model", "scripted/oracle", "--runs", "4",
         "--executor", "ray", "--ray-address", cluster.address, "--out", str(run_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if (run_dir / "rollouts.jsonl").is_file() and len(_records(run_dir)) >= 2:
            break
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before a node could be killed"
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
    done = gskill("learn", "--tasks", str(library_tasks), "--model", "scripted/needs-skill", "--reflection-model", "scripted/reflector",
                  "--scripted", "base=0", "--max-metric-calls", "25", "--no-test", "--executor", "ray", "--ray-address", cluster.address,
                  "--out", str(run_dir))  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    evidence = json.loads((run_dir / "evidence.json").read_text())
    assert evidence["spend"]["metric_calls"] <= 25 and evidence["best"]["val_mean"] > evidence["seed"]["val_mean"]
    nodes = {json.loads(line)["rollout"]["node"] for path in (run_dir / "rollouts").glob("*/rollouts.jsonl")
             for line in path.read_text().splitlines()}  # fmt: skip
    assert len(nodes) == 2 and "" not in nodes  # every rollout ran on a cluster node, on both of them
