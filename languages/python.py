"""The Python profile: pytest, swebench's pytest log parser, `ast` for functions and mutations.

Python's source analysis predates profiles and stays in the mining modules whose tests import it
(`swesmith.entities`, `swesmith.procedural`, `swesmith.hide`, `swesmith.coverage_map`); the env image
recipe is `harnesses/images/deps.py` + `repair.py`. This module says how pytest is run and read, and
points the profile's methods at those implementations (imported when called: a grader that only
needs the TestSpec never loads the miners).
"""

from __future__ import annotations

import re
import shlex
from typing import Callable, Iterator, Mapping, Sequence

from languages.base import Entity, ImageRecipe, Profile, Reader, TestRunLog, TestSpec, register

PYTEST = "python -m pytest -rA -q -p no:cacheprovider --tb=short"
# Repeat runs only need each test's outcome.
PYTEST_QUIET = "python -m pytest -rA -q -p no:cacheprovider --tb=no"
# Grading: one line per failure. Full tracebacks of a patch that breaks hundreds of tests can take
# minutes to render (seen on click), and the -rA summary already carries each failure's message.
PYTEST_GRADE = "python -m pytest -rA -q -p no:cacheprovider --tb=line"
# The first bug-state run keeps tracebacks for the problem statement, but only of its first few
# failures: a bug that breaks a constructor fails a thousand tests, and formatting their tracebacks
# (source lookups for every frame) took longer than running them (seen on click: 15 s timeouts).
PLUGIN_DIR = "/tmp/gskill-pytest"
PLUGIN = """\
import pytest

_SHOWN = [0]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # After three failures, build reports as --tb=no does (cheap: no source lookups per frame).
    option = item.config.option
    saved = option.tbstyle
    if _SHOWN[0] >= 3:
        option.tbstyle = "no"
    try:
        report = (yield).get_result()
    finally:
        option.tbstyle = saved
    if report.failed and _SHOWN[0] < 3:
        _SHOWN[0] += 1
"""
# Every test's setup/call/teardown time, even the tiny ones, so per-file costs can be summed.
DURATIONS = " --durations=0 --durations-min=0"
_BASES = {
    "baseline": PYTEST + DURATIONS,
    "first": f"PYTHONPATH={PLUGIN_DIR} " + PYTEST + " -p gskill_few_tracebacks",
    "repeat": PYTEST_QUIET,
    "grade": PYTEST_GRADE,
}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s (?:setup|call|teardown)\s+(\S+?)::", re.M)
# pytest's closing line, e.g. "=== 3 failed, 10 passed in 0.52s ===" or "no tests ran in 0.01s".
# With -q the line has no "===" frame.
_SUMMARY = re.compile(
    r"^=*\s*(?:no tests ran|\d+ (?:passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?))[^\n]* in [\d.]+s",
    re.M,
)
# Exit codes 0-2 and 5 are pytest's "tests ran" outcomes; 3 (internal error) and 4 (usage) are not.
_RAN_EXIT_CODES = {0, 1, 2, 5}
_ERROR_LINE = re.compile(r"^E\s{3}(.*)$")


def pytest_command(selection: tuple[str, ...], purpose: str = "repeat", limit_s: float | None = None) -> str:
    """The pytest command line for test files and/or node ids (empty = the whole suite). No limit of
    its own: pytest has none without a plugin, so the run's outer timeout stops a hang."""
    return " ".join([_BASES[purpose], *(shlex.quote(entry) for entry in selection)])


def file_seconds(output: str) -> dict[str, float]:
    """Test file -> seconds its tests took, from pytest's `--durations=0` table."""
    seconds: dict[str, float] = {}
    for match in _DURATION.finditer(output):
        seconds[match[2]] = seconds.get(match[2], 0.0) + float(match[1])
    return {path: round(total, 3) for path, total in seconds.items()}


def pytest_ran(run: TestRunLog) -> bool:
    return not run.timed_out and run.exit_code in _RAN_EXIT_CODES and bool(_SUMMARY.search(run.output))


def parse_pytest_log(output: str) -> dict[str, str]:
    """{test id: outcome} by swebench's pytest log parser (`-rA` summary lines). Imported when
    called: swebench's package takes a second to import, which `gskill env build` never needs."""
    from swebench.harness.log_parsers.python import parse_log_pytest

    return parse_log_pytest(output, None)


def collection_errors(output: str) -> tuple[str, ...]:
    """Test files that failed to import (pytest reports them as ERROR without a test name)."""
    status = parse_pytest_log(output)
    return tuple(sorted(name for name, outcome in status.items() if outcome == "ERROR" and "::" not in name))


def failure_messages(output: str, limit: int = 6) -> list[str]:
    """The `E   ...` lines of pytest's tracebacks: assertion and exception text."""
    messages: list[str] = []
    for line in output.splitlines():
        match = _ERROR_LINE.match(line)
        if not match:
            continue
        text = match.group(1).rstrip()
        # Paths would name the test files; the assertion text itself is the user-visible symptom.
        if "/test" in text or text.startswith(("where ", "+  where", "and ")) or not text.strip():
            continue
        if text not in messages:
            messages.append(text[:300])
        if len(messages) >= limit:
            break
    return messages


TEST_SPEC = TestSpec(
    name="pytest",
    command=pytest_command,
    parse=parse_pytest_log,
    ran=pytest_ran,
    env={"PYTHONDONTWRITEBYTECODE": "1"},
    broken_units=collection_errors,
    broken_unit_fails_tests=True,
    unit_seconds=file_seconds,
    collect_command=lambda unit: f"python -m pytest --co -q -p no:cacheprovider {shlex.quote(unit)}",
    support_files={f"{PLUGIN_DIR}/gskill_few_tracebacks.py": PLUGIN},
)


@register
class PythonProfile(Profile):
    name = "python"
    title = "Python"
    suffixes = (".py",)
    markers = ("pyproject.toml", "setup.py", "setup.cfg")
    config_files = ("pyproject.toml", "setup.cfg", "setup.py", "tox.ini", "noxfile.py", "pytest.ini")
    test_command_hint = "python -m pytest -q"
    strategies = ("commit-mirror", "commit-historical", "procedural", "llm-rewrite", "composite")
    needs = "a pytest suite; dependencies from pyproject/setup.py/requirements*/tox/nox, installed at image build"
    limits = "pytest only (unittest suites run under pytest); C extensions need their build deps in the base image"

    test_spec = TEST_SPEC

    def is_test_file(self, path: str) -> bool:
        from swesmith.candidate import is_test_file

        return is_test_file(path)

    def parse_entities(self, source: str) -> dict[str, Entity]:
        from swesmith.entities import parse_entities

        return parse_entities(source)

    def parses(self, source: str) -> bool:
        import ast

        try:
            ast.parse(source)
        except (SyntaxError, ValueError):
            return False
        return True

    def entity_changes(self, old, new):
        from swesmith.entities import entity_changes

        return entity_changes(old, new)

    def entity_shape(self, entity: Entity) -> str:
        from swesmith.entities import entity_shape

        return entity_shape(entity)

    def replace_entity(self, source: str, qualname: str, new_text: str, new_indent: int | None = None) -> str | None:
        from swesmith.entities import replace_entity

        return replace_entity(source, qualname, new_text, new_indent)

    def strip_docs(self, source: str) -> str:
        from swesmith.entities import strip_docstrings

        return strip_docstrings(source)

    def procedural_candidates(
        self,
        files: Mapping[str, str],
        targets: Sequence[tuple[str, str]],
        *,
        seed: int,
        per_function: int,
        test_files_for: Callable[[str, str], tuple[str, ...]],
    ) -> Iterator:
        from swesmith.procedural import procedural_candidates

        return procedural_candidates(
            files, targets, seed=seed, per_function=per_function, test_files_for=test_files_for
        )

    def measure_coverage(self, sandbox, units: set[str], timeout: float) -> dict[str, dict[int, set[str]]]:
        from swesmith.coverage_map import measure

        return measure(sandbox, units, timeout)

    def hidden_test_patch(
        self, fail_to_pass, read_file: Reader, *, paths=(), shown: Reader | None = None, base_patch=""
    ):
        from swesmith.hide import hidden_test_patch

        return hidden_test_patch(fail_to_pass, read_file, shown=shown, base_patch=base_patch)

    def test_source(self, files: Mapping[str, str], test_id: str) -> str | None:
        from swesmith.entities import parse_entities

        path, _, rest = test_id.partition("::")
        entity = parse_entities(files.get(path, "")).get(re.sub(r"\[.*\]$", "", rest).replace("::", "."))
        return entity.source if entity else None

    def failure_messages(self, output: str, limit: int = 6) -> list[str]:
        return failure_messages(output, limit)

    def image_recipe(self, paths: Sequence[str], read: Reader) -> ImageRecipe:
        from harnesses.images.python_recipe import python_recipe

        return python_recipe(paths, read)
