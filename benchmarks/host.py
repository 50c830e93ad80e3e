"""The repo installed bare on the host, exactly as its env image installs it (same install script),
so that in-sandbox and bare timings compare the same work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harnesses.images.build import snapshot_reader
from harnesses.images.deps import detect_dependencies
from harnesses.sandbox.local_backend import snapshot_tree


def host_environment(snapshot, root: Path) -> tuple[Path, Path]:
    """(working tree, venv) of `snapshot` under `root`."""
    tree = root / "host-tree"
    snapshot_tree(snapshot.path, snapshot.commit, tree)
    venv = root / "host-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    script = root / "install.sh"
    script.write_text(detect_dependencies(*snapshot_reader(snapshot)).install_script())
    done = subprocess.run(["bash", str(script)], cwd=tree, env=host_env(venv, root), capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"host install failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return tree, venv


def host_env(venv: Path, root: Path) -> dict[str, str]:
    return {"PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", "VIRTUAL_ENV": str(venv), "HOME": str(root)}
