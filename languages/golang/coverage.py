"""Which packages' tests execute which source lines: ONE `go test -coverprofile` run over the units.

Without `-coverpkg`, a package's test binary instruments only that package, so every covered line
belongs to the package whose tests ran it: the merged profile is attributed by the file's folder.
That is the whole map at the cost of one instrumented suite run. (Cross-package coverage, with
`-coverpkg=<module>/...`, needs one process per package, because `go test` merges the profiles of
several packages into one file; on blevesearch/bleve that was about 30 s per package, 86 packages.)
Everything is written under /tmp (nothing in /repo).
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

from languages.base import CoverageError, unit_of

if TYPE_CHECKING:
    from harnesses.sandbox import Sandbox

PROFILE = "/tmp/gskill-cov.out"
# file.go:startLine.startCol,endLine.endCol numStmt count
_BLOCK = re.compile(r"^(.+)/[^/]+\.go:(\d+)\.\d+,(\d+)\.\d+ \d+ (\d+)$")
_FILE = re.compile(r"^(.+\.go):")


def _command(packages: list[str]) -> str:
    targets = " ".join(map(shlex.quote, packages)) or "./..."
    return (
        f'rm -f {PROFILE}; module=$(go list -m 2>&1) || {{ echo "gskill-no-module $module"; exit 3; }}; '
        f'echo "gskill-module $module"; '
        f"go test -count=1 -covermode=set -coverprofile={PROFILE} {targets} > /tmp/gskill-cov.log 2>&1; "
        f"tail -n 3 /tmp/gskill-cov.log; "
        f"[ -f {PROFILE} ] && awk 'NR > 1 && $NF != \"0\"' {PROFILE}; rm -f {PROFILE} /tmp/gskill-cov.log"
    )


def parse_profile(module: str, profile: str) -> dict[str, dict[int, set[str]]]:
    """Covered profile blocks -> {repo-relative file: {line: {the package whose tests ran it}}}."""
    lines: dict[str, dict[int, set[str]]] = {}
    for line in profile.splitlines():
        block = _BLOCK.match(line)
        if block is None or block[4] == "0" or not (block[1] == module or block[1].startswith(module + "/")):
            continue
        path = _FILE.match(line)[1][len(module) + 1 :]
        by_line = lines.setdefault(path, {})
        for number in range(int(block[2]), int(block[3]) + 1):
            by_line.setdefault(number, set()).add(block[1])
    return lines


def measure(sandbox: "Sandbox", units: set[str], timeout: float) -> dict[str, dict[int, set[str]]]:
    packages = sorted({unit_of(unit) for unit in units})
    done = sandbox.exec(_command(packages), timeout=timeout)
    if done.timed_out:
        raise CoverageError(f"go test -coverprofile timed out after {timeout:g}s")
    found = re.search(r"^gskill-module (\S+)$", done.output, re.M)
    # Outside a module `go list -m` names the pseudo-package of loose files.
    if found is None or found[1] == "command-line-arguments":
        raise CoverageError(f"cannot read the module path: {_last_line(done.output)}")
    module = found[1]
    coverage = parse_profile(module, done.output)
    if not coverage:
        raise CoverageError(f"no line covered by any package's tests: {_last_line(done.output)}")
    return coverage


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"
