"""The Rust profile without Docker: libtest logs (captured from a real `cargo test` through the
runner), functions, hiding, units, the image recipe, the coverage map and the mutations' shapes. That
every mutation compiles is checked in a real toolchain by tests/test_rust.py."""

from __future__ import annotations

import git
import pytest

from languages import detect_language, profile_named
from languages.base import FAILED, PASSED, SKIPPED
from languages.base import TestRunLog as RunLog  # not named Test*: pytest would try to collect it
from languages.rust import cargotest, coverage, hide, image, mutate, source, workspace
from swesmith.hide import VisibleTests
from swesmith.snapshot import snapshot_code_files

# `python3 runner.py run` on the fixture workspace (tests/rust_repo.py) with mean's early return
# removed, clamp's `<` made `<=` and an out-of-range literal in text-utils (rustc 1.95; paths of
# the host's scratch copy replaced by the image's).
FAILED_RUN = """
--- gskill-unit stats/lib
   Compiling stats v0.1.0 (/repo/crates/stats)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.47s
     Running unittests src/lib.rs (/root/.cache/gskill-cargo-target/debug/deps/stats-68207d2eaccd5e17)

running 3 tests
test tests::clamps ... ok
test tests::clamps_at_the_edges ... ok
test tests::sums ... ok

test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.03s


--- gskill-unit-end stats/lib rc=0

--- gskill-unit stats/test/api
   Compiling stats v0.1.0 (/repo/crates/stats)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.26s
     Running tests/api.rs (/root/.cache/gskill-cargo-target/debug/deps/api-22dd4e50b3817130)

running 5 tests
test max_of_negatives ... ok
test max_of_three ... ok
test mean_of_nothing ... FAILED
test mean_of_three ... ok
test sum_of_nothing ... ok

failures:

---- mean_of_nothing stdout ----

thread 'mean_of_nothing' (26232) panicked at crates/stats/tests/api.rs:20:5:
assertion `left == right` failed
  left: NaN
 right: 0.0
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    mean_of_nothing

test result: FAILED. 4 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

error: test failed, to rerun pass `-p stats --test api`
error: 1 target failed:
    `-p stats --test api`

--- gskill-unit-end stats/test/api rc=101

--- gskill-unit text-utils/lib
   Compiling text-utils v0.1.0 (/repo/crates/text)
warning: unused variable: `unused`
 --> crates/text/src/lib.rs:5:9
  |
5 |     let unused: u8 = 256; s.chars().rev().collect()
  |         ^^^^^^ help: if this is intentional, prefix it with an underscore: `_unused`
  |
  = note: `#[warn(unused_variables)]` (part of `#[warn(unused)]`) on by default

error: literal out of range for `u8`
 --> crates/text/src/lib.rs:5:22
  |
5 |     let unused: u8 = 256; s.chars().rev().collect()
  |                      ^^^
  |
  = note: the literal `256` does not fit into the type `u8` whose range is `0..=255`
  = note: `#[deny(overflowing_literals)]` on by default

warning: `text-utils` (lib test) generated 1 warning
error: could not compile `text-utils` (lib test) due to 1 previous error; 1 warning emitted

--- gskill-unit-end text-utils/lib rc=101"""


def test_parse_reads_every_outcome_with_unit_qualified_ids():
    assert cargotest.parse(FAILED_RUN) == {
        "stats/lib::tests::clamps": PASSED,
        "stats/lib::tests::clamps_at_the_edges": PASSED,
        "stats/lib::tests::sums": PASSED,
        "stats/test/api::max_of_negatives": PASSED,
        "stats/test/api::max_of_three": PASSED,
        "stats/test/api::mean_of_nothing": FAILED,
        "stats/test/api::mean_of_three": PASSED,
        "stats/test/api::sum_of_nothing": PASSED,
    }
    assert cargotest.ran(RunLog(FAILED_RUN, 1)) and not cargotest.ran(RunLog(FAILED_RUN, 1, True))


def test_a_unit_that_does_not_compile_is_a_broken_unit_and_alone_is_no_run():
    assert cargotest.broken_units(FAILED_RUN) == ("text-utils/lib",)
    broken_only = FAILED_RUN[FAILED_RUN.index("--- gskill-unit text-utils/lib") :]
    assert cargotest.parse(broken_only) == {} and not cargotest.ran(RunLog(broken_only, 1))
    assert profile_named("rust").test_spec.broken_unit_fails_tests is False


def test_ignored_tests_are_skipped_and_the_failures_list_catches_a_broken_verdict_line():
    log = (
        "--- gskill-unit p/lib\n\nrunning 3 tests\ntest a ... ignored\ntest b ... ignored, slow\n"
        "test m::c ... some raw stderr\n\nfailures:\n\n---- m::c stdout ----\npanic\n\nfailures:\n    m::c\n\n"
        "test result: FAILED. 0 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out; finished in 1.50s\n"
        "\n--- gskill-unit-end p/lib rc=101\n"
    )
    assert cargotest.parse(log) == {"p/lib::a": SKIPPED, "p/lib::b": SKIPPED, "p/lib::m::c": FAILED}
    assert cargotest.unit_seconds(log) == {"p/lib": 1.5}
    assert cargotest.broken_units(log) == ()


def test_a_unit_cut_short_by_the_timeout_keeps_what_it_printed():
    cut = "--- gskill-unit p/lib\n\nrunning 2 tests\ntest a ... ok\n"
    assert cargotest.parse(cut) == {"p/lib::a": PASSED} and cargotest.broken_units(cut) == ()


def test_unit_seconds_are_libtests_finished_in():
    assert cargotest.unit_seconds(FAILED_RUN) == {"stats/lib": 0.03, "stats/test/api": 0.0}


def test_command_groups_test_ids_by_unit():
    assert cargotest.command((), "baseline") == "python3 /tmp/gskill-cargotest.py run"
    assert cargotest.command(("a/lib::t::x", "b/test/api", "a/lib::t::y", "b/test/api::z"), "first", 12.0) == (
        "python3 /tmp/gskill-cargotest.py run b/test/api '' a/lib 't::x t::y'"
    )


def test_failure_messages_are_the_panic_and_assertion_lines_without_locations():
    assert profile_named("rust").failure_messages(FAILED_RUN) == [
        "assertion `left == right` failed",
        "left: NaN",
        "right: 0.0",
    ]
    old = "thread 'x' panicked at 'index out of bounds: the len is 1', src/lib.rs:4:5\nnote: run with\n"
    assert cargotest.failure_messages(old) == ["index out of bounds: the len is 1"]


SHAPES = """//! Shapes.
use std::fmt;

/// A square.
#[derive(Debug)]
pub struct Square<T> {
    side: T,
}

/// Area.
#[inline]
pub fn area(side: u32) -> u32 {
    side * side
}

impl<T: Copy> Square<T> {
    pub fn side(&self) -> T {
        self.side
    }
}

impl<T> fmt::Display for Square<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "square")
    }
}

pub trait Named {
    fn name(&self) -> String {
        "shape".into()
    }
    fn id(&self) -> u32;
}

mod inner {
    pub fn helper() -> u8 {
        1
    }

    #[test]
    fn not_an_entity() {}
}

#[cfg(test)]
mod tests {
    #[test]
    fn area_of_two() {
        assert_eq!(super::area(2), 4);
    }
}
"""


def test_entities_are_functions_and_methods_by_type_without_test_code():
    entities = source.parse_entities(SHAPES)
    assert list(entities) == ["area", "Square.side", "Square.fmt", "Named.name", "inner.helper"]
    area = entities["area"]
    assert area.source.startswith("#[inline]\npub fn area") and area.indent == 0
    assert entities["Square.side"].indent == 4 and entities["Square.side"].source.startswith("    pub fn side")
    assert source.parse_entities("fn broken( {") == {}


def test_comment_and_layout_edits_are_no_entity_changes():
    before = source.parse_entities(SHAPES)
    after = source.parse_entities(
        SHAPES.replace("    side * side\n", "    // squared\n    side  *  side\n").replace(
            "        self.side\n", "        self.side.clone()\n"
        )
    )
    assert profile_named("rust").entity_changes(before, after) == (["Square.side"], [], [])
    assert profile_named("rust").strip_docs(SHAPES) == profile_named("rust").strip_docs(
        SHAPES.replace("/// Area.\n", "/// Area!\n")
    )


def test_replace_entity_moves_a_method_to_its_column():
    flat = "pub fn side(&self) -> T {\n    self.side\n}\n"  # the same method, as written at column 0
    replaced = profile_named("rust").replace_entity(SHAPES, "Square.side", flat, new_indent=0)
    assert "    pub fn side(&self) -> T {\n        self.side\n    }\n" in replaced
    assert profile_named("rust").replace_entity(SHAPES, "missing", flat) is None
    assert profile_named("rust").replace_entity(SHAPES, "area", "pub fn area( {\n") is None


@pytest.mark.parametrize(
    ("path", "test"),
    [
        ("crates/a/tests/api.rs", True),
        ("tests/common/mod.rs", True),
        ("src/parser/tests.rs", True),
        ("src/lexer_tests.rs", True),
        ("src/lib.rs", False),
        ("src/testing.rs", False),
    ],
)
def test_test_files_are_the_tests_folders_and_test_modules(path, test):
    assert source.is_test_file(path) is test
    assert profile_named("rust").is_source_file(path) is (not test)


MANIFESTS = {
    "Cargo.toml": '[workspace]\nmembers = ["crates/*"]\n[workspace.package]\nrust-version = "1.70"\n',
    "crates/core/Cargo.toml": '[package]\nname = "core-lib"\nversion = "0.1.0"\nrust-version = "1.74.1"\n',
    "crates/cli/Cargo.toml": '[package]\nname = "cli"\nversion = "0.1.0"\n[[bin]]\nname = "tool"\npath = "src/tool.rs"\n',
    "crates/core/src/lib.rs": "pub mod parse;\n",
    "crates/core/src/parse.rs": "pub fn p() {}\n",
    "crates/cli/src/tool.rs": "fn main() {}\n",
    "crates/cli/src/main.rs": "fn main() {}\n",
    "crates/core/tests/round_trip.rs": "",
    "crates/core/tests/common/mod.rs": "",
}


def test_units_are_package_and_target():
    read = MANIFESTS.get
    unit = profile_named("rust").test_unit
    assert unit("crates/core/src/parse.rs", read) == "core-lib/lib"
    assert unit("crates/core/tests/round_trip.rs", read) == "core-lib/test/round_trip"
    assert unit("crates/core/tests/common/mod.rs", read) == "core-lib/test/common"  # no target: the runner skips it
    assert unit("crates/cli/src/main.rs", read) == "cli/bin/cli"
    assert workspace.unit_root_file("cli/bin/tool", list(MANIFESTS), read) == "crates/cli/src/tool.rs"
    assert workspace.unit_root_file("core-lib/test/round_trip", [p for p in MANIFESTS if p.endswith(".rs")], read) == (
        "crates/core/tests/round_trip.rs"
    )
    assert detect_language(list(MANIFESTS)) == "rust"


def test_a_members_tests_are_found_in_the_snapshots_files(tmp_path):
    """Statements cut their reproduction from the snapshot's files: a workspace member's manifest
    must be among them, or no test of that member is found (ripgrep: 160 of 234 statements had none)."""
    repo = git.Repo.init(tmp_path)
    for path, text in {**MANIFESTS, "crates/core/src/parse.rs": PARSE_WITH_TESTS}.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    repo.index.add(list(MANIFESTS))
    commit = repo.index.commit("snapshot").hexsha
    files = snapshot_code_files(tmp_path, commit, profile_named("rust"))
    assert "crates/core/Cargo.toml" in files and "crates/cli/Cargo.toml" in files
    found = profile_named("rust").test_source(files, "core-lib/lib::parse::tests::reads_digits")
    assert found is not None and "assert_eq!(super::p(), ());" in found


PARSE_WITH_TESTS = "pub fn p() {}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn reads_digits() {\n        assert_eq!(super::p(), ());\n    }\n}\n"


def test_units_follow_declared_targets_and_the_modules_their_roots_declare():
    """ripgrep's layout: `autotests = false`, one [[test]] at tests/tests.rs whose `mod feature;` pulls
    in tests/feature.rs, and a [[bin]] rooted outside src/."""
    files = {
        "Cargo.toml": '[package]\nname = "rg-like"\nautotests = false\n[[bin]]\nname = "rg"\npath = "crates/core/main.rs"\n'
        '[[test]]\nname = "integration"\npath = "tests/tests.rs"\n',
        "crates/core/main.rs": "mod flags;\nfn main() {}\n",
        "crates/core/flags/parse.rs": "pub fn p() {}\n",
        "tests/tests.rs": "#[macro_use]\nmod macros;\npub(crate) mod feature;\n",
        "tests/feature.rs": "",
        "tests/stray.rs": "",
    }
    unit = profile_named("rust").test_unit
    assert unit("crates/core/flags/parse.rs", files.get) == "rg-like/bin/rg"
    assert unit("tests/tests.rs", files.get) == "rg-like/test/integration"
    assert unit("tests/feature.rs", files.get) == "rg-like/test/integration"
    assert unit("tests/macros.rs", files.get) == "rg-like/test/integration"
    assert unit("tests/stray.rs", files.get) == "rg-like/test/integration"  # the one target there is


LIB = """pub fn add(a: i32, b: i32) -> i32 {
    a + b
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn adds() {
        assert_eq!(add(1, 2), 3);
    }

    // Negative numbers too.
    #[test]
    fn adds_negatives() {
        assert_eq!(add(-1, -2), -3);
    }

    mod deeper {
        #[test]
        fn deep() {}
    }
}
"""
TESTS_RS = "use super::*;\n\n#[test]\nfn from_file() {\n    assert_eq!(add(2, 2), 4);\n}\n"


def test_hiding_removes_test_functions_from_inline_modules_and_module_files():
    files = {"Cargo.toml": '[package]\nname = "calc"\n', "src/lib.rs": LIB, "src/tests.rs": TESTS_RS}
    patch = hide.hidden_test_patch(
        ["calc/lib::unit::adds_negatives", "calc/lib::tests::from_file", "calc/lib::unit::deeper::deep"],
        files.get,
        paths=["src/lib.rs", "src/tests.rs"],
    )
    assert "+    // Negative numbers too.\n+    #[test]\n+    fn adds_negatives() {" in patch
    assert "+#[test]\n+fn from_file() {" in patch and "+        fn deep() {}" in patch
    assert "fn adds() {" not in patch.replace(" fn adds() {\n", "")  # the other test stays, as context at most
    hidden = hide.remove_tests(LIB, [(["unit"], "adds_negatives")])
    assert "fn adds()" in hidden and "adds_negatives" not in hidden and "Negative numbers" not in hidden
    assert source.parses(hidden)
    assert hide.test_source(files, "calc/lib::unit::adds_negatives").startswith("    // Negative numbers too.\n")
    with pytest.raises(VisibleTests) as raised:
        hide.hidden_test_patch(["calc/lib::unit::missing", "calc/test/gone::x"], files.get, paths=["src/lib.rs"])
    assert sorted(raised.value.tests) == ["calc/lib::unit::missing", "calc/test/gone::x"]


def test_the_recipe_installs_debians_rust_and_checks_the_version_asked_for():
    paths = list(MANIFESTS) + ["rust-toolchain.toml"]
    read = {**MANIFESTS, "rust-toolchain.toml": '[toolchain]\nchannel = "1.80.0"\n'}.get
    minimum, asks = image.wanted_rust(paths, read)
    assert minimum == "1.80.0" and len(asks) == 3
    recipe = image.recipe(paths, read)
    assert "rust_setup.py install" in recipe.toolchain_steps and "CARGO_TARGET_DIR" in recipe.toolchain_steps
    assert "prepare /opt/gskill/env.json 1.80.0" in recipe.steps and "CARGO_NET_OFFLINE=true" in recipe.steps
    assert recipe.key["rust"] == "1.80.0" and "gskill/rust_setup.py" in recipe.files
    nightly = image.wanted_rust(["rust-toolchain"], {"rust-toolchain": "nightly\n"}.get)
    assert nightly[0] == "" and "not installable here" in nightly[1][0]
    notes = image.layout_notes(paths, read)
    assert any("cargo test -p NAME --lib" in note for note in notes)


def test_coverage_maps_a_packages_lines_to_its_units():
    lines = {"crates/core/src/parse.rs": 3, "crates/core/tests/round_trip.rs": 9, "crates/cli/src/main.rs": 2}
    units = {"core-lib/lib", "core-lib/test/round_trip"}
    mapped = coverage.package_map(lines, MANIFESTS, units)
    assert mapped == {"crates/core/src/parse.rs": {line: units for line in (1, 2, 3)}}


def test_mutations_keep_types_and_skip_macros_closures_and_fmt():
    text = SHAPES + (
        "pub fn pick(v: &[u8], n: usize) -> u8 {\n"
        "    assert!(n < 10);\n"
        "    let f = |x: u8| { if x > 0 { return 1; } 2 };\n"
        "    if n >= v.len() {\n        return 255u8;\n    }\n"
        "    f(v[n])\n}\n"
    )
    found = {(m.kind, m.line) for m in mutate.mutations_of(text, "pick")}
    kinds = {kind for kind, _ in found}
    assert kinds == {"negate_condition", "swap_comparison", "off_by_one", "remove_early_return", "change_constant"}
    rendered = [m.new_source for m in mutate.mutations_of(text, "pick")]
    assert all("assert!(n < 10);" in new for new in rendered)  # macro token trees are never touched
    assert not any("256u8" in new for new in rendered)  # past u8's range: rustc would refuse it
    removed = [m.new_source for m in mutate.mutations_of(text, "pick") if m.kind == "remove_early_return"]
    # Whole lines only: the closure's `if` shares its line with other code and stays.
    assert len(removed) == 1 and "return 1; }" in removed[0]
    candidates = list(
        profile_named("rust").procedural_candidates(
            {"src/lib.rs": text},
            [("src/lib.rs", "Square.fmt"), ("src/lib.rs", "pick")],
            seed=1,
            per_function=3,
            test_files_for=lambda path, name: ("calc/lib",),
        )
    )
    assert len(candidates) == 3 and {c.group for c in candidates} == {"src/lib.rs::pick"}
    assert all(c.bug_patch.count("diff --git") == 1 and c.test_files == ("calc/lib",) for c in candidates)


def test_the_image_keeps_dependencies_compiled_and_nothing_of_the_workspace(tmp_path, monkeypatch):
    from languages.rust import image_setup

    target = tmp_path / "target"
    kept = [
        "debug/deps/libitoa-0123456789abcdef.rlib",
        "debug/deps/itoa-0123456789abcdef.d",
        "debug/build/libc-0123456789abcdef/build_script_build-0123456789abcdef",
        "debug/.fingerprint/regex-0123456789abcdef/lib-regex",
        "debug/deps/libregex-0123456789abcdef.rlib",  # a dependency named like a member's test file
    ]
    removed = [
        "debug/deps/libtext_utils-0123456789abcdef.rlib",
        "debug/deps/api-0123456789abcdef",
        "debug/.fingerprint/text-utils-0123456789abcdef/lib-text_utils",
        "debug/build/text-utils-0123456789abcdef/out/generated.rs",
        "debug/libtext_utils.rlib",
        "debug/incremental/text_utils-1x2y/s-abc/dep-graph.bin",
    ]
    for path in kept + removed:
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_text("x")
    (tmp_path / "Cargo.lock").write_text(
        'version = 4\n[[package]]\nname = "regex"\nversion = "1.0.0"\nsource = "registry+https://x"\n'
    )
    monkeypatch.chdir(tmp_path)
    cleaned = []
    monkeypatch.setattr(image_setup, "run", lambda *args, **kwargs: cleaned.append(args))
    meta = {
        "workspace_members": ["path+file:///repo#text-utils@0.1.0"],
        "target_directory": str(target),
        "packages": [
            {
                "id": "path+file:///repo#text-utils@0.1.0",
                "name": "text-utils",
                "targets": [
                    {"name": "text_utils", "kind": ["lib"]},
                    {"name": "api", "kind": ["test"]},
                    {"name": "regex", "kind": ["test"]},
                    {"name": "build-script-build", "kind": ["custom-build"]},
                ],
            }
        ],
    }
    leftovers = image_setup.clean_members(meta)
    assert cleaned == [("cargo", "clean", "--offline", "-p", "path+file:///repo#text-utils@0.1.0")]
    assert leftovers == sorted(
        [
            "debug/.fingerprint/text-utils-0123456789abcdef",
            "debug/build/text-utils-0123456789abcdef",
            "debug/deps/api-0123456789abcdef",
            "debug/deps/libtext_utils-0123456789abcdef.rlib",
            "debug/libtext_utils.rlib",
        ]
    )
    assert all((target / path).exists() for path in kept)
    assert not any((target / path).exists() for path in removed)


def test_functions_with_unsafe_code_are_not_mutated():
    text = (
        "pub fn safe(n: usize) -> usize {\n    if n > 2 { n } else { 2 }\n}\n"
        "pub fn raw(p: *const u8, n: usize) -> u8 {\n    let at = if n > 2 { 1 } else { 0 };\n"
        "    unsafe { *p.add(at) }\n}\n"
        "pub unsafe fn whole(n: usize) -> usize {\n    if n > 2 { n } else { 2 }\n}\n"
    )
    assert mutate.mutations_of(text, "safe")
    assert mutate.mutations_of(text, "raw") == [] and mutate.mutations_of(text, "whole") == []


def test_a_test_written_by_a_macro_is_found_and_hidden():
    files = {
        "Cargo.toml": '[package]\nname = "rg-like"\nautotests = false\n[[test]]\nname = "integration"\npath = "tests/tests.rs"\n',
        "tests/tests.rs": "#[macro_use]\nmod macros;\nmod feature;\n",
        "tests/feature.rs": (
            'use crate::util::Dir;\n\n// See: issue 1\nrgtest!(f1_sjis, |dir: Dir, mut cmd| {\n    cmd.arg("x");\n});\n\n'
            'rgtest!(f2_other, |dir: Dir, mut cmd| {\n    cmd.arg("y");\n});\n'
        ),
    }
    test_id = "rg-like/test/integration::feature::f1_sjis"
    assert 'cmd.arg("x")' in profile_named("rust").test_source(files, test_id)
    patch = profile_named("rust").hidden_test_patch([test_id], files.get, paths=list(files))
    # The patch from the agent's view to the graded file puts back the one macro call, comment included.
    assert "+// See: issue 1\n+rgtest!(f1_sjis" in patch and "+rgtest!(f2_other" not in patch
    assert not [line for line in patch.splitlines() if line.startswith("-") and not line.startswith("---")]
