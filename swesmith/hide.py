"""Hide FAIL_TO_PASS tests from the agent: the task's `test_patch` restores them for grading.

As in SWE-bench (where the test patch is applied only at evaluation), the agent's bug state lacks the
test functions that would reveal the expected behaviour. `test_patch` goes from the hidden test files
to the graded ones, so grading applies it after the agent's patch.

Whatever the strategy, no F2P test id may stay collectable in the agent's tree. A test defined where
its id says (`path::Class::test`, `def test` in that class of that file) loses its function; a test
that exists there only by inheritance, generation or import loses its whole test file; a test that
cannot be hidden either way (a doctest in a source module) makes the task unusable (`VisibleTests`).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from typing import Callable

from swesmith.candidate import is_test_file
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


class VisibleTests(ValueError):
    """Some FAIL_TO_PASS tests cannot be hidden from the agent (`.tests` says which)."""

    def __init__(self, tests: list[str]) -> None:
        super().__init__(f"cannot hide {len(tests)} FAIL_TO_PASS test(s), e.g. {tests[0]}")
        self.tests = tests


Reader = Callable[[str], str | None]  # path -> text, None when the file is absent


def _hidden(shown: str, graded: str | None, names: set[str]) -> str | None:
    """`shown` without the named tests, or None when only removing the whole file hides them: some
    name is no `def` of the graded file (inherited, generated, imported), or stays defined after the
    removal (a duplicated name), or the file would not compile."""
    if graded is None or not names <= set(parse_entities(graded)):
        return None
    hidden = shown
    for _ in range(5):  # a name defined twice loses one definition per round (the live one first)
        if not names & set(parse_entities(hidden)):
            return hidden if _compiles(hidden) else None
        hidden = remove_functions(hidden, names)
    return None


def patch_sections(patch: str) -> dict[str, str]:
    """A git diff, per file (by the `b/` path of its `diff --git` line)."""
    sections: dict[str, str] = {}
    for part in re.split(r"(?m)^(?=diff --git )", patch):
        header = re.match(r"diff --git a/(\S+) b/(\S+)", part)
        if header or part.strip():
            sections[header[2] if header else part] = part  # a quoted path is kept as it is
    return sections


def hidden_test_patch(
    fail_to_pass: list[str], read_file: Reader, *, shown: Reader | None = None, base_patch: str = ""
) -> str:
    """The task's test_patch: a diff from the agent's test files to the graded ones.

    `read_file(path)`: a file as grading runs it. `shown(path)`: as the agent would see it before any
    F2P test is hidden (default: the same) — a commit-historical task shows the parent's test files,
    and `base_patch` (the commit's own test changes) goes from those to the graded ones. Raises
    VisibleTests when some F2P test cannot be hidden.
    """
    shown = shown or read_file
    per_file: dict[str, set[str]] = defaultdict(set)
    for test_id in fail_to_pass:
        path, qualname = _qualname(test_id)
        per_file[path].add(qualname)
    sections, visible = patch_sections(base_patch), []
    changes: dict[str, tuple[str | None, str | None]] = {}
    for path, names in sorted(per_file.items()):
        graded, before = read_file(path), shown(path)
        if before is None:
            continue  # not in the agent's view at all
        hidden = _hidden(before, graded, names)
        if graded is None or hidden is None and not is_test_file(path):
            # No file at that path (another rootdir?) says where the test lives, or it lives in a
            # module that must stay (a doctest in the source).
            visible += [test for test in fail_to_pass if _qualname(test)[0] == path]
        elif hidden != before:
            changes[path] = (hidden, graded)
            sections.pop(path, None)
    if visible:
        raise VisibleTests(visible)
    return "".join(sections.values()) + make_patch(changes)
