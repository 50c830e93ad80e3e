"""Which tests exercise which source function: one coverage run with per-test contexts.

Procedural bugs are validated with only the tests that execute the mutated function (pytest node
ids), which on a repo whose full suite takes 10 s cuts a validation to about a second.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Callable

from harnesses.images.python_recipe import COVERAGE_TOOLS
from harnesses.sandbox import Sandbox
from languages.base import CoverageError, Entity
from swesmith.entities import parse_entities
from swesmith.validate import reset

# ignore_errors: code compiled at run time under a file name that is not on disk (a template engine's
# generated modules) makes `coverage json` stop with "No source for code"; skip those files instead.
_RC = """\
[run]
dynamic_context = test_function
relative_files = True
data_file = /tmp/gskill-cov.data

[report]
ignore_errors = True
"""


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def _module_index(test_files: set[str]) -> dict[str, str | None]:
    """Dotted module names a test file may be imported as -> the file (None when ambiguous).

    pytest's rootdir-relative imports make `tests/test_calc.py` the module `test_calc` when `tests/`
    is not a package, and `tests.test_calc` when it is; index every dotted suffix.
    """
    index: dict[str, str | None] = {}
    for path in test_files:
        parts = path.removesuffix(".py").split("/")
        for cut in range(len(parts)):
            name = ".".join(parts[cut:])
            index[name] = path if index.get(name, path) == path else None
    return index


def context_node_id(context: str, index: dict[str, str | None]) -> str | None:
    """'test_calc.TestX.test_y|run' -> 'tests/test_calc.py::TestX::test_y' (a pytest node id that
    selects every parametrization of that test function)."""
    dotted = context.split("|", 1)[0].split(".")
    for cut in range(len(dotted) - 1, 0, -1):
        found = index.get(".".join(dotted[:cut]))
        if found:
            return "::".join([found, *dotted[cut:]])
    return None


# The project's own coverage first; else the copy the env image holds apart from the project
# (harnesses.images.build); else pip, for a sandbox with a network (the local backend).
_FIND_COVERAGE = f"""python -m coverage --version >/dev/null 2>&1 && exit 0
PYTHONPATH={COVERAGE_TOOLS} python -m coverage --version >/dev/null 2>&1 && echo GSKILL_COVERAGE=tools && exit 0
python -m pip install -q coverage 2>&1"""


def measure(sandbox: Sandbox, test_files: set[str], timeout: float) -> dict[str, dict[int, set[str]]]:
    """{source path: {line: {test node ids}}}; CoverageError (saying why) when coverage cannot be
    installed, run or reported."""
    found = sandbox.exec(_FIND_COVERAGE, timeout=300)
    if not found.ok:
        raise CoverageError(f"coverage is not in the env image and could not be installed: {_last_line(found.output)}")
    coverage = (
        "python -m coverage"
        if "GSKILL_COVERAGE=tools" not in found.output
        else f"PYTHONPATH={COVERAGE_TOOLS} python -m coverage"
    )
    sandbox.write_file("/tmp/gskill-cov.rc", _RC)
    try:
        # Failing tests are fine here (the map only needs what ran); the report step must succeed.
        ran = sandbox.exec(
            f"{coverage} run --rcfile=/tmp/gskill-cov.rc -m pytest -q -p no:cacheprovider -x --no-header >/dev/null 2>&1",
            timeout=timeout,
        )
        if ran.timed_out:
            raise CoverageError(f"the test suite under coverage did not finish in {timeout:.0f}s")
        reported = sandbox.exec(
            f"{coverage} json --rcfile=/tmp/gskill-cov.rc --show-contexts -o /tmp/gskill-cov.json 2>&1",
            timeout=timeout,
        )
        if not reported.ok:
            raise CoverageError(f"`coverage json` failed: {_last_line(reported.output)}")
        try:
            data = json.loads(sandbox.read_file("/tmp/gskill-cov.json"))
        except (FileNotFoundError, ValueError) as exc:
            raise CoverageError(f"`coverage json` wrote no readable report: {exc}") from None
    finally:
        sandbox.exec("rm -f /tmp/gskill-cov.data /tmp/gskill-cov.json")
        reset(sandbox)
    lines_to_tests: dict[str, dict[int, set[str]]] = {}
    index = _module_index(test_files)
    for path, info in data.get("files", {}).items():
        contexts = info.get("contexts") or {}
        mapped: dict[int, set[str]] = defaultdict(set)
        for line, names in contexts.items():
            for name in names:
                node = context_node_id(name, index) if name else None
                if node:
                    mapped[int(line)].add(node)
        if mapped:
            lines_to_tests[path] = dict(mapped)
    return lines_to_tests


def tests_per_function(
    sources: dict[str, str],
    lines_to_tests: dict[str, dict[int, set[str]]],
    parse: Callable[[str], dict[str, Entity]] = parse_entities,
) -> dict[tuple[str, str], set[str]]:
    """{(path, qualname): node ids (or units) of the tests that execute a line of the function's body}.
    `parse` finds a file's functions (the language profile's; Python's by default)."""
    result: dict[tuple[str, str], set[str]] = {}
    for path, text in sources.items():
        covered = lines_to_tests.get(path)
        if not covered:
            continue
        for qualname, entity in parse(text).items():
            files: set[str] = set()
            for line in range(entity.start + 1, entity.end + 1):  # the def line runs at import time
                files |= covered.get(line, set())
            if files:
                result[(path, qualname)] = files
    return result
