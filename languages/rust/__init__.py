"""The Rust profile: cargo workspaces, `cargo test` (libtest), tree-sitter-rust for functions and mutations.

Mining's parts (mutations, coverage, hiding) are imported when called: a grader that only needs the
TestSpec never loads the miners.

Test ids are `<unit>::<module path>::<test>`, where the unit is one compiled test crate of a workspace
member: `<package>/lib` (the library's unit tests, `cargo test -p P --lib`), `<package>/bin/<name>`
(`--bin N`) or `<package>/test/<name>` (the integration test file tests/N.rs, `--test N`); libtest
itself names neither package nor target, so two packages' `tests::parse` would otherwise collide.
The toolchain is Debian's (image_setup.py); crates are fetched at image build and tests run with
CARGO_NET_OFFLINE=true, against a build cache (outside /repo) warmed with dependencies only.
"""

from __future__ import annotations

from typing import Callable, Iterator, Mapping, Sequence

from languages.base import Entity, ImageRecipe, Profile, Reader, register
from languages.rust import cargotest, image, source, workspace


@register
class RustProfile(Profile):
    name = "rust"
    title = "Rust"
    suffixes = (".rs",)
    markers = ("Cargo.toml",)
    config_files = ("Cargo.toml", "rust-toolchain.toml", "rust-toolchain", ".cargo/config.toml", "Makefile")
    test_command_hint = "cargo test --workspace"
    needs = (
        "Cargo.toml at the root (a package or a workspace); Debian's Rust toolchain (rustc-web 1.96 from "
        "bookworm-security on a bookworm base image), crates fetched from the registry at image build"
    )
    limits = (
        "stable Rust only (a repository needing nightly or a newer rustc than Debian's fails its image build); "
        "doctests, benches and examples are not run; no per-test timeout (libtest has none on stable); "
        "coverage is per package (a function maps to its package's test targets); commits whose test is only "
        "inline (`#[cfg(test)]` in the source file) are not mined from history"
    )

    test_spec = cargotest.TEST_SPEC

    def is_test_file(self, path: str) -> bool:
        return source.is_test_file(path)

    def is_source_file(self, path: str) -> bool:
        return source.is_source_file(path)

    def test_unit(self, path: str, read: Reader) -> str:
        return workspace.unit_of_file(path, read)

    def parse_entities(self, text: str) -> dict[str, Entity]:
        return source.parse_entities(text)

    def parses(self, text: str) -> bool:
        return source.parses(text)

    def entity_changes(self, old, new):
        return source.entity_changes(old, new)

    def entity_shape(self, entity: Entity) -> str:
        return source.entity_shape(entity)

    def replace_entity(self, text: str, qualname: str, new_text: str, new_indent: int | None = None) -> str | None:
        return source.replace_entity(text, qualname, new_text, new_indent)

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
        from languages.rust import mutate

        return mutate.procedural_candidates(
            files, targets, seed=seed, per_function=per_function, test_files_for=test_files_for
        )

    def measure_coverage(self, sandbox, units: set[str], timeout: float) -> dict[str, dict[int, set[str]]]:
        from languages.rust import coverage

        return coverage.measure(sandbox, units, timeout)

    def hidden_test_patch(
        self, fail_to_pass, read_file: Reader, *, paths=(), shown: Reader | None = None, base_patch=""
    ):
        from languages.rust import hide

        return hide.hidden_test_patch(fail_to_pass, read_file, paths=paths, shown=shown, base_patch=base_patch)

    def test_source(self, files: Mapping[str, str], test_id: str) -> str | None:
        from languages.rust import hide

        return hide.test_source(files, test_id)

    def failure_messages(self, output: str, limit: int = 6) -> list[str]:
        return cargotest.failure_messages(output, limit)

    def image_recipe(self, paths: Sequence[str], read: Reader) -> ImageRecipe:
        return image.recipe(paths, read)

    def layout_notes(self, paths: Sequence[str], read: Reader) -> list[str]:
        return image.layout_notes(paths, read)
