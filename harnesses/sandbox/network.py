"""How a task container without a network still reaches the model gateway, and nothing else.

By default a task container has no network at all (`SandboxLimits.network = False`, Docker's
`none` mode: only a loopback interface). An agent that runs inside it (Codex CLI, Claude Code) talks
to the gateway through the gateway's unix socket, whose folder is bind-mounted read-only into the
container, and a small forwarder started in the container that relays `127.0.0.1:GATEWAY_PORT` to
that socket (the agents speak HTTP over TCP only). So from the container there is no route, no DNS,
no host port and no other container: downloading the released package to diff it against the bug
state, or calling a server bound to the host's 0.0.0.0, fails; the gateway still needs a live
rollout's token. No Docker network or extra container exists, so there is nothing more to reap.

`limits.network: true` is the explicit opt-in to the old behaviour (Docker's default bridge, the
gateway on the bridge's host address); `gskill doctor` and `gskill report` flag it.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from harnesses.sandbox.base import Sandbox, SandboxError

CONTAINER_SOCKET_DIR = "/run/gskill-gateway"
GATEWAY_PORT = 18080  # in the container's own network namespace: nothing else listens there

# Runs in the container with the image's python3 (every env image has one): accept on loopback,
# relay bytes both ways to the unix socket, half-close each direction as its source ends.
FORWARDER = r"""
import os, socket, sys, threading
try:
    os.setsid()  # its own session: what the agent's commands do to their process groups never reaches it
except OSError:
    pass
SOCKET, PORT = sys.argv[1], int(sys.argv[2])
def pump(source, sink):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    try:
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass
def serve(client):
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(SOCKET)
    except OSError:
        client.close(); upstream.close(); return
    back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    back.start()
    pump(client, upstream)
    back.join()
    client.close(); upstream.close()
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", PORT))
server.listen(64)
while True:
    connection, _ = server.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
"""

# Waits (5 s at most) until the forwarder accepts connections.
_READY = r"""
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
"""


def gateway_mount(socket_path: Path) -> dict[str, dict[str, str]]:
    """The bind mount (for `DockerSandbox.start(mounts=...)`) that puts the gateway's socket in the container."""
    return {str(socket_path.parent): {"bind": CONTAINER_SOCKET_DIR, "mode": "ro"}}


def start_forwarder(box: Sandbox, socket_path: Path) -> str:
    """Start the relay to the mounted gateway socket inside `box`; returns the base URL agents use there."""
    inside = f"{CONTAINER_SOCKET_DIR}/{socket_path.name}"
    command = (
        f"python3 -c {shlex.quote(FORWARDER)} {shlex.quote(inside)} {GATEWAY_PORT} </dev/null >/dev/null 2>&1 & "
        f"python3 -c {shlex.quote(_READY)} {GATEWAY_PORT}"
    )
    done = box.exec(command, timeout=60, workdir="/")
    if not done.ok:
        raise SandboxError(
            f"the gateway forwarder did not start in the task container (exit {done.exit_code}): {done.output.strip()[-300:]}"
        )
    return f"http://127.0.0.1:{GATEWAY_PORT}"
