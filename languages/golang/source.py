"""Go source files: which are tests, their functions and methods by name, and their code shape.

Names: a function is `Name`, a method `Receiver.Method` with the receiver's type name bare (`func (s
*Set[T]) Add` is `Set.Add`): the pointer and type parameters change with refactors, the method does not.
An entity spans the `func` declaration's lines (its doc comment excluded). One module-level parser
serves every call: a history walk parses thousands of files.
"""

from __future__ import annotations

import posixpath
import re

import tree_sitter_go
from tree_sitter import Language, Node, Parser, Tree

from languages.base import Entity

GO = Language(tree_sitter_go.language())
_PARSER = Parser(GO)

_FUNCTIONS = ("function_declaration", "method_declaration")
# Statement terminators: gofmt turns `a; b` into two lines, which is the same code.
_TERMINATORS = frozenset({";", "\n"})
_LINE = re.compile(r"[^\n]*\n|[^\n]+")


def is_test_file(path: str) -> bool:
    return path.endswith("_test.go") or path.startswith("testdata/") or "/testdata/" in path


def is_source_file(path: str) -> bool:
    if not path.endswith(".go") or is_test_file(path):
        return False
    return not (path.startswith("vendor/") or "/vendor/" in path)


def parse(text: str) -> Tree:
    return _PARSER.parse(text.encode("utf-8"))


def lines_of(text: str) -> list[str]:
    """Lines as tree-sitter counts them (only `\\n` ends one), each with its newline."""
    return _LINE.findall(text)


def receiver_type(method: Node) -> str:
    """The bare type name of a method's receiver: `(s *Set[T])` -> `Set`."""
    receiver = method.child_by_field_name("receiver")
    declarations = [child for child in receiver.named_children if child.type == "parameter_declaration"]
    node = declarations[0].child_by_field_name("type") if declarations else None
    while node is not None and node.type != "type_identifier":
        if node.type in ("pointer_type", "parenthesized_type"):
            node = node.named_children[-1] if node.named_children else None
        elif node.type == "generic_type":
            node = node.child_by_field_name("type")
        else:
            return node.text.decode("utf-8", "replace")
    return node.text.decode("utf-8", "replace") if node is not None else ""


def qualname_of(declaration: Node) -> str:
    name = declaration.child_by_field_name("name").text.decode("utf-8", "replace")
    if declaration.type == "method_declaration":
        return f"{receiver_type(declaration)}.{name}"
    return name


def function_nodes(tree: Tree) -> dict[str, Node]:
    """Top-level functions and methods by qualname; a duplicated name (several `init`) keeps the last."""
    return {
        qualname_of(child): child
        for child in tree.root_node.named_children
        if child.type in _FUNCTIONS and child.child_by_field_name("name") is not None
    }


def parse_entities(text: str) -> dict[str, Entity]:
    tree = parse(text)
    if tree.root_node.has_error:
        return {}
    lines = lines_of(text)
    entities = {}
    for qualname, node in function_nodes(tree).items():
        start, end = node.start_point.row + 1, node.end_point.row + 1
        entities[qualname] = Entity(qualname, start, end, 0, "".join(lines[start - 1 : end]))
    return entities


def parses(text: str) -> bool:
    return not parse(text).root_node.has_error


def shape(node: Node) -> str:
    """The syntax under `node`: named node types and leaf texts, without comments or formatting."""
    parts: list[str] = []
    cursor = node.walk()
    while True:
        current = cursor.node
        descend = current.type != "comment"
        if descend:
            if current.child_count == 0:
                if current.type not in _TERMINATORS:
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


def package_names(import_path: str) -> set[str]:
    """The names an import without alias may bind: the package's own name is not in the path, but is
    almost always its last element, without a `/vN` or `.vN` major version, or a `go-` affix."""
    parts = import_path.split("/")
    if len(parts) > 1 and re.fullmatch(r"v\d+", parts[-1]):
        parts.pop()
    last = re.sub(r"\.v\d+$", "", parts[-1])
    guesses = {last, re.sub(r"^go-|-go$", "", last), last.rsplit("-", 1)[-1], last.rsplit(".", 1)[-1]}
    guesses.add(last.replace("-", ""))
    return {re.sub(r"\W", "", guess) for guess in guesses if guess}


def module_path(go_mod: str | None) -> str | None:
    """The `module` line of a go.mod's text, None without one."""
    match = re.search(r"(?m)^\s*module\s+\"?([^\s\"/]+[^\s\"]*)\"?", go_mod or "")
    return match[1] if match else None


def package_of(path: str, module: str | None) -> str:
    """The import path of the package a file of the module belongs to (its folder under the module)."""
    folder = posixpath.dirname(path)
    if module is None:
        return folder
    return f"{module}/{folder}" if folder else module
