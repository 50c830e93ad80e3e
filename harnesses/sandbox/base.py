"""The `Sandbox` protocol shared by the Docker and local backends, and the shell they both run.

A sandbox holds one working tree (a git repository at `workdir`) and runs shell commands in it.
Everything that must behave identically in both backends (patch extraction, killing a command's
whole process tree on timeout) is a shell snippet here, run through `exec`, so that parity between
backends is by construction rather than by two implementations agreeing.
"""

from __future__ import annotations

import shlex
import uuid
from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence, runtime_checkable

# Folders and files agents get their skills from; injected by harnesses, never part of a patch.
INJECTED_AGENT_PATHS: tuple[str, ...] = (".claude", ".agents", ".codex", ".opencode")

# Every command we start carries this variable; its value identifies the command so that a timeout
# can find and kill all of its descendants, including ones that left the process group (setsid,
# nohup, daemons) — they inherit the environment.
EXEC_MARKER_VAR = "GSKILL_EXEC_ID"


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str  # stdout and stderr, interleaved as the process wrote them
    timed_out: bool = False
    duration_s: float = 0.0

    def __iter__(self):  # `code, out = sandbox.exec(...)`
        return iter((self.exit_code, self.output))

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@runtime_checkable
class Sandbox(Protocol):
    """One isolated working tree plus a shell. Use as a context manager: `stop()` always runs."""

    backend: str
    workdir: str

    def exec(
        self,
        cmd: str,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        workdir: str | None = None,
    ) -> ExecResult: ...

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None: ...

    def write_files(self, files: Mapping[str, str | bytes], mode: int = 0o644) -> None: ...

    def read_file(self, path: str) -> bytes: ...

    def diff(self, exclude: Sequence[str] = INJECTED_AGENT_PATHS) -> str: ...

    def stop(self) -> None: ...

    def __enter__(self) -> "Sandbox": ...

    def __exit__(self, *exc_info) -> None: ...


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the command inside it): an infrastructure error."""


def new_exec_id() -> str:
    return uuid.uuid4().hex


def kill_tree_script(marker: str, variable: str = EXEC_MARKER_VAR) -> str:
    """Shell that SIGKILLs every process whose environment carries `variable=marker`."""
    needle = shlex.quote(f"{variable}={marker}")
    return (
        "for p in /proc/[0-9]*; do "
        f'  if tr "\\0" "\\n" < "$p/environ" 2>/dev/null | grep -qxF {needle}; then '
        '    kill -9 "${p#/proc/}" 2>/dev/null; '
        "  fi; "
        "done; true"
    )


def diff_script(workdir: str, exclude: Sequence[str]) -> str:
    """Shell printing the working tree's changes against HEAD, new files included, as a binary diff.

    A throwaway index (GIT_INDEX_FILE) keeps `git add -A` from touching the index the agent sees.
    """
    pathspec = " ".join(shlex.quote(f":(exclude){path}") for path in exclude)
    return (
        f"cd {shlex.quote(workdir)} && "
        'gskill_index="$(mktemp)" && '
        'cp "$(git rev-parse --git-dir)/index" "$gskill_index" 2>/dev/null; '
        f'GIT_INDEX_FILE="$gskill_index" git add -A -- . {pathspec} >/dev/null 2>&1; '
        f'GIT_INDEX_FILE="$gskill_index" git -c core.quotepath=off diff --cached --binary HEAD -- . {pathspec}; '
        'status=$?; rm -f "$gskill_index"; exit $status'
    )
