"""Grading: a FRESH container runs the task's tests on the agent's patch.

Never the agent's container (it may have been tampered with). The grader rebuilds the agent's
starting point (bug state, F2P tests hidden), applies the agent's patch, resets any test file the
task's `test_patch` touches to that starting point (an agent may not grade itself by editing the
tests), applies `test_patch`, and runs the test files of FAIL_TO_PASS + PASS_TO_PASS. Per-test
results come from swebench's pytest log parser and its `get_eval_tests_report`.
"""

from __future__ import annotations

import re
import shlex
import time
from typing import Callable, Mapping

from swebench.harness.constants import EvalType
from swebench.harness.grading import get_eval_tests_report
from swebench.harness.log_parsers.python import parse_log_pytest

from gskill.schema import Grade, GradeStatus, SandboxLimits, Task
from harnesses.sandbox import DockerSandbox, Sandbox, SandboxError
from harnesses.taskenv import TaskSetupError, apply_patch, make_bug_state

# One line per failure: full tracebacks of a patch that breaks hundreds of tests can take minutes to
# render (seen on click), and the -rA summary already carries each failure's message.
PYTEST = "python -m pytest -rA -q -p no:cacheprovider --tb=line"
_PATCH_FILES = re.compile(r"^diff --git a/(\S+) b/(\S+)$", re.M)


def test_files_of(task: Task) -> list[str]:
    return sorted({test.split("::", 1)[0] for test in task.FAIL_TO_PASS + task.PASS_TO_PASS})


# A custom scorer sees the live grading sandbox (patched, tests restored, tests run) and the task, and
# returns a number — e.g. a lint score, a benchmark, a rubric check. Tests remain the verdict.
Scorer = Callable[[Sandbox, Task], float]


def grade(
    task: Task, patch: str, *, limits: SandboxLimits | None = None, timeout: float = 300, run_id: str = "grade",
    scorers: Mapping[str, Scorer] | None = None,
) -> Grade:  # fmt: skip
    if not patch.strip():
        return Grade(instance_id=task.instance_id, status=GradeStatus.NO_PATCH)
    began = time.monotonic()
    # Tests need no network; a patch that tries to phone home during grading gets nothing.
    limits = (limits or SandboxLimits()).model_copy(update={"network": False})
    try:
        with DockerSandbox.start(task.image_name, limits=limits, run_id=run_id) as box:
            make_bug_state(box, task, hide_tests=True)
            start_tree = box.exec("git add -A && git write-tree", timeout=60)
            if not start_tree.ok:
                raise SandboxError(f"cannot record the starting tree: {start_tree.output[-200:]}")
            tree = start_tree.output.strip().splitlines()[-1]
            if not apply_patch(box, patch, name="agent"):
                return Grade(instance_id=task.instance_id, status=GradeStatus.PATCH_FAILED_TO_APPLY)
            if task.test_patch:
                touched = sorted({path for pair in _PATCH_FILES.findall(task.test_patch) for path in pair})
                # Files absent from the starting tree (added by test_patch) are simply removed.
                box.exec(
                    f"for f in {' '.join(shlex.quote(p) for p in touched)}; do "
                    f"git cat-file -e {tree}:\"$f\" 2>/dev/null && git checkout {tree} -- \"$f\" || rm -f \"$f\"; done",
                    timeout=60,
                )
                if not apply_patch(box, task.test_patch, name="tests"):
                    raise TaskSetupError(f"{task.instance_id}: test_patch does not apply for grading")
            command = " ".join([PYTEST, *(shlex.quote(path) for path in test_files_of(task))])
            run = box.exec(command, timeout=timeout, env={"PYTHONDONTWRITEBYTECODE": "1"})
            scores = {name: float(scorer(box, task)) for name, scorer in (scorers or {}).items()}
    except (SandboxError, TaskSetupError) as exc:
        return Grade(instance_id=task.instance_id, status=GradeStatus.INFRA_ERROR, log_tail=str(exc)[-2000:])
    except Exception as exc:  # the Docker engine itself failed us
        return Grade(instance_id=task.instance_id, status=GradeStatus.INFRA_ERROR, log_tail=f"{type(exc).__name__}: {exc}"[-2000:])
    status_map = {} if run.timed_out else parse_log_pytest(run.output, None)
    report = get_eval_tests_report(
        status_map, {"FAIL_TO_PASS": task.FAIL_TO_PASS, "PASS_TO_PASS": task.PASS_TO_PASS}, eval_type=EvalType.PASS_AND_FAIL
    )
    f2p, p2p = report["FAIL_TO_PASS"], report["PASS_TO_PASS"]
    if f2p["failure"]:
        status = GradeStatus.F2P_FAILED
    elif p2p["failure"]:
        status = GradeStatus.P2P_REGRESSION
    else:
        status = GradeStatus.RESOLVED
    tail = "\n".join(run.output.strip().splitlines()[-60:])
    return Grade(
        instance_id=task.instance_id, status=status,
        f2p_passed=f2p["success"], f2p_failed=f2p["failure"], p2p_passed=p2p["success"], p2p_failed=p2p["failure"],
        test_time_s=round(time.monotonic() - began, 2), log_tail=("TIMED OUT\n" if run.timed_out else "") + tail,
        scores=scores,
    )  # fmt: skip
