"""Hide FAIL_TO_PASS tests from the agent: the task's `test_patch` restores them for grading.

As in SWE-bench (where the test patch is applied only at evaluation), the agent's bug state lacks the
test functions that would reveal the expected behaviour. `test_patch` goes from the hidden test files
to the snapshot's, so grading applies it after the agent's patch.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict

from swesmith.entities import parse_entities
from swesmith.patches import make_patch


def _qualname(test_id: str) -> tuple[str, str]:
    path, _, rest = test_id.partition("::")
    return path, re.sub(r"\[.*\]$", "", rest).replace("::", ".")


def remove_functions(source: str, qualnames: set[str]) -> str:
    """`source` without the named test functions; a class left empty gets `pass`."""
    entities = parse_entities(source)
    doomed = sorted((entities[name] for name in qualnames if name in entities), key=lambda e: e.start, reverse=True)
    lines = source.splitlines(keepends=True)
    for entity in doomed:
        lines = lines[: entity.start - 1] + lines[entity.end :]
    if _compiles("".join(lines)):  # the common case: one compile for the whole file
        return "".join(lines)
    # Some class lost its last statement: redo one removal at a time, adding `pass` where needed.
    lines = source.splitlines(keepends=True)
    for entity in doomed:
        before, after = lines[: entity.start - 1], lines[entity.end :]
        lines = before + after
        if not _compiles("".join(lines)):
            lines = before + [" " * entity.indent + "pass\n"] + after
    return "".join(lines)


def _compiles(source: str) -> bool:
    try:
        compile(source, "<hidden>", "exec", flags=ast.PyCF_ONLY_AST)
        return True
    except SyntaxError:
        return False


def hidden_test_patch(fail_to_pass: list[str], read_file) -> str:
    """A diff from the hidden test files to the snapshot's. `read_file(path) -> text | None`."""
    per_file: dict[str, set[str]] = defaultdict(set)
    for test_id in fail_to_pass:
        path, qualname = _qualname(test_id)
        per_file[path].add(qualname)
    changes = {}
    for path, names in sorted(per_file.items()):
        original = read_file(path)
        if original is None:
            continue
        hidden = remove_functions(original, names)
        try:
            compile(hidden, path, "exec")
        except SyntaxError:
            continue  # leave this file whole rather than ship a broken one
        if hidden != original:
            changes[path] = (hidden, original)
    return make_patch(changes)
