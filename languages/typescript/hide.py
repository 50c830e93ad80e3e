"""Hide FAIL_TO_PASS JS/TS tests from the agent (the JS side of swesmith/hide.py, same contract).

A test id is `<test file>::<describe> > ... > <test>`. Its test is the `it(...)` / `test(...)` call
(`.only`, `.skip`, `.concurrent`, ... variants too) whose first argument is the title, reached through
`describe(...)` / `suite(...)` / `context(...)` callbacks whose titles are the describe path. Hiding
removes that call's statement only: the file's other tests, its imports and shared helpers stay, so
what is left still parses (JavaScript does not mind an import nobody uses). A title the source does
not spell literally (`it.each` tables, computed titles) cannot be found: the test stays visible and
the task is rejected (`f2p_not_hideable`). Mocha ids join describe titles with spaces (its JSON
report has no title path): both spellings are matched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Iterator

from tree_sitter import Node

from languages.base import Reader
from languages.typescript.jstest import SEPARATOR
from languages.typescript.source import lines_of, parse
from swesmith.hide import VisibleTests, patch_sections
from swesmith.patches import make_patch

TEST_CALLS = frozenset({"it", "test", "specify", "xit", "fit"})
SUITE_CALLS = frozenset({"describe", "suite", "context", "xdescribe", "fdescribe"})


def _callee(call: Node) -> str:
    """`it` for `it(...)`, `it.only(...)`, `test.concurrent.skip(...)`; "" for anything else."""
    node = call.child_by_field_name("function")
    while node is not None and node.type == "member_expression":
        node = node.child_by_field_name("object")
    return node.text.decode() if node is not None and node.type == "identifier" else ""


def _title(call: Node) -> str | None:
    arguments = call.child_by_field_name("arguments")
    first = arguments.named_children[0] if arguments is not None and arguments.named_children else None
    if first is None or first.type not in ("string", "template_string"):
        return None
    if any(child.type == "template_substitution" for child in first.named_children):
        return None
    return first.text.decode()[1:-1]


def _calls(node: Node, describes: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Node]]:
    """(title path, statement) of every test call under `node`, through describe callbacks."""
    for child in node.named_children:
        call = child.named_children[0] if child.type == "expression_statement" and child.named_children else None
        if call is None or call.type != "call_expression":
            if child.type not in ("function_declaration", "class_declaration"):
                yield from _calls(child, describes) if child.type != "expression_statement" else ()
            continue
        name, title = _callee(call), _title(call)
        if title is None:
            continue
        if name in TEST_CALLS:
            yield (*describes, title), child
        elif name in SUITE_CALLS:
            arguments = call.child_by_field_name("arguments")
            for callback in arguments.named_children[1:]:
                body = (
                    callback.child_by_field_name("body")
                    if callback.type in ("arrow_function", "function_expression")
                    else None
                )
                if body is not None:
                    yield from _calls(body, (*describes, title))


def _spellings(titles: tuple[str, ...]) -> set[str]:
    path, last = titles[:-1], titles[-1]
    mocha = f"{' '.join(path)}{SEPARATOR}{last}" if path else last
    return {SEPARATOR.join(titles), mocha}


def find_tests(text: str) -> dict[str, list[Node]]:
    """Test name (as an id spells it after `::`) -> the statements that define it."""
    tree = parse(text)
    found: dict[str, list[Node]] = {}
    if tree.root_node.has_error:
        return found
    for titles, statement in _calls(tree.root_node, ()):
        for spelling in _spellings(titles):
            found.setdefault(spelling, []).append(statement)
    return found


def remove_tests(text: str, names: set[str]) -> str | None:
    """`text` without the statements of the tests `names`; None when the result does not parse."""
    found = find_tests(text)
    rows: set[int] = set()
    for name in names:
        for statement in found.get(name, ()):
            rows.update(range(statement.start_point.row, statement.end_point.row + 1))
    if not rows:
        return text
    lines = lines_of(text)
    kept = [line for row, line in enumerate(lines) if row not in rows]
    hidden = "".join(kept)
    return hidden if not parse(hidden).root_node.has_error else None


def hidden_test_patch(
    fail_to_pass: list[str],
    read_file: Reader,
    *,
    paths: Sequence[str] = (),
    shown: Reader | None = None,
    base_patch: str = "",
) -> str:
    """The diff from the agent's test files (every F2P test call removed) to the graded ones; raises
    VisibleTests for tests whose call is not found in their file."""
    shown = shown or read_file
    per_file: dict[str, dict[str, list[str]]] = {}
    for test_id in fail_to_pass:
        file, _, name = test_id.partition("::")
        per_file.setdefault(file, {}).setdefault(name, []).append(test_id)
    visible: list[str] = []
    sections = patch_sections(base_patch)
    changes: dict[str, tuple[str | None, str | None]] = {}
    for file, tests in sorted(per_file.items()):
        graded = read_file(file)
        defined = set(tests) & set(find_tests(graded)) if graded is not None else set()
        visible += [test_id for name, ids in tests.items() if name not in defined for test_id in ids]
        before = shown(file)
        if not defined or before is None:
            continue
        hidden = remove_tests(before, defined)
        if hidden is None:
            visible += [test_id for name in sorted(defined) for test_id in tests[name]]
        elif hidden != before:
            changes[file] = (hidden, graded)
            sections.pop(file, None)
    if visible:
        raise VisibleTests(visible)
    return "".join(sections.values()) + make_patch(changes)


def test_source(files: Mapping[str, str], test_id: str) -> str | None:
    """The text of the test call `test_id`."""
    file, _, name = test_id.partition("::")
    text = files.get(file)
    if text is None:
        return None
    statements = find_tests(text).get(name)
    if not statements:
        return None
    lines = lines_of(text)
    return "".join(lines[statements[0].start_point.row : statements[0].end_point.row + 1])
