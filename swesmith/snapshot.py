"""The snapshot stages: the snapshot's code files, its env image, and the sandboxes validation runs in.

Reads the repository at the snapshot commit (git objects, never the work tree) and the `Settings`;
writes the env image (Docker, cached by `harnesses.images`) and starts one long-lived sandbox per
worker on it (the caller stops them).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import git

from gskill.schema import Settings
from languages.base import Profile

if TYPE_CHECKING:  # type names only: importing the image builder imports Docker
    from harnesses.images.build import EnvImage, RepoSnapshot


def snapshot_code_files(repo_path: Path, commit: str, profile: Profile) -> dict[str, str]:
    """The snapshot's files in `profile`'s language (sources and tests), by path."""
    tree = git.Repo(repo_path).commit(commit).tree
    files = {}
    for item in tree.traverse():
        if item.type == "blob" and item.path.endswith(profile.suffixes):
            files[item.path] = item.data_stream.read().decode("utf-8", errors="replace")
    return files


def snapshot_env_image(client, snapshot: RepoSnapshot, settings: Settings, language: str) -> EnvImage:
    """The snapshot's env image, built (or found cached) with the configured base image."""
    from harnesses.images.build import build_env_image, host_ca_bundle

    return build_env_image(
        client,
        snapshot,
        base_image=settings.base_image,
        base_image_fallback=settings.base_image_fallback,
        cache_dir=settings.cache_dir,
        ca_bundle=host_ca_bundle(settings.ca_bundle),
        timeout_s=settings.env_build_timeout_s,
        language=language,
    )


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
