"""Build a base image with no image registry: debootstrap a Debian root filesystem, `docker import` it.

This is how CI and air-gapped users get a base image (≈1.5 min). Elsewhere users pull a normal
public Python image; the base image is a setting (`GSKILL_BASE_IMAGE`), never hard-coded.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

import docker

from gskill.errors import GskillError

# gcc + headers: many Python repos build a C extension on install (markupsafe, pyyaml, ...).
BASE_PACKAGES = (
    "python3",
    "python3-venv",
    "python3-pip",
    "python3-dev",
    "gcc",
    "libc6-dev",
    "git",
    "ca-certificates",
    "procps",
)
DEFAULT_BASE_TAG = "gskill-base:bookworm"

# Documentation, man pages and caches: ~90 MB nobody in a task container reads.
_PRUNE = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "var/cache/apt/archives",
    "var/lib/apt/lists",
)


def image_exists(client: docker.DockerClient, name: str) -> bool:
    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def build_base_image(
    client: docker.DockerClient,
    tag: str = DEFAULT_BASE_TAG,
    *,
    suite: str = "bookworm",
    mirror: str = "http://deb.debian.org/debian",
    force: bool = False,
    log: Callable[[str], None] = print,
) -> str:
    """Create `tag` from a debootstrapped rootfs unless it exists. Returns the image id."""
    if not force and image_exists(client, tag):
        log(f"base image {tag} already present")
        return client.images.get(tag).id
    if shutil.which("debootstrap") is None:
        raise GskillError("debootstrap is not installed (apt-get install -y debootstrap)")
    with tempfile.TemporaryDirectory(prefix="gskill-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        command = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(BASE_PACKAGES)}",
            suite,
            str(rootfs),
            mirror,
        ]
        log("running " + " ".join(command))
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
            raise GskillError(f"debootstrap failed (exit {done.returncode}): {tail[0]}")
        for relative in _PRUNE:
            target = rootfs / relative
            if target.is_dir():
                for child in target.iterdir():
                    shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        archive = Path(tmp) / "rootfs.tar"
        # GNU tar, not tarfile: it keeps device nodes, hard links and numeric owners exactly.
        packed = subprocess.run(
            ["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(archive), "."], capture_output=True, text=True
        )
        if packed.returncode != 0:
            raise GskillError(f"cannot pack the root filesystem: {packed.stderr.strip()[:200]}")
        repository, _, version = tag.partition(":")
        log(f"importing {archive.stat().st_size / 1e6:.0f} MB as {tag}")
        client.api.import_image(
            src=str(archive),
            repository=repository,
            tag=version or "latest",
            changes=["ENV LANG=C.UTF-8", 'CMD ["bash"]'],
        )
    return client.images.get(tag).id
