"""Grading: a FRESH container runs the task's tests on the agent's patch.

Never the agent's container (it may have been tampered with). The grader rebuilds the agent's
starting point (bug state, F2P tests hidden), applies the agent's patch, resets any test file the
task's `test_patch` touches to that starting point (an agent may not grade itself by editing the
tests), applies `test_patch`, gives every file one modification time (as in the agent's container),
and runs the test files of FAIL_TO_PASS + PASS_TO_PASS. Per-test results come from swebench's pytest
log parser and its `get_eval_tests_report`.
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
from harnesses.taskenv import (
    AGENT_PATCH_FAILED,
    SAME_AGE,
    SNAPSHOT_TIME,
    TEST_PATCH_FAILED,
    TaskSetupError,
    bug_state_script,
    setup_error,
)

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
    task: Task,
    patch: str,
    *,
    limits: SandboxLimits | None = None,
    timeout: float = 300,
    run_id: str = "grade",
    scorers: Mapping[str, Scorer] | None = None,
) -> Grade:
    if not patch.strip():
        return Grade(instance_id=task.instance_id, status=GradeStatus.NO_PATCH)
    began = time.monotonic()
    # Tests need no network; a patch that tries to phone home during grading gets nothing.
    limits = (limits or SandboxLimits()).offline()
    files, setup = bug_state_script(task, hide_tests=True)
    files["/tmp/.gskill-agent.diff"] = patch
    lines = [
        SNAPSHOT_TIME + SAME_AGE + setup,
        "tree=$(git add -A && git write-tree) || exit 1",  # the agent's starting point
        f"git apply --whitespace=nowarn /tmp/.gskill-agent.diff || exit {AGENT_PATCH_FAILED}",
    ]
    if task.test_patch:
        files["/tmp/.gskill-tests.diff"] = task.test_patch
        touched = sorted({path for pair in _PATCH_FILES.findall(task.test_patch) for path in pair})
        # Test files the task restores go back to the starting point first (absent there: removed).
        lines.append(
            f"for f in {' '.join(shlex.quote(p) for p in touched)}; do "
            'if git cat-file -e "$tree:$f" 2>/dev/null; then git checkout "$tree" -- "$f"; else rm -f "$f"; fi; done'
        )
        lines.append(f"git apply --whitespace=nowarn /tmp/.gskill-tests.diff || exit {TEST_PATCH_FAILED}")
    lines.append("rm -f /tmp/.gskill-*.diff")
    # As in the agent's container: no file looks newer than another (the patched ones would).
    lines.append('same_age "$stamp" --rewrite || exit 1')
    command = " ".join([PYTEST, *(shlex.quote(path) for path in test_files_of(task))])
    try:
        with DockerSandbox.start(task.image_name, limits=limits, run_id=run_id) as box:
            box.write_files(files)
            prepared = box.exec("\n".join(lines), timeout=300)
            if prepared.exit_code == AGENT_PATCH_FAILED:
                return Grade(
                    instance_id=task.instance_id,
                    status=GradeStatus.PATCH_FAILED_TO_APPLY,
                    log_tail=prepared.output[-2000:],
                )
            if prepared.exit_code == TEST_PATCH_FAILED:
                raise TaskSetupError(f"{task.instance_id}: test_patch does not apply for grading")
            if not prepared.ok:
                raise setup_error(task, prepared.exit_code, prepared.output)
            run = box.exec(command, timeout=timeout, env={"PYTHONDONTWRITEBYTECODE": "1"})
            scores = {name: float(scorer(box, task)) for name, scorer in (scorers or {}).items()}
    except (SandboxError, TaskSetupError) as exc:
        return Grade(instance_id=task.instance_id, status=GradeStatus.INFRA_ERROR, log_tail=str(exc)[-2000:])
    except Exception as exc:  # the Docker engine itself failed us
        return Grade(
            instance_id=task.instance_id,
            status=GradeStatus.INFRA_ERROR,
            log_tail=f"{type(exc).__name__}: {exc}"[-2000:],
        )
    status_map = {} if run.timed_out else parse_log_pytest(run.output, None)
    report = get_eval_tests_report(
        status_map,
        {"FAIL_TO_PASS": task.FAIL_TO_PASS, "PASS_TO_PASS": task.PASS_TO_PASS},
        eval_type=EvalType.PASS_AND_FAIL,
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
        instance_id=task.instance_id,
        status=status,
        f2p_passed=f2p["success"],
        f2p_failed=f2p["failure"],
        p2p_passed=p2p["success"],
        p2p_failed=p2p["failure"],
        test_time_s=round(time.monotonic() - began, 2),
        log_tail=("TIMED OUT\n" if run.timed_out else "") + tail,
        scores=scores,
    )
