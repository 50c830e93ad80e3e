"""Which tests execute which source lines, per package: no instrumented build.

Every line of a package's source files (the `.rs` files under its folder that are not test files,
nested packages excluded) is attributed to every unit of that package with passing tests (its
library's unit tests, its binaries', its integration tests). Rust unit tests sit beside the code
they test and integration tests use their package's library, so a package's units are where a bug
in its code shows; what a per-test map (`-C instrument-coverage`, a full instrumented rebuild plus a
run per test) would add is precision, at several suite runs' cost. Validation therefore runs the
mutated package's whole units; tests of other packages that call into it are not run.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from languages.base import CoverageError
from languages.rust.source import is_source_file
from languages.rust.workspace import package_of_file

if TYPE_CHECKING:
    from harnesses.sandbox import Sandbox

# Prints {"lines": {path: line count} of tracked .rs files, "manifests": {path: text}}.
_LIST = r"""python3 - <<'GSKILL_EOF'
import json, subprocess
paths = subprocess.run(["git", "ls-files", "-z"], capture_output=True, text=True).stdout.split("\0")
lines, manifests = {}, {}
for path in paths:
    if path.endswith(".rs"):
        with open(path, "rb") as handle:
            lines[path] = handle.read().count(b"\n") + 1
    elif path == "Cargo.toml" or path.endswith("/Cargo.toml"):
        manifests[path] = open(path, encoding="utf-8", errors="replace").read()
print("gskill-files " + json.dumps({"lines": lines, "manifests": manifests}))
GSKILL_EOF"""


def package_map(lines: dict[str, int], manifests: dict[str, str], units: set[str]) -> dict[str, dict[int, set[str]]]:
    """{source path: {line: units of its package}} for the packages that have units in `units`."""
    by_package: dict[str, set[str]] = {}
    for unit in units:
        by_package.setdefault(unit.split("/", 1)[0], set()).add(unit)
    coverage: dict[str, dict[int, set[str]]] = {}
    for path, count in sorted(lines.items()):
        if not is_source_file(path):
            continue
        found = package_of_file(path, manifests.get)
        if found is None or found[0] not in by_package:
            continue
        entries = by_package[found[0]]
        coverage[path] = {line: set(entries) for line in range(1, count + 1)}
    return coverage


def measure(sandbox: "Sandbox", units: set[str], timeout: float) -> dict[str, dict[int, set[str]]]:
    done = sandbox.exec(_LIST, timeout=min(timeout, 300))
    marker = next((line for line in done.output.splitlines() if line.startswith("gskill-files ")), None)
    if not done.ok or marker is None:
        raise CoverageError(f"cannot list the workspace's files: {done.output.strip()[-300:] or 'no output'}")
    listed = json.loads(marker.split(" ", 1)[1])
    coverage = package_map(listed["lines"], listed["manifests"], units)
    if not coverage:
        raise CoverageError(f"no source file belongs to a package with passing tests ({len(units)} unit(s))")
    return coverage
