"""Procedural bugs for JavaScript/TypeScript: small single-site mutations that still parse.

The Python strategy's contract (swesmith/procedural.py) with tree-sitter: every edit is a byte span
of one site (often the operator token only), realized only if the function still parses. Types are
not known here, so a mutation may break type-checking: where the repository type-checks in its test
script, the TestSpec's build check (`tsc --noEmit`) rejects it before any test runs.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from tree_sitter import Node

from gskill.schema import Strategy
from languages.typescript.source import function_nodes, is_test_file, parse
from swesmith.candidate import Candidate
from swesmith.patches import make_patch
from swesmith.procedural import Mutation, pick_mutations

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


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    text: bytes


@dataclass(frozen=True)
class _Proposal:
    kind: str
    edit: _Edit


def _descendants(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _operator(node: Node) -> Node | None:
    return node.child_by_field_name("operator")


def _negate_condition(nodes: list[Node], text: bytes) -> Iterator[_Edit]:
    for node in nodes:
        if node.type in ("if_statement", "while_statement"):
            condition = node.child_by_field_name("condition")
            if condition is not None and condition.type == "parenthesized_expression":
                inner = condition.text[1:-1]
                yield _Edit(condition.start_byte, condition.end_byte, b"(!(" + inner + b"))")
        elif node.type == "ternary_expression":
            condition = node.child_by_field_name("condition")
            if condition is not None:
                yield _Edit(condition.start_byte, condition.end_byte, b"!(" + condition.text + b")")


def _swap_comparison(nodes: list[Node], text: bytes) -> Iterator[_Edit]:
    for node in nodes:
        operator = _operator(node) if node.type == "binary_expression" else None
        if operator is not None and operator.type in _COMPARE_SWAPS:
            yield _Edit(operator.start_byte, operator.end_byte, _COMPARE_SWAPS[operator.type].encode())


def _swap_boolean_op(nodes: list[Node], text: bytes) -> Iterator[_Edit]:
    for node in nodes:
        operator = _operator(node) if node.type == "binary_expression" else None
        if operator is not None and operator.type in _BOOLEAN_SWAPS:
            yield _Edit(operator.start_byte, operator.end_byte, _BOOLEAN_SWAPS[operator.type].encode())


def _integer(node: Node) -> int | None:
    if node.type != "number":
        return None
    literal = node.text.decode().replace("_", "")
    return int(literal) if literal.isdigit() else None


def _off_by_one(nodes: list[Node], text: bytes) -> Iterator[_Edit]:
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
                    yield _Edit(node.start_byte, node.end_byte, str(new).encode())


def _change_constant(nodes: list[Node], text: bytes) -> Iterator[_Edit]:
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
                yield _Edit(site.start_byte, site.end_byte, b"false" if site.type == "true" else b"true")
            elif (value := _integer(site)) is not None:
                yield _Edit(site.start_byte, site.end_byte, str(value + 1).encode())


def _is_early_return(statement: Node) -> bool:
    """`if (...) return ...;` or `if (...) { return ...; }` with no else."""
    if statement.type != "if_statement" or statement.child_by_field_name("alternative") is not None:
        return False
    consequence = statement.child_by_field_name("consequence")
    if consequence is not None and consequence.type == "statement_block":
        inner = [child for child in consequence.named_children if child.type != "comment"]
        consequence = inner[0] if len(inner) == 1 else None
    return consequence is not None and consequence.type in ("return_statement", "throw_statement")


def _remove_early_return(nodes: list[Node], text: bytes) -> Iterator[_Edit]:
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
                yield _Edit(start, end, b"")


_PROPOSERS: dict[str, Callable[[list[Node], bytes], Iterator[_Edit]]] = {
    "negate_condition": _negate_condition,
    "swap_comparison": _swap_comparison,
    "swap_boolean_op": _swap_boolean_op,
    "off_by_one": _off_by_one,
    "remove_early_return": _remove_early_return,
    "change_constant": _change_constant,
}
assert tuple(_PROPOSERS) == MUTATION_KINDS


class _Mutator:
    """The proposals for one function, realized (checked) lazily: `pick_mutations`'s interface."""

    def __init__(self, text: str, qualname: str, kinds: Iterable[str] = MUTATION_KINDS) -> None:
        wanted = set(kinds)
        if wanted - set(MUTATION_KINDS):
            raise ValueError(f"unknown mutation kinds: {sorted(wanted - set(MUTATION_KINDS))}")
        self.text = text.encode("utf-8")
        self.proposals: list[_Proposal] = []
        tree = parse(text)
        if tree.root_node.has_error:
            return
        found = function_nodes(tree).get(qualname)
        body = found[1].child_by_field_name("body") if found else None
        if body is None:
            return
        self._span = (found[0].start_byte, found[0].end_byte)
        nodes = list(_descendants(body))
        order = {kind: index for index, kind in enumerate(MUTATION_KINDS)}
        for kind in MUTATION_KINDS:
            if kind in wanted:
                self.proposals += [_Proposal(kind, edit) for edit in _PROPOSERS[kind](nodes, self.text)]
        self.proposals.sort(key=lambda proposal: (proposal.edit.start, order[proposal.kind]))

    def realize(self, proposal: _Proposal) -> Mutation | None:
        """The mutation, or None when the file no longer parses or is unchanged."""
        edit = proposal.edit
        start, end = self._span
        if not start <= edit.start <= edit.end <= end:
            return None
        new_text = self.text[: edit.start] + edit.text + self.text[edit.end :]
        if new_text == self.text:
            return None
        decoded = new_text.decode("utf-8")
        if parse(decoded).root_node.has_error:
            return None
        return Mutation(proposal.kind, decoded, self.text.count(b"\n", 0, edit.start) + 1)


def mutations_of(text: str, qualname: str, kinds: Iterable[str] = MUTATION_KINDS) -> list[Mutation]:
    """Every single-site mutation of `qualname` (naming of `source.parse_entities`), in source order;
    each parses and differs from the original."""
    mutator = _Mutator(text, qualname, kinds)
    found, seen = [], set()
    for proposal in mutator.proposals:
        mutation = mutator.realize(proposal)
        if mutation is not None and mutation.new_source not in seen:
            seen.add(mutation.new_source)
            found.append(mutation)
    return found


def procedural_candidates(
    files: Mapping[str, str],
    targets: Sequence[tuple[str, str]],
    *,
    seed: int,
    per_function: int,
    test_files_for: Callable[[str, str], tuple[str, ...]],
) -> Iterator[Candidate]:
    """Up to `per_function` mutations per target, targets in the given order (contract of
    swesmith.procedural.procedural_candidates: a seeded RNG per function, distinct kinds first)."""
    done: set[tuple[str, str]] = set()
    for path, qualname in targets:
        if (path, qualname) in done:
            continue
        done.add((path, qualname))
        text = files.get(path)
        if text is None or is_test_file(path) or qualname.rpartition(".")[2] in COSMETIC_METHODS:
            continue
        rng = random.Random(f"{seed}:{path}:{qualname}")
        for mutation in pick_mutations(_Mutator(text, qualname), rng, per_function, last=LOW_YIELD_KINDS):
            entity = f"{path}::{qualname}"
            yield Candidate(
                strategy=Strategy.PROCEDURAL,
                group=entity,
                bug_patch=make_patch({path: (text, mutation.new_source)}),
                test_files=tuple(test_files_for(path, qualname)),
                hint="",
                entities=(entity,),
                meta={"kind": mutation.kind, "line": mutation.line},
            )
