"""Single-site mutations for the tree-sitter languages (Go, Rust, TypeScript/JavaScript): the edit
types and the mutator that checks them. A language's `mutate` module subclasses `SiteMutator` with
its proposers; `swesmith.procedural.mutation_candidates` turns mutators into candidates.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from tree_sitter import Node, Tree

from swesmith.procedural import Mutation


@dataclass(frozen=True)
class Edit:
    """Replace text[start:end] (byte offsets) with `text`."""

    start: int
    end: int
    text: bytes


@dataclass(frozen=True)
class Proposal:
    kind: str
    edit: Edit


def descendants(node: Node) -> Iterator[Node]:
    """`node` and every node below it, in source order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


@functools.lru_cache(maxsize=32)
def _parsed(parse: Callable[[str], Tree], text: str) -> Tree:
    """Parsed once per file text: targets come by priority, not by file, and one file may hold many."""
    return parse(text)


class SiteMutator:
    """The proposals for one function, realized (checked) lazily: `swesmith.procedural.pick_mutations`'s
    interface (`proposals`, `realize`).

    A language's subclass sets `kinds` (every kind it knows, in proposal order) and `parse`, and
    implements `locate`: the function's byte span and, per kind, the edits it proposes. Every edit
    lies inside that span; an edit whose result no longer parses, or equals the original, is dropped
    when realized. `check_span_only`: a function replaced by another valid one leaves the file valid
    (true of Go's top-level declarations), so only the span is re-parsed.
    """

    kinds: tuple[str, ...] = ()
    check_span_only = False

    @staticmethod
    def parse(text: str) -> Tree:
        raise NotImplementedError

    def locate(self, tree: Tree, qualname: str) -> tuple[tuple[int, int], Callable[[str], Iterable[Edit]]] | None:
        raise NotImplementedError

    def __init__(self, text: str, qualname: str, kinds: Iterable[str] | None = None) -> None:
        wanted = set(self.kinds if kinds is None else kinds)
        unknown = wanted - set(self.kinds)
        if unknown:
            raise ValueError(f"unknown mutation kinds: {sorted(unknown)}")
        self.text = text.encode("utf-8")
        self.proposals: list[Proposal] = []
        tree = _parsed(self.parse, text)
        if tree.root_node.has_error:
            return
        located = self.locate(tree, qualname)
        if located is None:
            return
        self._span, propose = located
        for kind in self.kinds:
            if kind in wanted:
                self.proposals += [Proposal(kind, edit) for edit in propose(kind)]
        # Source order, then kind order: stable and easy to read in tests.
        order = {kind: index for index, kind in enumerate(self.kinds)}
        self.proposals.sort(key=lambda proposal: (proposal.edit.start, order[proposal.kind]))

    def realize(self, proposal: Proposal) -> Mutation | None:
        """The mutation, or None when the result no longer parses or is unchanged."""
        edit = proposal.edit
        start, end = self._span
        if not start <= edit.start <= edit.end <= end:
            return None
        new_text = self.text[: edit.start] + edit.text + self.text[edit.end :]
        if new_text == self.text:
            return None
        checked = new_text[start : end + len(edit.text) - (edit.end - edit.start)] if self.check_span_only else new_text
        if self.parse(checked.decode("utf-8")).root_node.has_error:
            return None
        return Mutation(proposal.kind, new_text.decode("utf-8"), self.text.count(b"\n", 0, edit.start) + 1)
