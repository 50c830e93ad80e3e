"""Docker sandbox: one labelled container per sandbox, `docker exec` per command.

Every container we create carries `gskill.managed=1` plus its owner's host, pid and process start
time, so `reap()` can tell containers of a crashed gskill process (owner gone) from those of a live
one. Containers are removed by `stop()`, by the context manager on any exception, by an atexit hook
for the ones still open at interpreter exit, and by the reaper after a SIGKILL (`gskill env reap`, or
the next run in the same run folder: containers also carry the folder their run started in).
"""

from __future__ import annotations

import atexit
import io
import os
import posixpath
import socket
import tarfile
import threading
import time
import uuid
from typing import Mapping, Sequence

import docker
import docker.errors

from gskill.schema import SandboxLimits
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

LABEL_MANAGED = "gskill.managed"
LABEL_OWNER_HOST = "gskill.owner-host"
LABEL_OWNER_PID = "gskill.owner-pid"
LABEL_OWNER_START = "gskill.owner-start"
LABEL_RUN = "gskill.run"
LABEL_CREATED = "gskill.created"
LABEL_RUN_FOLDER = "gskill.run-folder"  # the resolved run folder whose run started the container

# Grace given to a killed command's output stream to close before we stop waiting on it.
_KILL_GRACE_S = 5.0


def docker_client(timeout: int = 120) -> docker.DockerClient:
    """A client for the engine named by DOCKER_HOST (default socket); SandboxError if none answers."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
        return client
    except Exception as exc:  # docker raises several unrelated types here
        raise SandboxError(f"no Docker engine answers ({_short(exc)})") from None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def process_start_ticks(pid: int) -> str:
    """Start time of a process in clock ticks since boot (guards the reaper against pid reuse)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode(errors="replace")
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def owner_labels(run_id: str = "") -> dict[str, str]:
    pid = os.getpid()
    return {
        LABEL_MANAGED: "1",
        LABEL_OWNER_HOST: socket.gethostname(),
        LABEL_OWNER_PID: str(pid),
        LABEL_OWNER_START: process_start_ticks(pid),
        LABEL_RUN: run_id,
        LABEL_CREATED: str(int(time.time())),
        LABEL_RUN_FOLDER: _run_folder,
    }


def owner_is_gone(labels: Mapping[str, str]) -> bool:
    """True if the process that created the container no longer runs on this host."""
    if labels.get(LABEL_OWNER_HOST) != socket.gethostname():
        return False  # another host's container: not ours to judge
    try:
        pid = int(labels.get(LABEL_OWNER_PID, ""))
    except ValueError:
        return True
    if not os.path.exists(f"/proc/{pid}"):
        return True
    return process_start_ticks(pid) != labels.get(LABEL_OWNER_START, "")


def owner_is_alive(labels: Mapping[str, str]) -> bool:
    """True if the process that created the container still runs on this host."""
    return labels.get(LABEL_OWNER_HOST) == socket.gethostname() and not owner_is_gone(labels)


def _in_folder(labels: Mapping[str, str], folder: str) -> bool:
    started_in = labels.get(LABEL_RUN_FOLDER, "")
    return bool(started_in) and (started_in == folder or started_in.startswith(folder.rstrip("/") + "/"))


def reap(
    client: docker.DockerClient | None = None,
    *,
    everything: bool = False,
    force: bool = False,
    run_id: str | None = None,
    run_folder: str | None = None,
) -> list[str]:
    """Remove our labelled containers whose owner process is gone. Returns their names.

    `everything`: also those whose owner cannot be judged here (another host's), but never those of a
    live process on this host (a run going on) unless `force`. `run_id`: every container of that run
    id. `run_folder`: only those of dead runs started in that folder or a folder inside it."""
    client = client or docker_client()
    removed = []
    # ignore_removed: a container another process removes between the listing and its inspection.
    for container in client.containers.list(all=True, filters={"label": f"{LABEL_MANAGED}=1"}, ignore_removed=True):
        labels = container.labels or {}
        if run_id is not None and labels.get(LABEL_RUN) != run_id:
            continue
        if run_folder is not None and not _in_folder(labels, run_folder):
            continue
        if force or run_id is not None or owner_is_gone(labels) or (everything and not owner_is_alive(labels)):
            try:
                container.remove(force=True)
                removed.append(container.name)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                if exc.status_code != 409:  # 409: another reaper is removing it right now
                    raise
    return removed


class Stopping(SandboxError):
    """This process is stopping (SIGTERM, SIGINT): it opens no container any more."""


# The run folder this process's containers are labelled with (see adopt_run_folder).
_run_folder = ""


def adopt_run_folder(run_dir: str | os.PathLike, client: docker.DockerClient | None = None) -> list[str]:
    """Called as a run starts in `run_dir` (a new run, or a resumed one): removes the containers a
    dead run left there (a kill -9 runs no cleanup), and labels this process's next containers with
    the folder, so a later run there can do the same. A run nested in the current one (a learn run's
    test evaluations) keeps the outer label. Best effort: without a Docker engine, nothing to do."""
    global _run_folder
    folder = str(os.path.realpath(run_dir))
    if not (_run_folder and _in_folder({LABEL_RUN_FOLDER: folder}, _run_folder)):
        _run_folder = folder
    try:
        return reap(client or docker_client(timeout=30), run_folder=folder)
    except (SandboxError, docker.errors.DockerException):
        return []


class _OpenSandboxes:
    """Sandboxes of this process still open; removed at interpreter exit whatever happened. Once shut
    down (a signal's stop) it refuses new ones, so no container starts after the stop."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # re-entrant: a signal handler may run while this thread holds it
        self._open: dict[str, "DockerSandbox"] = {}
        self.shut = False
        atexit.register(self.stop_all)

    def add(self, sandbox: "DockerSandbox") -> None:
        with self._lock:
            if not self.shut:
                self._open[sandbox.container_id] = sandbox
                return
        sandbox.stop()  # started while the process was stopping: removed at once
        raise Stopping(f"gskill is stopping: {sandbox.name} removed")

    def discard(self, sandbox: "DockerSandbox") -> None:
        with self._lock:
            self._open.pop(sandbox.container_id, None)

    def stop_all(self) -> None:
        with self._lock:
            sandboxes = list(self._open.values())
        for sandbox in sandboxes:
            sandbox.stop()

    def shut_down(self) -> None:
        with self._lock:
            self.shut = True
        self.stop_all()


_OPEN = _OpenSandboxes()


class DockerSandbox:
    """A running container holding a working tree at `workdir` (the env image puts the repo there)."""

    backend = "docker"

    def __init__(self, client: docker.DockerClient, container, workdir: str) -> None:
        self.client = client
        self.container = container
        self.container_id: str = container.id
        self.name: str = container.name
        self.workdir = workdir
        self._stopped = False

    @classmethod
    def start(
        cls,
        image: str,
        *,
        workdir: str = "/repo",
        limits: SandboxLimits | None = None,
        env: Mapping[str, str] | None = None,
        mounts: Mapping[str, Mapping[str, str]] | None = None,
        run_id: str = "",
        extra_labels: Mapping[str, str] | None = None,
        client: docker.DockerClient | None = None,
    ) -> "DockerSandbox":
        if _OPEN.shut:
            raise Stopping(f"gskill is stopping: no container from {image}")
        limits = limits or SandboxLimits()
        client = client or docker_client()
        labels = {**owner_labels(run_id), **(extra_labels or {})}
        try:
            container = client.containers.run(
                image,
                # sh -c so an image ENTRYPOINT/CMD never runs; extra CMD words become ignored $1..
                entrypoint=["/bin/sh", "-c", "exec sleep infinity", "gskill-sandbox"],
                detach=True,
                init=True,  # reaps zombies left by agents' background processes
                name=f"gskill-{uuid.uuid4().hex[:12]}",
                labels=labels,
                working_dir=workdir,
                environment=dict(env or {}),
                volumes={host: dict(spec) for host, spec in (mounts or {}).items()},
                mem_limit=limits.memory,
                nano_cpus=int(limits.cpus * 1e9),
                pids_limit=4096,
                network_mode=None if limits.network else "none",
            )
        except docker.errors.ImageNotFound:
            raise SandboxError(f"image {image} not found (build it with `gskill env build`)") from None
        except docker.errors.APIError as exc:
            raise SandboxError(f"cannot start a container from {image}: {_short(exc)}") from None
        sandbox = cls(client, container, workdir)
        _OPEN.add(sandbox)
        return sandbox

    # -- commands ------------------------------------------------------------------------------

    def exec(
        self,
        cmd: str,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        workdir: str | None = None,
    ) -> ExecResult:
        api = self.client.api
        exec_id = new_exec_id()
        environment = {**(env or {}), EXEC_MARKER_VAR: exec_id}
        began = time.monotonic()
        try:
            created = api.exec_create(
                self.container_id,
                ["bash", "-c", cmd],
                environment=environment,
                workdir=self._abs(workdir or self.workdir),
            )
        except docker.errors.APIError as exc:
            raise SandboxError(f"exec failed in {self.name}: {_short(exc)}") from None

        buffer = OutputBuffer()
        failure: list[BaseException] = []

        def pump() -> None:
            try:
                for chunk in api.exec_start(created["Id"], stream=True):
                    buffer.add(chunk)
            except BaseException as exc:  # surfaced below as an infrastructure error
                failure.append(exc)

        reader = threading.Thread(target=pump, name=f"exec-{exec_id[:8]}", daemon=True)
        reader.start()
        reader.join(timeout)
        timed_out = reader.is_alive()
        if timed_out:
            self._kill(exec_id)
            reader.join(_KILL_GRACE_S)
        duration = time.monotonic() - began
        if failure and not timed_out:
            raise SandboxError(f"lost the output of a command in {self.name}: {_short(failure[0])}")
        try:
            exit_code = api.exec_inspect(created["Id"]).get("ExitCode")
        except docker.errors.APIError as exc:
            raise SandboxError(f"container {self.name} is gone: {_short(exc)}") from None
        # A vanished container shows up as no exit code or a signal death; only then ask the engine
        # (one API call per exec saved in the common case).
        suspicious = exit_code is None or exit_code >= 126
        if not timed_out and suspicious and not self._running():
            raise SandboxError(f"container {self.name} stopped while running a command")
        if exit_code is None:
            exit_code = -9 if timed_out else -1
        if timed_out:
            buffer.add(f"\n[gskill: command timed out after {timeout:g}s and was killed]\n".encode())
        return ExecResult(exit_code=exit_code, output=buffer.text(), timed_out=timed_out, duration_s=duration)

    def _kill(self, exec_id: str) -> None:
        try:
            killer = self.client.api.exec_create(self.container_id, ["bash", "-c", kill_tree_script(exec_id)])
            self.client.api.exec_start(killer["Id"])
        except docker.errors.APIError:
            pass  # the container is gone; so is the command

    def _running(self) -> bool:
        try:
            self.container.reload()
            return self.container.status == "running"
        except docker.errors.NotFound:
            return False

    # -- files ---------------------------------------------------------------------------------

    def _abs(self, path: str) -> str:
        return path if path.startswith("/") else posixpath.join(self.workdir, path)

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        self.write_files({path: content}, mode)

    def write_files(self, files: Mapping[str, str | bytes], mode: int = 0o644) -> None:
        """Several files in ONE archive upload: one API round trip, no `mkdir` exec. The engine
        creates missing parent folders as it extracts at / (0755, root); the archive deliberately has
        no folder entries, which would reset existing folders' modes (/tmp's sticky bit)."""
        archive = io.BytesIO()
        now = int(time.time())
        with tarfile.open(fileobj=archive, mode="w") as tar:
            for path, content in files.items():
                target = self._abs(path).lstrip("/")
                data = content.encode() if isinstance(content, str) else content
                info = tarfile.TarInfo(target)
                info.size, info.mode, info.mtime = len(data), mode, now
                tar.addfile(info, io.BytesIO(data))
        try:
            self.client.api.put_archive(self.container_id, "/", archive.getvalue())
        except docker.errors.APIError as exc:
            raise SandboxError(f"cannot write {', '.join(files)} in {self.name}: {_short(exc)}") from None

    def read_file(self, path: str) -> bytes:
        target = self._abs(path)
        try:
            stream, _ = self.client.api.get_archive(self.container_id, target)
        except docker.errors.NotFound:
            raise FileNotFoundError(target) from None
        archive = io.BytesIO(b"".join(stream))
        with tarfile.open(fileobj=archive) as tar:
            member = tar.next()
            if member is None or not member.isfile():
                raise IsADirectoryError(target)
            extracted = tar.extractfile(member)
            return extracted.read() if extracted else b""

    def diff(self, exclude: Sequence[str] = INJECTED_AGENT_PATHS) -> str:
        result = self.exec(diff_script(self.workdir, exclude), timeout=120)
        if not result.ok:
            raise SandboxError(f"git diff failed in {self.name}: {result.output.strip()[-300:]}")
        return result.output

    # -- lifecycle -----------------------------------------------------------------------------

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        _OPEN.discard(self)
        try:
            self.container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if "already in progress" not in str(exc):
                raise

    def __enter__(self) -> "DockerSandbox":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def bridge_gateway_ip(client: docker.DockerClient | None = None) -> str:
    """The host's address on Docker's default bridge: where containers reach a server on the host."""
    client = client or docker_client()
    try:
        config = client.networks.get("bridge").attrs["IPAM"]["Config"][0]
        if config.get("Gateway"):
            return config["Gateway"]
        # Some engines (Debian's 20.10 on a fresh start) list only the subnet; the bridge then takes
        # the subnet's first address, as Docker does by default.
        import ipaddress

        return str(ipaddress.ip_network(config["Subnet"], strict=False)[1])
    except Exception as exc:  # no default bridge (rootless, custom daemon config)
        raise SandboxError(f"cannot find the Docker bridge's host address: {exc}") from None


def shut_down_sandboxes() -> None:
    """This process is stopping (SIGTERM, SIGINT): every container it opened is removed (a command
    running in one fails at once) and none opens from now on (`DockerSandbox.start` raises `Stopping`)."""
    _OPEN.shut_down()


def shutting_down() -> bool:
    return _OPEN.shut
