"""The Go part of an env image, and what a skill draft says about a Go repository's layout.

The toolchain is the one go.mod asks for (languages/golang/toolchain.py), unpacked from the module
proxy by `image_setup.py` (the base image may have no curl). Modules are downloaded and dependencies
compiled while the build has network; the tests then run offline: GOPROXY=off, GOTOOLCHAIN=local.
CGO_ENABLED is left to Go's default: on where a C compiler is on PATH (the base image has gcc).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Sequence

from languages.base import ImageRecipe, Reader
from languages.golang.source import module_path
from languages.golang.toolchain import wanted_version

SETUP_SCRIPT = Path(__file__).with_name("image_setup.py")
_GO_LINE = re.compile(r"^go\s+(\S+)", re.M)
_TOOLCHAIN_LINE = re.compile(r"^toolchain\s+(\S+)", re.M)

_TOOLCHAIN = """\
# Go {version}: {why}
COPY gskill/image_setup.py /opt/gskill/image_setup.py
RUN python3 /opt/gskill/image_setup.py install {version} /usr/local/go
ENV PATH=/usr/local/go/bin:/root/go/bin:$PATH GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPATH=/root/go \\
    GOCACHE=/root/.cache/go-build
"""
_STEPS = """\
# Modules, then the standard library and the dependencies compiled (never the repository's own code).
RUN python3 /opt/gskill/image_setup.py prepare {version} /opt/gskill/env.json
# Tests run with no network: nothing may be fetched, nor checked against the checksum database.
ENV GOPROXY=off GOSUMDB=off
"""


def _digest(text: str | None) -> str:
    return hashlib.sha256((text or "").encode()).hexdigest()[:16]


def recipe(paths: Sequence[str], read: Reader) -> ImageRecipe:
    go_mod = read("go.mod") or ""
    version = wanted_version(go_mod)
    asked = [match[1] for pattern in (_GO_LINE, _TOOLCHAIN_LINE) if (match := pattern.search(go_mod))]
    if not go_mod:
        why = f"no go.mod -> toolchain go{version} (default)"
    elif asked:
        why = f"go.mod: {' + '.join(f'go {a}' if a[0].isdigit() else a for a in asked)} -> toolchain go{version}"
    else:
        why = f"go.mod names no Go version -> toolchain go{version} (default)"
    return ImageRecipe(
        toolchain_steps=_TOOLCHAIN.format(version=version, why=why),
        steps=_STEPS.format(version=version),
        files={"gskill/image_setup.py": SETUP_SCRIPT.read_bytes()},
        sources=(why,),
        key={"go": version, "go.mod": _digest(go_mod), "go.sum": _digest(read("go.sum"))},
    )


def _packages(paths: Sequence[str]) -> list[str]:
    """Top-level folders holding .go files (a package or a tree of them); "." for the root package."""
    folders = {
        path.split("/", 1)[0] if "/" in path else "."
        for path in paths
        if path.endswith(".go") and not any(part in ("vendor", "testdata") for part in path.split("/")[:-1])
    }
    return sorted(folders)


def layout_notes(paths: Sequence[str], read: Reader) -> list[str]:
    go_mod = read("go.mod") or ""
    module = module_path(go_mod)
    notes = [f"Go module `{module}` (go.mod at the root)." if module else "Go code without a root go.mod."]
    notes.append(f"Go toolchain: go{wanted_version(go_mod)} (offline: GOPROXY=off, GOFLAGS=-mod=mod).")
    packages = _packages(paths)
    if packages:
        shown = ", ".join(f"`{p}`" if p == "." else f"`{p}/`" for p in packages[:20])
        more = f" and {len(packages) - 20} more" if len(packages) > 20 else ""
        notes.append(f"Top-level package folders: {shown}{more}.")
    tests = sum(path.endswith("_test.go") for path in paths)
    notes.append(f"{tests} `_test.go` files; tests sit beside the code they test, in the same folder.")
    example = next((p for p in packages if p != "."), ".")
    target = "." if example == "." else f"./{example}/..."
    notes.append(
        f"Run all tests: `go test ./...`; one package: `go test {target}`; one test: "
        f"`go test -run '^TestName$' {target}` (add `-count=1` to bypass Go's test result cache, `-v` for output)."
    )
    return notes
