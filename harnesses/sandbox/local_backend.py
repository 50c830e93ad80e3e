"""Local sandbox: a temporary copy of the repo and plain subprocesses, for machines with no Docker.

Isolation is weak and `gskill doctor` says so: commands run as the calling user on the host, can
read anything that user can, and share its network. What it does guarantee:
- the working tree is a FRESH git repository whose only commit is the requested tree (`git
  archive`, not a worktree), so the upstream history, refs and objects are not reachable from it;
- commands get an allow-listed environment (no API keys or tokens of the caller) and a private HOME;
- a timeout or `stop()` kills the command's whole process tree, including processes that left its
  process group (found by the marker variable every command carries).
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Mapping, Sequence

from harnesses.sandbox.base import (
    EXEC_MARKER_VAR,
    INJECTED_AGENT_PATHS,
    ExecResult,
    SandboxError,
    diff_script,
    kill_tree_script,
    new_exec_id,
)
from harnesses.sandbox.output import OutputBuffer

# Only these reach commands from the caller's environment: enough to run tools and reach package
# registries (CA bundles, proxies), never credentials.
_PASSTHROUGH_ENV = (
    "PATH",
    "LANG",
    "LC_ALL",
    "TERM",
    "TZ",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "PIP_CERT",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "NODE_EXTRA_CA_CERTS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
)
_SANDBOX_MARKER_VAR = "GSKILL_SANDBOX_ID"
_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "gskill",
    "GIT_AUTHOR_EMAIL": "gskill@localhost",
    "GIT_COMMITTER_NAME": "gskill",
    "GIT_COMMITTER_EMAIL": "gskill@localhost",
}


def _git(args: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> bytes:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise SandboxError(f"git {' '.join(args[:2])} failed: {done.stderr.decode(errors='replace').strip()[:300]}")
    return done.stdout


def snapshot_tree(source_repo: Path, commit: str, destination: Path) -> None:
    """Write `commit`'s tree into `destination` as a fresh repository with a single commit."""
    destination.mkdir(parents=True, exist_ok=True)
    archive = _git(["archive", "--format=tar", commit], cwd=source_repo)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(destination, filter="tar")
    _git(["init", "-q"], cwd=destination)
    _git(["add", "-A"], cwd=destination)
    _git(
        ["commit", "-q", "--no-verify", "--allow-empty", "-m", f"snapshot {commit}"], cwd=destination, env=_GIT_IDENTITY
    )


class LocalSandbox:
    backend = "local"

    def __init__(self, root: Path, workdir: Path, venv: Path | None, env: Mapping[str, str] | None) -> None:
        self.root = root
        self.workdir = str(workdir)
        self.venv = venv
        self.sandbox_id = new_exec_id()
        self._base_env = self._make_env(env)
        self._stopped = False

    @classmethod
    def start(
        cls,
        source_repo: str | Path,
        commit: str = "HEAD",
        *,
        venv: str | Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> "LocalSandbox":
        """A sandbox holding `commit` of `source_repo` at `<tmp>/repo`; `venv` (if any) is first on PATH."""
        root = Path(tempfile.mkdtemp(prefix="gskill-local-"))
        try:
            (root / "home").mkdir()
            snapshot_tree(Path(source_repo), commit, root / "repo")
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return cls(root, root / "repo", Path(venv) if venv else None, env)

    def _make_env(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        env = {key: os.environ[key] for key in _PASSTHROUGH_ENV if key in os.environ}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env.update(HOME=str(self.root / "home"), TMPDIR=str(self.root / "home"), **_GIT_IDENTITY)
        if self.venv:
            env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env['PATH']}"
            env["VIRTUAL_ENV"] = str(self.venv)
        env[_SANDBOX_MARKER_VAR] = self.sandbox_id
        env.update(extra or {})
        return env

    def exec(
        self,
        cmd: str,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        workdir: str | None = None,
    ) -> ExecResult:
        if self._stopped:
            raise SandboxError("sandbox is stopped")
        exec_id = new_exec_id()
        full_env = {**self._base_env, **(env or {}), EXEC_MARKER_VAR: exec_id}
        cwd = self._abs(workdir) if workdir else self.workdir
        began = time.monotonic()
        process = subprocess.Popen(
            ["bash", "-c", cmd],
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        buffer = OutputBuffer()

        def pump() -> None:
            assert process.stdout is not None
            for chunk in iter(lambda: process.stdout.read1(65536), b""):
                buffer.add(chunk)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        timed_out = False
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self._kill_tree(process, exec_id)
            process.wait()
        # Output ends when the last holder of the pipe exits; a detached child may hold it, so bound the wait.
        reader.join(5)
        if reader.is_alive():
            self._kill_marker(exec_id)
            reader.join(5)
        if timed_out:
            buffer.add(f"\n[gskill: command timed out after {timeout:g}s and was killed]\n".encode())
        return ExecResult(process.returncode, buffer.text(), timed_out, time.monotonic() - began)

    @staticmethod
    def _kill_marker(marker: str) -> None:
        subprocess.run(["bash", "-c", kill_tree_script(marker)], capture_output=True)

    def _kill_tree(self, process: subprocess.Popen, exec_id: str) -> None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._kill_marker(exec_id)

    def _abs(self, path: str) -> str:
        return path if os.path.isabs(path) else os.path.join(self.workdir, path)

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        target = Path(self._abs(path))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
        target.chmod(mode)

    def write_files(self, files, mode: int = 0o644) -> None:
        for path, content in files.items():
            self.write_file(path, content, mode)

    def read_file(self, path: str) -> bytes:
        return Path(self._abs(path)).read_bytes()

    def diff(self, exclude: Sequence[str] = INJECTED_AGENT_PATHS) -> str:
        result = self.exec(diff_script(self.workdir, exclude), timeout=120)
        if not result.ok:
            raise SandboxError(f"git diff failed: {result.output.strip()[-300:]}")
        return result.output

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        # Like removing a container: nothing this sandbox started outlives it.
        subprocess.run(
            ["bash", "-c", kill_tree_script(self.sandbox_id, _SANDBOX_MARKER_VAR)],
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "LocalSandbox":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
