"""The verdict of a task's tests, from a saved log: pure, no I/O (as swebench's `get_eval_report`).

Grading, `gskill mine verify` and anyone re-reading a stored log call the same function, so a grade
can always be recomputed from the log it was decided on.
"""

from __future__ import annotations

from swebench.harness.constants import EvalType
from swebench.harness.grading import get_eval_tests_report

from gskill.schema import Grade, GradeStatus, Task
from languages.base import TestRunLog, profile_named, unit_of


def test_units(task: Task) -> tuple[str, ...]:
    """What a run must be handed to produce every FAIL_TO_PASS and PASS_TO_PASS result."""
    return tuple(sorted({unit_of(test) for test in task.FAIL_TO_PASS + task.PASS_TO_PASS}))


def verdict(task: Task, log: TestRunLog) -> Grade:
    """RESOLVED when every FAIL_TO_PASS and PASS_TO_PASS test passed in `log`; a test absent from
    the log failed (swebench's PASS_AND_FAIL semantics); a run that timed out passed nothing."""
    status_map = {} if log.timed_out else profile_named(task.language).test_spec.parse(log.output)
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
    tail = "\n".join(log.output.strip().splitlines()[-60:])
    return Grade(
        instance_id=task.instance_id,
        status=status,
        f2p_passed=f2p["success"],
        f2p_failed=f2p["failure"],
        p2p_passed=p2p["success"],
        p2p_failed=p2p["failure"],
        log_tail=("TIMED OUT\n" if log.timed_out else "") + tail,
    )
