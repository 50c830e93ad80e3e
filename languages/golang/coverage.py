"""Which packages' tests execute which source lines: one `go test -coverprofile` per package.

`-coverpkg=<module>/...` instruments every package of the module, so a line of `store/` executed by
the tests of `index/` is attributed to `index/`. One process per package, because `go test` merges the
profiles of several packages into one file and the attribution would be lost; the instrumented build
of each package is cached once and shared by every package's test binary. Everything is written under
/tmp (nothing in /repo).
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

from languages.base import CoverageError, unit_of

if TYPE_CHECKING:
    from harnesses.sandbox import Sandbox

OUT = "/tmp/gskill-cov"
SCRIPT = "/tmp/gskill-cov.sh"
# "$@": the packages to measure; none = every package that has test files.
_SCRIPT = f"""\
set -u
out={OUT}
rm -rf "$out" && mkdir -p "$out" || exit 3
module=$(go list -m) || exit 3
echo "gskill-module $module"
if [ "$#" -gt 0 ]; then
    printf '%s\\n' "$@" > "$out/packages"
else
    go list -f '{{{{if or .TestGoFiles .XTestGoFiles}}}}{{{{.ImportPath}}}}{{{{end}}}}' ./... > "$out/packages" || exit 3
fi
jobs=$(nproc 2>/dev/null || echo 2); [ "$jobs" -gt 4 ] && jobs=4
export out module
grep -n . "$out/packages" | tr ':' ' ' | xargs -P "$jobs" -L 1 sh -c \\
    'go test -count=1 -covermode=set -coverpkg="$module/..." -coverprofile="$out/$0.out" "$1" > "$out/$0.log" 2>&1; \\
     echo "gskill-ran $1 exit $?"'
for profile in "$out"/*.out; do
    [ -f "$profile" ] || continue
    n=$(basename "$profile" .out)
    echo "gskill-profile $(sed -n "${{n}}p" "$out/packages")"
    awk 'NR > 1 && $NF != "0"' "$profile"
done
rm -rf "$out"
"""
# file.go:startLine.startCol,endLine.endCol numStmt count
_BLOCK = re.compile(r"^(.+\.go):(\d+)\.\d+,(\d+)\.\d+ \d+ (\d+)$")


def _repo_path(file: str, module: str) -> str | None:
    """`example.com/m/pkg/a.go` -> `pkg/a.go`; None for a file outside the module."""
    if file.startswith(module + "/"):
        return file[len(module) + 1 :]
    return None


def parse_profiles(output: str) -> dict[str, dict[int, set[str]]]:
    """The script's output -> {repo-relative file: {line: {packages whose tests executed it}}}."""
    module = ""
    package = ""
    lines: dict[str, dict[int, set[str]]] = {}
    for line in output.splitlines():
        if line.startswith("gskill-module "):
            module = line.split(" ", 1)[1].strip()
        elif line.startswith("gskill-profile "):
            package = line.split(" ", 1)[1].strip()
        elif package and (block := _BLOCK.match(line)):
            path = _repo_path(block[1], module)
            if path is None or block[4] == "0":
                continue
            by_line = lines.setdefault(path, {})
            for number in range(int(block[2]), int(block[3]) + 1):
                by_line.setdefault(number, set()).add(package)
    return lines


def measure(sandbox: "Sandbox", units: set[str], timeout: float) -> dict[str, dict[int, set[str]]]:
    packages = sorted({unit_of(unit) for unit in units})
    sandbox.write_file(SCRIPT, _SCRIPT)
    done = sandbox.exec(f"bash {SCRIPT} {' '.join(map(shlex.quote, packages))}", timeout=timeout)
    if done.timed_out:
        raise CoverageError(f"go test -coverprofile timed out after {timeout:g}s")
    if done.exit_code == 3 or "gskill-module " not in done.output:
        raise CoverageError(f"cannot list the module's packages: {_last_line(done.output)}")
    coverage = parse_profiles(done.output)
    if not coverage:
        ran = done.output.count("gskill-ran ")
        raise CoverageError(f"no coverage from {ran} package(s)' tests: {_last_line(done.output)}")
    return coverage


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"
