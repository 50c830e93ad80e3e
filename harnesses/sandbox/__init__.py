"""Sandboxes: where agents, miners and graders run commands against a working tree.

`Sandbox` is the protocol; `DockerSandbox` (one labelled container) and `LocalSandbox` (a temporary
fresh repository + subprocesses, weaker isolation) implement it.
"""

from harnesses.sandbox.base import INJECTED_AGENT_PATHS, ExecResult, Sandbox, SandboxError
from harnesses.sandbox.docker_backend import (
    DockerSandbox,
    Stopping,
    bridge_gateway_ip,
    docker_client,
    reap,
    shut_down_sandboxes,
    shutting_down,
)
from harnesses.sandbox.local_backend import LocalSandbox

__all__ = [
    "INJECTED_AGENT_PATHS",
    "ExecResult",
    "Sandbox",
    "SandboxError",
    "DockerSandbox",
    "LocalSandbox",
    "Stopping",
    "bridge_gateway_ip",
    "docker_client",
    "reap",
    "shut_down_sandboxes",
    "shutting_down",
]
