"""Rollouts on a Ray cluster: one `_NodeRunner` actor per node, each with its own gateway.

    with RayExecutor(address, workers=8, per_node=4, agent="mini", cache_dir=..., rate_limits=[...]) as executor:
        record = executor.run_one(job)       # thread-safe; `harnesses.executor.run_all` fans jobs out

Every alive node gets one runner, pinned there with a node-affinity strategy. A runner owns a gateway
on its node, so agents in that node's containers always call a local endpoint, and runs `run_job`
(rollout + grade) for the jobs it is handed, at most `per_node` at once. Traces are written on the
node and shipped back with the record; the driver writes them under the job's `run_dir`, so the
driver's folder stays the single source of truth and every command resumes as it does locally.

Two things stay at the driver, in one `_DriverService` actor pinned to the driver's node:
- the provider rate limiter: every node's gateway books each model call there, so the limits hold for
  the cluster, and a provider 429 seen on one node pauses that model on all of them;
- the env images: a node whose Docker lacks a task's image (or holds another build under its name)
  loads the driver's copy, streamed in chunks (`docker save` once per image at the driver, `docker
  load` once per node; the node's Docker is the cache).

`workers` is the cluster-wide number of rollouts in flight. A job whose node dies mid-rollout is handed
to another node; a record exists only for a finished rollout, so each (task, run) counts once. A node
without a Docker engine is left out (with a warning). When a runner starts it removes the containers a
killed driver's runners left on its node, so re-running after a driver crash leaves nothing behind.
Ray is an optional extra: `pip install 'gskill[ray]'`.
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

from gskill.errors import GskillError
from gskill.schema import EvalRecord, RateLimit
from harnesses.rollout import RolloutJob, run_job, start_gateway
from harnesses.sandbox import shut_down_sandboxes

IMAGE_CHUNK_BYTES = 16 * 1024 * 1024


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """A node's rollout files (its traces), written under the driver's folder at the same relative paths."""
    for relative, data in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _tell(message: str) -> None:
    from rich.console import Console

    Console(stderr=True).print(message, highlight=False)


def _warn(message: str) -> None:
    _tell(f"[yellow]warning:[/] {message}")


def import_ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no phoning home
    try:
        import ray
    except ImportError:
        raise GskillError("--executor ray needs Ray: pip install 'gskill[ray]'") from None
    return ray


class _DriverService:
    """On the driver's node: the cluster's rate limiter, and the env images nodes may lack."""

    def __init__(self, rate_limits: list[dict], spool_root: str) -> None:
        import shutil
        import time
        import uuid

        from harnesses.gateway.limits import RateLimiter

        self.limiter = RateLimiter([RateLimit(**limit) for limit in rate_limits])
        root = Path(spool_root)
        for stale in root.glob("*") if root.is_dir() else []:  # left by a driver that was killed
            if time.time() - stale.stat().st_mtime > 86400:
                shutil.rmtree(stale, ignore_errors=True)
        self.spool = root / uuid.uuid4().hex[:12]
        self._ids: dict[str, str] = {}  # image name -> the driver's image id
        self._saved: dict[str, Path] = {}  # image name -> its `docker save` tar, made when a node first asks
        self._lock = threading.Lock()

    # The limiter's interface (harnesses.gateway.limits.Limiter), called by every node's gateway.
    def reserve(self, model: str, tokens: int) -> float:
        return self.limiter.reserve(model, tokens)

    def settle(self, model: str, estimated: int, actual: int) -> None:
        self.limiter.settle(model, estimated, actual)

    def pause(self, model: str, seconds: float | None) -> float:
        return self.limiter.pause(model, seconds)

    # Env images, from the driver's Docker.
    def image_id(self, name: str) -> str:
        """The id of the driver's build of `name`; "" if the driver lacks it."""
        from harnesses.sandbox.docker_backend import docker_client

        if name not in self._ids:
            try:
                self._ids[name] = docker_client().images.get(name).id
            except Exception:
                return ""
        return self._ids[name]

    def image_chunk(self, name: str, index: int) -> bytes:
        """Part `index` of `docker save name` (saved once, on the first node's first request)."""
        from harnesses.sandbox.docker_backend import docker_client

        with self._lock:
            if name not in self._saved:
                self.spool.mkdir(parents=True, exist_ok=True)
                target = self.spool / (self.image_id(name).replace(":", "-") + ".tar")
                with target.open("wb") as handle:
                    for chunk in docker_client().images.get(name).save(chunk_size=IMAGE_CHUNK_BYTES, named=True):
                        handle.write(chunk)
                self._saved[name] = target
        with self._saved[name].open("rb") as handle:
            handle.seek(index * IMAGE_CHUNK_BYTES)
            return handle.read(IMAGE_CHUNK_BYTES)

    def cleanup(self) -> None:
        import shutil

        shutil.rmtree(self.spool, ignore_errors=True)


class _RemoteLimiter:
    """A node gateway's limiter: every booking goes to the driver's service (one call each)."""

    def __init__(self, service) -> None:
        self.service = service

    def reserve(self, model: str, tokens: int) -> float:
        import ray

        return ray.get(self.service.reserve.remote(model, tokens))

    def settle(self, model: str, estimated: int, actual: int) -> None:
        self.service.settle.remote(model, estimated, actual)  # nobody waits for the answer

    def pause(self, model: str, seconds: float | None) -> float:
        import ray

        return ray.get(self.service.pause.remote(model, seconds))


class _NodeRunner:
    """Lives on one node: a gateway there, the node's env images, and rollouts run against both."""

    def __init__(self, agent: str, cache_dir: str, service, per_node: int) -> None:
        import ray

        from harnesses.gateway.models import _litellm

        _litellm()  # import it now (seconds), not in the node's first rollout
        self.service = service
        self.gateway, self.tools_dir = start_gateway(agent, Path(cache_dir), _RemoteLimiter(service))
        self.node = ray.get_runtime_context().get_node_id()
        self._images: dict[str, threading.Lock] = {}
        self._ready: set[str] = set()
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(per_node)  # the node's limit on containers at once

    def unready(self) -> str:
        """Why this node cannot run rollouts ("" = it can): it needs a Docker engine. A node that can
        first removes the containers a killed driver's runners left on it (their owner process is gone)."""
        from harnesses.sandbox.base import SandboxError
        from harnesses.sandbox.docker_backend import docker_client, reap

        try:
            client = docker_client(timeout=10)
        except SandboxError as exc:
            return str(exc)
        try:
            reap(client)
        except Exception:  # best effort: leftovers never keep a node from working
            pass
        return ""

    def _ensure_image(self, name: str) -> None:
        """The node's Docker holds the driver's build of `name`; loaded from the driver if not."""
        import ray

        from harnesses.sandbox.docker_backend import docker_client

        with self._lock:
            if name in self._ready:
                return
            lock = self._images.setdefault(name, threading.Lock())
        with lock:  # one load per image per node, however many rollouts wait for it
            if name in self._ready:
                return
            wanted = ray.get(self.service.image_id.remote(name))
            client = docker_client()
            try:
                present = client.images.get(name).id
            except Exception:
                present = ""
            if wanted and present != wanted:

                def chunks():
                    index = 0
                    while chunk := ray.get(self.service.image_chunk.remote(name, index)):
                        yield chunk
                        index += 1

                client.images.load(chunks())
            # Neither here nor at the driver: the rollout fails as an infra error naming the image.
            with self._lock:
                if wanted or present:
                    self._ready.add(name)

    def run(self, job: RolloutJob) -> tuple[str, dict[str, bytes]]:
        with self._slots, tempfile.TemporaryDirectory(prefix="gskill-ray-") as tmp:
            self._ensure_image(job.task.image_name)
            record = run_job(replace(job, run_dir=Path(tmp)), self.gateway, tools_dir=self.tools_dir)
            record.rollout.node = self.node
            files = {str(p.relative_to(tmp)): p.read_bytes() for p in Path(tmp).rglob("*") if p.is_file()}
        return record.model_dump_json(), files

    def stop(self) -> None:
        """The driver is done (or stopping): the node's containers go, none starts after, then the gateway."""
        shut_down_sandboxes()
        self.gateway.stop()


class RayExecutor:
    def __init__(
        self,
        address: str | None,
        *,
        workers: int,
        per_node: int,
        agent: str,
        cache_dir: Path,
        rate_limits: list[RateLimit] | None = None,
    ) -> None:
        self.ray = import_ray()
        self.address, self.workers, self.per_node, self.agent, self.cache_dir = (
            address,
            workers,
            per_node,
            agent,
            cache_dir,
        )
        self.rate_limits = list(rate_limits or [])
        self._lock = threading.Lock()
        self._pool: dict[str, object] | None = None  # node id -> runner, made on first use
        self._load: dict[str, int] = {}
        self.service = None

    def _connect(self) -> None:
        ray = self.ray
        if not ray.is_initialized():
            try:
                ray.init(
                    address=self.address or "auto", include_dashboard=False, logging_level="ERROR", log_to_driver=False
                )
            except Exception as exc:  # ConnectionError and friends: one line, no traceback
                raise GskillError(
                    f"cannot connect to the Ray cluster at {self.address or 'auto'}: {str(exc).splitlines()[0][:200]}"
                ) from None

    def _node_died(self, exc: Exception) -> bool:
        e = self.ray.exceptions
        return isinstance(exc, (e.RayActorError, e.NodeDiedError, e.WorkerCrashedError, e.ObjectLostError))

    def _start(self) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        ray = self.ray
        self._connect()
        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
        service = ray.remote(num_cpus=0, max_concurrency=64)(_DriverService)
        self.service = service.options(scheduling_strategy=here).remote(
            [limit.model_dump() for limit in self.rate_limits], str(self.cache_dir / "image-spool")
        )
        # Beyond the `per_node` rollouts a runner lets run at once, threads for queued jobs and control calls.
        actor = ray.remote(num_cpus=0, max_concurrency=self.workers + 4, max_restarts=0)(_NodeRunner)
        runners = {}
        for node in ray.nodes():
            if node.get("Alive"):
                strategy = NodeAffinitySchedulingStrategy(node_id=node["NodeID"], soft=False)
                runners[node["NodeID"]] = actor.options(scheduling_strategy=strategy).remote(
                    self.agent, str(self.cache_dir), self.service, self.per_node
                )
        if not runners:
            raise GskillError(f"the Ray cluster at {self.address or 'auto'} has no alive node")
        skipped = {}  # node id -> why it runs no rollouts
        checks = {node: runner.unready.remote() for node, runner in runners.items()}  # all nodes at once
        for node, check in checks.items():
            try:
                why = ray.get(check, timeout=120)
            except Exception as exc:  # the runner could not even start there (e.g. no Docker bridge for codex)
                why = str(exc).strip().splitlines()[-1][:200]
            if why:
                skipped[node] = why
                ray.kill(runners.pop(node))
                _warn(f"Ray node {node[:12]} runs no rollouts: {why}")
        if not runners:
            raise GskillError(
                f"no node of the Ray cluster at {self.address or 'auto'} can run rollouts: {next(iter(skipped.values()))}"
            )
        self._pool, self._load = runners, {node: 0 for node in runners}
        _tell(
            f"Ray: rollouts on {len(runners)} node(s), at most {self.per_node} at once on each, {self.workers} in flight in all"
        )

    def _ensure_started(self) -> None:
        with self._lock:
            if self._pool is None:
                self._start()

    @property
    def limiter(self) -> _RemoteLimiter:
        """The cluster's limiter, for model calls the driver makes itself (reflection)."""
        self._ensure_started()
        return _RemoteLimiter(self.service)

    def run_one(self, job: RolloutJob) -> EvalRecord:
        """One rollout on the least busy node, its traces written under `job.run_dir`. Thread-safe: the
        engine's and `run_all`'s threads call it at once. A job whose node dies goes to another node."""
        self._ensure_started()
        while True:
            with self._lock:
                if not self._pool:
                    raise GskillError("every Ray node running gskill rollouts died; nothing is left to run on")
                node = min(self._load, key=lambda n: (self._load[n] / self.per_node, n))
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
            write_files(job.run_dir, files)  # the node's traces, into the driver's folder
            return EvalRecord.model_validate_json(record_json)

    def close(self) -> None:
        ray = self.ray
        with self._lock:
            for runner in (self._pool or {}).values():
                try:
                    ray.get(runner.stop.remote(), timeout=10)
                    ray.kill(runner)
                except Exception:
                    pass  # a runner on a dead node is gone already
            if self.service is not None:
                try:
                    ray.get(self.service.cleanup.remote(), timeout=30)  # the spooled image tars
                finally:
                    ray.kill(self.service)
            self._pool, self._load, self.service = None, {}, None

    def __enter__(self) -> "RayExecutor":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
