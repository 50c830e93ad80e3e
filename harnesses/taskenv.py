"""A task's container, as the agent must see it, and nothing more.

`open_task_sandbox` starts a container from the task's env image and turns it into the bug state:
`bug_patch` applied, the task's `test_patch` reversed (the FAIL_TO_PASS tests are hidden, as in
SWE-bench), and then a FRESH git repository whose only commit is that state — the image's own
history (whose single commit is the snapshot, i.e. the fix) is deleted, so `git log -p`, `git show`,
`git reflog` or `git stash list` reveal nothing. Build artefacts listed in `.git/info/exclude`
stay excluded. Patch files are written to /tmp, applied, and deleted.
"""

from __future__ import annotations

from gskill.schema import SandboxLimits, Task
from harnesses.sandbox import DockerSandbox, Sandbox, SandboxError

_FRESH_HISTORY = r"""
set -e
cp .git/info/exclude /tmp/.gskill-exclude 2>/dev/null || : > /tmp/.gskill-exclude
rm -rf .git
git init -q
mkdir -p .git/info && mv /tmp/.gskill-exclude .git/info/exclude
git add -A
git -c user.name=gskill -c user.email=gskill@localhost commit -q --no-gpg-sign -m "bug state"
git gc -q --prune=now 2>/dev/null || true
rm -rf /root/.cache/pip 2>/dev/null || true
"""


class TaskSetupError(RuntimeError):
    """The task's patches do not apply to its image: a broken task or image (an infra error)."""


def apply_patch(sandbox: Sandbox, patch: str, *, reverse: bool = False, name: str = "patch") -> bool:
    path = f"/tmp/.gskill-{name}.diff"
    sandbox.write_file(path, patch)
    flags = "-R " if reverse else ""
    done = sandbox.exec(f"git apply --whitespace=nowarn {flags}{path}; status=$?; rm -f {path}; exit $status", timeout=120)
    return done.ok


def make_bug_state(sandbox: Sandbox, task: Task, *, hide_tests: bool = True) -> None:
    if task.bug_patch and not apply_patch(sandbox, task.bug_patch, name="bug"):
        raise TaskSetupError(f"{task.instance_id}: bug_patch does not apply to {task.image_name}")
    if hide_tests and task.test_patch and not apply_patch(sandbox, task.test_patch, reverse=True, name="tests"):
        raise TaskSetupError(f"{task.instance_id}: test_patch does not reverse-apply to the bug state")


def open_task_sandbox(
    task: Task, *, limits: SandboxLimits | None = None, run_id: str = "", hide_tests: bool = True, env: dict | None = None,
    mounts: dict | None = None,
) -> DockerSandbox:
    """The agent's container: bug state, F2P tests hidden (unless `hide_tests=False`), fresh history."""
    box = DockerSandbox.start(
        task.image_name, limits=limits, run_id=run_id, env=env, mounts=mounts, extra_labels={"gskill.task": task.instance_id[:60]}
    )
    try:
        make_bug_state(box, task, hide_tests=hide_tests)
        done = box.exec(_FRESH_HISTORY, timeout=120)
        if not done.ok:
            raise SandboxError(f"cannot re-initialise git in the task container: {done.output.strip()[-300:]}")
        return box
    except BaseException:
        box.stop()
        raise
