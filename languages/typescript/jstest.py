"""Running and reading JavaScript/TypeScript tests: vitest, jest, mocha and node's own runner.

One driver (`jstest.cjs`, written into the sandbox) picks the runner from package.json at run time
(the test script names it, else a devDependency; else `node --test`), runs it with its
machine-readable reporter — vitest `--reporter=json`, jest `--json`, mocha `--reporter json`, node
`--test-reporter=junit` (one run per file: node's JUnit names no file) — and prints each report
between marker lines after the runner's console output, so a verdict is recomputed from the log alone.

Test ids are `<test file>::<describe> > ... > <test>` (the file relative to the repository root; for
mocha, whose JSON report has no title path, the describe titles are `fullTitle` less the test's own
title, joined by spaces). The unit is the test file. A test file that fails to load or compile is a
broken unit whose tests count as failed (as a Python module that no longer imports): vitest and jest
report it as a file result without tests, node as a failing test named after the file; a mocha suite
with a file that does not load reports nothing, which is an environment error.
"""

from __future__ import annotations

import json
import re
import shlex
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Iterator

from languages.base import FAILED, PASSED, SKIPPED, TestRunLog, TestSpec

DRIVER = "/tmp/gskill-jstest.cjs"
_DRIVER_SOURCE = Path(__file__).with_name("jstest.cjs").read_text()
_BLOCK = re.compile(r"^gskill-js-report (\w+) ([^\n]+)\n(.*?)^gskill-js-report-end$", re.M | re.S)
_ROOT = re.compile(r"^gskill-js-root (.+)$", re.M)
_STATUS = {
    "passed": PASSED,
    "failed": FAILED,
    "pending": SKIPPED,
    "skipped": SKIPPED,
    "todo": SKIPPED,
    "disabled": SKIPPED,
    "focused": PASSED,
}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
SEPARATOR = " > "


def command(selection: tuple[str, ...], purpose: str, limit_s: float | None = None) -> str:
    """The driver on `selection` (test files and/or ids; empty = the suite). Every purpose runs the
    same way: the reports carry outcomes, messages and durations. No limit of its own: vitest and
    jest stop a test at their per-test timeout, the run's outer timeout stops a hang."""
    return " ".join(["node", DRIVER, "run", *map(shlex.quote, selection)])


def reports(log: str) -> Iterator[tuple[str, str, str, str]]:
    """(runner, label, report text, repository root) for each report block of a log."""
    found = _ROOT.search(log)
    root = found[1].strip() if found else ""
    for match in _BLOCK.finditer(log):
        yield match[1], match[2].strip(), match[3], root


def _relative(path: str, root: str) -> str:
    if root and path.startswith(root.rstrip("/") + "/"):
        return path[len(root.rstrip("/")) + 1 :]
    return path.lstrip("./") if path.startswith("./") else path


def _json(text: str) -> dict | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _xml(text: str) -> ElementTree.Element | None:
    try:
        return ElementTree.fromstring(text.strip())
    except ElementTree.ParseError:
        return None


def _put(status: dict[str, str], test_id: str, outcome: str) -> None:
    """A title used twice in one file is one id: it failed if either failed."""
    if status.get(test_id) != FAILED:
        status[test_id] = outcome


def _jest_like(data: dict, root: str, status: dict[str, str]) -> None:
    for result in data.get("testResults") or []:
        file = _relative(result.get("name", ""), root)
        for case in result.get("assertionResults") or []:
            titles = [*(case.get("ancestorTitles") or []), case.get("title", "")]
            _put(status, f"{file}::{SEPARATOR.join(titles)}", _STATUS.get(case.get("status"), FAILED))


def _mocha_id(test: dict, root: str) -> str:
    title, full = test.get("title", ""), test.get("fullTitle", "")
    prefix = full[: -len(title)].strip() if title and full.endswith(title) else ""
    return f"{_relative(test.get('file', ''), root)}::{prefix + SEPARATOR if prefix else ''}{title}"


def _mocha(data: dict, root: str, status: dict[str, str]) -> None:
    for key, outcome in (("passes", PASSED), ("pending", SKIPPED), ("failures", FAILED)):
        for test in data.get(key) or []:
            _put(status, _mocha_id(test, root), outcome)


def _junit_name(element: ElementTree.Element) -> str:
    """A suite's or case's title. Node's JUnit reporter escapes `"` twice (`&amp;quot;` in the XML),
    so `&quot;` is still in the parsed name; the source's title has `"`."""
    return element.get("name", "").replace("&quot;", '"')


def _junit_cases(
    element: ElementTree.Element, titles: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], ElementTree.Element]]:
    for child in element:
        if child.tag == "testsuite":
            yield from _junit_cases(child, (*titles, _junit_name(child)))
        elif child.tag == "testcase":
            yield (*titles, _junit_name(child)), child


def _node(tree: ElementTree.Element, file: str, status: dict[str, str]) -> None:
    for titles, case in _junit_cases(tree, ()):
        if len(titles) == 1 and titles[0] in (file, f"./{file}") or titles[0].endswith("/" + file):
            continue  # the file itself failed to load: a broken unit
        outcome = (
            FAILED if case.find("failure") is not None else SKIPPED if case.find("skipped") is not None else PASSED
        )
        _put(status, f"{file}::{SEPARATOR.join(titles)}", outcome)


def parse(log: str) -> dict[str, str]:
    """{test id: PASSED|FAILED|SKIPPED} from the report blocks of a driver log."""
    status: dict[str, str] = {}
    for runner, label, text, root in reports(log):
        if runner == "node":
            if (tree := _xml(text)) is not None:
                _node(tree, label, status)
        elif (data := _json(text)) is not None:
            (_mocha if runner == "mocha" else _jest_like)(data, root, status)
    return status


def broken_units(log: str) -> tuple[str, ...]:
    """Test files that failed before any of their tests ran (a module that does not load or compile)."""
    broken: set[str] = set()
    for runner, label, text, root in reports(log):
        if runner == "node":
            tree = _xml(text)
            cases = list(_junit_cases(tree, ())) if tree is not None else []
            if any(case.find("failure") is not None and titles[-1].endswith(label) for titles, case in cases):
                broken.add(label)
        elif runner in ("vitest", "jest") and (data := _json(text)) is not None:
            for result in data.get("testResults") or []:
                if result.get("status") == "failed" and not result.get("assertionResults"):
                    broken.add(_relative(result.get("name", ""), root))
    return tuple(sorted(broken))


def ran(run: TestRunLog) -> bool:
    """The runner reported: some report block holds a readable JSON or JUnit document (a usage error,
    a crash before the reporter wrote, or a mocha file that does not load leaves none)."""
    if run.timed_out:
        return False
    return any(
        (_xml(text) if runner == "node" else _json(text)) is not None for runner, _, text, _ in reports(run.output)
    )


def unit_seconds(log: str) -> dict[str, float]:
    """Test file -> seconds its tests took (jest/vitest file times, mocha and node test durations)."""
    seconds: dict[str, float] = {}
    for runner, label, text, root in reports(log):
        if runner == "node":
            tree = _xml(text)
            if tree is not None:
                total = sum(float(case.get("time") or 0) for _, case in _junit_cases(tree, ()))
                seconds[label] = round(seconds.get(label, 0.0) + total, 3)
        elif (data := _json(text)) is not None and runner == "mocha":
            for test in data.get("tests") or []:
                file = _relative(test.get("file", ""), root)
                seconds[file] = round(seconds.get(file, 0.0) + (test.get("duration") or 0) / 1000, 3)
        elif data is not None:
            for result in data.get("testResults") or []:
                if result.get("endTime") and result.get("startTime"):
                    file = _relative(result.get("name", ""), root)
                    seconds[file] = round((result["endTime"] - result["startTime"]) / 1000, 3)
    return seconds


# Lines of a failure message that locate it, not describe it: stack frames, code frames, paths.
_NOISE = re.compile(
    r"^\s*(?:at |\d+ \||>\s*\d+ \||\||Require stack:|- /|❯ |● )|\.(?:test|spec)\.[cm]?[jt]sx?\b|(?:^|/)__tests__/|node_modules/"
)


def _message(text: str) -> str:
    """One line of what a failure says: its text before the stack, without code frames or paths."""
    kept = []
    for line in _ANSI.sub("", text).splitlines():
        if re.match(r"^\s*at ", line):
            break
        if line.strip() and not _NOISE.search(line):
            kept.append(line.strip())
    return re.sub(r"\s+", " ", " ".join(kept)).strip()[:300]


def _failure_texts(log: str) -> Iterator[str]:
    for runner, _, text, _ in reports(log):
        if runner == "node":
            tree = _xml(text)
            for _, case in _junit_cases(tree, ()) if tree is not None else ():
                failure = case.find("failure")
                if failure is not None:
                    yield failure.get("message") or ""
        elif (data := _json(text)) is not None and runner == "mocha":
            for test in data.get("failures") or []:
                err = test.get("err") or {}
                yield f"{err.get('name', 'Error')}: {err.get('message', '')}"
        elif data is not None:
            for result in data.get("testResults") or []:
                if not result.get("assertionResults") and result.get("message"):
                    yield result["message"]
                for case in result.get("assertionResults") or []:
                    yield from case.get("failureMessages") or []


def failure_messages(output: str, limit: int = 6) -> list[str]:
    """Assertion and error messages of the failed tests (expected vs received), never stack frames,
    code frames or test file paths."""
    messages: list[str] = []
    for text in _failure_texts(output):
        message = _message(text)
        if message and message not in messages:
            messages.append(message)
        if len(messages) >= limit:
            break
    return messages


BUILD_CHECK = f"node {DRIVER} check"

TEST_SPEC = TestSpec(
    name="vitest / jest / mocha / node --test",
    command=command,
    parse=parse,
    ran=ran,
    env={"CI": "1", "NO_COLOR": "1"},
    broken_units=broken_units,
    broken_unit_fails_tests=True,
    unit_seconds=unit_seconds,
    build_check=BUILD_CHECK,
    support_files={DRIVER: _DRIVER_SOURCE},
    # No compilation, but a type-checking build check (tsc) costs seconds before the tests start
    # (4-7 s on the fixture package on 2 busy cores).
    rebuild_s=20.0,
)
