"""The repo installed bare on the host, as its env image installs it, so that in-sandbox and bare
timings compare the same work: Python gets a venv filled by the image's own install script; Go gets
the modules downloaded into a private GOMODCACHE/GOCACHE with the host's `go` (tests then offline)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from harnesses.images.build import snapshot_reader
from harnesses.images.deps import detect_dependencies
from harnesses.sandbox.local_backend import snapshot_tree
from languages.base import Profile

_SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
# What installing needs of the host's environment to reach a package index.
_NETWORK = {
    name: value
    for name, value in os.environ.items()
    if name.lower().endswith("_proxy") or name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "PIP_CERT")
}


@dataclass(frozen=True)
class Host:
    tree: Path  # the snapshot, a fresh one-commit git repository
    env: dict[str, str]

    def run(self, command: str, check: bool = False) -> float:
        """Seconds `command` took in the tree (output discarded, as a sandbox's is only parsed)."""
        began = time.perf_counter()
        done = subprocess.run(["bash", "-c", command], cwd=self.tree, env=self.env, capture_output=True, text=True)
        if check and done.returncode != 0:
            sys.exit(f"on the host, `{command}` failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return time.perf_counter() - began


def host_environment(snapshot, profile: Profile, root: Path) -> Host:
    """A bare environment for `snapshot` under `root`, in `profile`'s language, with the files its
    test commands expect (written where a sandbox has them)."""
    tree = root / "host-tree"
    snapshot_tree(snapshot.path, snapshot.commit, tree)
    setup = HOST_SETUPS.get(profile.name)
    if setup is None:
        sys.exit(f"no bare host setup for {profile.title} yet (benchmarks/host.py knows {', '.join(HOST_SETUPS)})")
    host = setup(snapshot, tree, root)
    for path, text in profile.test_spec.support_files.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
    return Host(tree, {**host.env, **profile.test_spec.env})


def _python_host(snapshot, tree: Path, root: Path) -> Host:
    venv = root / "host-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    host = Host(tree, {"PATH": f"{venv / 'bin'}:{_SYSTEM_PATH}", "VIRTUAL_ENV": str(venv), "HOME": str(root)})
    script = root / "install.sh"
    script.write_text(detect_dependencies(*snapshot_reader(snapshot)).install_script())
    Host(tree, {**host.env, **_NETWORK}).run(f"bash {script}", check=True)
    return host


def _go_host(snapshot, tree: Path, root: Path) -> Host:
    go = shutil.which("go")
    if go is None:
        sys.exit("no `go` on the host")
    env = {
        "PATH": f"{os.path.dirname(os.path.realpath(go))}:{_SYSTEM_PATH}",
        "HOME": str(root),
        "GOPATH": str(root / "gopath"),
        "GOMODCACHE": str(root / "gomodcache"),
        "GOCACHE": str(root / "gocache"),
        "GOFLAGS": "-mod=mod",
        "GOTOOLCHAIN": "local",
    }
    Host(tree, {**env, **_NETWORK}).run("go mod download", check=True)
    # As in the image: the tests run offline.
    return Host(tree, {**env, "GOPROXY": "off", "GOSUMDB": "off"})


# How each language is installed bare on the host, by profile name.
HOST_SETUPS = {"python": _python_host, "go": _go_host}
