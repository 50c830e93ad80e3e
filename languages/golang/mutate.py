"""Procedural bugs for Go: small single-site mutations that still compile.

The Python strategy's (swesmith/procedural.py) contract, with Go's stricter compiler in mind: a
mutation the compiler rejects is no bug, only a wasted validation run. So every operator avoids what
Go refuses without knowing types: a variable or import left unused (removing an `if` checks that
every local it names is still read elsewhere), a constant index that goes negative, a negative
constant compared with an unsigned value (0 only grows), a constant stepped past an integer type's
bounds (0xff -> 0x100), `err` returned where no `err` is in scope, `x == a && x == b` (go vet's
`bools` check, which `go test` runs). Measured with benchmarks/go_mutation_compile_rate.py.

Edits are byte spans of the site only (often only the operator token), so the bug diff is one line
and everything else stays byte-identical. Never mutated: `String()`, `Error()` and `GoString()`
methods (skipped by `procedural_candidates`; their failures pin formatting, not behaviour).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from tree_sitter import Node, Tree

from languages.golang.source import function_nodes, package_names, parse
from languages.sitemutator import Edit, SiteMutator, descendants
from swesmith.procedural import Mutation, all_mutations

MUTATION_KINDS: tuple[str, ...] = (
    "negate_condition",
    "swap_comparison",
    "swap_boolean_op",
    "off_by_one",
    "remove_early_return",
    "swap_return_nil_err",
    "change_constant",
)

# Kinds tried after the others. Measured on blevesearch/bleve (two mining runs, 70 procedural
# verdicts): none of 16 such mutations broke a covering test (an error path swallowed, an early
# return or a constant the tests do not reach), against 19 tasks of 54 for the other kinds.
LOW_YIELD_KINDS = frozenset({"swap_return_nil_err", "remove_early_return", "change_constant"})

COSMETIC_METHODS = frozenset({"String", "Error", "GoString"})

_COMPARE_SWAPS = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
_FUNCTION_TYPES = ("function_declaration", "method_declaration", "func_literal")
# One past the largest (or smallest) value of some integer type.
_OVERFLOWS = frozenset(
    {2**bits for bits in (7, 8, 15, 16, 31, 32, 63, 64)} | {-(2**bits) - 1 for bits in (7, 15, 31, 63)}
)
_INT = re.compile(r"(0[xX])([0-9a-fA-F_]+)|(0[oO]?)([0-7_]+)|(0[bB])([01_]+)|([0-9_]+)")


def _operator(node: Node) -> Node | None:
    return node.child_by_field_name("operator")


def _enclosing_function(node: Node) -> Node | None:
    parent = node.parent
    while parent is not None and parent.type not in _FUNCTION_TYPES:
        parent = parent.parent
    return parent


def _result_types(function: Node) -> list[str]:
    result = function.child_by_field_name("result")
    if result is None:
        return []
    if result.type != "parameter_list":
        return [result.text.decode()]
    types = []
    for declaration in result.named_children:
        if declaration.type == "parameter_declaration":
            names = len(declaration.children_by_field_name("name")) or 1
            types += [declaration.child_by_field_name("type").text.decode()] * names
    return types


# ------------------------------------------------------------------------------------------------
# Integer literals


def _int_value(node: Node) -> tuple[int, Callable[[int], str]] | None:
    """The value of an integer literal (or `-literal`) and how to write a new value in its base."""
    negative = node.type == "unary_expression" and _operator(node).type == "-"
    literal = node.child_by_field_name("operand") if negative else node
    if literal is None or literal.type != "int_literal":
        return None
    match = _INT.fullmatch(literal.text.decode())
    if match is None:
        return None
    hex_prefix, hex_digits, oct_prefix, oct_digits, bin_prefix, bin_digits, decimal = match.groups()
    if hex_prefix:
        spec = "x" if hex_digits.lower() == hex_digits else "X"
        value, write = int(hex_digits.replace("_", ""), 16), lambda v: f"{hex_prefix}{v:{spec}}"
    elif oct_digits is not None and (oct_prefix or len(oct_digits) > 1):
        value, write = int(oct_digits.replace("_", ""), 8), lambda v: f"{oct_prefix}{v:o}"
    elif bin_prefix:
        value, write = int(bin_digits.replace("_", ""), 2), lambda v: f"{bin_prefix}{v:b}"
    else:
        value, write = int((decimal or oct_digits).replace("_", "")), str
    if negative:
        return -value, lambda v: f"-{write(-v)}" if v < 0 else write(v)
    return value, write


def _literal_edits(site: Node, deltas: Iterable[int]) -> Iterator[Edit]:
    parsed = _int_value(site)
    if parsed is None:
        return
    value, write = parsed
    for delta in deltas:
        # Never below zero: a negative constant index does not compile, nor does one compared with
        # an unsigned value. Never past an integer type's bounds: `b == 0xff` for a byte b.
        if (value + delta >= 0 or value < 0) and value + delta not in _OVERFLOWS:
            yield Edit(site.start_byte, site.end_byte, write(value + delta).encode())


# ------------------------------------------------------------------------------------------------
# Names: what a removal would leave unused


@dataclass
class _Binding:
    """A local variable: where it is declared, where it is visible, where it is read."""

    name: str
    visible_from: int
    scope: Node
    parameter: bool
    reads: list[int]


def _declaration_scope(declaration: Node) -> Node:
    """The node whose extent a declaration's variables are visible in."""
    parent = declaration.parent
    if declaration.type == "type_switch_statement":
        return declaration
    if declaration.type == "var_spec":
        statement = parent.parent if parent.type == "var_spec_list" else parent
        return statement.parent
    if declaration.type in ("parameter_declaration", "variadic_parameter_declaration"):
        return parent.parent
    if parent.type == "for_clause" or declaration.type == "range_clause":
        return parent if declaration.type == "range_clause" else parent.parent
    return parent


class _Names:
    """The function's local variables, each read resolved to its declaration (innermost, latest).

    Go counts only reads as uses ("declared and not used"): `x = 1`, `x++` and `x := ...` are writes.
    Parameters and named results may go unread.
    """

    def __init__(self, function: Node) -> None:
        self.bindings: list[_Binding] = []
        declared: set[int] = set()
        written: set[int] = set()
        nodes = list(descendants(function))
        for node in nodes:
            identifiers = []
            if node.type in ("short_var_declaration", "range_clause", "type_switch_statement"):
                left = node.child_by_field_name("alias" if node.type == "type_switch_statement" else "left")
                if left is not None:
                    identifiers = [child for child in left.named_children if child.type == "identifier"]
                if node.type == "range_clause" and not any(child.type == ":=" for child in node.children):
                    written |= {identifier.start_byte for identifier in identifiers}
                    continue
            elif node.type in ("var_spec", "parameter_declaration", "variadic_parameter_declaration"):
                identifiers = node.children_by_field_name("name")
            elif node.type in ("assignment_statement", "inc_statement", "dec_statement"):
                left = node.child_by_field_name("left") if node.type == "assignment_statement" else node
                written |= {child.start_byte for child in left.named_children if child.type == "identifier"}
                continue
            scope = _declaration_scope(node) if identifiers else None
            for identifier in identifiers:
                declared.add(identifier.start_byte)
                name = identifier.text.decode()
                # `a, err := f()` re-uses an `err` already declared in the same scope.
                if any(b.name == name and b.scope == scope for b in self.bindings) or name == "_":
                    continue
                parameter = node.type != "var_spec" and node.parent.type == "parameter_list"
                visible = scope.start_byte if parameter or node.type == "type_switch_statement" else node.end_byte
                self.bindings.append(_Binding(name, visible, scope, parameter, []))
        not_reads = declared | written
        for node in nodes:
            if node.type == "identifier" and node.start_byte not in not_reads:
                binding = self.resolve(node.text.decode(), node.start_byte)
                if binding is not None:
                    binding.reads.append(node.start_byte)

    def resolve(self, name: str, at: int) -> _Binding | None:
        visible = [
            binding
            for binding in self.bindings
            if binding.name == name and binding.visible_from <= at < binding.scope.end_byte
        ]
        return max(visible, key=lambda binding: binding.visible_from, default=None)

    def still_read(self, name: str, at: int, start: int, end: int) -> bool:
        """The variable read as `name` at `at` is a parameter, or is read outside [start, end)."""
        binding = self.resolve(name, at)
        if binding is None or binding.parameter or start <= binding.visible_from < end:
            return True
        return any(not start <= offset < end for offset in binding.reads)


def _file_reads(root: Node, name: str, start: int, end: int) -> bool:
    """Some selector or qualified type outside [start, end) names package `name`."""
    for node in descendants(root):
        if (
            node.type in ("identifier", "package_identifier")
            and not start <= node.start_byte < end
            and node.parent.type in ("selector_expression", "qualified_type")
            and node.text.decode() == name
        ):
            return True
    return False


def _removable(context: _Context, node: Node, start: int, end: int) -> bool:
    """Removing bytes [start, end) leaves no local variable unread and no import unused."""
    for inner in descendants(node):
        if inner.type not in ("identifier", "package_identifier"):
            continue
        name = inner.text.decode()
        if not context.names.still_read(name, inner.start_byte, start, end):
            return False
        if name in context.imports and not _file_reads(context.root, name, start, end):
            return False
    return True


# ------------------------------------------------------------------------------------------------
# Operators


@dataclass
class _Context:
    function: Node
    nodes: list[Node]
    names: _Names
    root: Node
    imports: set[str]
    text: bytes


def _negate_condition(context: _Context) -> Iterator[Edit]:
    for node in context.nodes:
        if node.type in ("if_statement", "for_clause"):
            condition = node.child_by_field_name("condition")
        elif node.type == "for_statement":
            body = [child for child in node.named_children if child.type not in ("block", "comment")]
            condition = body[0] if body and body[0].type not in ("for_clause", "range_clause") else None
        else:
            continue
        if condition is None:
            continue
        if condition.type == "unary_expression" and _operator(condition).type == "!":
            operand = condition.child_by_field_name("operand")
            yield Edit(condition.start_byte, condition.end_byte, operand.text)
        elif condition.type == "parenthesized_expression":
            yield Edit(condition.start_byte, condition.start_byte, b"!")
        else:
            yield Edit(condition.start_byte, condition.end_byte, b"!(" + condition.text + b")")


def _swap_comparison(context: _Context) -> Iterator[Edit]:
    for node in context.nodes:
        if node.type == "binary_expression" and (operator := _operator(node)).type in _COMPARE_SWAPS:
            yield Edit(operator.start_byte, operator.end_byte, _COMPARE_SWAPS[operator.type].encode())


def _swap_boolean_op(context: _Context) -> Iterator[Edit]:
    # A chain `a && b && c` is one site and flips whole: flipping one of its operators would
    # silently regroup the operands (`&&` binds tighter than `||`).
    for node in context.nodes:
        if node.type != "binary_expression" or (op := _operator(node).type) not in ("&&", "||"):
            continue
        parent = node.parent
        if parent is not None and parent.type == "binary_expression" and _operator(parent).type == op:
            continue
        operators, operands, stack = [], [], [node]
        while stack:
            current = stack.pop()
            if current.type == "binary_expression" and _operator(current).type == op:
                operators.append(_operator(current))
                stack += [current.child_by_field_name("left"), current.child_by_field_name("right")]
            else:
                operands.append(current)
        flipped = b"||" if op == "&&" else b"&&"
        if _suspect(operands, "==" if op == "||" else "!="):
            continue
        operators.sort(key=lambda operator: operator.start_byte)
        start, end = operators[0].start_byte, operators[-1].end_byte
        text, cursor = b"", start
        for operator in operators:
            text += context.text[cursor : operator.start_byte] + flipped
            cursor = operator.end_byte
        yield Edit(start, end, text)


def _suspect(operands: list[Node], comparison: str) -> bool:
    """`x == a || x == b` flipped to `&&` (or `x != a && x != b` to `||`) is always false (true):
    `go vet`'s bools check, which `go test` runs, rejects it."""
    sides = [
        side.text
        for operand in operands
        if operand.type == "binary_expression" and _operator(operand).type == comparison
        for side in (operand.child_by_field_name("left"), operand.child_by_field_name("right"))
    ]
    return len(sides) != len(set(sides))


def _off_by_one(context: _Context) -> Iterator[Edit]:
    for node in context.nodes:
        if node.type == "binary_expression" and _operator(node).type in _COMPARE_SWAPS:
            sites = [node.child_by_field_name("left"), node.child_by_field_name("right")]
        elif node.type == "index_expression":
            sites = [node.child_by_field_name("index")]
        elif node.type == "slice_expression":
            sites = [node.child_by_field_name(part) for part in ("start", "end", "capacity")]
        else:
            continue
        for site in sites:
            if site is not None:
                yield from _literal_edits(site, (1, -1))


def _remove_early_return(context: _Context) -> Iterator[Edit]:
    text = context.text
    returns = [node for node in context.nodes if node.type == "return_statement"]
    for node in context.nodes:
        if node.type != "if_statement" or node.child_by_field_name("alternative") is not None:
            continue
        if node.child_by_field_name("initializer") is not None or node.parent.type != "statement_list":
            continue
        statements = node.child_by_field_name("consequence").named_children
        statements = [child for child in statements if child.type != "comment"]
        if len(statements) != 1 or statements[0].type != "statement_list":
            continue
        body = [child for child in statements[0].named_children if child.type != "comment"]
        if len(body) != 1 or body[0].type != "return_statement":
            continue
        function = _enclosing_function(node)
        later_return = any(
            other.start_byte >= node.end_byte and _enclosing_function(other) == function for other in returns
        )
        if node.next_named_sibling is None or not (later_return or not _result_types(function)):
            continue
        # Whole lines only: nothing else may share the if's first or last line.
        start = text.rfind(b"\n", 0, node.start_byte) + 1
        end = text.find(b"\n", node.end_byte)
        end = len(text) if end < 0 else end + 1
        if text[start : node.start_byte].strip() or text[node.end_byte : end].strip():
            continue
        if _removable(context, node, node.start_byte, node.end_byte):
            yield Edit(start, end, b"")


def _swap_return_nil_err(context: _Context) -> Iterator[Edit]:
    for node in context.nodes:
        if node.type != "return_statement" or not node.named_children:
            continue
        function = _enclosing_function(node)
        types = _result_types(function)
        values = node.named_children[0].named_children
        if not types or types[-1] != "error" or len(values) != len(types):
            continue
        last = values[-1]
        if last.type == "nil" and context.names.resolve("err", node.start_byte) is not None:
            yield Edit(last.start_byte, last.end_byte, b"err")
        elif (
            last.type == "identifier"
            and last.text == b"err"
            and context.names.still_read("err", last.start_byte, *_span(last))
        ):
            yield Edit(last.start_byte, last.end_byte, b"nil")


def _span(node: Node) -> tuple[int, int]:
    return node.start_byte, node.end_byte


def _change_constant(context: _Context) -> Iterator[Edit]:
    for node in context.nodes:
        if node.type == "return_statement" and node.named_children:
            sites = node.named_children[0].named_children
        elif node.type in ("assignment_statement", "short_var_declaration"):
            right = node.child_by_field_name("right")
            sites = right.named_children if right is not None else []
        else:
            continue
        for site in sites:
            yield from _literal_edits(site, (1,))


_PROPOSERS: dict[str, Callable[[_Context], Iterator[Edit]]] = {
    "negate_condition": _negate_condition,
    "swap_comparison": _swap_comparison,
    "swap_boolean_op": _swap_boolean_op,
    "off_by_one": _off_by_one,
    "remove_early_return": _remove_early_return,
    "swap_return_nil_err": _swap_return_nil_err,
    "change_constant": _change_constant,
}
assert tuple(_PROPOSERS) == MUTATION_KINDS


def _import_names(root: Node) -> set[str]:
    """Names the file's imports may bind (an alias, else every likely package name)."""
    names = set()
    declarations = [child for child in root.named_children if child.type == "import_declaration"]
    for node in (node for declaration in declarations for node in descendants(declaration)):
        if node.type == "import_spec":
            alias = node.child_by_field_name("name")
            path = node.child_by_field_name("path").text.decode().strip('"`')
            names |= {alias.text.decode()} if alias is not None else package_names(path)
    return names


class Mutator(SiteMutator):
    """Go's proposals for one function (`languages.sitemutator.SiteMutator`). A top-level function
    replaced by another valid one leaves the file valid, so only the function is re-parsed."""

    kinds = MUTATION_KINDS
    check_span_only = True
    parse = staticmethod(parse)

    def locate(self, tree: Tree, qualname: str):
        function = function_nodes(tree).get(qualname)
        if function is None or function.child_by_field_name("body") is None:
            return None
        nodes = list(descendants(function.child_by_field_name("body")))
        root = tree.root_node
        context = _Context(function, nodes, _Names(function), root, _import_names(root), self.text)
        return _span(function), lambda kind: _PROPOSERS[kind](context)


def mutations_of(text: str, qualname: str, kinds: Iterable[str] = MUTATION_KINDS) -> list[Mutation]:
    """Every single-site mutation of the function `qualname` (naming of `source.parse_entities`), in
    source order; each parses and differs from the original."""
    return all_mutations(Mutator(text, qualname, kinds))
