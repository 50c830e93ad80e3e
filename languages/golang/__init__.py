"""The Go profile: go.mod modules, `go test -json`, tree-sitter-go for functions and mutations.

Mining's parts (mutations, coverage, hiding) are imported when called: a grader that only needs the
TestSpec never loads the miners.

Test ids are `<package import path>::<TestName>[/<subtest>]` (bare names collide across packages);
the unit a run is handed is the package import path. The toolchain is the one go.mod asks for,
downloaded from the Go module proxy at image build; tests run offline (GOPROXY=off, GOFLAGS=-mod=mod)
with -count=1 (Go caches test results), against a build cache warmed with dependencies only.
"""

from __future__ import annotations

from languages.base import Reader, register
from languages.treesitter import TreeSitterProfile
from languages.golang import gotest, source


@register
class GoProfile(TreeSitterProfile):
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

    package = "languages.golang"
    runner = "gotest"
    cosmetic_methods = frozenset({"String", "Error", "GoString"})
    test_spec = gotest.TEST_SPEC

    def test_unit(self, path: str, read: Reader) -> str:
        return source.package_of(path, source.module_path(read("go.mod")))
