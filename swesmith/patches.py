"""Make and measure `git apply`-able patches from file texts (git itself writes them, so they apply)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping


def make_patch(changes: Mapping[str, tuple[str | None, str | None]]) -> str:
    """A git-style diff for {path: (old_text, new_text)}; None means the file is absent on that side.

    Written by `git diff --no-index` over two scratch trees, with a/ b/ prefixes, so `git apply`
    and `patch -p1` accept it, and missing final newlines are marked properly.
    """
    if not changes:
        return ""
    with tempfile.TemporaryDirectory(prefix="gskill-patch-") as tmp:
        old_root, new_root = Path(tmp, "a"), Path(tmp, "b")
        for root in (old_root, new_root):
            root.mkdir()
        for path, (old_text, new_text) in changes.items():
            for root, text in ((old_root, old_text), (new_root, new_text)):
                if text is not None:
                    target = root / path
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(text, encoding="utf-8")
        done = subprocess.run(
            [
                "git",
                "-c",
                "core.quotepath=off",
                "diff",
                "--no-index",
                "--no-color",
                "--no-ext-diff",
                "--src-prefix=",
                "--dst-prefix=",
                "a",
                "b",
            ],
            cwd=tmp,
            capture_output=True,
            text=True,
            env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"},
        )
        if done.returncode not in (0, 1):
            raise RuntimeError(f"git diff --no-index failed: {done.stderr.strip()[:300]}")
        # With empty prefixes the scratch roots "a/" and "b/" become the usual diff prefixes; only the
        # header of an added or deleted file needs its other side named (git writes the same side twice).
        lines = []
        for line in done.stdout.splitlines(keepends=True):
            if line.startswith("diff --git "):
                path = line.rstrip("\n").split(" ", 3)[2][2:]
                line = f"diff --git a/{path} b/{path}\n"
            lines.append(line)
        return "".join(lines)


@dataclass(frozen=True)
class PatchSize:
    files: int
    hunks: int
    lines: int  # added + removed


def patch_size(patch: str) -> PatchSize:
    files = hunks = lines = 0
    for line in patch.splitlines():
        if line.startswith("diff --git "):
            files += 1
        elif line.startswith("@@"):
            hunks += 1
        elif (line.startswith("+") and not line.startswith("+++")) or (
            line.startswith("-") and not line.startswith("---")
        ):
            lines += 1
    return PatchSize(files, hunks, lines)
