"""The procedural strategy: plausible bugs made by small AST mutations (SWE-smith style, no LLM).

Each mutation changes ONE site of ONE function the test suite covers: a flipped comparison, a
negated condition, a dropped statement, ... Validation later keeps only the mutations some test
notices; here we only propose them.

Edits are textual and minimal. AST positions (lineno / col_offset / end_lineno / end_col_offset)
locate the site and only that segment is rewritten (often only the operator between two operands),
so comments, quotes and formatting everywhere else stay byte-for-byte: the bug diff looks like a
human's one-line slip, not like a reformatted file.

What is never mutated, and why:
- docstrings, decorators and type annotations: no behaviour a test can observe (or, for
  decorators, a change that breaks the whole module rather than one behaviour);
- nested functions and classes: they have qualnames of their own and are targets in their own
  right (`mutations_of(src, "outer.inner")`);
- `if __name__ == "__main__"` and `if TYPE_CHECKING` blocks: never run under tests;
- f-strings: cosmetic, and their inner node positions are unreliable before Python 3.12;
- `print(...)` / `logger.info(...)`-style calls: dropping or reordering them changes log text only;
- `__repr__` / `__str__` (skipped by `procedural_candidates`, still available to `mutations_of`):
  cosmetic, and the failing tests they produce pin formatting rather than behaviour.
"""

from __future__ import annotations

import ast
import bisect
import functools
import random
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Mapping, Protocol, Sequence

from gskill.schema import Strategy
from swesmith.candidate import Candidate, is_test_file
from swesmith.patches import make_patch

MUTATION_KINDS: tuple[str, ...] = (
    "negate_condition",
    "swap_comparison",
    "swap_boolean_op",
    "off_by_one",
    "drop_statement",
    "remove_early_return",
    "change_default",
    "swap_call_args",
    "remove_raise",
    "swap_binary_op",
)

# Functions whose mutations are cosmetic (see the module docstring).
COSMETIC_FUNCTIONS = frozenset({"__repr__", "__str__"})

_LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "log"})

_COMPARE_SWAPS: dict[type[ast.cmpop], str] = {
    ast.Lt: "<=",
    ast.LtE: "<",
    ast.Gt: ">=",
    ast.GtE: ">",
    ast.Eq: "!=",
    ast.NotEq: "==",
    ast.Is: "is not",
    ast.IsNot: "is",
    ast.In: "not in",
    ast.NotIn: "in",
}
# The only token between two operands (besides parentheses, whitespace and comments) is the
# operator itself; multi-word operators come first so `is not` is not read as `is`.
_COMPARE_TOKEN = re.compile(r"\bis(?:\s|\\)+not\b|\bnot(?:\s|\\)+in\b|\bis\b|\bin\b|<=|>=|==|!=|<|>")
_BOOL_TOKEN = re.compile(r"\band\b|\bor\b")
_ARITH_TOKEN = re.compile(r"[+-]")
_AUG_TOKEN = re.compile(r"[+-]=")
_NOT_KEYWORD = re.compile(r"not(?:[ \t\f]|\\\r?\n)*")
_COMMENT = re.compile(r"#[^\r\n]*")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# What may follow a statement on its last line for the whole line to be deletable.
_LINE_TAIL = re.compile(r"[ \t\f]*(?:#[^\r\n]*)?(?:\r\n|\r|\n)?")

# Operands that make `+` a concatenation: `"a" + "b"` -> `"a" - "b"` is a TypeError, not a bug.
_SEQUENCE_NODES = (ast.JoinedStr, ast.List, ast.Tuple, ast.ListComp, ast.Set, ast.Dict)


@dataclass(frozen=True)
class Mutation:
    kind: str  # one of MUTATION_KINDS
    new_source: str  # the whole file after the mutation
    line: int  # 1-based line of the edit (for tests and debugging)


class Mutator(Protocol):
    """What `pick_mutations` needs of a language's mutator for one function: its proposals (each with
    a `kind`), and `realize`, which checks one (None: it does not parse or changes nothing)."""

    proposals: list

    def realize(self, proposal) -> Mutation | None: ...


@dataclass(frozen=True)
class _Edit:
    """Replace source[start:end] (character offsets) with `text`."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class _Proposal:
    kind: str
    edit: _Edit


class _Source:
    """Character offsets for AST positions (whose columns are UTF-8 byte offsets)."""

    def __init__(self, text: str) -> None:
        self.text = text
        # Split like the tokenizer does (\r\n, \r, \n), not like str.splitlines (which also
        # breaks on \f, \v, \u2028, ... and would shift every line number after one).
        self.lines: list[str] = []
        start = 0
        for match in _LINE_BREAK.finditer(text):
            self.lines.append(text[start : match.end()])
            start = match.end()
        if start < len(text) or not self.lines:
            self.lines.append(text[start:])
        self.line_starts: list[int] = []
        offset = 0
        for line in self.lines:
            self.line_starts.append(offset)
            offset += len(line)

    def offset(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1]
        if not line.isascii():
            col = len(line.encode("utf-8")[:col].decode("utf-8", errors="replace"))
        return self.line_starts[lineno - 1] + col

    def start(self, node: ast.AST) -> int:
        return self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]

    def end(self, node: ast.AST) -> int:
        return self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]

    def segment(self, node: ast.AST) -> str:
        return self.text[self.start(node) : self.end(node)]

    def line_at(self, offset: int) -> int:
        return bisect.bisect_right(self.line_starts, offset)

    def whole_lines(self, node: ast.stmt) -> tuple[int, int] | None:
        """The span of the full lines a statement occupies, or None when it shares a line with
        other code (`a = 1; b = 2`, `if x: return`) and cannot be deleted line-wise."""
        line_start = self.line_starts[node.lineno - 1]
        if self.text[line_start : self.start(node)].strip():
            return None
        last = node.end_lineno - 1  # type: ignore[operator]
        line_end = self.line_starts[last] + len(self.lines[last])
        if not _LINE_TAIL.fullmatch(self.text[self.end(node) : line_end]):
            return None
        return line_start, line_end

    def operator_between(self, left: ast.AST, right: ast.AST, token: re.Pattern[str]) -> tuple[int, int] | None:
        """The span of the single operator token between two operand nodes, or None if unsure."""
        start, end = self.end(left), self.start(right)
        if start > end:
            return None
        # No strings can sit between two operands, so every '#' there starts a comment.
        gap = _COMMENT.sub(lambda match: " " * len(match.group()), self.text[start:end])
        found = list(token.finditer(gap))
        if len(found) != 1:
            return None
        return start + found[0].start(), start + found[0].end()


# ------------------------------------------------------------------------------------------------
# Locating the function and its own code


def _find_function(tree: ast.Module, qualname: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The definition `qualname` names, with the same naming (and last-one-wins rule) as
    `swesmith.entities.parse_entities`."""
    found: ast.FunctionDef | ast.AsyncFunctionDef | None = None

    def visit(node: ast.AST, prefix: str) -> None:
        nonlocal found
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                if name == qualname:
                    found = child
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, (ast.If, ast.Try, ast.TryStar, ast.With)):
                visit(child, prefix)

    visit(tree, "")
    return found


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _is_dead_guard(node: ast.AST) -> bool:
    """`if __name__ == "__main__":` and `if TYPE_CHECKING:` never run under the test suite."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
        return True
    if isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING":
        return True
    if isinstance(test, ast.Compare):
        return any(
            isinstance(operand, ast.Name) and operand.id == "__name__" for operand in (test.left, *test.comparators)
        )
    return False


def _is_opaque(node: ast.AST) -> bool:
    """Nodes whose insides belong to someone else or must not be touched."""
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.JoinedStr)) or _is_dead_guard(
        node
    )


_SKIPPED_FIELDS = frozenset({"annotation", "returns", "decorator_list", "type_params", "type_comment"})


def _own_nodes(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.AST]:
    """Every node of the function's own body, in source-walk order: no docstring, annotations,
    decorators, nested definitions or dead guards."""
    found: list[ast.AST] = []

    def visit(node: ast.AST) -> None:
        for field, value in ast.iter_fields(node):
            if field in _SKIPPED_FIELDS:
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST) and not _is_opaque(child):
                    found.append(child)
                    visit(child)

    body = func.body[1:] if func.body and _is_docstring(func.body[0]) else func.body
    for statement in body:
        if not _is_opaque(statement):
            found.append(statement)
            visit(statement)
    return found


def _statement_lists(func: ast.AST, nodes: list[ast.AST]) -> Iterator[list[ast.stmt]]:
    """Every statement block: the function body and the bodies of its compound statements."""
    for node in (func, *nodes):
        for field in ("body", "orelse", "finalbody"):
            value = getattr(node, field, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                yield value


def _int_literal(node: ast.AST) -> int | None:
    """The value of an integer literal (`3`, `-1`), never of a bool."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _int_literal(node.operand)
        if inner is not None and isinstance(node.operand, ast.Constant):
            return -inner
    return None


def _is_atom(node: ast.AST) -> bool:
    """Binds tighter than any operator: safe to put next to one without parentheses."""
    return isinstance(node, (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant))


def _is_noisy_call(call: ast.AST) -> bool:
    """`print(...)` and `logger.debug(...)`-style calls: their effect is log text only."""
    if not isinstance(call, ast.Call):
        return False
    func = call.func
    if isinstance(func, ast.Name):
        return func.id == "print"
    if isinstance(func, ast.Attribute) and func.attr in _LOG_METHODS:
        base = func.value
        name = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else ""
        return "log" in name.lower()
    return False


def _is_sequence_like(node: ast.AST) -> bool:
    return isinstance(node, _SEQUENCE_NODES) or (
        isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))
    )


# ------------------------------------------------------------------------------------------------
# The mutation kinds: each proposes edits; parsing and AST comparison later weed out the bad ones.

_Function = ast.FunctionDef | ast.AsyncFunctionDef
Proposer = Callable[[_Function, list[ast.AST], _Source], Iterator[_Edit]]


def _negate_condition(func: _Function, nodes: list[ast.AST], src: _Source) -> Iterator[_Edit]:
    for node in nodes:
        if not isinstance(node, (ast.If, ast.While, ast.IfExp)) or isinstance(node.test, ast.Constant):
            continue  # `while True:` negated is a dead loop, not a bug anyone would write
        test = node.test
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            # `not x` -> `x`, the natural inverse (rather than `not (not x)`): delete the keyword
            # only, so parentheses around the operand, which may hold line breaks, stay.
            start = src.start(test)
            keyword = _NOT_KEYWORD.match(src.text, start, src.start(test.operand))
            if keyword:
                yield _Edit(start, keyword.end(), "")
        else:
            text = src.segment(test)
            yield _Edit(src.start(test), src.end(test), f"not {text}" if _is_atom(test) else f"not ({text})")


def _swap_comparison(func: _Function, nodes: list[ast.AST], src: _Source) -> Iterator[_Edit]:
    for node in nodes:
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for index, op in enumerate(node.ops):
            span = src.operator_between(operands[index], operands[index + 1], _COMPARE_TOKEN)
            if span is not None:
                yield _Edit(*span, _COMPARE_SWAPS[type(op)])


def _swap_boolean_op(func: _Function, nodes: list[ast.AST], src: _Source) -> Iterator[_Edit]:
    # One BoolOp node is one site: `a and b and c` flips all its operators (`a or b or c`), as an
    # AST-level `op` change would; flipping one would silently regroup the operands.
    for node in nodes:
        if not isinstance(node, ast.BoolOp):
            continue
        new_word = "or" if isinstance(node.op, ast.And) else "and"
        spans = [src.operator_between(a, b, _BOOL_TOKEN) for a, b in zip(node.values, node.values[1:])]
        if not spans or any(span is None for span in spans):
            continue
        start, end = spans[0][0], spans[-1][1]  # type: ignore[index]
        text, cursor = [], start
        for span_start, span_end in spans:  # type: ignore[misc]
            text += [src.text[cursor:span_start], new_word]
            cursor = span_end
        yield _Edit(start, end, "".join(text))


def _off_by_one(func: _Function, nodes: list[ast.AST], src: _Source) -> Iterator[_Edit]:
    sites: list[ast.AST] = []
    range_stops: list[ast.AST] = []
    for node in nodes:
        if isinstance(node, ast.Slice):
            sites += [part for part in (node.lower, node.upper) if part is not None]
        elif isinstance(node, ast.Subscript) and not isinstance(node.slice, (ast.Slice, ast.Tuple)):
            sites.append(node.slice)
        elif isinstance(node, ast.Compare):
            sites += [node.left, *node.comparators]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
            if any(isinstance(arg, ast.Starred) for arg in node.args) or not 1 <= len(node.args) <= 3:
                continue
            sites += node.args
            # range(len(items)) -> range(len(items) - 1): the classic loop bound slip.
            stop = node.args[0] if len(node.args) == 1 else node.args[1]
            if _is_atom(stop) and not isinstance(stop, ast.Constant):
                range_stops.append(stop)
    for site in sites:
        value = _int_literal(site)
        if value is None:
            continue
        # 0 only grows: `x[-1:]` for `x[0:]` is a different slip than off-by-one.
        for new_value in (value + 1,) if value == 0 else (value + 1, value - 1):
            yield _Edit(src.start(site), src.end(site), str(new_value))
    for stop in range_stops:
        end = src.end(stop)
        for suffix in (" + 1", " - 1"):
            yield _Edit(end, end, suffix)


def _deletable(statement: ast.stmt) -> bool:
    if isinstance(statement, (ast.Assign, ast.AugAssign)):
        return True
    if isinstance(statement, ast.AnnAssign):
        return statement.value is not None  # a bare `x: int` does nothing at run time
    if isinstance(statement, ast.Expr):
        value = statement.value.value if isinstance(statement.value, ast.Await) else statement.value
        return isinstance(value, ast.Call) and not _is_noisy_call(value)
    return False


def _drop_statement(func: _Function, nodes: list[ast.AST], src: _Source) -> Iterator[_Edit]:
    # Only non-last statements: the block keeps its last statement, so it never becomes empty.
    for block in _statement_lists(func, nodes):
        for statement in block[:-1]:
            if _deletable(statement) and (span := src.whole_lines(statement)):
                yield _Edit(*span, "")


def _remove_early_return(func: _Function, nodes: list[ast.AST], src: _Source) -> Iterator[_Edit]:
    for block in _statement_lists(func, nodes):
        for statement in block[:-1]:
            if (
                isinstance(statement, ast.If)
                and not statement.orelse
                and len(statement.body) == 1
                and isinstance(statement.body[0], ast.Return)
                and not _is_dead_guard(statement)
                and (span := src.whole_lines(statement))
            ):
                yield _Edit(*span, "")


def _change_default(func: _Function, nodes: list[ast.AST], src: _Source) -> Iterator[_Edit]:
    arguments = func.args
    for default in [*arguments.defaults, *(d for d in arguments.kw_defaults if d is not None)]:
        if isinstance(default, ast.Constant) and isinstance(default.value, bool):
            yield _Edit(src.start(default), src.end(default), str(not default.value))
        elif (value := _int_literal(default)) is not None:
            yield _Edit(src.start(default), src.end(default), str(value + 1))
        # None and everything else: no "sensible" replacement exists without guessing the type.


def _swap_call_args(func: _Function, nodes: list[ast.AST], src: _Source) -> Iterator[_Edit]:
    for node in nodes:
        if not isinstance(node, ast.Call) or len(node.args) < 2 or _is_noisy_call(node):
            continue
        first, second = node.args[0], node.args[1]
        if isinstance(first, ast.Starred) or isinstance(second, ast.Starred):
            continue
        first_text, second_text = src.segment(first), src.segment(second)
        if first_text == second_text:
            continue
        # One edit from the first argument's start to the second's end, keeping the separator
        # (comma, whitespace, comments, even stray parentheses) exactly as written.
        start, end = src.start(first), src.end(second)
        yield _Edit(start, end, second_text + src.text[src.end(first) : src.start(second)] + first_text)


def _remove_raise(func: _Function, nodes: list[ast.AST], src: _Source) -> Iterator[_Edit]:
    for node in nodes:
        if not isinstance(node, ast.If):
            continue
        for block in (node.body, node.orelse):
            for statement in block:
                if not isinstance(statement, ast.Raise):
                    continue
                if len(block) == 1:
                    # The block would be empty: `pass` keeps it valid (and the indentation as is).
                    yield _Edit(src.start(statement), src.end(statement), "pass")
                elif span := src.whole_lines(statement):
                    yield _Edit(*span, "")


def _swap_binary_op(func: _Function, nodes: list[ast.AST], src: _Source) -> Iterator[_Edit]:
    for node in nodes:
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            if _is_sequence_like(node.left) or _is_sequence_like(node.right):
                continue
            span = src.operator_between(node.left, node.right, _ARITH_TOKEN)
            if span is not None:
                yield _Edit(*span, "-" if isinstance(node.op, ast.Add) else "+")
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, (ast.Add, ast.Sub)):
            if _is_sequence_like(node.value):
                continue
            span = src.operator_between(node.target, node.value, _AUG_TOKEN)
            if span is not None:
                yield _Edit(*span, "-=" if isinstance(node.op, ast.Add) else "+=")


_PROPOSERS: dict[str, Proposer] = {
    "negate_condition": _negate_condition,
    "swap_comparison": _swap_comparison,
    "swap_boolean_op": _swap_boolean_op,
    "off_by_one": _off_by_one,
    "drop_statement": _drop_statement,
    "remove_early_return": _remove_early_return,
    "change_default": _change_default,
    "swap_call_args": _swap_call_args,
    "remove_raise": _remove_raise,
    "swap_binary_op": _swap_binary_op,
}
assert tuple(_PROPOSERS) == MUTATION_KINDS


@functools.lru_cache(maxsize=32)
def _parse(source: str) -> tuple[ast.Module, _Source] | None:
    """Parsed once per file text: targets are ordered by priority, not by file, and one big file
    may hold hundreds of them. (Strings cache their hash, so the lookup is cheap.)"""
    try:
        return ast.parse(source), _Source(source)
    except (SyntaxError, ValueError):
        return None


def _parse_block(text: str, indent: int) -> ast.Module | None:
    """Parse a definition cut out of its file; an indented one goes under `if 1:` to be valid."""
    try:
        return ast.parse(f"if 1:\n{text}" if indent else text)
    except (SyntaxError, ValueError):
        return None


class _Mutator:
    """The proposals for one function, realized (checked) lazily.

    Every edit lies inside the function's own lines, and a definition replaced by another valid
    definition at the same indentation leaves the file valid and every other node unchanged. So
    checking a mutation re-parses only the function's lines, not the whole file: the difference
    between milliseconds and a second per function in a large module.
    """

    def __init__(self, source: str, qualname: str, kinds: Iterable[str] = MUTATION_KINDS) -> None:
        wanted = set(kinds)
        unknown = wanted - set(MUTATION_KINDS)
        if unknown:
            raise ValueError(f"unknown mutation kinds: {sorted(unknown)}")
        self.source = source
        self.proposals: list[_Proposal] = []
        parsed = _parse(source)
        if parsed is None:
            return
        tree, self._src = parsed
        func = _find_function(tree, qualname)
        if func is None:
            return
        first_line = min([func.lineno, *(decorator.lineno for decorator in func.decorator_list)])
        last = func.end_lineno - 1  # type: ignore[operator]
        self._block = (self._src.line_starts[first_line - 1], self._src.line_starts[last] + len(self._src.lines[last]))
        self._indent = func.col_offset
        original = _parse_block(source[self._block[0] : self._block[1]], self._indent)
        if original is None:  # cannot happen for a file that parses; no proposals rather than unchecked ones
            return
        self._original_dump = ast.dump(original)
        nodes = _own_nodes(func)
        for kind in MUTATION_KINDS:
            if kind in wanted:
                self.proposals += [_Proposal(kind, edit) for edit in _PROPOSERS[kind](func, nodes, self._src)]
        # Source order, then kind order: stable and easy to read in tests.
        order = {kind: index for index, kind in enumerate(MUTATION_KINDS)}
        self.proposals.sort(key=lambda proposal: (proposal.edit.start, order[proposal.kind]))

    def realize(self, proposal: _Proposal) -> Mutation | None:
        """The mutation, or None when its result does not parse or has the original AST."""
        edit = proposal.edit
        block_start, block_end = self._block
        if not block_start <= edit.start <= edit.end <= block_end:
            return None
        source = self.source
        block = source[block_start : edit.start] + edit.text + source[edit.end : block_end]
        new_tree = _parse_block(block, self._indent)
        if new_tree is None or ast.dump(new_tree) == self._original_dump:
            return None
        new_source = source[:block_start] + block + source[block_end:]
        return Mutation(proposal.kind, new_source, self._src.line_at(edit.start))


def mutations_of(source: str, qualname: str, kinds: Iterable[str] = MUTATION_KINDS) -> list[Mutation]:
    """Every single-site mutation of the function `qualname` (same naming as
    `swesmith.entities.parse_entities`), in source order. Nested functions' bodies are excluded:
    name them (`outer.inner`) to mutate them. Empty when the source does not parse or the
    function is absent. Each result parses and differs from the original AST."""
    return all_mutations(_Mutator(source, qualname, kinds))


def all_mutations(mutator: "Mutator") -> list[Mutation]:
    """Every distinct mutation a mutator realizes, in its proposals' order."""
    found: list[Mutation] = []
    seen: set[str] = set()
    for proposal in mutator.proposals:
        mutation = mutator.realize(proposal)
        if mutation is not None and mutation.new_source not in seen:
            seen.add(mutation.new_source)
            found.append(mutation)
    return found


def pick_mutations(
    mutator: "Mutator", rng: random.Random, count: int, last: frozenset[str] = frozenset()
) -> list[Mutation]:
    """Up to `count` distinct mutations, one kind at a time in a random kind order, so two picks
    from a function with several kinds are of two different kinds; the kinds in `last` (those that
    rarely break a test) after all the others."""
    pools: dict[str, list] = {}
    for proposal in mutator.proposals:
        pools.setdefault(proposal.kind, []).append(proposal)
    for pool in pools.values():
        rng.shuffle(pool)
    kinds = sorted(pools)
    rng.shuffle(kinds)
    kinds.sort(key=lambda kind: kind in last)  # stable: the random order within each tier stays
    picked: list[Mutation] = []
    seen: set[str] = set()
    while len(picked) < count and any(pools.values()):
        for kind in kinds:
            if len(picked) >= count:
                break
            # Take this kind's next proposal that survives parsing (at most one per round).
            while pools[kind]:
                mutation = mutator.realize(pools[kind].pop())
                if mutation is not None and mutation.new_source not in seen:
                    seen.add(mutation.new_source)
                    picked.append(mutation)
                    break
    return picked


def procedural_candidates(
    files: Mapping[str, str],
    targets: Sequence[tuple[str, str]],
    *,
    seed: int = 0,
    per_function: int = 2,
    max_candidates: int | None = None,
    test_files_for: Callable[[str, str], tuple[str, ...]] = lambda path, qualname: (),
) -> Iterator[Candidate]:
    """Python's mutation candidates (`mutation_candidates`): test files and cosmetic functions
    (`__repr__`, `__str__`) are skipped."""
    return mutation_candidates(
        files,
        targets,
        _Mutator,
        skip=lambda path, qualname: is_test_file(path) or qualname.rsplit(".", 1)[-1] in COSMETIC_FUNCTIONS,
        seed=seed,
        per_function=per_function,
        max_candidates=max_candidates,
        test_files_for=test_files_for,
    )


def mutation_candidates(
    files: Mapping[str, str],
    targets: Sequence[tuple[str, str]],
    mutator_for: Callable[[str, str], "Mutator"],
    *,
    skip: Callable[[str, str], bool],
    seed: int = 0,
    per_function: int = 2,
    last: frozenset[str] = frozenset(),
    max_candidates: int | None = None,
    test_files_for: Callable[[str, str], tuple[str, ...]] = lambda path, qualname: (),
) -> Iterator[Candidate]:
    """Up to `per_function` mutation candidates per target function, targets in the given order; every
    language's procedural strategy (`mutator_for(text, qualname)` is its mutator).

    `files` maps snapshot paths to source text; `targets` are (path, qualname) pairs the tests cover,
    best first. Missing paths and targets `skip` names are skipped. The hint stays empty on purpose:
    it feeds the problem statement, and naming the mutation would name the fix. Deterministic for a
    given seed (each function draws from its own seeded RNG, so adding a target never changes another
    target's picks); kinds in `last` are picked after the others (`pick_mutations`).
    """
    emitted = 0
    done: set[tuple[str, str]] = set()
    for path, qualname in targets:
        if max_candidates is not None and emitted >= max_candidates:
            return
        if (path, qualname) in done:
            continue
        done.add((path, qualname))
        source = files.get(path)
        if source is None or skip(path, qualname):
            continue
        rng = random.Random(f"{seed}:{path}:{qualname}")
        for mutation in pick_mutations(mutator_for(source, qualname), rng, per_function, last=last):
            if max_candidates is not None and emitted >= max_candidates:
                return
            entity = f"{path}::{qualname}"
            yield Candidate(
                strategy=Strategy.PROCEDURAL,
                group=entity,
                bug_patch=make_patch({path: (source, mutation.new_source)}),
                test_files=tuple(test_files_for(path, qualname)),
                hint="",
                entities=(entity,),
                meta={"kind": mutation.kind, "line": mutation.line},
            )
            emitted += 1
