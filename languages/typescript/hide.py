"""Hide FAIL_TO_PASS JS/TS tests from the agent (the JS side of swesmith/hide.py, same contract).

A test id is `<test file>::<describe> > ... > <test>`. Its test is the `it(...)` / `test(...)` call
(`.only`, `.skip`, `.concurrent`, ... variants too) whose first argument is the title, reached through
`describe(...)` / `suite(...)` / `context(...)` callbacks whose titles are the describe path. Hiding
removes that call's statement only: the file's other tests, its imports and shared helpers stay, so
what is left still parses (JavaScript does not mind an import nobody uses). Titles the source
computes (`describe(`base - ${name}`)` in a helper called once per option, `"a " + b`, `it.each`
placeholders) are matched as patterns: their computed parts match anything, so one call may define
several ids, and hiding it hides them all (the graded file restores every one). A call whose title
is not a string at all matches anything in its place. A test no call matches stays visible and the
task is rejected (`f2p_not_hideable`). Mocha ids join describe titles with spaces (its JSON report
has no title path): both spellings are matched.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping, Sequence
from typing import Iterator

from tree_sitter import Node

from languages.base import Reader
from languages.sitemutator import descendants
from languages.typescript.jstest import SEPARATOR
from languages.typescript.source import lines_of, parse
from swesmith.hide import VisibleTests, patch_sections
from swesmith.patches import make_patch

TEST_CALLS = frozenset({"it", "test", "specify", "xit", "fit"})
SUITE_CALLS = frozenset({"describe", "suite", "context", "xdescribe", "fdescribe"})


def _callee(call: Node) -> str:
    """`it` for `it(...)`, `it.only(...)`, `test.concurrent.skip(...)`, `it.each(table)(...)`; "" for
    anything else."""
    node = call.child_by_field_name("function")
    while node is not None and node.type in ("member_expression", "call_expression"):
        node = node.child_by_field_name("object" if node.type == "member_expression" else "function")
    return node.text.decode() if node is not None and node.type == "identifier" else ""


# What a runner substitutes into a title: printf placeholders (`it.each`) and `$name` / `$0.name`.
_PLACEHOLDER = re.compile(r"%[sdifjoOp#]|\$[\w.]+")


def _unescaped(fragment: Node) -> str:
    text = fragment.text.decode()
    if fragment.type != "escape_sequence":
        return text
    try:
        return codecs.decode(text, "unicode_escape")
    except UnicodeDecodeError:
        return text[1:]


def _pattern(node: Node) -> str:
    """A regular expression for the title `node` evaluates to: a string's text (a runner's
    placeholders as `.*`), a template's or a concatenation's computed parts as `.*`, anything else
    `.*`."""
    if node.type in ("string", "template_string"):
        parts: list[str] = []
        for child in node.children:
            if child.type in ("string_fragment", "escape_sequence"):
                text = _unescaped(child)
                parts.append(".*".join(re.escape(piece) for piece in _PLACEHOLDER.split(text)))
            elif child.type == "template_substitution":
                parts.append(".*")
        return "".join(parts)
    if node.type == "binary_expression" and (operator := node.child_by_field_name("operator")) is not None:
        if operator.type == "+":
            return _pattern(node.child_by_field_name("left")) + _pattern(node.child_by_field_name("right"))
    if node.type == "parenthesized_expression" and node.named_children:
        return _pattern(node.named_children[0])
    return ".*"


def _title(call: Node) -> str | None:
    """The pattern of a call's first argument, None without one."""
    arguments = call.child_by_field_name("arguments")
    first = arguments.named_children[0] if arguments is not None and arguments.named_children else None
    return None if first is None else _pattern(first)


def _aliases(root: Node) -> tuple[frozenset[str], frozenset[str]]:
    """(test calls, suite calls) of a file: the runner's own names and the constants it binds to
    them, as in `const testOrSkip = isWindows ? test.skip : test` (not functions that call them:
    their tests are reached through their bodies)."""
    tests, suites = set(TEST_CALLS), set(SUITE_CALLS)
    for node in descendants(root):
        if node.type != "variable_declarator":
            continue
        name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
        if name is None or name.type != "identifier" or value is None or "function" in value.type:
            continue
        used = {inner.text.decode() for inner in descendants(value) if inner.type == "identifier"}
        if used & TEST_CALLS:
            tests.add(name.text.decode())
        elif used & SUITE_CALLS:
            suites.add(name.text.decode())
    return frozenset(tests), frozenset(suites)


def _calls(
    node: Node, describes: tuple[str, ...], calls: tuple[frozenset[str], frozenset[str]] = (TEST_CALLS, SUITE_CALLS)
) -> Iterator[tuple[tuple[str, ...], Node]]:
    """(title path as patterns, statement) of every test call under `node`, through describe
    callbacks and the functions that call them (a helper that defines tests for each option).
    `calls`: the names of test and suite calls (`_aliases`)."""
    tests, suites = calls
    for child in node.named_children:
        call = child.named_children[0] if child.type == "expression_statement" and child.named_children else None
        if call is None or call.type != "call_expression":
            yield from _calls(child, describes, calls)
            continue
        name, title = _callee(call), _title(call)
        if name in tests and title is not None:
            yield (*describes, title), child
        elif name in suites and title is not None:
            arguments = call.child_by_field_name("arguments")
            for callback in arguments.named_children[1:]:
                if callback.type in ("arrow_function", "function_expression", "function"):
                    body = callback.child_by_field_name("body")
                    if body is not None:
                        yield from _calls(body, (*describes, title), calls)
        else:
            # Another call with a callback (an aliased `describeFn(name, () => ...)`, a `forEach`):
            # its tests may sit under one more describe level, or none.
            arguments = call.child_by_field_name("arguments")
            wraps = arguments is not None and any(
                argument.type in ("arrow_function", "function_expression", "function")
                for argument in arguments.named_children
            )
            yield from _calls(call, (*describes, MAYBE_LEVEL) if wraps else describes, calls)


MAYBE_LEVEL = "(?:maybe)"  # a title path level that may be absent, with any title


def _regex(titles: tuple[str, ...]) -> re.Pattern:
    """The id names (after `::`) a test with these title patterns may have: describe titles joined
    by " > " (vitest, jest, node) or by spaces with " > " before the test's own (mocha)."""
    path, last = titles[:-1], titles[-1]
    spellings = []
    for joiner in (re.escape(SEPARATOR), " "):
        levels = "".join(f"(?:.*{joiner})?" if title == MAYBE_LEVEL else f"{title}{joiner}" for title in path)
        if joiner == " " and levels.endswith(" "):
            levels = levels[:-1] + re.escape(SEPARATOR)  # mocha: " > " before the test's own title
        spellings.append(levels + last)
    return re.compile("|".join(f"(?:{spelling})" for spelling in spellings), re.S)


def find_tests(text: str, names: set[str]) -> dict[str, list[Node]]:
    """Each of `names` (test ids after `::`) that some test call of `text` may define -> the
    statements of those calls. A call whose titles are all literals matches its own name only; one
    with computed titles (a describe per option, `it.each`) may match several, and is hidden whole."""
    tree = parse(text)
    found: dict[str, list[Node]] = {}
    if tree.root_node.has_error:
        return found
    for titles, statement in _calls(tree.root_node, (), _aliases(tree.root_node)):
        regex = _regex(titles)
        for name in names:
            if regex.fullmatch(name):
                found.setdefault(name, []).append(statement)
    return found


def remove_tests(text: str, names: set[str]) -> str | None:
    """`text` without the statements of the tests `names`; None when the result does not parse."""
    found = find_tests(text, names)
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
        defined = set(find_tests(graded, set(tests))) if graded is not None else set()
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
    statements = find_tests(text, {name}).get(name)
    if not statements:
        return None
    lines = lines_of(text)
    return "".join(lines[statements[0].start_point.row : statements[0].end_point.row + 1])
