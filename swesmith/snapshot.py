"""The snapshot stages: the snapshot's code files and the sandboxes validation runs in (its env image
is `harnesses.images.build.configured_env_image`).

Reads the repository at the snapshot commit (git objects, never the work tree) and the `Settings`;
starts one long-lived sandbox per worker on the env image (the caller stops them).
"""

from __future__ import annotations

import sys
from pathlib import Path

import git

from gskill.schema import Settings
from languages.base import Profile


def snapshot_code_files(repo_path: Path, commit: str, profile: Profile) -> dict[str, str]:
    """The snapshot's files in `profile`'s language (sources and tests), by path, and the marker
    files that define its projects wherever they are (go.mod: Go's test ids name packages by their
    module; a workspace member's Cargo.toml names the package in Rust's test ids)."""
    tree = git.Repo(repo_path).commit(commit).tree
    files = {}
    for item in tree.traverse():
        if item.type == "blob" and (item.path.endswith(profile.suffixes) or item.name in profile.markers):
            files[item.path] = item.data_stream.read().decode("utf-8", errors="replace")
    return files


def open_sandboxes(kind: str, image: str, repo_path: Path, commit: str, count: int, settings: Settings) -> list:
    from harnesses.sandbox import DockerSandbox, LocalSandbox

    boxes = []
    try:
        for _ in range(count):
            if kind == "docker":
                boxes.append(DockerSandbox.start(image, limits=settings.limits.offline(), run_id=f"mine-{commit[:12]}"))
            else:
                # The local backend runs in the caller's Python environment (it must hold the test deps).
                box = LocalSandbox.start(repo_path, commit, venv=sys.prefix)
                boxes.append(box)
        return boxes
    except BaseException:
        for box in boxes:
            box.stop()
        raise
