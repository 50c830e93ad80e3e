"""Rollouts on a Ray cluster: one `NodeRunner` actor per node, each with its own gateway.

    records = RayExecutor(address, workers=8, per_node=4, cache_dir=...).run(jobs, on_record)

Every alive node with Docker gets one runner (pinned there with a node-affinity strategy). A runner
owns a gateway on its node, so agents in that node's containers always call a local endpoint, and
runs `evaluate_one` (rollout + grade) for the jobs it is handed, at most `per_node` at once. Traces are
written on the node and shipped back with the record; the driver writes them into its run folder, so
the driver's run folder stays the single source of truth and `gskill eval` resumes as it does locally.

`workers` is the cluster-wide number of rollouts in flight. A runner whose node dies fails its jobs
with an actor error: they are handed to another runner (a record is written only once a rollout
finished, so each (task, run) counts once). Ray is an optional extra: `pip install gskill[ray]`.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from gskill.errors import GskillError
from gskill.schema import EvalRecord, RunConfig, SandboxLimits, Task


@dataclass
class RolloutJob:
    task: Task
    run_index: int
    config: RunConfig
    skill: str
    skill_mode: str
    limits: SandboxLimits | None
    infra_retries: int
    scripted: dict | None


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """A node's rollout files (its traces), written under the driver's folder at the same relative paths."""
    for relative, data in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def import_ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no phoning home
    try:
        import ray
    except ImportError:
        raise GskillError("--executor ray needs Ray: pip install 'gskill[ray]'") from None
    return ray


class _NodeRunner:
    """Lives on one node: a gateway there, and rollouts run against it."""

    def __init__(self, agent: str, cache_dir: str) -> None:
        import ray

        from harnesses.agents import adapter_for
        from harnesses.agents.tools import install, tools_dir
        from harnesses.gateway.server import Gateway
        from harnesses.sandbox import bridge_gateway_ip

        adapter = adapter_for(agent)
        self.tools_dir = None
        host = "127.0.0.1"
        if adapter.tool is not None:  # agents in containers reach the gateway on the node's Docker bridge
            install(adapter.tool, Path(cache_dir))
            self.tools_dir, host = tools_dir(Path(cache_dir)), bridge_gateway_ip()
        self.gateway = Gateway(host=host).start()
        self.node = ray.get_runtime_context().get_node_id()

    def node_id(self) -> str:
        return self.node

    def run(self, job: RolloutJob) -> tuple[str, dict[str, bytes]]:
        from harnesses.evaluate import evaluate_one

        with tempfile.TemporaryDirectory(prefix="gskill-ray-") as tmp:
            record = evaluate_one(
                job.task, job.run_index, config=job.config, skill=job.skill, gateway=self.gateway, run_dir=Path(tmp),
                limits=job.limits, infra_retries=job.infra_retries, scripted=job.scripted, skill_mode=job.skill_mode,
                tools_dir=self.tools_dir,
            )  # fmt: skip
            record.rollout.node = self.node
            files = {str(p.relative_to(tmp)): p.read_bytes() for p in Path(tmp).rglob("*") if p.is_file()}
        return record.model_dump_json(), files


class RayExecutor:
    def __init__(self, address: str | None, *, workers: int, per_node: int, agent: str, cache_dir: Path) -> None:
        import threading

        self.ray = import_ray()
        self.address, self.workers, self.per_node, self.agent, self.cache_dir = address, workers, per_node, agent, cache_dir
        self._lock = threading.Lock()
        self._pool: dict[str, object] | None = None  # node id -> runner, made once (run_one)
        self._load: dict[str, int] = {}

    def _connect(self) -> None:
        ray = self.ray
        if not ray.is_initialized():
            try:
                ray.init(address=self.address or "auto", include_dashboard=False, logging_level="ERROR", log_to_driver=False)
            except Exception as exc:  # ConnectionError and friends: one line, no traceback
                raise GskillError(f"cannot connect to the Ray cluster at {self.address or 'auto'}: {str(exc).splitlines()[0][:200]}") from None

    def _node_died(self, exc: Exception) -> bool:
        e = self.ray.exceptions
        return isinstance(exc, (e.RayActorError, e.NodeDiedError, e.WorkerCrashedError, e.ObjectLostError))

    def run_one(self, job: RolloutJob) -> tuple[EvalRecord, dict[str, bytes]]:
        """One rollout on the least busy node (thread-safe; the engine's workers call it at once). A job
        whose node dies is handed to another node."""
        with self._lock:
            if self._pool is None:
                self._connect()
                self._pool = self._runners()
                self._load = {node: 0 for node in self._pool}
        while True:
            with self._lock:
                if not self._pool:
                    raise GskillError("every Ray node running gskill rollouts died; nothing is left to run on")
                node = min(self._load, key=lambda n: (self._load[n], n))
                self._load[node] += 1
                runner = self._pool[node]
            try:
                record_json, files = self.ray.get(runner.run.remote(job))
            except Exception as exc:
                if not self._node_died(exc):
                    raise
                with self._lock:  # the node died mid-rollout: forget it, try another
                    self._pool.pop(node, None)
                    self._load.pop(node, None)
                continue
            finally:
                with self._lock:
                    if node in self._load:
                        self._load[node] -= 1
            return EvalRecord.model_validate_json(record_json), files

    def _runners(self) -> dict[str, object]:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        ray = self.ray
        actor = ray.remote(num_cpus=0, max_concurrency=self.per_node, max_restarts=0)(_NodeRunner)
        runners = {}
        for node in ray.nodes():
            if node.get("Alive"):
                strategy = NodeAffinitySchedulingStrategy(node_id=node["NodeID"], soft=False)
                runners[node["NodeID"]] = actor.options(scheduling_strategy=strategy).remote(self.agent, str(self.cache_dir))
        if not runners:
            raise GskillError(f"the Ray cluster at {self.address or 'auto'} has no alive node")
        return runners

    def run(self, jobs: list[RolloutJob], on_record: Callable[[EvalRecord, dict[str, bytes]], None]) -> None:
        ray = self.ray
        self._connect()
        runners = self._runners()
        load = {node: 0 for node in runners}
        queue, pending = list(jobs), {}  # pending: object ref -> (node, job)
        while queue or pending:
            while queue and runners and len(pending) < self.workers:
                node = min(load, key=lambda n: (load[n], n))  # the least busy runner
                job = queue.pop(0)
                pending[runners[node].run.remote(job)] = (node, job)
                load[node] += 1
            if not pending:
                raise GskillError("every Ray node running gskill rollouts died; nothing is left to run on")
            [done], _ = ray.wait(list(pending), num_returns=1)
            node, job = pending.pop(done)
            load[node] = max(0, load[node] - 1)
            try:
                record_json, files = ray.get(done)
            except Exception as exc:
                if not self._node_died(exc):
                    raise
                # The node (or its runner) died mid-rollout: forget it, hand the job to another node.
                runners.pop(node, None)
                load.pop(node, None)
                queue.insert(0, job)
                continue
            on_record(EvalRecord.model_validate_json(record_json), files)
