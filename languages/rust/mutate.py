"""Procedural bugs for Rust: small single-site mutations that still type-check.

The Go operators' contract (languages/golang/mutate.py), with rustc's rules in mind: every edit keeps
each expression's type — a comparison or `&&`/`||` stays a bool, an integer literal stays an integer
literal with its suffix (`1u8` -> `2u8`), a removed `if cond { return x; }` statement has type `()`.
What rustc still refuses (a literal past its type's range is a deny-by-default lint, so values stay
within 0..=254-ish bounds: never negative, never one past an integer type's maximum; a constant array
index past the array's length; `#![deny(warnings)]` turning an unused variable into an error) is
caught by the profile's build check (`cargo check --tests`) before any test runs. Nothing inside a
macro's token tree is touched (`assert!(a < b)`, `vec![1, 2]`: no syntax tree there), nor test code.

Edits are byte spans of the site only, so the bug diff is one line. Never mutated: `fmt` methods
(Display/Debug: their failures pin formatting, not behaviour), and functions with unsafe code (`unsafe
fn`, an `unsafe { }` block): a changed index or size there is undefined behaviour, and on
dtolnay/semver such mutations were rejected as flaky.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from tree_sitter import Node, Tree

from languages.rust.source import function_nodes, parse
from languages.sitemutator import Edit, SiteMutator
from swesmith.procedural import Mutation, all_mutations

MUTATION_KINDS: tuple[str, ...] = (
    "negate_condition",
    "swap_comparison",
    "swap_boolean_op",
    "off_by_one",
    "remove_early_return",
    "change_constant",
)
# Tried after the others (as for Go: an early return or a constant the tests do not reach).
LOW_YIELD_KINDS = frozenset({"remove_early_return", "change_constant"})
COSMETIC_METHODS = frozenset({"fmt"})

_COMPARE_SWAPS = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
_FUNCTION_TYPES = ("function_item", "closure_expression")
_OVERFLOWS = frozenset({2**bits for bits in (7, 8, 15, 16, 31, 32, 63, 64, 127, 128)})
_INT = re.compile(r"^(0[xob])?([0-9a-fA-F_]+?)(_?(?:[iu](?:8|16|32|64|128|size)))?$")


def _descendants(node: Node) -> Iterator[Node]:
    """Every node under `node`, macro token trees and nested items (fns, impls, mods) left out."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(
            child
            for child in reversed(current.children)
            if child.type not in ("token_tree", "function_item", "impl_item", "mod_item", "trait_item")
        )


def _operator(node: Node) -> str:
    operator = node.child_by_field_name("operator")
    return operator.type if operator is not None else ""


def _int_edits(site: Node, deltas: Iterable[int]) -> Iterator[Edit]:
    """`site` (an integer literal) stepped by each delta, in its base and with its suffix."""
    if site.type != "integer_literal":
        return
    match = _INT.match(site.text.decode())
    if match is None:
        return
    prefix, digits, suffix = match[1] or "", match[2], match[3] or ""
    base = {"0x": 16, "0o": 8, "0b": 2}.get(prefix.lower(), 10)
    try:
        value = int(digits.replace("_", ""), base)
    except ValueError:
        return
    for delta in deltas:
        new = value + delta
        if new < 0 or new in _OVERFLOWS:
            continue
        written = {16: f"{new:x}", 8: f"{new:o}", 2: f"{new:b}"}.get(base, str(new))
        yield Edit(site.start_byte, site.end_byte, f"{prefix}{written}{suffix}".encode())


def _condition(node: Node) -> Node | None:
    if node.type not in ("if_expression", "while_expression"):
        return None
    condition = node.child_by_field_name("condition")
    if condition is None or condition.type in ("let_condition", "let_chain"):
        return None
    return condition


def _negate_condition(nodes: list[Node], text: bytes) -> Iterator[Edit]:
    for node in nodes:
        condition = _condition(node)
        if condition is None:
            continue
        if condition.type == "unary_expression" and condition.children[0].type == "!":
            yield Edit(condition.start_byte, condition.end_byte, condition.named_children[0].text)
        elif condition.type == "parenthesized_expression":
            yield Edit(condition.start_byte, condition.start_byte, b"!")
        else:
            yield Edit(condition.start_byte, condition.end_byte, b"!(" + condition.text + b")")


def _swap_comparison(nodes: list[Node], text: bytes) -> Iterator[Edit]:
    for node in nodes:
        if node.type == "binary_expression" and _operator(node) in _COMPARE_SWAPS:
            operator = node.child_by_field_name("operator")
            yield Edit(operator.start_byte, operator.end_byte, _COMPARE_SWAPS[operator.type].encode())


def _swap_boolean_op(nodes: list[Node], text: bytes) -> Iterator[Edit]:
    # A chain `a && b && c` is one site and flips whole: flipping one operator would regroup operands.
    for node in nodes:
        op = _operator(node)
        if node.type != "binary_expression" or op not in ("&&", "||"):
            continue
        parent = node.parent
        if parent is not None and parent.type == "binary_expression" and _operator(parent) == op:
            continue
        operators, stack = [], [node]
        while stack:
            current = stack.pop()
            if current.type == "binary_expression" and _operator(current) == op:
                operators.append(current.child_by_field_name("operator"))
                stack += [current.child_by_field_name("left"), current.child_by_field_name("right")]
        operators.sort(key=lambda operator: operator.start_byte)
        flipped = b"||" if op == "&&" else b"&&"
        start, end = operators[0].start_byte, operators[-1].end_byte
        out, cursor = b"", start
        for operator in operators:
            out += text[cursor : operator.start_byte] + flipped
            cursor = operator.end_byte
        yield Edit(start, end, out)


def _off_by_one(nodes: list[Node], text: bytes) -> Iterator[Edit]:
    for node in nodes:
        if node.type == "binary_expression" and _operator(node) in _COMPARE_SWAPS:
            sites = [node.child_by_field_name("left"), node.child_by_field_name("right")]
        elif node.type == "index_expression":
            sites = node.named_children[1:2]
        elif node.type == "range_expression":
            sites = node.named_children
        else:
            continue
        for site in sites:
            if site is not None:
                yield from _int_edits(site, (1, -1))


def _enclosing_function(node: Node) -> Node | None:
    parent = node.parent
    while parent is not None and parent.type not in _FUNCTION_TYPES:
        parent = parent.parent
    return parent


def _remove_early_return(nodes: list[Node], text: bytes) -> Iterator[Edit]:
    """`if cond { return x; }` (no else) as a statement that more statements follow: removed whole."""
    for node in nodes:
        if node.type != "if_expression" or node.child_by_field_name("alternative") is not None:
            continue
        statement = node.parent
        if statement is None or statement.type != "expression_statement" or statement.next_named_sibling is None:
            continue
        body = [
            child for child in node.child_by_field_name("consequence").named_children if "comment" not in child.type
        ]
        if len(body) != 1:
            continue
        only = (
            body[0].named_children[0] if body[0].type == "expression_statement" and body[0].named_children else body[0]
        )
        if only.type != "return_expression" or _enclosing_function(only) != _enclosing_function(node):
            continue
        start = text.rfind(b"\n", 0, statement.start_byte) + 1
        end = text.find(b"\n", statement.end_byte)
        end = len(text) if end < 0 else end + 1
        if text[start : statement.start_byte].strip() or text[statement.end_byte : end].strip():
            continue  # whole lines only
        yield Edit(start, end, b"")


def _change_constant(nodes: list[Node], text: bytes) -> Iterator[Edit]:
    for node in nodes:
        if node.type == "return_expression":
            sites = node.named_children
        elif node.type == "let_declaration":
            sites = [node.child_by_field_name("value")]
        elif node.type in ("assignment_expression", "compound_assignment_expr"):
            sites = [node.child_by_field_name("right")]
        else:
            continue
        for site in sites:
            if site is None:
                continue
            if site.type == "boolean_literal":
                yield Edit(site.start_byte, site.end_byte, b"false" if site.text == b"true" else b"true")
            else:
                yield from _int_edits(site, (1,))


_PROPOSERS: dict[str, Callable[[list[Node], bytes], Iterator[Edit]]] = {
    "negate_condition": _negate_condition,
    "swap_comparison": _swap_comparison,
    "swap_boolean_op": _swap_boolean_op,
    "off_by_one": _off_by_one,
    "remove_early_return": _remove_early_return,
    "change_constant": _change_constant,
}
assert tuple(_PROPOSERS) == MUTATION_KINDS


def _unsafe(function: Node, nodes: list[Node]) -> bool:
    """An `unsafe fn`, or one with an `unsafe { }` block: a mutation there may be undefined behaviour
    (an index or a length feeding pointer arithmetic), whose failures differ from run to run."""
    modifiers = [child for child in function.children if child.type == "function_modifiers"]
    return any(b"unsafe" in modifier.text.split() for modifier in modifiers) or any(
        node.type == "unsafe_block" for node in nodes
    )


class Mutator(SiteMutator):
    """Rust's proposals for one function (`languages.sitemutator.SiteMutator`); none in unsafe code."""

    kinds = MUTATION_KINDS
    parse = staticmethod(parse)

    def locate(self, tree: Tree, qualname: str):
        function = function_nodes(tree).get(qualname)
        if function is None or function.child_by_field_name("body") is None:
            return None
        nodes = list(_descendants(function.child_by_field_name("body")))
        if _unsafe(function, nodes):
            return None
        return (function.start_byte, function.end_byte), lambda kind: _PROPOSERS[kind](nodes, self.text)


def mutations_of(text: str, qualname: str, kinds: Iterable[str] = MUTATION_KINDS) -> list[Mutation]:
    """Every single-site mutation of the function `qualname` (naming of `source.parse_entities`), in
    source order; each parses and differs from the original."""
    return all_mutations(Mutator(text, qualname, kinds))
