"""Which Go toolchain a module asks for, and where the image gets it.

Go >= 1.21 reads go.mod's `go` line as the minimum toolchain (`go 1.22` is go1.22.0) and a `toolchain`
line as the preferred one; the go command itself picks the newer of the two, and so do we. Toolchains
since 1.21.0 are modules on the Go module proxy (golang.org/toolchain), so the image needs no other site.
"""

from __future__ import annotations

import re

# For go.mod files older than 1.21 (or without a go line), which name no toolchain the proxy serves:
# a stable release confirmed on https://proxy.golang.org/golang.org/toolchain/@v/list (Dec 2026).
DEFAULT_VERSION = "1.26.8"
_GO_LINE = re.compile(r"^go\s+(\d+)\.(\d+)(?:\.(\d+))?\s*(?://.*)?$", re.M)
_TOOLCHAIN_LINE = re.compile(r"^toolchain\s+go(\d+)\.(\d+)(?:\.(\d+))?\s*(?://.*)?$", re.M)


def _version(match: re.Match | None) -> tuple[int, int, int] | None:
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3] or 0)


def wanted_version(go_mod_text: str) -> str:
    """'1.22.0' for `go 1.22`; the newer of the go and toolchain lines; DEFAULT_VERSION before 1.21."""
    candidates = [
        version
        for version in (_version(_GO_LINE.search(go_mod_text)), _version(_TOOLCHAIN_LINE.search(go_mod_text)))
        if version is not None and version >= (1, 21, 0)
    ]
    if not candidates:
        return DEFAULT_VERSION
    return ".".join(map(str, max(candidates)))


def toolchain_url(version: str) -> str:
    return f"https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go{version}.linux-amd64.zip"


def zip_root(version: str) -> str:
    """The folder of the toolchain zip that holds the Go tree (bin/, pkg/, src/)."""
    return f"golang.org/toolchain@v0.0.1-go{version}.linux-amd64/"
