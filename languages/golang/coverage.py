"""Which tests execute which source lines: each top-level test of each package run alone, covered.

Per package, the test binary is built once with coverage (`go test -c -cover`), then run once per
top-level test (`-test.run '^TestX$' -test.coverprofile`), in the package's folder as `go test` would.
That costs about one suite run plus a process start per test, and it lets validation run only the
tests that execute a mutated function instead of whole packages (on blevesearch/bleve a package run is
8-30 s; most functions are covered by a handful of tests). A line is attributed to the tests of its
own package (cross-package coverage, `-coverpkg`, would need an instrumented build of the whole
module per package). Everything is written under /tmp; the tree is reset afterwards.
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

from languages.base import CoverageError, unit_of

if TYPE_CHECKING:
    from harnesses.sandbox import Sandbox

SCRIPT = "/tmp/gskill-cov.sh"
# "$@": the packages to measure (none: ./...). Prints the module path, then per test that ran:
# "gskill-test <package>::<Test>" followed by the covered blocks of its profile.
_SCRIPT = r"""set -u
out=/tmp/gskill-cov; rm -rf "$out"; mkdir -p "$out/bin" || exit 3
module=$(go list -m 2>&1) || { echo "gskill-no-module $module"; exit 3; }
echo "gskill-module $module"
go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}' "${@:-./...}" > "$out/packages" || exit 3
one_package() {
    pkg=$1; dir=$2; bin="$out/bin/$(echo "$pkg" | tr '/.' '__').test"
    go test -c -cover -covermode=set -o "$bin" "$pkg" > /dev/null 2>&1 || { echo "gskill-unbuilt $pkg"; return; }
    for test in $(cd "$dir" && "$bin" -test.list '.*' 2>/dev/null | grep -E '^(Test|Example)'); do
        profile="$bin.$test.out"
        (cd "$dir" && timeout 300 "$bin" -test.run "^${test}\$" -test.count=1 -test.coverprofile="$profile" > /dev/null 2>&1)
        [ -f "$profile" ] || continue
        echo "gskill-test $pkg::$test"
        awk 'NR > 1 && $NF != "0" { sub(/ [0-9]+ [0-9]+$/, ""); print }' "$profile"
        rm -f "$profile"
    done
    rm -f "$bin"
}
export -f one_package; export out
jobs=$(nproc 2>/dev/null || echo 2); [ "$jobs" -gt 4 ] && jobs=4
xargs -P "$jobs" -L 1 bash -c 'one_package "$0" "$1" > "$out/$(echo "$0" | tr "/." "__").cov"' < "$out/packages"
cat "$out"/*.cov 2>/dev/null
rm -rf "$out"
git checkout -q -- . && git clean -fdq
"""
# file.go:startLine.startCol,endLine.endCol (counts stripped by the script: only executed blocks)
_BLOCK = re.compile(r"^(.+\.go):(\d+)\.\d+,(\d+)\.\d+$")


def parse_profiles(output: str) -> dict[str, dict[int, set[str]]]:
    """The script's output -> {repo-relative file: {line: {test ids that executed it}}}."""
    found = re.search(r"^gskill-module (\S+)$", output, re.M)
    module = found[1] if found else ""
    lines: dict[str, dict[int, set[str]]] = {}
    test = ""
    for line in output.splitlines():
        if line.startswith("gskill-test "):
            test = line.split(" ", 1)[1].strip()
        elif test and (block := _BLOCK.match(line)) and block[1].startswith(module + "/"):
            by_line = lines.setdefault(block[1][len(module) + 1 :], {})
            for number in range(int(block[2]), int(block[3]) + 1):
                by_line.setdefault(number, set()).add(test)
    return lines


def measure(sandbox: "Sandbox", units: set[str], timeout: float) -> dict[str, dict[int, set[str]]]:
    packages = sorted({unit_of(unit) for unit in units})
    sandbox.write_file(SCRIPT, _SCRIPT)
    done = sandbox.exec(f"bash {SCRIPT} {' '.join(map(shlex.quote, packages))}", timeout=timeout)
    if done.timed_out:
        raise CoverageError(f"per-test coverage timed out after {timeout:g}s")
    found = re.search(r"^gskill-module (\S+)$", done.output, re.M)
    # Outside a module `go list -m` names the pseudo-package of loose files.
    if found is None or found[1] == "command-line-arguments":
        raise CoverageError(f"cannot read the module path: {_last_line(done.output)}")
    coverage = parse_profiles(done.output)
    if not coverage:
        unbuilt = done.output.count("gskill-unbuilt ")
        raise CoverageError(
            f"no line covered by any test ({unbuilt} package(s) did not build): {_last_line(done.output)}"
        )
    return coverage


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"
