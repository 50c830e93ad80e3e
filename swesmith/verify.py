"""`gskill mine verify DIR`: re-check a sample of mined tasks, each in a fresh container.

For each sampled task: the bug state (image + bug_patch) must fail every FAIL_TO_PASS test, and the bug
state plus the gold `patch` must pass every FAIL_TO_PASS and PASS_TO_PASS test.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

from gskill.errors import GskillError
from gskill.schema import Settings, Task, read_tasks
from languages import profile_named
from languages.base import TestRunLog
from languages.verdict import test_units, verdict
from swesmith.validate import apply_patch, run_tests


def verify_task(task: Task, settings: Settings, timeout: float) -> str | None:
    """None if the task re-validates; otherwise what went wrong. Both states are judged by
    `languages.verdict.verdict`, as grading judges an agent."""
    from harnesses.sandbox import DockerSandbox

    spec = profile_named(task.language).test_spec
    with DockerSandbox.start(task.image_name, limits=settings.limits.offline(), run_id="verify") as box:
        if task.bug_patch and not apply_patch(box, task.bug_patch):
            return "bug_patch does not apply"
        # Outcomes only: rendering tracebacks of a bug that breaks hundreds of tests can take minutes.
        bug = run_tests(box, spec, test_units(task), timeout, "repeat")
        if not bug.ran:
            return f"tests did not run on the bug state (exit {bug.exit_code})"
        on_bug = verdict(task, TestRunLog(bug.output, bug.exit_code, bug.timed_out))
        if on_bug.f2p_passed:
            return f"F2P passes on the bug state: {on_bug.f2p_passed[0]}"
        if not apply_patch(box, task.patch):
            return "gold patch does not apply to the bug state"
        fixed = run_tests(box, spec, test_units(task), timeout, "repeat")
        graded = verdict(task, TestRunLog(fixed.output, fixed.exit_code, fixed.timed_out))
        failing = graded.f2p_failed + graded.p2p_failed
        if failing:
            return f"fails with the gold patch: {failing[0]} ({len(failing)} in all)"
    return None


def verify_tasks(
    folder: Path,
    settings: Settings,
    *,
    sample: int = 30,
    workers: int = 2,
    seed: int = 0,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> dict:
    path = Path(folder) / "tasks.jsonl"
    if not path.is_file():
        raise GskillError(f"no tasks.jsonl in {folder}")
    tasks = read_tasks(path)
    chosen = sorted(random.Random(seed).sample(tasks, min(sample, len(tasks))), key=lambda t: t.instance_id)
    mismatches: dict[str, str] = {}
    done = 0
    progress(0, len(chosen))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(verify_task, task, settings, settings.run.test_timeout_s): task for task in chosen}
        for future in as_completed(futures):
            problem = future.result()
            if problem:
                mismatches[futures[future].instance_id] = problem
            done += 1
            progress(done, len(chosen))
    return {"checked": len(chosen), "ok": len(chosen) - len(mismatches), "mismatches": mismatches}
