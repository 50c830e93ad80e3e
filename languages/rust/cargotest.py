"""Running and reading `cargo test` (libtest's human output, one unit at a time).

Test ids are `<unit>::<libtest name>`: the unit is the compiled test crate, `<package>/lib`,
`<package>/bin/<name>` or `<package>/test/<name>` (an integration test file), and the name is
libtest's own `module::path::test` (`stats/lib::tests::sums`, `stats/test/api::sums`). The unit is
what a run is handed (`cargo test -p stats --lib`, `--test api`): libtest names neither package nor
target, and two packages' `tests::sums` or two integration files' `sums` would otherwise collide.
Doctests, benches and examples are not run. libtest on stable Rust has no per-test timeout
(`--ensure-time` is unstable), so `limit_s` is ignored, as for pytest: a hung test costs the run's
outer timeout. A unit that does not compile is an environment error for the candidate (never a
FAIL_TO_PASS); in grading its tests are absent, hence failed.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Iterator

from languages.base import FAILED, PASSED, SKIPPED, TestRunLog, TestSpec

RUNNER = "/tmp/gskill-cargotest.py"
_RUNNER_SOURCE = Path(__file__).with_name("runner.py").read_text()

_UNIT_START = re.compile(r"^--- gskill-unit (\S+)$")
_UNIT_END = re.compile(r"^--- gskill-unit-end (\S+) rc=(-?\d+)$")
# libtest's verdict line; a test writing to the raw stderr may push the verdict to a later line.
_RESULT = re.compile(r"^test (\S+) \.\.\. (ok|FAILED|ignored(?:, .*)?)$")
_RUNNING = re.compile(r"^running \d+ tests?$")
_FINISHED = re.compile(r"^test result: .*; finished in ([\d.]+)s$")
_OUTCOMES = {"ok": PASSED, "FAILED": FAILED}


def _sections(log: str) -> Iterator[tuple[str, list[str], int | None]]:
    """(unit, its output lines, cargo's exit code or None when the unit never finished) per unit."""
    unit, lines = None, []
    for line in log.splitlines():
        if start := _UNIT_START.match(line):
            if unit is not None:
                yield unit, lines, None
            unit, lines = start[1], []
        elif (end := _UNIT_END.match(line)) and unit == end[1]:
            yield unit, lines, int(end[2])
            unit, lines = None, []
        elif unit is not None:
            lines.append(line)
    if unit is not None:
        yield unit, lines, None


def parse(log: str) -> dict[str, str]:
    """{test id: PASSED|FAILED|SKIPPED} per unit; a name in libtest's `failures:` list counts FAILED
    even when its verdict line was broken by raw stderr output."""
    status: dict[str, str] = {}
    for unit, lines, _ in _sections(log):
        in_failures = False
        for line in lines:
            if result := _RESULT.match(line):
                outcome = _OUTCOMES.get(result[2], SKIPPED)
                status[f"{unit}::{result[1]}"] = outcome
            elif line == "failures:":
                in_failures = True
            elif in_failures and line.startswith("    ") and " " not in line.strip():
                status[f"{unit}::{line.strip()}"] = FAILED
            elif in_failures and line.strip() and not line.startswith("---- "):
                in_failures = line.startswith(" ")
    return status


def broken_units(log: str) -> tuple[str, ...]:
    """Units whose test binary never ran: cargo failed (a build error) before libtest said `running`."""
    return tuple(
        sorted(
            unit
            for unit, lines, code in _sections(log)
            if code not in (None, 0) and not any(_RUNNING.match(line) for line in lines)
        )
    )


def ran(run: TestRunLog) -> bool:
    """Some unit's test binary ran (libtest printed `running N tests`), and our timeout did not cut it."""
    if run.timed_out:
        return False
    return any(any(_RUNNING.match(line) for line in lines) for _, lines, _ in _sections(run.output))


def unit_seconds(log: str) -> dict[str, float]:
    """Unit -> seconds its test binary ran (libtest's `finished in`); libtest gives no per-test time."""
    seconds: dict[str, float] = {}
    for unit, lines, _ in _sections(log):
        for line in lines:
            if finished := _FINISHED.match(line):
                seconds[unit] = seconds.get(unit, 0.0) + float(finished[1])
    return seconds


def command(selection: tuple[str, ...], purpose: str, limit_s: float | None = None) -> str:
    """The runner with (unit, names) pairs: test ids of one unit share one `cargo test`, a bare unit
    runs whole. Every purpose runs the same way; `limit_s` is ignored (see the module docstring)."""
    if not selection:
        return f"python3 {RUNNER} run"
    whole: list[str] = []
    names: dict[str, list[str]] = {}
    for entry in selection:
        unit, _, name = entry.partition("::")
        if not name:
            whole.append(unit)
        else:
            names.setdefault(unit, []).append(name)
    pairs: list[str] = []
    for unit in dict.fromkeys(whole):
        pairs += [unit, ""]
    for unit, tests in names.items():
        if unit not in whole:
            pairs += [unit, " ".join(sorted(set(tests)))]
    return f"python3 {RUNNER} run {' '.join(map(shlex.quote, pairs))}"


# Does the patched tree still type-check, tests included? `cargo check --tests` stops before code
# generation and linking (a mutation's type error, or an unused import that `#![deny(warnings)]`
# turns into an error, costs seconds); the image warmed the dependencies' check artifacts too.
# Shell that never calls `exit`: it runs inside the caller's `{ ...; } || exit CODE`.
BUILD_CHECK = (
    "cargo check --offline --workspace --tests --quiet > /tmp/gskill-check.log 2>&1 "
    "|| { tail -n 40 /tmp/gskill-check.log; false; }"
)


_LOCATION = re.compile(r"\.rs:\d+(?::\d+)?")
_PANICKED = re.compile(r"^thread '.*' (?:\(\d+\) )?panicked at .*:$")
_PANICKED_INLINE = re.compile(r"^thread '.*' (?:\(\d+\) )?panicked at '(.*)', .*$")  # Rust < 1.73
_MESSAGE_END = re.compile(r"^(?:stack backtrace:|note: |---- |failures:|test result:|error: test failed)")


def failure_messages(output: str, limit: int = 6) -> list[str]:
    """What a user would see: each failing test's panic message (an assertion's `left`/`right` lines
    included), never the `panicked at file:line` location or backtrace frames."""
    messages: list[str] = []
    taking = False
    for line in output.splitlines():
        if _PANICKED.match(line):
            taking = True
            continue
        if old := _PANICKED_INLINE.match(line):
            line, taking = old[1], True
        elif not taking:
            continue
        if not line.strip() or _MESSAGE_END.match(line):
            taking = False
            continue
        if _LOCATION.search(line):
            continue
        text = re.sub(r"\s+", " ", line).strip()[:300]
        if text and text not in messages:
            messages.append(text)
        if len(messages) >= limit:
            break
    return messages


TEST_SPEC = TestSpec(
    name="cargo test (libtest)",
    command=command,
    parse=parse,
    ran=ran,
    # No backtraces (they name the bug's file and line, and are slow); colour off for the parser.
    env={"RUST_BACKTRACE": "0", "CARGO_TERM_COLOR": "never", "CARGO_NET_OFFLINE": "true"},
    broken_units=broken_units,
    broken_unit_fails_tests=False,
    unit_seconds=unit_seconds,
    collect_command=lambda unit: f"python3 {RUNNER} list {shlex.quote(unit)}",
    build_check=BUILD_CHECK,
    support_files={RUNNER: _RUNNER_SOURCE},
    # A mutation recompiles its crate and every workspace crate that depends on it, in test mode.
    rebuild_s=60.0,
)
