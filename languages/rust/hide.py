"""Hide FAIL_TO_PASS Rust tests from the agent (the Rust side of swesmith/hide.py, same contract).

A test id `<unit>::<module path>::<fn>` is found from the unit's crate root file (src/lib.rs,
tests/api.rs, ...) by following its module path as rustc does: an inline `mod m { ... }` in the
current file, else `mod m;` in m.rs / m/mod.rs beside it (a `#[path]` attribute is not followed: such
a test stays visible and the task is rejected). Hiding removes that test *function* (or the macro
call that writes it, `rgtest!(name, ...)`) — with its attributes and doc comments — from the module, wherever it lives: unit tests sit inside
`#[cfg(test)] mod tests` of source files, so the hidden file is often the buggy file itself; the rest
of the module stays (an import only the removed test used is a warning, not an error, and the build
check of the agent's view catches a crate that denies warnings).
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Mapping, Sequence

from tree_sitter import Node

from languages.base import Reader
from languages.rust.source import lines_of, node_text, parse
from languages.rust.workspace import unit_root_file
from swesmith.hide import VisibleTests, patch_sections
from swesmith.patches import make_patch


def _module_body(container: Node, name: str) -> Node | None | bool:
    """The body of inline `mod name { }` in `container`; True when it is declared `mod name;`
    (its own file); None when absent."""
    for child in container.named_children:
        if child.type == "mod_item" and node_text(child.child_by_field_name("name")) == name:
            body = child.child_by_field_name("body")
            return body if body is not None else True
    return None


def _child_files(path: str, name: str) -> list[str]:
    """Where `mod name;` declared in file `path` lives."""
    folder, file = posixpath.split(path)
    if file in ("lib.rs", "main.rs", "mod.rs") or posixpath.basename(folder) in ("tests",) and file.endswith(".rs"):
        base = folder
    else:
        base = posixpath.join(folder, file.removesuffix(".rs"))
    return [posixpath.join(base, f"{name}.rs"), posixpath.join(base, name, "mod.rs")]


def locate(test_id: str, paths: Sequence[str], read: Reader) -> tuple[str, list[str]] | None:
    """(the file defining the test's function, the inline module path inside that file), or None."""
    unit, _, name = test_id.partition("::")
    root = unit_root_file(unit, paths, read)
    if root is None or not name:
        return None
    *modules, _ = name.split("::")
    path, inline = root, []
    existing = set(paths)
    for module in modules:
        text = read(path)
        if text is None:
            return None
        container = parse(text).root_node
        for step in inline:
            container = _module_body(container, step)
            if not isinstance(container, Node):
                return None
        found = _module_body(container, module)
        if isinstance(found, Node):
            inline.append(module)
        elif found is True:
            if inline:  # `mod a { mod b; }`: the file lives under a/ — follow it like rustc
                path = posixpath.join(posixpath.dirname(path), *inline, f"{module}.rs")
                inline = []
                candidates = [path, path.removesuffix(".rs") + "/mod.rs"]
            else:
                candidates = _child_files(path, module)
            path = next((candidate for candidate in candidates if candidate in existing), "")
            if not path:
                return None
        else:
            return None
    return path, inline


def _test_functions(root: Node, inline: list[str], name: str) -> list[Node]:
    container: Node | None | bool = root
    for step in inline:
        container = _module_body(container, step)
        if not isinstance(container, Node):
            return []
    return [child for child in container.named_children if _defines_test(child, name)]


def _defines_test(item: Node, name: str) -> bool:
    """A function `name`, or a macro call whose first token is `name`: tests written through a
    macro (`rgtest!(name, |dir, cmd| { ... });` in ripgrep, `test_case!(name, ...)`) are named by it."""
    if item.type == "function_item":
        return node_text(item.child_by_field_name("name")) == name
    call = item.named_children[0] if item.type == "expression_statement" and item.named_children else item
    if call.type != "macro_invocation" or not call.named_children:
        return False
    tokens = call.named_children[-1]  # `(name, ...)`: its children are the delimiter, then the tokens
    if tokens.type != "token_tree" or len(tokens.children) < 2:
        return False
    first = tokens.children[1]
    return first.type == "identifier" and node_text(first) == name


def _end_row(node: Node) -> int:
    """The last row a node's text is on (a line comment's node ends at column 0 of the next row)."""
    end = node.end_point
    return end.row - 1 if end.column == 0 and end.row > node.start_point.row else end.row


def _with_preamble(node: Node) -> int:
    """The first row of an item with the attributes and comments directly above it."""
    first, previous = node.start_point.row, node.prev_named_sibling
    while previous is not None and previous.type in ("attribute_item", "line_comment", "block_comment"):
        if _end_row(previous) < first - 1:
            break
        before = previous.prev_named_sibling
        if before is not None and _end_row(before) == previous.start_point.row:
            break  # a comment trailing other code: its line is that code's
        first, previous = previous.start_point.row, before
    return first


def remove_tests(text: str, tests: Sequence[tuple[list[str], str]]) -> str | None:
    """`text` without the test functions (inline module path, name); None when the file does not
    parse before or after, or when some function is not found."""
    tree = parse(text)
    if tree.root_node.has_error:
        return None
    doomed: set[int] = set()
    lines = lines_of(text)
    for inline, name in tests:
        nodes = _test_functions(tree.root_node, inline, name)
        if not nodes:
            return None
        for node in nodes:
            first, last = _with_preamble(node), node.end_point.row
            doomed.update(range(first, last + 1))
            if 0 < first and last + 1 < len(lines) and not lines[first - 1].strip() and not lines[last + 1].strip():
                doomed.add(last + 1)
    hidden = "".join(line for row, line in enumerate(lines) if row not in doomed)
    return None if parse(hidden).root_node.has_error else hidden


def hidden_test_patch(
    fail_to_pass: list[str],
    read_file: Reader,
    *,
    paths: Sequence[str] = (),
    shown: Reader | None = None,
    base_patch: str = "",
) -> str:
    """The diff from the agent's files (every F2P test function removed) to the graded ones. Raises
    VisibleTests for tests whose function cannot be found from their unit's crate root."""
    shown = shown or read_file
    per_file: dict[str, list[tuple[list[str], str, str]]] = defaultdict(list)
    visible: list[str] = []
    for test_id in fail_to_pass:
        where = locate(test_id, paths, read_file)
        if where is None:
            visible.append(test_id)
        else:
            per_file[where[0]].append((where[1], test_id.rsplit("::", 1)[1], test_id))
    sections = patch_sections(base_patch)
    changes: dict[str, tuple[str | None, str | None]] = {}
    for path, tests in sorted(per_file.items()):
        before = shown(path)
        if before is None:
            continue  # not in the agent's view at all
        graded = parse(read_file(path) or "").root_node
        visible += [test_id for inline, name, test_id in tests if not _test_functions(graded, inline, name)]
        shown_root = parse(before).root_node
        present = [(inline, name) for inline, name, _ in tests if _test_functions(shown_root, inline, name)]
        hidden = remove_tests(before, present) if present else before
        if hidden is None:
            visible += [test_id for _, _, test_id in tests]
        elif hidden != before:
            changes[path] = (hidden, read_file(path))
            sections.pop(path, None)
    if visible:
        raise VisibleTests(visible)
    return "".join(sections.values()) + make_patch(changes)


def test_source(files: Mapping[str, str], test_id: str) -> str | None:
    """The text of the test function `test_id`."""
    where = locate(test_id, list(files), files.get)
    if where is None:
        return None
    path, inline = where
    for node in _test_functions(parse(files[path]).root_node, inline, test_id.rsplit("::", 1)[1]):
        return "".join(lines_of(files[path])[_with_preamble(node) : node.end_point.row + 1])
    return None
