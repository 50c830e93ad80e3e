"""What the tree-sitter profiles (Go, Rust, TypeScript/JavaScript) share.

A tree-sitter language package holds the same modules: `source` (parse, entities, shapes), `mutate`
(its proposers: a `languages.sitemutator.SiteMutator` named `Mutator`), `coverage`, `hide`, `image`,
and its test runner's module (`runner`, whose TEST_SPEC the subclass also names as `test_spec`). The
profile (`TreeSitterProfile`) delegates to them by name, importing mining's parts when called (a
grader that only needs the TestSpec never loads the miners). What differs from language to language
is in those modules, not here.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Callable, Iterator, Mapping, Sequence

from languages.base import Entity, ImageRecipe, Profile, Reader


class TreeSitterProfile(Profile):
    """A profile whose work is done by the modules of one language package (`package`, e.g.
    "languages.golang"): `source` and the runner module (`runner`) loaded with the profile, the
    miners (`mutate`, `coverage`, `hide`) when first called. `cosmetic_methods`: method names whose
    failures pin formatting, not behaviour; never mutated."""

    package: str = ""
    runner: str = ""
    cosmetic_methods: frozenset[str] = frozenset()
    cosmetic_functions_too = False  # also a free function of such a name (JavaScript's toString)

    def part(self, name: str) -> ModuleType:
        return importlib.import_module(f"{self.package}.{name}")

    @property
    def source(self) -> ModuleType:
        return self.part("source")

    def is_test_file(self, path: str) -> bool:
        return self.source.is_test_file(path)

    def is_source_file(self, path: str) -> bool:
        return self.source.is_source_file(path)

    def parse_entities(self, text: str) -> dict[str, Entity]:
        return self.source.parse_entities(text)

    def parses(self, text: str) -> bool:
        return self.source.parses(text)

    def entity_shape(self, entity: Entity) -> str:
        return self.strip_docs(entity.source)

    def entity_changes(self, old: dict[str, Entity], new: dict[str, Entity]) -> tuple[list[str], list[str], list[str]]:
        """(modified, added, removed) qualnames; only entities whose text changed are re-parsed, and a
        change of comments or layout alone is no change."""

        def differs(name: str) -> bool:
            before, after = old[name], new[name]
            return before.source != after.source and self.entity_shape(before) != self.entity_shape(after)

        modified = [name for name in new if name in old and differs(name)]
        added = [name for name in new if name not in old]
        removed = [name for name in old if name not in new]
        return modified, added, removed

    def replace_entity(self, text: str, qualname: str, new_text: str, new_indent: int | None = None) -> str | None:
        """`text` with the entity replaced by `new_text`; None if it is absent or the result does not
        parse. Where the language's source module can `reindent`, text written at column `new_indent`
        is moved to the entity's own column."""
        entity = self.parse_entities(text).get(qualname)
        if entity is None:
            return None
        reindent = getattr(self.source, "reindent", None)
        if new_indent is not None and reindent is not None:
            new_text = reindent(new_text, new_indent, entity.indent)
        if not new_text.endswith("\n"):
            new_text += "\n"
        lines = self.source.lines_of(text)
        result = "".join(lines[: entity.start - 1]) + new_text + "".join(lines[entity.end :])
        return result if self.parses(result) else None

    def strip_docs(self, text: str) -> str:
        """The code without comments (doc comments included) or formatting: equal texts differ only there."""
        tree = self.source.parse(text)
        return text if tree.root_node.has_error else self.source.shape(tree.root_node)

    def _cosmetic(self, qualname: str) -> bool:
        owner, _, name = qualname.rpartition(".")
        return name in self.cosmetic_methods and (bool(owner) or self.cosmetic_functions_too)

    def procedural_candidates(
        self,
        files: Mapping[str, str],
        targets: Sequence[tuple[str, str]],
        *,
        seed: int,
        per_function: int,
        test_files_for: Callable[[str, str], tuple[str, ...]],
    ) -> Iterator:
        from swesmith.procedural import mutation_candidates

        mutate = self.part("mutate")
        return mutation_candidates(
            files,
            targets,
            mutate.Mutator,
            skip=lambda path, qualname: self.is_test_file(path) or self._cosmetic(qualname),
            seed=seed,
            per_function=per_function,
            last=mutate.LOW_YIELD_KINDS,
            test_files_for=test_files_for,
        )

    def measure_coverage(self, sandbox, units: set[str], timeout: float) -> dict[str, dict[int, set[str]]]:
        return self.part("coverage").measure(sandbox, units, timeout)

    def hidden_test_patch(
        self, fail_to_pass, read_file: Reader, *, paths=(), shown: Reader | None = None, base_patch=""
    ):
        return self.part("hide").hidden_test_patch(
            fail_to_pass, read_file, paths=paths, shown=shown, base_patch=base_patch
        )

    def test_source(self, files: Mapping[str, str], test_id: str) -> str | None:
        return self.part("hide").test_source(files, test_id)

    def failure_messages(self, output: str, limit: int = 6) -> list[str]:
        return self.part(self.runner).failure_messages(output, limit)

    def image_recipe(self, paths: Sequence[str], read: Reader) -> ImageRecipe:
        return self.part("image").recipe(paths, read)

    def layout_notes(self, paths: Sequence[str], read: Reader) -> list[str]:
        return self.part("image").layout_notes(paths, read)
