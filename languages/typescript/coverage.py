"""Which test files execute which functions: each test file run alone under node's V8 coverage.

`NODE_V8_COVERAGE` makes every node process of the run (the runner and its workers; vitest runs its
workers as threads for this) write V8's coverage at exit: per script, its functions with call counts.
The driver (`jstest.cjs coverage`) keeps the repository's own scripts and the names of the functions
that ran. Names, not byte ranges: vitest and jest run transformed code (TypeScript stripped, modules
wrapped), whose offsets are not the source's, while V8's function names survive the transform
(`add`, `exports.add`, `Cart.add`, `Object.<anonymous>.exports.add`). Each name's last segment is
matched to the file's entities (`Cart.add` -> `add`), and every line of a matched entity is
attributed to the test file. Granularity: test file x function (two methods of one name in one file
are both counted: an over-approximation, never a miss). A function called only by code that no test
file loads is uncovered, as it should be.
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

from languages.base import CoverageError, unit_of
from languages.typescript.jstest import DRIVER, TEST_SPEC
from languages.typescript.source import parse_entities

if TYPE_CHECKING:
    from harnesses.sandbox import Sandbox

_FILE_MARK = "gskill-js-file "


def parse_output(output: str) -> dict[str, dict[str, set[str]]]:
    """The driver's coverage output -> {source path: {function name's last segment: {test files}}}."""
    found: dict[str, dict[str, set[str]]] = {}
    test = ""
    for line in output.splitlines():
        if line.startswith("gskill-test "):
            test = line.split(" ", 1)[1].strip()
        elif test and "\t" in line:
            path, name = line.split("\t", 1)
            last = re.split(r"[.\s]", name.strip())[-1]
            if last and not last.startswith("<"):
                found.setdefault(path, {}).setdefault(last, set()).add(test)
    return found


def line_map(called: dict[str, dict[str, set[str]]], sources: dict[str, str]) -> dict[str, dict[int, set[str]]]:
    """{path: {line: {test files}}}: every line of each entity whose name a test file ran."""
    lines: dict[str, dict[int, set[str]]] = {}
    for path, names in called.items():
        for qualname, entity in parse_entities(sources.get(path, "")).items():
            tests = names.get(qualname.rsplit(".", 1)[-1])
            if tests:
                by_line = lines.setdefault(path, {})
                for number in range(entity.start, entity.end + 1):
                    by_line.setdefault(number, set()).update(tests)
    return lines


def measure(sandbox: "Sandbox", units: set[str], timeout: float) -> dict[str, dict[int, set[str]]]:
    files = sorted({unit_of(unit) for unit in units})
    if not files:
        raise CoverageError("no test file to measure")
    sandbox.write_files(dict(TEST_SPEC.support_files))
    done = sandbox.exec(
        f"node {DRIVER} coverage {' '.join(map(shlex.quote, files))}; git checkout -q -- . && git clean -fdq",
        timeout=timeout,
        env=dict(TEST_SPEC.env),
    )
    if done.timed_out:
        raise CoverageError(f"per-file coverage timed out after {timeout:g}s")
    called = parse_output(done.output)
    if not called:
        tail = [line for line in done.output.splitlines() if line.strip()][-1:] or ["no output"]
        raise CoverageError(f"no function of the repository ran under any test file: {tail[0][:300]}")
    paths = sorted(called)
    shown = sandbox.exec(
        " ".join(f"printf '\\n{_FILE_MARK}%s\\n' {shlex.quote(p)}; cat {shlex.quote(p)};" for p in paths), timeout=120
    )
    sources: dict[str, str] = {}
    for part in shown.output.split(f"\n{_FILE_MARK}")[1:]:
        path, _, text = part.partition("\n")
        sources[path] = text
    coverage = line_map(called, sources)
    if not coverage:
        raise CoverageError("the functions that ran match no function gskill found in their files")
    return coverage
