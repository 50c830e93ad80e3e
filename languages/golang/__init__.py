"""The Go profile: go.mod modules, `go test -json`, tree-sitter-go for functions and mutations.

Mining's parts (mutations, coverage, hiding) are imported when called: a grader that only needs the
TestSpec never loads the miners.

Test ids are `<package import path>::<TestName>[/<subtest>]` (bare names collide across packages);
the unit a run is handed is the package import path. The toolchain is the one go.mod asks for,
downloaded from the Go module proxy at image build; tests run offline (GOPROXY=off, GOFLAGS=-mod=mod)
with -count=1 (Go caches test results), against a build cache warmed with dependencies only.
"""

from __future__ import annotations

from typing import Callable, Iterator, Mapping, Sequence

from languages.base import Entity, ImageRecipe, Profile, Reader, register
from languages.golang import gotest, image, source


@register
class GoProfile(Profile):
    name = "go"
    title = "Go"
    suffixes = (".go",)
    markers = ("go.mod",)
    config_files = ("go.mod", "Makefile", ".golangci.yml", ".golangci.yaml")
    test_command_hint = "go test ./..."
    needs = "go.mod at the root; the toolchain go.mod asks for comes from the Go module proxy"
    limits = (
        "one module per repository (the root go.mod); cgo packages need their C libraries in the base image; "
        "coverage attributes a line to its own package's tests only (no -coverpkg)"
    )

    test_spec = gotest.TEST_SPEC

    def is_test_file(self, path: str) -> bool:
        return source.is_test_file(path)

    def is_source_file(self, path: str) -> bool:
        return source.is_source_file(path)

    def test_unit(self, path: str, read: Reader) -> str:
        return source.package_of(path, source.module_path(read("go.mod")))

    def parse_entities(self, text: str) -> dict[str, Entity]:
        return source.parse_entities(text)

    def parses(self, text: str) -> bool:
        return source.parses(text)

    def entity_changes(self, old, new):
        return source.entity_changes(old, new)

    def entity_shape(self, entity: Entity) -> str:
        return source.entity_shape(entity)

    def replace_entity(self, text: str, qualname: str, new_text: str, new_indent: int | None = None) -> str | None:
        return source.replace_entity(text, qualname, new_text)

    def strip_docs(self, text: str) -> str:
        return source.strip_comments(text)

    def procedural_candidates(
        self,
        files: Mapping[str, str],
        targets: Sequence[tuple[str, str]],
        *,
        seed: int,
        per_function: int,
        test_files_for: Callable[[str, str], tuple[str, ...]],
    ) -> Iterator:
        from languages.golang import mutate

        return mutate.procedural_candidates(
            files, targets, seed=seed, per_function=per_function, test_files_for=test_files_for
        )

    def measure_coverage(self, sandbox, units: set[str], timeout: float) -> dict[str, dict[int, set[str]]]:
        from languages.golang import coverage

        return coverage.measure(sandbox, units, timeout)

    def hidden_test_patch(
        self, fail_to_pass, read_file: Reader, *, paths=(), shown: Reader | None = None, base_patch=""
    ):
        from languages.golang import hide

        return hide.hidden_test_patch(fail_to_pass, read_file, paths=paths, shown=shown, base_patch=base_patch)

    def test_source(self, files: Mapping[str, str], test_id: str) -> str | None:
        from languages.golang import hide

        return hide.test_source(files, test_id)

    def failure_messages(self, output: str, limit: int = 6) -> list[str]:
        return gotest.failure_messages(output, limit)

    def image_recipe(self, paths: Sequence[str], read: Reader) -> ImageRecipe:
        return image.recipe(paths, read)

    def layout_notes(self, paths: Sequence[str], read: Reader) -> list[str]:
        return image.layout_notes(paths, read)
