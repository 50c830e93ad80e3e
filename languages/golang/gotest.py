"""Running and reading `go test -json`.

Test ids are `<package import path>::<TestName>[/<subtest>]`; the unit is the package import path.
We read test2json events ourselves rather than use swebench's `parse_log_gotest`
(swebench/harness/log_parsers/go.py): that one matches `--- PASS: TestX` text lines, which carry no
package, so two packages' `TestParse` collide into one id, and a test that never printed its `---`
line (its binary panicked or timed out) is silently absent instead of failed.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from typing import Iterator

from languages.base import FAILED, PASSED, SKIPPED, TestRunLog, TestSpec


# Go's own per-binary limit (default 10 min) would cut a long package short; without a `limit_s` the
# caller enforces the real budget of a run.
GO_TEST = "go test -json -count=1 -p 2 -timeout 30m"
# What Go prints when -timeout stops a test binary (then its goroutines' stacks, and exit 2).
_STALLED = re.compile(r"^panic: test timed out after ", re.MULTILINE)
_OUTCOMES = {"pass": PASSED, "fail": FAILED, "skip": SKIPPED}
_BROKEN_MARK = re.compile(r"\[(?:build|setup) failed\]")


def _events(log: str) -> Iterator[dict]:
    """The test2json events of a log; lines that are not events (stderr of the go command) skipped."""
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            yield event


def _package_and_test(entry: str) -> tuple[str, str]:
    package, _, test = entry.partition("::")
    return package, test.split("/", 1)[0]


def _by_filter(selection: tuple[str, ...]) -> dict[str, list[str]]:
    """-run filter ("" = the whole package) -> the packages that run with it."""
    whole: list[str] = []
    tests: dict[str, set[str]] = {}
    for entry in selection:
        package, test = _package_and_test(entry)
        if not test:
            whole.append(package)
        else:
            tests.setdefault(package, set()).add(test)
    by_filter: dict[str, list[str]] = {}
    for package in dict.fromkeys(whole):
        by_filter.setdefault("", []).append(package)
    for package, names in tests.items():
        if package in whole:
            continue
        by_filter.setdefault(f"^({'|'.join(sorted(names))})$", []).append(package)
    return by_filter


def command(selection: tuple[str, ...], purpose: str, limit_s: float | None = None) -> str:
    """One `go test` per distinct -run filter (packages sharing a filter run together); one JSON stream;
    exit status non-zero if any part failed. Every purpose runs the same way: the events carry it all.

    A validation run (`limit_s` given) runs test binaries of its own instead (`RUN_BINARIES`): "first"
    builds them, "repeat" runs the same binaries again — `go test` would link each anew, 5-10 s for a
    big package. `limit_s` is each binary's -timeout: the clock starts once it is linked."""
    if not selection:
        return f"{GO_TEST} ./..."
    by_filter = _by_filter(selection)
    if limit_s is not None:
        pairs = [
            shlex.quote(item) for run, packages in by_filter.items() for package in packages for item in (run, package)
        ]
        mode = "reuse" if purpose == "repeat" else "build"
        return f"bash {RUN_BINARIES} {mode} {max(1, math.ceil(limit_s))}s {' '.join(pairs)}"
    parts = [
        " ".join([GO_TEST, *(["-run", shlex.quote(run)] if run else []), *map(shlex.quote, packages)])
        for run, packages in by_filter.items()
    ]
    if len(parts) == 1:
        return parts[0]
    return "gskill_rc=0; " + " ".join(f"{part} || gskill_rc=$?;" for part in parts) + " exit $gskill_rc"


RUN_BINARIES = "/tmp/gskill-gotest.sh"
# MODE TIMEOUT [FILTER PACKAGE]...: "build" links each package's test binary (`go test -c`; one that
# does not build is reported as test2json's FailedBuild event) and runs it; "reuse" runs the binaries
# the last "build" linked, building only what is missing. Each binary runs in its package's folder,
# through test2json, with the flags `go test -json` passes — the same events as `go test -json`.
_RUN_BINARIES = r"""set -u
mode=$1 timeout=$2; shift 2
bin=/tmp/gskill-bin
[ "$mode" = build ] && rm -rf "$bin"
mkdir -p "$bin"
module=$(go list -m 2>/dev/null)
rc=0 n=0
while [ $# -ge 2 ]; do
    filter=$1 pkg=$2; shift 2; n=$((n + 1)); exe="$bin/$n.test"
    if [ ! -x "$exe" ] || [ "$(cat "$exe.pkg" 2>/dev/null)" != "$pkg" ]; then
        if ! go test -c -o "$exe" "$pkg" >&2; then
            printf '{"Action":"fail","Package":"%s","FailedBuild":"%s"}\n' "$pkg" "$pkg"; rc=1; continue
        fi
        [ -x "$exe" ] || continue  # no test files: nothing to run (go test says so too)
        printf %s "$pkg" > "$exe.pkg"
    fi
    case "$pkg" in
        "$module") dir=. ;;
        "$module"/*) dir="./${pkg#"$module"/}" ;;
        *) dir=$(go list -f '{{.Dir}}' "$pkg") ;;
    esac
    (cd "$dir" && go tool test2json -t -p "$pkg" "$exe" -test.v=test2json -test.paniconexit0 -test.count=1 \
        -test.timeout="$timeout" ${filter:+-test.run="$filter"}) || rc=1
done
exit $rc
"""


def parse(log: str) -> dict[str, str]:
    """{test id: PASSED|FAILED|SKIPPED}; a test that started but never ended (its binary died) FAILED."""
    status: dict[str, str] = {}
    for event in _events(log):
        test, package, action = event.get("Test"), event.get("Package"), event.get("Action")
        if not test or not package:
            continue
        test_id = f"{package}::{test}"
        if action == "run":
            status.setdefault(test_id, "")
        elif action in _OUTCOMES:
            status[test_id] = _OUTCOMES[action]
    return {test_id: outcome or FAILED for test_id, outcome in status.items()}


def stalled(log: str) -> bool:
    """A test binary was stopped by its -timeout: the run hung, whatever its events say."""
    return any(_STALLED.search(event.get("Output", "")) for event in _events(log) if event.get("Action") == "output")


def broken_units(log: str) -> tuple[str, ...]:
    """Packages that failed before any test ran: they did not build, or failed go test's vet checks,
    or their test binary died before its first test (a package-level fail with no test events)."""
    tested: set[str] = set()
    failed: set[str] = set()
    broken: set[str] = set()
    for event in _events(log):
        package, action = event.get("Package"), event.get("Action")
        if not package:
            continue
        if event.get("Test"):
            tested.add(package)
        elif action == "fail":
            failed.add(package)
            if event.get("FailedBuild"):  # Go >= 1.24
                broken.add(package)
        elif action == "output" and _BROKEN_MARK.search(event.get("Output", "")):  # Go < 1.24: only this line
            broken.add(package)
    return tuple(sorted(broken | (failed - tested)))


def ran(run: TestRunLog) -> bool:
    """The go command ran tests: not cut by our timeout, and some package reached a verdict of its own
    (a test event, or `ok`/`no test files` for a package) — a usage error prints no events at all."""
    if run.timed_out:
        return False
    return any(
        event.get("Test") or (event.get("Package") and event.get("Action") in ("pass", "skip"))
        for event in _events(run.output)
    )


def unit_seconds(log: str) -> dict[str, float]:
    """Package -> seconds its test binary ran (the package-level event's Elapsed), and each top-level
    test's id -> its own seconds (a run of a few tests of a big package is estimated by those)."""
    seconds: dict[str, float] = {}
    for event in _events(log):
        if event.get("Package") and event.get("Action") in _OUTCOMES and "Elapsed" in event:
            test = event.get("Test") or ""
            if "/" not in test:
                seconds[f"{event['Package']}::{test}" if test else event["Package"]] = float(event["Elapsed"])
    return seconds


# Do the packages whose files changed still build, tests and go test's vet checks included? `go vet`
# type-checks a package with its _test.go files without linking a test binary (bleve's root package:
# 2-3 s, against 8 s to link it, and the test run links it anyway); any type error fails it (an
# unused variable or import too). The analyzers are go test's own subset less `directive` and `tests`,
# which read only directives and test signatures (never what a mutation writes; go test runs `tests`
# only since Go 1.24).
GO_TEST_VET = "-atomic -bool -buildtags -errorsas -ifaceassert -nilfunc -printf -stringintconv"
# No `exit`: the check runs inside the validation's `{ ...; } || exit 98` group, and an exit there
# would end the run before its tests. A tree with no changed .go file has nothing to vet.
BUILD_CHECK = (
    "dirs=$(git diff --name-only HEAD -- '*.go' | xargs -r -n1 dirname | sort -u | sed 's|^|./|'); "
    f'[ -z "$dirs" ] || go vet {GO_TEST_VET} $dirs'
)


_FILE_LINE = re.compile(r"^\s*[\w.\-/]+\.go:\d+: ?(.*)$")
_PANIC = re.compile(r"^panic: (.*?)(?: \[recovered(?:, repanicked)?\])?$")
_CONTINUATION = re.compile(r"^(?: {8}|\t)\s*(.*)$")  # t.Errorf's later lines are indented 8 spaces past the test's
# Lines of testify's report that name the test or its file, not the symptom.
_TESTIFY_NOISE = re.compile(r"^(?:Error Trace|Test|Messages):")
_RUNNER_LINE = re.compile(r"^(?:=== (?:RUN|PAUSE|CONT|NAME)|--- (?:PASS|FAIL|SKIP)|(?:ok|FAIL|PASS)\b|exit status \d)")


def _output_lines(log: str) -> Iterator[str]:
    """The output of the tests that failed (a skipped test's reason, a passing test's t.Log are no
    symptom), each test's lines at its verdict; a plain-text `go test` log line by line."""
    pending: dict[tuple[str, str], list[str]] = {}
    for line in log.splitlines():
        event = None
        if line.startswith("{"):
            try:
                event = json.loads(line)
            except ValueError:
                pass
        if not isinstance(event, dict):
            yield line
            continue
        key, action = (event.get("Package", ""), event.get("Test", "")), event.get("Action")
        if action == "output" and key[1]:
            pending.setdefault(key, []).extend(event.get("Output", "").splitlines())
        elif action == "output" and "panic:" in event.get("Output", ""):  # a panic outside any test (init)
            yield from event["Output"].splitlines()
        elif action == "fail" and key[1]:
            yield from pending.pop(key, [])
        elif action in ("pass", "skip"):
            pending.pop(key, None)
    for lines in pending.values():  # tests that never ended: the binary died in them
        yield from lines


def failure_messages(output: str, limit: int = 6) -> list[str]:
    """What a user would see: t.Errorf/t.Fatalf text and panic messages, without `file.go:12:` prefixes,
    goroutine stacks, or lines that name test files."""
    messages: list[str] = []
    in_message = in_stack = False
    for line in _output_lines(output):
        text = None
        if _RUNNER_LINE.match(line.strip()):
            in_message = in_stack = False
            continue
        if panic := _PANIC.match(line.strip()):
            text, in_message, in_stack = panic.group(1), False, True
        elif in_stack:
            continue  # goroutine frames: they point at the buggy line
        elif located := _FILE_LINE.match(line):
            text, in_message = located.group(1), True
        elif in_message and (more := _CONTINUATION.match(line)):
            text = more.group(1)
        else:
            in_message = False
        if text is None:
            continue
        text = re.sub(r"\s+", " ", text).strip()
        if not text or _TESTIFY_NOISE.match(text) or "_test.go" in text:
            continue
        if text[:300] not in messages:
            messages.append(text[:300])
        if len(messages) >= limit:
            break
    return messages


TEST_SPEC = TestSpec(
    name="go test -json",
    command=command,
    parse=parse,
    ran=ran,
    stalled=stalled,
    # The image pins the toolchain go.mod asks for; never let the go command fetch another.
    env={"GOTOOLCHAIN": "local"},
    broken_units=broken_units,
    broken_unit_fails_tests=False,
    unit_seconds=unit_seconds,
    collect_command=lambda unit: f"go test -count=1 -run '^$' {shlex.quote(unit)}",
    build_check=BUILD_CHECK,
    support_files={RUN_BINARIES: _RUN_BINARIES},
    # A mutation recompiles its package and the packages of the run that import it (the link of the
    # test binary is in each unit's measured collection time already).
    rebuild_s=30.0,
)
