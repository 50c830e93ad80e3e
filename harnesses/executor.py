"""Where rollouts run: the boundary `gskill eval`, `learn` and `transfer` share.

    with make_executor(ExecutorOptions(kind="local", workers=4), agent="mini", cache_dir=...) as executor:
        record = executor.run_one(RolloutJob(task=task, config=config, skill=skill, run_dir=folder))
        run_all(executor, jobs, on_record)          # `workers` at once, records as they finish

An executor runs one `harnesses.rollout.RolloutJob` through `harnesses.rollout.run_job` (rollout +
grade, infra retries) and leaves its traces under the job's `run_dir`, wherever the rollout ran.
`LocalExecutor` runs it here against one gateway; `harnesses.ray_executor.RayExecutor` on a Ray
cluster (a gateway per node, traces shipped back). Both keep provider rate limits: here in the
gateway's limiter, on Ray in one limiter at the driver.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Protocol

from gskill.schema import EvalRecord, RateLimit
from harnesses.gateway.limits import RateLimiter
from harnesses.ray_executor import RayExecutor
from harnesses.rollout import RolloutJob, run_job, start_gateway


@dataclass
class ExecutorOptions:
    kind: Literal["local", "ray"] = "local"
    workers: int = 2  # rollouts in flight (cluster-wide on Ray)
    ray_address: str | None = None
    per_node: int = 4  # on Ray: rollouts at once on one node
    rate_limits: list[RateLimit] = field(default_factory=list)


class Executor(Protocol):
    workers: int
    limiter: object  # harnesses.gateway.limits.Limiter: the provider limits its rollouts keep

    def run_one(self, job: RolloutJob) -> EvalRecord: ...
    def close(self) -> None: ...


def run_all(executor: Executor, jobs: list[RolloutJob], on_record: Callable[[EvalRecord], None]) -> None:
    """Every job, `executor.workers` at once; `on_record` is called (in this thread) as each finishes.
    A stop (SIGTERM/SIGINT: SystemExit or KeyboardInterrupt here) starts no queued job and does not
    wait for the running ones: a rollout retrying its model could hold the process for minutes."""
    if not jobs:
        return
    pool = ThreadPoolExecutor(max_workers=max(1, min(executor.workers, len(jobs))))
    try:
        for future in as_completed([pool.submit(executor.run_one, job) for job in jobs]):
            on_record(future.result())
    except BaseException as exc:
        stopping = not isinstance(exc, Exception)
        pool.shutdown(wait=not stopping, cancel_futures=stopping)
        raise
    pool.shutdown()


class LocalExecutor:
    """Rollouts on this machine against one gateway (started on first use, so an executor that is
    never used costs nothing)."""

    def __init__(
        self, *, agent: str, workers: int, cache_dir: Path | None, rate_limits: list[RateLimit] | None = None
    ) -> None:
        self.agent, self.workers, self.cache_dir = agent, workers, cache_dir
        self._lock = threading.Lock()
        self._gateway = None
        self.tools_dir: Path | None = None
        self.limiter = RateLimiter(list(rate_limits or []))

    @property
    def gateway(self):
        with self._lock:
            if self._gateway is None:
                self._gateway, self.tools_dir = start_gateway(self.agent, self.cache_dir, self.limiter)
            return self._gateway

    def run_one(self, job: RolloutJob) -> EvalRecord:
        gateway = self.gateway
        return run_job(job, gateway, tools_dir=self.tools_dir)

    def close(self) -> None:
        with self._lock:
            if self._gateway is not None:
                self._gateway.stop()
                self._gateway = None

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def make_executor(options: ExecutorOptions, *, agent: str, cache_dir: Path) -> Executor:
    if options.kind == "ray":
        return RayExecutor(
            options.ray_address,
            workers=options.workers,
            per_node=options.per_node,
            agent=agent,
            cache_dir=cache_dir,
            rate_limits=options.rate_limits,
        )
    return LocalExecutor(agent=agent, workers=options.workers, cache_dir=cache_dir, rate_limits=options.rate_limits)
