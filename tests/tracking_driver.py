"""`python -m tests.tracking_driver ARGS`: the real `gskill` CLI (learn loop, engine, store, tracking)
with each rollout scored by the container-free toy rule of tests/toy_problem.py instead of an agent in
Docker, so tracking tests run anywhere. `write_toy_tasks` writes the task folder it learns from.

A task resolves (probability 0.9, drawn per seed and task) only when the skill names the file its fix
changes, as `scripted/needs-skill` does; reflection is the real `scripted/reflector` through the
gateway. TOY_ROLLOUT_DELAY_S slows each rollout (so a test can kill a run midway).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from gskill.schema import EvalRecord, ExitStatus, Grade, GradeStatus, Rollout, Task, Usage, patch_files
from tests.toy_problem import MODULES, ToyEvaluator

COST_PER_ROLLOUT = 0.0125


def write_toy_tasks(folder: Path, sizes: dict[str, int]) -> Path:
    """train/val/test.jsonl of toy tasks, one module's fix each (modules taken round-robin)."""
    folder.mkdir(parents=True, exist_ok=True)
    number = 0
    for split, count in sizes.items():
        lines = []
        for _ in range(count):
            module = MODULES[number % len(MODULES)]
            path = f"src/shop/{module}.py"
            task = Task(
                instance_id=f"shop__{module}-{number:03d}",
                repo="shop",
                base_commit="0" * 40,
                patch=f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-x = 1\n+x = 2\n",
                problem_statement=f"Something is wrong in the {module} code.",
                FAIL_TO_PASS=[f"tests/test_{module}.py::test_{number}"],
                image_name="none",
                strategy="procedural",
            )
            lines.append(task.model_dump_json())
            number += 1
        (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


class ToyHarnessEvaluator:
    """Stands where `gskill.learn.HarnessEvaluator` does (same constructor), scoring by the toy rule."""

    def __init__(self, *, config, scripted=None, **_) -> None:
        self.toy = ToyEvaluator(base=float((scripted or {}).get("base", 0.1)), cost_per_call=COST_PER_ROLLOUT)
        self.identity = f"toy:{config.model}"
        self.max_cost_per_call = COST_PER_ROLLOUT
        self.delay_s = float(os.environ.get("TOY_ROLLOUT_DELAY_S", "0"))

    def example_id(self, task: Task) -> str:
        return task.instance_id

    def evaluate(self, candidate: dict, task: Task, seed: int):
        time.sleep(self.delay_s)
        needs = patch_files(task.patch)[0]
        return self.toy.evaluate(candidate, {"id": task.instance_id, "module": Path(needs).stem, "needs": needs}, seed)


class ToyExecutor:
    """Stands where `harnesses.executor.make_executor`'s executors do for `gskill eval` / `transfer`:
    each job's record graded by the toy rule on its skill (usage: 1000 + 10 × run index tokens in)."""

    def __init__(self, options, **_) -> None:
        from harnesses.gateway.limits import RateLimiter

        self.workers, self.limiter = options.workers, RateLimiter([])

    def run_one(self, job) -> EvalRecord:
        task, seed = job.task, job.config.seed + job.run_index
        needs = patch_files(task.patch)[0]
        toy = ToyEvaluator(base=float((job.scripted or {}).get("base", 0.1)), cost_per_call=COST_PER_ROLLOUT)
        score = toy.evaluate({"skill": job.skill}, {"id": task.instance_id, "module": "", "needs": needs}, seed).score
        rollout = Rollout(
            instance_id=task.instance_id,
            agent=job.config.agent,
            model=job.config.model,
            seed=seed,
            exit_status=ExitStatus.SUBMITTED,
            usage=Usage(input_tokens=1000 + 10 * job.run_index, output_tokens=50, cost_usd=COST_PER_ROLLOUT, calls=1),
            wall_time_s=2.0 + job.run_index,
        )
        status = GradeStatus.RESOLVED if score else GradeStatus.F2P_FAILED
        return EvalRecord(
            instance_id=task.instance_id,
            run_index=job.run_index,
            rollout=rollout,
            grade=Grade(instance_id=task.instance_id, status=status),
        )

    def close(self) -> None:
        pass


if __name__ == "__main__":
    import gskill.learn
    import harnesses.evaluate
    import harnesses.executor
    from gskill.cli import main

    gskill.learn.HarnessEvaluator = ToyHarnessEvaluator
    harnesses.evaluate.make_executor = harnesses.executor.make_executor = ToyExecutor
    main(sys.argv[1:])
