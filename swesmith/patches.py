"""Make and measure `git apply`-able patches from file texts (git itself writes them, so they apply)."""

from __future__ import annotations

import os
import re
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


_HUNK = re.compile(r"^@@ -(\d+(?:,\d+)?) \+(\d+(?:,\d+)?) @@(.*)$")
_SWAPPED_HEADERS = {
    "new file mode ": "deleted file mode ",
    "deleted file mode ": "new file mode ",
    "rename from ": "rename to ",
    "rename to ": "rename from ",
    "old mode ": "new mode ",
    "new mode ": "old mode ",
}


def reverse_patch(patch: str) -> str:
    """The git diff that undoes `patch` (what `git apply -R` would apply), from its text alone: a bug
    patch's reverse is the gold fix (SWE-smith instances carry the bug, not the fix)."""
    lines, out = patch.splitlines(keepends=True), []
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("diff --git "):
            match = re.match(r"^diff --git a/(\S+) b/(\S+)", line)
            out.append(f"diff --git a/{match[2]} b/{match[1]}\n" if match else line)
        elif line.startswith("--- ") and index + 1 < len(lines) and lines[index + 1].startswith("+++ "):
            old, new = line[4:].rstrip("\n"), lines[index + 1][4:].rstrip("\n")
            swap = {"a/": "b/", "b/": "a/"}
            old, new = (
                (swap.get(old[:2], old[:2]) + old[2:] if old != "/dev/null" else old),
                (swap.get(new[:2], new[:2]) + new[2:] if new != "/dev/null" else new),
            )
            out += [f"--- {new}\n", f"+++ {old}\n"]
            index += 1
        elif line.startswith("index ") and ".." in line:
            hashes, _, mode = line[6:].rstrip("\n").partition(" ")
            before, after = hashes.split("..", 1)
            out.append(f"index {after}..{before}" + (f" {mode}" if mode else "") + "\n")
        elif match := _HUNK.match(line.rstrip("\n")):
            out.append(f"@@ -{match[2]} +{match[1]} @@{match[3]}\n")
        elif line.startswith("+") and not line.startswith("+++ "):
            out.append("-" + line[1:])
        elif line.startswith("-") and not line.startswith("--- "):
            out.append("+" + line[1:])
        else:
            prefix = next((key for key in _SWAPPED_HEADERS if line.startswith(key)), None)
            out.append(_SWAPPED_HEADERS[prefix] + line[len(prefix) :] if prefix else line)
        index += 1
    return "".join(out)
