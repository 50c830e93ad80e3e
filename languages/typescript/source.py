"""TypeScript/JavaScript source files: which are tests, their functions by name, their code shape.

Names: a function declaration is `name`, a class method `Class.method` (getters and setters by
their property name), an arrow function or function expression assigned to a top-level `const`/`let`/
`var` is the variable's name. An entity spans its whole statement (with `export` and decorators), so
replacing it keeps the file's exports.

`parse_entities` gets a file's text without its name, so the grammar is chosen by the text: the
TypeScript grammar (a superset of most JavaScript), else TSX (JSX in .js/.jsx/.tsx files), else the
JavaScript grammar (flow-ish syntax the TS grammar refuses); the first that parses without error wins.
"""

from __future__ import annotations

import functools
import posixpath
import re

import tree_sitter_javascript
import tree_sitter_typescript
from tree_sitter import Language, Node, Parser, Tree

from languages.base import Entity

_PARSERS = tuple(
    Parser(Language(grammar))
    for grammar in (
        tree_sitter_typescript.language_typescript(),
        tree_sitter_typescript.language_tsx(),
        tree_sitter_javascript.language(),
    )
)
SUFFIXES = (".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs")
_TEST_NAME = re.compile(r"\.(?:test|spec)\.[cm]?[jt]sx?$|(?:^|[-_.])test\.[cm]?[jt]sx?$")
TEST_DIRS = frozenset({"test", "tests", "__tests__", "spec", "__mocks__", "__fixtures__", "fixtures"})
_SKIPPED_DIRS = frozenset({"node_modules", "dist", "build", "coverage", "vendor", ".next", "out"})
_FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "generator_function"})
_CLASSES = frozenset({"class_declaration", "abstract_class_declaration", "class"})
_LINE = re.compile(r"[^\n]*\n|[^\n]+")


def is_test_file(path: str) -> bool:
    """`*.test.ts`, `*.spec.js`, `test.js`, or any file under `test/`, `tests/`, `__tests__/`, `spec/`."""
    parts = path.split("/")
    return any(part in TEST_DIRS for part in parts[:-1]) or bool(_TEST_NAME.search(parts[-1]))


def is_source_file(path: str) -> bool:
    if not path.endswith(SUFFIXES) or is_test_file(path) or path.endswith(".d.ts"):
        return False
    name = posixpath.basename(path)
    if ".min." in name or ".config." in name or name.startswith("."):
        return False
    return not any(part in _SKIPPED_DIRS for part in path.split("/")[:-1])


@functools.lru_cache(maxsize=64)
def parse(text: str) -> Tree:
    """The tree of the first grammar that parses `text` without error (else the TypeScript one's)."""
    data = text.encode("utf-8")
    first = None
    for parser in _PARSERS:
        tree = parser.parse(data)
        if not tree.root_node.has_error:
            return tree
        first = first or tree
    return first


def parses(text: str) -> bool:
    return not parse(text).root_node.has_error


def lines_of(text: str) -> list[str]:
    return _LINE.findall(text)


def _name(node: Node | None) -> str | None:
    return node.text.decode("utf-8", "replace") if node is not None else None


def _unwrapped(statement: Node) -> Node:
    """The declaration inside `export ...` / `export default ...`."""
    if statement.type == "export_statement":
        inner = statement.child_by_field_name("declaration") or statement.child_by_field_name("value")
        if inner is not None:
            return inner
    return statement


def function_nodes(tree: Tree) -> dict[str, tuple[Node, Node]]:
    """qualname -> (the node whose lines the entity spans, the function node itself: its `body` is
    what mutations edit). Top-level only, plus the methods of top-level classes."""
    found: dict[str, tuple[Node, Node]] = {}
    for statement in tree.root_node.named_children:
        inner = _unwrapped(statement)
        if inner.type in ("function_declaration", "generator_function_declaration"):
            if (name := _name(inner.child_by_field_name("name"))) is not None:
                found[name] = (statement, inner)
        elif inner.type in _CLASSES:
            class_name = _name(inner.child_by_field_name("name"))
            body = inner.child_by_field_name("body")
            if class_name is None or body is None:
                continue
            for member in body.named_children:
                if member.type == "method_definition" and (name := _name(member.child_by_field_name("name"))):
                    found[f"{class_name}.{name}"] = (member, member)
        elif inner.type in ("lexical_declaration", "variable_declaration"):
            declarators = [child for child in inner.named_children if child.type == "variable_declarator"]
            for declarator in declarators:
                value = declarator.child_by_field_name("value")
                name = declarator.child_by_field_name("name")
                if value is not None and value.type in _FUNCTION_VALUES and name is not None:
                    if name.type == "identifier":
                        # One declarator: the statement; several: only that declarator's lines.
                        found[_name(name)] = (statement if len(declarators) == 1 else declarator, value)
    return found


def _first_row(node: Node) -> int:
    """The first row of a member with its decorators (tree-sitter puts a method's before it)."""
    row, previous = node.start_point.row, node.prev_named_sibling
    while previous is not None and previous.type == "decorator":
        row, previous = previous.start_point.row, previous.prev_named_sibling
    return row


def parse_entities(text: str) -> dict[str, Entity]:
    tree = parse(text)
    if tree.root_node.has_error:
        return {}
    lines = lines_of(text)
    entities = {}
    for qualname, (span, _) in function_nodes(tree).items():
        start, end = _first_row(span) + 1, span.end_point.row + 1
        indent = len(lines[start - 1]) - len(lines[start - 1].lstrip(" \t")) if start <= len(lines) else 0
        entities[qualname] = Entity(qualname, start, end, indent, "".join(lines[start - 1 : end]))
    return entities


# Leaves that are layout, not code: optional semicolons (ASI) and commas before a closing bracket.
_LAYOUT = frozenset({";", "\n"})


def shape(node: Node) -> str:
    """The syntax under `node`: named node types and leaf texts, without comments or formatting."""
    parts: list[str] = []
    cursor = node.walk()
    while True:
        current = cursor.node
        descend = current.type not in ("comment", "html_comment")
        if descend:
            if current.child_count == 0 or current.type in ("string", "template_string"):
                if current.type not in _LAYOUT:
                    parts.append(current.text.decode("utf-8", "replace"))
                descend = False
            elif current.is_named:
                parts.append(f"({current.type}")
        if descend and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return " ".join(parts)
            if (
                cursor.node.is_named
                and cursor.node.child_count
                and cursor.node.type not in ("string", "template_string")
            ):
                parts.append(")")
