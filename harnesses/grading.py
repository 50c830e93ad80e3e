"""Grading: a FRESH container runs the task's tests on the agent's patch.

Never the agent's container (it may have been tampered with). The grader rebuilds the agent's
starting point (bug state, F2P tests hidden), applies the agent's patch, resets any test file the
task's `test_patch` touches to that starting point (an agent may not grade itself by editing the
tests), applies `test_patch`, gives every file one modification time (as in the agent's container),
and runs the units (test files, packages) of FAIL_TO_PASS + PASS_TO_PASS with the task's language
`TestSpec`. The verdict is `languages.verdict.verdict(task, log)`, computed from the saved log alone;
with `log_path` the full log is kept there, so the grade can be recomputed.
"""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path
from typing import Callable, Mapping

from gskill.schema import Grade, GradeStatus, SandboxLimits, Task, write_atomic
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
from languages import profile_named
from languages.base import TestRunLog
from languages.verdict import test_units, verdict

_PATCH_FILES = re.compile(r"^diff --git a/(\S+) b/(\S+)$", re.M)


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
    log_path: Path | None = None,
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
        profile = profile_named(task.language)
        # Test files the task restores go back to the starting point first (absent there: removed).
        # A source file the hidden tests were cut from (Rust's inline `mod tests`) keeps the agent's
        # fix: the tests go back on top of it, and if the agent rewrote their place, that is its patch
        # failing to apply, not a broken task.
        reset = [path for path in touched if profile.is_test_file(path)]
        if reset:
            lines.append(
                f"for f in {' '.join(shlex.quote(p) for p in reset)}; do "
                'if git cat-file -e "$tree:$f" 2>/dev/null; then git checkout "$tree" -- "$f"; else rm -f "$f"; fi; done'
            )
        failed = AGENT_PATCH_FAILED if len(reset) < len(touched) else TEST_PATCH_FAILED
        lines.append(f"git apply --whitespace=nowarn /tmp/.gskill-tests.diff || exit {failed}")
    lines.append("rm -f /tmp/.gskill-*.diff")
    # As in the agent's container: no file looks newer than another (the patched ones would).
    lines.append('same_age "$stamp" --rewrite || exit 1')
    spec = profile_named(task.language).test_spec
    files.update(spec.support_files)
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
            run = box.exec(spec.command(test_units(task), "grade"), timeout=timeout, env=dict(spec.env))
            scores = {name: float(scorer(box, task)) for name, scorer in (scorers or {}).items()}
    except (SandboxError, TaskSetupError) as exc:
        return Grade(instance_id=task.instance_id, status=GradeStatus.INFRA_ERROR, log_tail=str(exc)[-2000:])
    except Exception as exc:  # the Docker engine itself failed us
        return Grade(
            instance_id=task.instance_id,
            status=GradeStatus.INFRA_ERROR,
            log_tail=f"{type(exc).__name__}: {exc}"[-2000:],
        )
    log = TestRunLog(run.output, run.exit_code, run.timed_out)
    kept = ""
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(log_path, run.output)
        kept = str(log_path)
    decided = verdict(task, log)
    return decided.model_copy(
        update={"test_time_s": round(time.monotonic() - began, 2), "scores": scores, "log_path": kept}
    )
