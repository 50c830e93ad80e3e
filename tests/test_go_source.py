"""The Go profile's source analysis, procedural mutations and test hiding (tree-sitter; the host `go`
checks that what they produce compiles)."""

from __future__ import annotations

import difflib
import shutil
import subprocess
from pathlib import Path

import pytest

from gskill.schema import Strategy
from languages.base import profile_named
from languages.golang import hide, mutate, source
from swesmith.hide import VisibleTests

needs_go = pytest.mark.skipif(shutil.which("go") is None, reason="needs the go toolchain")

SHAPES = """package shapes

import (
	"errors"
	"fmt"
)

// Set is a set.
type Set[T comparable] struct{ items map[T]bool }

// Add adds x.
func (s *Set[T]) Add(x T) {
	s.items[x] = true
}

func (s Set[T]) Len() int { return len(s.items) }

func init() {}

func init() { fmt.Sprint() }

// Clamp limits x to [lo, hi].
func Clamp(x, lo, hi int) int {
	if x < lo { // below
		return lo
	}
	if x > hi && hi >= 0 {
		return hi
	}
	return x
}
"""


def test_test_and_source_files():
    assert source.is_test_file("a/b_test.go") and source.is_test_file("testdata/x.go")
    assert source.is_test_file("pkg/testdata/gen/y.go") and not source.is_test_file("pkg/testdata.go")
    assert source.is_source_file("pkg/a.go") and source.is_source_file("main.go")
    assert not source.is_source_file("pkg/a_test.go") and not source.is_source_file("vendor/x/y.go")
    assert not source.is_source_file("a/vendor/y.go") and not source.is_source_file("pkg/a.py")


def test_entities_are_functions_and_methods_by_bare_receiver_name():
    entities = source.parse_entities(SHAPES)
    assert list(entities) == ["Set.Add", "Set.Len", "init", "Clamp"]
    add = entities["Set.Add"]
    assert (add.start, add.end, add.indent) == (12, 14, 0)  # the doc comment is not part of it
    assert add.source == "func (s *Set[T]) Add(x T) {\n\ts.items[x] = true\n}\n"
    assert entities["init"].source == "func init() { fmt.Sprint() }\n"  # the last of the duplicates
    assert source.parses(SHAPES)
    broken = SHAPES.replace("return hi\n", "return hi +\n")
    assert not source.parses(broken) and source.parse_entities(broken) == {}


def test_comment_and_layout_edits_are_no_code_changes():
    old = source.parse_entities(SHAPES)
    commented = SHAPES.replace("if x < lo { // below", "if x<lo { // under the floor").replace(
        "return x\n", "return x // x\n"
    )
    assert profile_named("go").entity_changes(old, source.parse_entities(commented)) == ([], [], [])
    assert profile_named("go").strip_docs(commented) == profile_named("go").strip_docs(SHAPES)
    edited = SHAPES.replace("x > hi", "x >= hi").replace(
        "func (s Set[T]) Len() int { return len(s.items) }", "func Other() {}"
    )
    assert profile_named("go").entity_changes(old, source.parse_entities(edited)) == (["Clamp"], ["Other"], ["Set.Len"])
    assert profile_named("go").strip_docs(edited) != profile_named("go").strip_docs(SHAPES)
    assert profile_named("go").entity_shape(old["Clamp"]) != profile_named("go").entity_shape(
        source.parse_entities(edited)["Clamp"]
    )


def test_replace_entity():
    replaced = profile_named("go").replace_entity(SHAPES, "Set.Len", "func (s Set[T]) Len() int {\n\treturn 0\n}")
    assert replaced is not None and "\treturn 0\n}\n\nfunc init() {}" in replaced
    assert source.parse_entities(replaced)["Clamp"].source == source.parse_entities(SHAPES)["Clamp"].source
    assert profile_named("go").replace_entity(SHAPES, "Missing", "func Missing() {}") is None
    assert profile_named("go").replace_entity(SHAPES, "Set.Len", "func (s Set[T]) Len() int {") is None


# ------------------------------------------------------------------------------------------------
# Mutations

MUTANTS = """package mutants

import (
	"errors"
	"strconv"
)

var ErrEmpty = errors.New("empty")

// Parse reads a number.
func Parse(text string, table []int) (int, error) {
	if text == "" {
		return 0, ErrEmpty
	}
	n, err := strconv.Atoi(text) // the number
	if err != nil {
		return -1, err
	}
	if n < 0 || n >= len(table) {
		return 0, nil
	}
	for i := 0; i < n; i++ {
		table[i] = table[1:3][0]
	}
	return table[n], nil
}

func Unused(m map[string]int, key string) int {
	v, ok := m[key]
	if !ok {
		return 0
	}
	if x := len(m); x > 2 {
		return x
	}
	if strconv.IntSize == 64 {
		return v
	}
	if b := byte(v); b == 0xff || b == 0 {
		return 1
	}
	return v + 1
}

func Scoped(text string) error {
	if _, err := strconv.Atoi(text); err != nil {
		return nil
	}
	return nil
}

type Name string

func (n Name) String() string { return string(n) + "!" }
"""


def _changed_lines(old: str, new: str) -> list[str]:
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and line[:3] not in ("---", "+++")]


def test_every_kind_edits_one_site_and_keeps_the_file_parsing():
    mutations = mutate.mutations_of(MUTANTS, "Parse")
    assert {m.kind for m in mutations} == set(mutate.MUTATION_KINDS)
    for mutation in mutations:
        assert source.parses(mutation.new_source) and mutation.new_source != MUTANTS
        changed = _changed_lines(MUTANTS, mutation.new_source)
        if mutation.kind == "remove_early_return":  # the whole `if` goes, its three lines
            assert len(changed) == 3 and all(line.startswith("-") for line in changed)
        else:
            assert len(changed) == 2
    by_kind = {}
    for mutation in mutations:
        last = _changed_lines(MUTANTS, mutation.new_source)[-1]
        by_kind.setdefault(mutation.kind, []).append(last[0] + last[1:].strip())
    assert '+if !(text == "") {' in by_kind["negate_condition"]
    assert "+if n <= 0 || n >= len(table) {" in by_kind["swap_comparison"]
    assert by_kind["swap_boolean_op"] == ["+if n < 0 && n >= len(table) {"]
    assert (
        "+table[i] = table[0:3][0]" in by_kind["off_by_one"]
        and "+if n < 1 || n >= len(table) {" in by_kind["off_by_one"]
    )
    assert "+table[i] = table[1:3][-1]" not in by_kind["off_by_one"]  # a negative constant index never compiles
    lines = [_changed_lines(MUTANTS, m.new_source)[-1] for m in mutate.mutations_of(MUTANTS, "Unused", ["off_by_one"])]
    assert "+\tif b := byte(v); b == 0xfe || b == 0 {" in lines and "+\tif b := byte(v); b == 0xff || b == 1 {" in lines
    assert not any("0x100" in line or "== -1" in line for line in lines)  # neither compiles for a byte
    assert by_kind["swap_return_nil_err"] == ["+return -1, nil", "+return 0, err", "+return table[n], err"]
    assert by_kind["change_constant"] == [
        "+return 1, ErrEmpty",
        "+return 0, err",
        "+return 1, nil",
        "+for i := 1; i < n; i++ {",
    ]
    removed = [m for m in mutations if m.kind == "remove_early_return"]
    assert [m.line for m in removed] == [12, 19]  # `if err != nil` stays: err would go unread


def test_removals_that_would_leave_a_variable_unused_are_not_proposed():
    kinds = ("remove_early_return", "swap_return_nil_err")
    lines = {(m.kind, m.line) for m in mutate.mutations_of(MUTANTS, "Unused", kinds)}
    # `!ok` reads ok's only read; `x := len(m)` is declared by the if; strconv is read elsewhere.
    assert lines == {("remove_early_return", 36)}
    # The if-declared err is out of scope after the if: `return err` there would not compile.
    assert [m.line for m in mutate.mutations_of(MUTANTS, "Scoped", kinds)] == [47]


def test_procedural_candidates_are_deterministic_and_skip_cosmetic_methods():
    files = {"mutants/mutants.go": MUTANTS, "mutants/mutants_test.go": MUTANTS}
    targets = [("mutants/mutants.go", name) for name in ("Parse", "Name.String", "Unused", "Parse")]
    targets.append(("mutants/mutants_test.go", "Parse"))

    def run(seed: int):
        return list(
            profile_named("go").procedural_candidates(
                files, targets, seed=seed, per_function=3, test_files_for=lambda path, name: ("mutants",)
            )
        )

    first = run(7)
    assert [c.bug_patch for c in first] == [c.bug_patch for c in run(7)]
    assert [c.group for c in first] == ["mutants/mutants.go::Parse"] * 3 + ["mutants/mutants.go::Unused"] * 3
    assert len({c.meta["kind"] for c in first[:3]}) == 3  # distinct kinds first
    assert [c.bug_patch for c in first] != [c.bug_patch for c in run(8)]
    candidate = first[0]
    assert candidate.strategy == Strategy.PROCEDURAL and candidate.hint == "" and candidate.test_files == ("mutants",)
    assert candidate.entities == ("mutants/mutants.go::Parse",) and set(candidate.meta) == {"kind", "line"}
    assert candidate.bug_patch.startswith("diff --git a/mutants/mutants.go b/mutants/mutants.go")


@needs_go
def test_every_mutation_compiles(tmp_path):
    """All mutations of the fixture, each in a package of its own, type-checked by one `go vet` with
    the checks `go test` runs."""
    (tmp_path / "go.mod").write_text("module example.com/mutants\n\ngo 1.21\n")
    count = 0
    for name in ("Parse", "Unused", "Scoped"):
        for mutation in mutate.mutations_of(MUTANTS, name):
            package = tmp_path / f"m{count}"
            package.mkdir()
            (package / "mutants.go").write_text(mutation.new_source)
            count += 1
    assert count > 20
    checks = ["-atomic", "-bools", "-buildtag", "-errorsas", "-ifaceassert", "-nilfunc", "-printf", "-stringintconv"]
    done = subprocess.run(
        ["go", "vet", *checks, "./..."], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]


# ------------------------------------------------------------------------------------------------
# Hiding tests

MODULE = {
    "go.mod": "module example.com/m\n\ngo 1.21\n",
    "root.go": "package m\n\nfunc Double(x int) int { return 2 * x }\n",
    "root_test.go": """package m

import (
	_ "embed"
	"strings"
	"testing"
)

var zero = Double(0) // trailing: stays with its line
// TestRoot checks Double.
func TestRoot(t *testing.T) {
	if Double(2) != 4 || !strings.HasPrefix("ab", "a") {
		t.Fatal("double")
	}
}

func TestKeep(t *testing.T) {
	if Double(0) != zero {
		t.Fatal("zero")
	}
}
""",
    "calc/calc.go": "package calc\n\nfunc Add(a, b int) int { return a + b }\n\nfunc Sub(a, b int) int { return a - b }\n",
    # A package whose name is not its folder's: only the code that uses it says how it is called.
    "calc/internal/mathx/mathx.go": "package mx\n\nfunc Abs(x int) int {\n\tif x < 0 {\n\t\treturn -x\n\t}\n\treturn x\n}\n",
    "calc/helpers_test.go": """package calc

import "testing"

func check(t *testing.T, got, want int) {
	t.Helper()
	if got != want {
		t.Fatalf("got %d, want %d", got, want)
	}
}
""",
    "calc/calc_test.go": """package calc

import (
	"fmt"
	"testing"

	str "strconv"

	"example.com/m/calc/internal/mathx"
)

func TestAdd(t *testing.T) {
	t.Run("positive", func(t *testing.T) { check(t, Add(1, 2), 3) })
	t.Run(fmt.Sprint("neg"), func(t *testing.T) { check(t, Add(-1, -2), -3) })
}

func TestSub(t *testing.T) {
	check(t, Sub(3, 2), 1)
}

func TestConv(t *testing.T) {
	n, _ := str.Atoi("-3")
	check(t, mx.Abs(n), 3)
}
""",
}
F2P = ["example.com/m/calc::TestAdd/positive", "example.com/m/calc::TestConv", "example.com/m::TestRoot"]


def _write(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


def _go(root: Path, *args: str) -> str:
    done = subprocess.run(["go", *args], cwd=root, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_hiding_removes_the_tests_and_what_only_they_imported():
    patch = hide.hidden_test_patch(F2P, MODULE.get, paths=list(MODULE))
    assert set(patch.split("diff --git ")[1:]) and "calc/helpers_test.go" not in patch
    assert '+\t"strings"' in patch and '+\tstr "strconv"' in patch and '+\t"fmt"' in patch
    assert '+\t"example.com/m/calc/internal/mathx"' in patch and '+\t_ "embed"' not in patch
    assert "+// TestRoot checks Double." in patch  # its doc comment goes with it
    assert hide.test_source(MODULE, "example.com/m/calc::TestSub").startswith("func TestSub(t *testing.T) {\n")
    assert hide.test_source(MODULE, "example.com/m/calc::TestMissing") is None
    with pytest.raises(VisibleTests) as raised:
        hide.hidden_test_patch(["example.com/m/calc::TestGenerated", *F2P], MODULE.get, paths=list(MODULE))
    assert raised.value.tests == ["example.com/m/calc::TestGenerated"]
    with pytest.raises(VisibleTests):
        hide.hidden_test_patch(["example.org/other::TestRoot"], MODULE.get, paths=list(MODULE))


def test_shown_files_and_a_base_patch():
    """A test the commit adds is not in the agent's view: nothing to hide in its file, and the base
    patch's section for a file that is hidden is replaced by the hiding diff."""
    shown = {**MODULE, "calc/calc_test.go": None}
    base = "diff --git a/calc/calc_test.go b/calc/calc_test.go\n--- base\n"
    other = "diff --git a/other_test.go b/other_test.go\n--- other\n"
    patch = hide.hidden_test_patch(F2P, MODULE.get, paths=list(MODULE), shown=shown.get, base_patch=base + other)
    assert patch.startswith(base + other) and "root_test.go" in patch and "--- a/calc/calc_test.go" not in patch
    patch = hide.hidden_test_patch(F2P, MODULE.get, paths=list(MODULE), base_patch=base + other)
    assert patch.startswith(other) and "--- base" not in patch and "--- a/calc/calc_test.go" in patch


@needs_go
def test_hidden_tree_compiles_without_the_hidden_tests_and_the_patch_restores_them(tmp_path):
    patch = hide.hidden_test_patch(F2P, MODULE.get, paths=list(MODULE))
    graded, hidden = tmp_path / "graded", tmp_path / "hidden"
    _write(graded, MODULE)
    _write(hidden, MODULE)
    (tmp_path / "test.patch").write_text(patch)
    subprocess.run(["git", "apply", "-R", str(tmp_path / "test.patch")], cwd=hidden, check=True)
    _go(hidden, "vet", "./...")
    listed = _go(hidden, "test", "-count=1", "-list", ".", "./...")
    assert "TestKeep" in listed and "TestSub" in listed
    assert not {"TestAdd", "TestConv", "TestRoot"} & set(listed.split())
    _go(hidden, "test", "-count=1", "./...")
    # The hidden tree is what reverse-applying the patch to the graded tree gives, and forward again:
    for path in ("root_test.go", "calc/calc_test.go"):
        assert (hidden / path).read_text() == hide.remove_tests(MODULE[path], {"TestRoot", "TestAdd", "TestConv"})
    subprocess.run(["git", "apply", str(tmp_path / "test.patch")], cwd=hidden, check=True)
    assert all((hidden / path).read_text() == text for path, text in MODULE.items())


def test_likely_package_names_of_import_paths():
    assert source.package_names("fmt") == {"fmt"} and source.package_names("gopkg.in/yaml.v3") == {"yaml"}
    assert source.package_names("github.com/x/y/v2") == {"y"}
    assert "isatty" in source.package_names("github.com/mattn/go-isatty")
    assert hide.module_path('// m\nmodule "example.com/m" // the module\n\ngo 1.22\n') == "example.com/m"
