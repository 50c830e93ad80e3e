"""Rust source files: which are tests, their functions and methods by name, and their code shape.

Names: a free function is `name`; a method is `Type.method` with the implementing type's bare name
(`impl<T> fmt::Display for Stats<T> { fn fmt }` is `Stats.fmt`: generics, paths and the trait change
with refactors, the method does not); a trait's default method is `Trait.method`; a function inside
an inline `mod m { ... }` is `m.name` (`m.Type.method`). Test code is no entity: functions marked
`#[test]` (or `#[tokio::test]`, any attribute path ending in `test`) and whole `#[cfg(test)]`
modules are skipped, so a source file's inline tests never count as source changes or mutation
targets. An entity spans its item with the attributes directly above it (doc comments excluded).
"""

from __future__ import annotations

import re

import tree_sitter_rust
from tree_sitter import Language, Node, Parser, Tree

from languages.base import Entity

RUST = Language(tree_sitter_rust.language())
_PARSER = Parser(RUST)

_COMMENTS = frozenset({"line_comment", "block_comment"})
_LINE = re.compile(r"[^\n]*\n|[^\n]+")
_TEST_ATTRIBUTE = re.compile(r"^#\[\s*(?:[\w:]+::)?test\s*(?:\(.*\))?\s*\]$", re.S)
_CFG_TEST = re.compile(r"^#\[\s*cfg\s*\(\s*test\s*\)\s*\]$")


def is_test_file(path: str) -> bool:
    """Files that hold only tests: anything under a `tests/` folder (integration tests and their
    helpers), and test modules kept in their own file (`tests.rs`, `test.rs`, `*_tests.rs`,
    `*_test.rs`). A source file with an inline `#[cfg(test)] mod tests` is a source file."""
    if not path.endswith(".rs"):
        return False
    parts = path.split("/")
    if "tests" in parts[:-1]:
        return True
    name = parts[-1]
    return name in ("tests.rs", "test.rs") or name.endswith(("_tests.rs", "_test.rs"))


def is_source_file(path: str) -> bool:
    if not path.endswith(".rs") or is_test_file(path):
        return False
    parts = path.split("/")[:-1]
    # Vendored crates, benches, examples and build output are not the crate's code under test.
    return not any(part in ("vendor", "target", "benches", "examples", "fuzz") for part in parts)


def parse(text: str) -> Tree:
    return _PARSER.parse(text.encode("utf-8"))


def lines_of(text: str) -> list[str]:
    """Lines as tree-sitter counts them (only `\\n` ends one), each with its newline."""
    return _LINE.findall(text)


def node_text(node: Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None else ""


def attributes(item: Node) -> list[Node]:
    """The `#[...]` attribute items directly above `item` (comments between them allowed)."""
    found = []
    previous = item.prev_named_sibling
    while previous is not None and previous.type in ("attribute_item", *_COMMENTS):
        if previous.type == "attribute_item":
            found.append(previous)
        previous = previous.prev_named_sibling
    return found[::-1]


def is_test_item(item: Node) -> bool:
    """A `#[test]`-like function or a `#[cfg(test)]` module."""
    texts = [re.sub(r"\s+", " ", node_text(attribute)) for attribute in attributes(item)]
    if item.type == "function_item":
        return any(_TEST_ATTRIBUTE.match(text) for text in texts)
    return item.type == "mod_item" and any(_CFG_TEST.match(text) for text in texts)


def type_name(node: Node | None) -> str:
    """The bare name of an impl's type: `Stats<T>` -> `Stats`, `crate::a::B` -> `B`, `&'a X` -> `X`."""
    while node is not None:
        if node.type in ("type_identifier", "primitive_type", "identifier"):
            return node_text(node)
        if node.type in ("generic_type",):
            node = node.child_by_field_name("type")
        elif node.type in ("scoped_type_identifier", "scoped_identifier"):
            node = node.child_by_field_name("name")
        elif node.type in ("reference_type", "pointer_type", "array_type", "slice_type"):
            node = node.child_by_field_name("type")
        else:
            return node_text(node)
    return ""


def _walk(container: Node, prefix: str, found: dict[str, Node]) -> None:
    for child in container.named_children:
        if child.type == "function_item" and child.child_by_field_name("body") is not None:
            if not is_test_item(child):
                found[prefix + node_text(child.child_by_field_name("name"))] = child
        elif child.type in ("impl_item", "trait_item"):
            owner = type_name(child.child_by_field_name("type" if child.type == "impl_item" else "name"))
            body = child.child_by_field_name("body")
            if body is None or not owner:
                continue
            for item in body.named_children:
                if item.type == "function_item" and item.child_by_field_name("body") is not None:
                    if not is_test_item(item):
                        found[f"{prefix}{owner}.{node_text(item.child_by_field_name('name'))}"] = item
        elif child.type == "mod_item" and (body := child.child_by_field_name("body")) is not None:
            if not is_test_item(child):
                _walk(body, f"{prefix}{node_text(child.child_by_field_name('name'))}.", found)


def function_nodes(tree: Tree) -> dict[str, Node]:
    """Functions and methods by qualname (see the module docstring); a duplicated name keeps the last."""
    found: dict[str, Node] = {}
    _walk(tree.root_node, "", found)
    return found


def entity_start(node: Node) -> int:
    """The first row of an item with its attributes."""
    above = attributes(node)
    return above[0].start_point.row if above else node.start_point.row


def parse_entities(text: str) -> dict[str, Entity]:
    tree = parse(text)
    if tree.root_node.has_error:
        return {}
    lines = lines_of(text)
    entities = {}
    for qualname, node in function_nodes(tree).items():
        start, end = entity_start(node) + 1, node.end_point.row + 1
        entities[qualname] = Entity(qualname, start, end, node.start_point.column, "".join(lines[start - 1 : end]))
    return entities


def parses(text: str) -> bool:
    return not parse(text).root_node.has_error


def shape(node: Node) -> str:
    """The syntax under `node`: named node types and leaf texts, without comments or formatting."""
    parts: list[str] = []
    cursor = node.walk()
    while True:
        current = cursor.node
        descend = current.type not in _COMMENTS
        if descend:
            if current.child_count == 0:
                parts.append(current.text.decode("utf-8", "replace"))
            elif current.is_named:
                parts.append(f"({current.type}")
        if descend and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return " ".join(parts)
            if cursor.node.is_named and cursor.node.child_count:
                parts.append(")")


def reindent(text: str, old: int, new: int) -> str:
    """`text` (an item written at column `old`) moved to column `new`, line by line."""
    if old == new:
        return text
    out = []
    for line in lines_of(text):
        if new > old:
            out.append(" " * (new - old) + line if line.strip() else line)
        else:
            cut = len(line) - len(line.lstrip(" "))
            out.append(line[min(cut, old - new) :])
    return "".join(out)
