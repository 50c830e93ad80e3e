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

from languages.base import Reader, register
from languages.treesitter import TreeSitterProfile
from languages.rust import cargotest, workspace


@register
class RustProfile(TreeSitterProfile):
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

    package = "languages.rust"
    runner = "cargotest"
    cosmetic_methods = frozenset({"fmt"})
    test_spec = cargotest.TEST_SPEC

    def test_unit(self, path: str, read: Reader) -> str:
        return workspace.unit_of_file(path, read)
