"""Procedural bugs for JavaScript/TypeScript: small single-site mutations that still parse.

The Python strategy's contract (swesmith/procedural.py) with tree-sitter: every edit is a byte span
of one site (often the operator token only), realized only if the function still parses. Types are
not known here, so a mutation may break type-checking: where the repository type-checks in its test
script, the TestSpec's build check (`tsc --noEmit`) rejects it before any test runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from tree_sitter import Node

from languages.sitemutator import Edit, SiteMutator, descendants
from languages.typescript.source import function_nodes, parse
from swesmith.procedural import Mutation, all_mutations

MUTATION_KINDS: tuple[str, ...] = (
    "negate_condition",
    "swap_comparison",
    "swap_boolean_op",
    "off_by_one",
    "remove_early_return",
    "change_constant",
)
# Tried after the others (as in Go): they often touch a path no test reaches.
LOW_YIELD_KINDS = frozenset({"remove_early_return", "change_constant"})
# Methods whose failures pin formatting, not behaviour.
COSMETIC_METHODS = frozenset({"toString", "toJSON", "inspect"})

_COMPARE_SWAPS = {
    "<": "<=",
    "<=": "<",
    ">": ">=",
    ">=": ">",
    "==": "!=",
    "!=": "==",
    "===": "!==",
    "!==": "===",
}
_BOOLEAN_SWAPS = {"&&": "||", "||": "&&"}
_ARITHMETIC = frozenset({"+", "-", "<", "<=", ">", ">=", "===", "!==", "==", "!=", "*"})
# Nested functions are their own scope, but their code is still the function's behaviour: mutated too.
_STATEMENT_BLOCKS = frozenset({"statement_block"})


def _operator(node: Node) -> Node | None:
    return node.child_by_field_name("operator")


def _negate_condition(nodes: list[Node], text: bytes) -> Iterator[Edit]:
    for node in nodes:
        if node.type in ("if_statement", "while_statement"):
            condition = node.child_by_field_name("condition")
            if condition is not None and condition.type == "parenthesized_expression":
                inner = condition.text[1:-1]
                yield Edit(condition.start_byte, condition.end_byte, b"(!(" + inner + b"))")
        elif node.type == "ternary_expression":
            condition = node.child_by_field_name("condition")
            if condition is not None:
                yield Edit(condition.start_byte, condition.end_byte, b"!(" + condition.text + b")")


def _swap_comparison(nodes: list[Node], text: bytes) -> Iterator[Edit]:
    for node in nodes:
        operator = _operator(node) if node.type == "binary_expression" else None
        if operator is not None and operator.type in _COMPARE_SWAPS:
            yield Edit(operator.start_byte, operator.end_byte, _COMPARE_SWAPS[operator.type].encode())


def _swap_boolean_op(nodes: list[Node], text: bytes) -> Iterator[Edit]:
    for node in nodes:
        operator = _operator(node) if node.type == "binary_expression" else None
        if operator is not None and operator.type in _BOOLEAN_SWAPS:
            yield Edit(operator.start_byte, operator.end_byte, _BOOLEAN_SWAPS[operator.type].encode())


def _integer(node: Node) -> int | None:
    if node.type != "number":
        return None
    literal = node.text.decode().replace("_", "")
    return int(literal) if literal.isdigit() else None


def _off_by_one(nodes: list[Node], text: bytes) -> Iterator[Edit]:
    """An integer operand of arithmetic or a comparison, or an index, one more or one less."""
    for node in nodes:
        value = _integer(node)
        parent = node.parent
        if value is None or parent is None:
            continue
        in_arithmetic = (
            parent.type == "binary_expression" and (op := _operator(parent)) is not None and op.type in _ARITHMETIC
        )
        is_index = parent.type == "subscript_expression" and parent.child_by_field_name("index") == node
        if in_arithmetic or is_index:
            for new in (value + 1, value - 1):
                if new >= 0:
                    yield Edit(node.start_byte, node.end_byte, str(new).encode())


def _change_constant(nodes: list[Node], text: bytes) -> Iterator[Edit]:
    """A literal returned or assigned: a number one more, a boolean flipped."""
    for node in nodes:
        if node.type == "return_statement" and node.named_children:
            sites = [node.named_children[0]]
        elif node.type == "variable_declarator" and node.child_by_field_name("value") is not None:
            sites = [node.child_by_field_name("value")]
        elif node.type == "assignment_expression" and node.child_by_field_name("right") is not None:
            sites = [node.child_by_field_name("right")]
        else:
            continue
        for site in sites:
            if site.type in ("true", "false"):
                yield Edit(site.start_byte, site.end_byte, b"false" if site.type == "true" else b"true")
            elif (value := _integer(site)) is not None:
                yield Edit(site.start_byte, site.end_byte, str(value + 1).encode())


def _is_early_return(statement: Node) -> bool:
    """`if (...) return ...;` or `if (...) { return ...; }` with no else."""
    if statement.type != "if_statement" or statement.child_by_field_name("alternative") is not None:
        return False
    consequence = statement.child_by_field_name("consequence")
    if consequence is not None and consequence.type == "statement_block":
        inner = [child for child in consequence.named_children if child.type != "comment"]
        consequence = inner[0] if len(inner) == 1 else None
    return consequence is not None and consequence.type in ("return_statement", "throw_statement")


def _remove_early_return(nodes: list[Node], text: bytes) -> Iterator[Edit]:
    """An early `if (...) return` that is not its block's last statement, removed with its lines."""
    for node in nodes:
        if node.type not in _STATEMENT_BLOCKS:
            continue
        statements = [child for child in node.named_children if child.type != "comment"]
        for statement in statements[:-1]:
            if not _is_early_return(statement):
                continue
            start = text.rfind(b"\n", 0, statement.start_byte) + 1
            end = text.find(b"\n", statement.end_byte)
            end = len(text) if end < 0 else end + 1
            if not text[start : statement.start_byte].strip() and not text[statement.end_byte : end].strip():
                yield Edit(start, end, b"")


_PROPOSERS: dict[str, Callable[[list[Node], bytes], Iterator[Edit]]] = {
    "negate_condition": _negate_condition,
    "swap_comparison": _swap_comparison,
    "swap_boolean_op": _swap_boolean_op,
    "off_by_one": _off_by_one,
    "remove_early_return": _remove_early_return,
    "change_constant": _change_constant,
}
assert tuple(_PROPOSERS) == MUTATION_KINDS


class Mutator(SiteMutator):
    """TypeScript/JavaScript proposals for one function (`languages.sitemutator.SiteMutator`)."""

    kinds = MUTATION_KINDS
    parse = staticmethod(parse)

    def locate(self, tree, qualname: str):
        found = function_nodes(tree).get(qualname)
        body = found[1].child_by_field_name("body") if found else None
        if body is None:
            return None
        nodes = list(descendants(body))
        return (found[0].start_byte, found[0].end_byte), lambda kind: _PROPOSERS[kind](nodes, self.text)


def mutations_of(text: str, qualname: str, kinds: Iterable[str] = MUTATION_KINDS) -> list[Mutation]:
    """Every single-site mutation of `qualname` (naming of `source.parse_entities`), in source order;
    each parses and differs from the original."""
    return all_mutations(Mutator(text, qualname, kinds))
