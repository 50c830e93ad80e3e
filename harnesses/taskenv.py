"""A task's container, as the agent must see it, and nothing more.

`open_task_sandbox` starts a container from the task's env image and turns it into the bug state:
`bug_patch` applied, the task's `test_patch` reversed (the FAIL_TO_PASS tests are hidden, as in
SWE-bench), and then a FRESH git repository whose only commit is that state — the image's own
history (whose single commit is the snapshot, i.e. the fix) is deleted, so `git log -p`, `git show`,
`git reflog` or `git stash list` reveal nothing. Build artefacts listed in `.git/info/exclude`
stay excluded. Patch files are written to /tmp, applied, and deleted.

Every file and folder of the tree then carries one and the same modification time (the image's
commit time), and every work-tree file is rewritten (a fresh inode and birth time for each): the files
the patches wrote would otherwise be the only new ones, pointing at the fix and at the hidden tests.
"""

from __future__ import annotations

from gskill.schema import SandboxLimits, Task
from harnesses.sandbox import DockerSandbox, SandboxError

# `$stamp`: the image's commit time, read before anything changes the tree (one time for every file).
SNAPSHOT_TIME = "stamp=$(git log -1 --format=%ct 2>/dev/null || echo 0)\n"

# Usage: same_age STAMP [--rewrite] [--skip-git]. Sets every path under . (folders and symlinks
# included) to STAMP; --rewrite first copies each work-tree file over itself (new inode, birth time),
# --skip-git leaves .git alone (it is about to be replaced).
SAME_AGE = r"""
same_age() {
python3 - "$@" <<'GSKILL_SAME_AGE'
import os, shutil, sys
stamp, rewrite, skip_git = int(sys.argv[1]), "--rewrite" in sys.argv, "--skip-git" in sys.argv
folders = []
for root, dirs, files in os.walk("."):
    if root == "." and skip_git and ".git" in dirs:
        dirs.remove(".git")
    folders.append(root)
    in_git = root == "./.git" or root.startswith("./.git/")
    for name in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
        path = os.path.join(root, name)
        if rewrite and not in_git and os.path.isfile(path) and not os.path.islink(path):
            shutil.copy2(path, path + ".gskill-same-age")
            os.replace(path + ".gskill-same-age", path)
        os.utime(path, (stamp, stamp), follow_symlinks=False)
for folder in reversed(folders):  # after every file: adding or renaming entries changes a folder's time
    os.utime(folder, (stamp, stamp))
GSKILL_SAME_AGE
}
"""

_FRESH_HISTORY = r"""
set -e
same_age "$stamp" --rewrite --skip-git
cp .git/info/exclude /tmp/.gskill-exclude 2>/dev/null || : > /tmp/.gskill-exclude
rm -rf .git
git init -q
mkdir -p .git/info && mv /tmp/.gskill-exclude .git/info/exclude
git add -A
git -c user.name=gskill -c user.email=gskill@localhost commit -q --no-gpg-sign -m "bug state"
rm -rf /root/.cache/pip 2>/dev/null || true
same_age "$stamp"
"""


class TaskSetupError(RuntimeError):
    """The task's patches do not apply to its image: a broken task or image (an infra error)."""


def is_infra_failure(exc: BaseException) -> bool:
    """Whether `exc` is the infrastructure's failure, never the agent's: the sandbox failed (the
    container vanished, `SandboxError`), the Docker engine did (its client's exceptions), or the task's
    patches do not apply to its image. A rollout that died of one is retried, never scored."""
    return isinstance(exc, (SandboxError, TaskSetupError)) or type(exc).__module__.startswith(
        ("docker", "requests", "urllib3")
    )


# Exit codes of the setup scripts, so one exec can say which step failed.
BUG_PATCH_FAILED, TEST_PATCH_FAILED, AGENT_PATCH_FAILED = 61, 62, 63


def bug_state_script(task: Task, *, hide_tests: bool = True) -> tuple[dict[str, str], str]:
    """(files to upload, shell lines) turning the image's /repo into the agent's starting point."""
    files, lines = {}, []
    if task.bug_patch:
        files["/tmp/.gskill-bug.diff"] = task.bug_patch
        lines.append(f"git apply --whitespace=nowarn /tmp/.gskill-bug.diff || exit {BUG_PATCH_FAILED}")
    if hide_tests and task.test_patch:
        files["/tmp/.gskill-hide.diff"] = task.test_patch
        lines.append(f"git apply --whitespace=nowarn -R /tmp/.gskill-hide.diff || exit {TEST_PATCH_FAILED}")
    lines.append("rm -f /tmp/.gskill-bug.diff /tmp/.gskill-hide.diff")
    return files, "\n".join(lines) + "\n"


def agent_start_script(task: Task, *, hide_tests: bool = True) -> tuple[dict[str, str], str]:
    """(files to upload, shell) turning the image's /repo into the agent's starting point with a fresh
    history: what the agent's container runs, and what an exported task's image is built with."""
    files, script = bug_state_script(task, hide_tests=hide_tests)
    return files, SNAPSHOT_TIME + script + SAME_AGE + _FRESH_HISTORY


def setup_error(task: Task, exit_code: int, output: str) -> Exception:
    if exit_code == BUG_PATCH_FAILED:
        return TaskSetupError(f"{task.instance_id}: bug_patch does not apply to {task.image_name}")
    if exit_code == TEST_PATCH_FAILED:
        return TaskSetupError(f"{task.instance_id}: test_patch does not reverse-apply to the bug state")
    return SandboxError(f"{task.instance_id}: task setup failed (exit {exit_code}): {output.strip()[-300:]}")


def open_task_sandbox(
    task: Task,
    *,
    limits: SandboxLimits | None = None,
    run_id: str = "",
    hide_tests: bool = True,
    env: dict | None = None,
    mounts: dict | None = None,
) -> DockerSandbox:
    """The agent's container: bug state, F2P tests hidden (unless `hide_tests=False`), fresh history.
    One upload and one command after the container starts."""
    box = DockerSandbox.start(
        task.image_name,
        limits=limits,
        run_id=run_id,
        env=env,
        mounts=mounts,
        extra_labels={"gskill.task": task.instance_id[:60]},
    )
    try:
        files, script = agent_start_script(task, hide_tests=hide_tests)
        if files:
            box.write_files(files)
        done = box.exec(script, timeout=300)
        if not done.ok:
            raise setup_error(task, done.exit_code, done.output)
        return box
    except BaseException:
        box.stop()
        raise
