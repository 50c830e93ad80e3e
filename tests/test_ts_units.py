"""The TypeScript/JavaScript profile without Docker: each runner's report as captured from real runs
(vitest 3, jest 29, mocha 10, node 20's --test; tests/data/js/*.log, the driver's output on one
project per runner with a passing, a failing, a skipped and a nested test, and a file that does not
load), functions by tree-sitter, mutations, hiding, the Node version and client the image picks."""

from __future__ import annotations

from pathlib import Path

import pytest

from languages import base, detect_language, profile_named
from languages.base import FAILED, PASSED, SKIPPED
from languages.sitemutator import Edit, Proposal
from languages.typescript import coverage, hide, image, jstest, mutate, source
from languages.typescript.image_setup import choose, package_manager, runner_refusal

LOGS = Path(__file__).parent / "data" / "js"


def _log(runner: str) -> str:
    return (LOGS / f"{runner}.log").read_text()


@pytest.mark.parametrize(
    "runner,file", [("vitest", "t/a.test.js"), ("jest", "t/a.test.js"), ("node", "test/a.test.js")]
)
def test_each_reporter_gives_ids_by_file_and_describe_path(runner, file):
    status = jstest.parse(_log(runner))
    assert {test: outcome for test, outcome in status.items() if test.startswith(file)} | {} == {
        f"{file}::math > add > adds": PASSED,
        f"{file}::math > add > fails": FAILED,
        **({f"{file}::math > top in describe": PASSED} if runner != "node" else {f"{file}::math > skipped": SKIPPED}),
        f"{file}::{'bare test' if runner != 'node' else 'bare'}": FAILED,
    }
    assert jstest.ran(base.TestRunLog(_log(runner), 1)) and not jstest.ran(
        base.TestRunLog(_log(runner), 1, timed_out=True)
    )


def test_mocha_ids_join_describe_titles_with_spaces():
    assert jstest.parse(_log("mocha")) == {
        "test/a.spec.js::bare": FAILED,
        "test/a.spec.js::math > skipped": SKIPPED,
        "test/a.spec.js::math add > adds": PASSED,
        "test/a.spec.js::math add > fails": FAILED,
    }


@pytest.mark.parametrize(
    "runner,broken", [("vitest", "t/broken.test.js"), ("jest", "t/broken.test.js"), ("node", "test/broken.test.js")]
)
def test_a_test_file_that_does_not_load_is_a_broken_unit_with_no_tests(runner, broken):
    assert jstest.broken_units(_log(runner)) == (broken,)
    assert not any(test.startswith(broken) for test in jstest.parse(_log(runner)))
    assert jstest.TEST_SPEC.broken_unit_fails_tests  # absent from the log = failed, as swebench grades


def test_node_junit_titles_with_quotes_match_the_source():
    """Node's JUnit reporter escapes a title's `"` twice; the id has the title as the source writes it
    (hiding finds the call by that title)."""
    log = (
        "gskill-js-root /repo\ngskill-js-report node tests/q.test.js\n<testsuites>"
        '<testsuite name="delimiter &amp;quot;--&amp;quot;"><testcase name="stops at &amp;quot;--&amp;quot;"/>'
        "</testsuite></testsuites>\ngskill-js-report-end\n"
    )
    assert jstest.parse(log) == {'tests/q.test.js::delimiter "--" > stops at "--"': PASSED}


def test_a_log_without_a_report_did_not_run():
    assert not jstest.ran(base.TestRunLog("gskill-js-root /repo\nException during run: TypeError: x\n", 1))
    assert jstest.parse("npm ERR! missing script\n") == {}


def test_failure_messages_say_expected_and_received_without_frames_or_test_paths():
    for runner in ("vitest", "jest", "mocha", "node"):
        messages = jstest.failure_messages(_log(runner))
        assert messages, runner
        for message in messages:
            assert " at " not in message and ".test.js" not in message and ".spec.js" not in message, message
    assert jstest.failure_messages(_log("vitest"))[0] == (
        "AssertionError [ERR_ASSERTION]: Expected values to be strictly equal: 3 !== 4"
    )
    assert "Expected value to strictly be equal to: 4 Received: 3" in jstest.failure_messages(_log("jest"))[0]


def test_unit_seconds_per_test_file():
    seconds = jstest.unit_seconds(_log("jest"))
    assert set(seconds) == {"t/a.test.js", "t/broken.test.js"} and seconds["t/a.test.js"] > 0


def test_the_command_runs_the_driver_on_files_and_ids():
    command = jstest.command(("test/a.test.ts", "test/b.test.ts::x > y z"), "first")
    assert command == "node /tmp/gskill-jstest.cjs run test/a.test.ts 'test/b.test.ts::x > y z'"
    assert jstest.DRIVER in jstest.TEST_SPEC.support_files and jstest.TEST_SPEC.build_check.endswith(" check")


TS = """\
import { x } from "./x";

/** Adds. */
export function add(a: number, b: number): number {
  return a + b; // sum
}

export const clamp = (v: number, lo: number, hi: number): number => {
  if (v < lo) return lo;
  if (v > hi) {
    return hi;
  }
  return v;
};

export default class Cart<T> {
  private items: T[] = [];

  @logged
  add(item: T): void {
    if (item !== undefined && item !== null) {
      this.items.push(item);
    }
  }

  get size(): number {
    return this.items.length;
  }
}
"""


def test_functions_methods_and_arrow_consts_by_tree_sitter():
    entities = source.parse_entities(TS)
    assert {name: (e.start, e.end) for name, e in entities.items()} == {
        "add": (4, 6),
        "clamp": (8, 14),
        "Cart.add": (19, 24),
        "Cart.size": (26, 28),
    }
    assert entities["Cart.add"].source.startswith("  @logged\n") and entities["Cart.add"].indent == 2
    assert source.parse_entities("const = ;") == {} and not source.parses("function (")
    # JSX and plain JavaScript parse too (tsx / javascript grammars).
    assert set(source.parse_entities("export const App = () => <div>{1}</div>;\n")) == {"App"}
    assert set(source.parse_entities("module.exports = 1;\nfunction f(a) { return a }\n")) == {"f"}


def test_comment_and_layout_edits_are_not_changes_and_replace_keeps_parsing():
    entities = source.parse_entities(TS)
    relaid = TS.replace("return a + b; // sum", "return a  +  b  // other")
    assert profile_named("typescript").entity_changes(entities, source.parse_entities(relaid)) == ([], [], [])
    changed = TS.replace("return a + b;", "return a - b;")
    assert profile_named("typescript").entity_changes(entities, source.parse_entities(changed)) == (["add"], [], [])
    replaced = profile_named("typescript").replace_entity(
        TS, "add", "export function add(a: number, b: number): number {\n  return b + a;\n}"
    )
    assert replaced is not None and "return b + a;" in replaced and "export const clamp" in replaced
    assert profile_named("typescript").replace_entity(TS, "add", "export function add( {") is None
    assert profile_named("typescript").strip_docs(TS) == profile_named("typescript").strip_docs(
        TS.replace("/** Adds. */\n", "")
    )


def test_test_and_source_files():
    profile = profile_named("typescript")
    assert profile.is_test_file("src/a.test.ts") and profile.is_test_file("test/helpers.ts")
    assert profile.is_test_file("src/__tests__/a.tsx") and profile.is_test_file("lib/b.spec.mjs")
    assert profile.is_source_file("src/a.ts") and profile.is_source_file("lib/x.cjs")
    for path in ("src/a.d.ts", "node_modules/x/index.js", "dist/index.js", "vitest.config.ts", "src/testing.ts.snap"):
        assert not profile.is_source_file(path), path


def test_detection_prefers_python_and_go_markers_over_package_json():
    assert detect_language(["package.json", "src/index.ts"]) == "typescript"
    assert detect_language(["package.json", "go.mod"]) == "go"
    assert detect_language(["package.json", "pyproject.toml"]) == "python"


def test_mutations_keep_parsing_and_swap_strict_equality():
    kinds = {}
    for qualname in ("clamp", "Cart.add"):
        for mutation in mutate.mutations_of(TS, qualname):
            assert source.parses(mutation.new_source) and mutation.new_source != TS
            kinds.setdefault(mutation.kind, []).append(mutation)
    assert set(kinds) == {"negate_condition", "swap_comparison", "swap_boolean_op", "remove_early_return"}
    assert any("item === undefined" in m.new_source for m in kinds["swap_comparison"])
    assert any("item !== undefined || item" in m.new_source for m in kinds["swap_boolean_op"])
    assert any("if (v < lo) return lo;" not in m.new_source for m in kinds["remove_early_return"])
    numbers = "export function last(xs: number[]): boolean {\n  const n = xs[xs.length - 1];\n  return n > 2;\n}\n"
    found = {(m.kind, m.line) for m in mutate.mutations_of(numbers, "last")}
    assert ("off_by_one", 2) in found and ("off_by_one", 3) in found


def test_a_mutation_that_does_not_parse_is_never_proposed():
    mutator = mutate.Mutator(TS, "add")
    assert all(mutator.realize(p) is not None for p in mutator.proposals)
    broken = Proposal("swap_comparison", Edit(TS.index("a + b"), TS.index("a + b") + 1, b"("))
    assert mutator.realize(broken) is None


def test_procedural_candidates_skip_tests_and_cosmetic_methods():
    files = {"src/cart.ts": TS, "test/cart.test.ts": TS}
    candidates = list(
        profile_named("typescript").procedural_candidates(
            files,
            [("src/cart.ts", "clamp"), ("test/cart.test.ts", "clamp"), ("src/cart.ts", "Cart.toString")],
            seed=0,
            per_function=2,
            test_files_for=lambda path, name: ("test/cart.test.ts",),
        )
    )
    assert len(candidates) == 2 and all(c.group == "src/cart.ts::clamp" for c in candidates)
    assert len({c.meta["kind"] for c in candidates}) == 2


TESTS = """\
import { describe, it, expect } from "vitest";
import { approx } from "./helpers";

describe("stats", () => {
  it("sums", () => {
    approx(1, 1);
  });

  describe("max", () => {
    it.only("handles negatives", () => {
      expect(-1).toBe(-1);
    });
  });
});

test(`top`, () => {});
"""


def test_hiding_removes_only_the_f2p_test_calls():
    patch = hide.hidden_test_patch(
        ["t/s.test.ts::stats > max > handles negatives", "t/s.test.ts::top"], {"t/s.test.ts": TESTS}.get
    )
    assert '+    it.only("handles negatives", () => {' in patch and "+test(`top`, () => {});" in patch
    assert "-" not in "".join(line[0] for line in patch.splitlines()[4:] if line and line[0] in "+-")
    hidden = hide.remove_tests(TESTS, {"stats > max > handles negatives", "top"})
    assert "handles negatives" not in hidden and 'it("sums"' in hidden and "approx" in hidden and source.parses(hidden)
    # Mocha's spelling of the same test (describe titles joined by spaces) is found too.
    assert "stats max > handles negatives" in hide.find_tests(TESTS, {"stats max > handles negatives"})
    assert hide.test_source({"t/s.test.ts": TESTS}, "t/s.test.ts::stats > sums").startswith('  it("sums"')


COMPUTED = """\
function runBaseTest(name) {
  describe(`base - ${name}`, () => {
    it("can't add", () => {});
    it.each([1, 2])("case %i", (n) => {});
  });
}
runBaseTest("a");
describe("x " + suffix, () => {
  test("y", () => {});
});
function runPatchTests(name) {
  let describeFn = describe;
  describeFn(name, () => {
    test("replays", () => {});
  });
}
"""


def test_computed_titles_are_matched_as_patterns_and_hidden_whole():
    names = {"base - a > can't add", "base - b > case 2", "x 1 > y", "base - a > missing", "simple > replays"}
    found = hide.find_tests(COMPUTED, names)
    # `describeFn` is describe under another name: a level that may be there, with any title.
    assert set(found) == {"base - a > can't add", "base - b > case 2", "x 1 > y", "simple > replays"}
    hidden = hide.remove_tests(COMPUTED, {"base - a > case 1"})
    assert "it.each" not in hidden and "can't add" in hidden and source.parses(hidden)


def test_a_constant_bound_to_test_is_a_test_call():
    text = (
        "const testOrSkip = process.platform === 'win32' ? test.skip : test;\n"
        "const run = (name) => name;\n"
        "describe('lookup ', () => {\n"
        "  testOrSkip('finds a symlink', () => {});\n"
        "  run('not a test');\n"
        "});\n"
    )
    assert set(hide.find_tests(text, {"lookup  > finds a symlink", "lookup  > not a test"})) == {
        "lookup  > finds a symlink"
    }
    hidden = hide.remove_tests(text, {"lookup  > finds a symlink"})
    assert "finds a symlink" not in hidden and "not a test" in hidden and source.parses(hidden)


def test_a_test_no_call_defines_stays_visible():
    from swesmith.hide import VisibleTests

    with pytest.raises(VisibleTests) as raised:
        hide.hidden_test_patch(["t/a.test.js::base - a > gone", "t/a.test.js::x 1 > y"], {"t/a.test.js": COMPUTED}.get)
    assert raised.value.tests == ["t/a.test.js::base - a > gone"]


def test_node_version_from_engines_nvmrc_or_default():
    files = {"package.json": '{"engines": {"node": ">=18 <21"}}', ".nvmrc": "lts/iron\n"}
    assert image.node_spec(files.get) == (">=18 <21", "package.json engines.node")
    assert image.node_spec({"package.json": "{}", ".nvmrc": "v20.11.0\n"}.get) == ("v20.11.0", ".nvmrc")
    assert image.node_spec({".node-version": "22\n"}.get)[0] == "22"
    assert image.node_spec({"package.json": "not json"}.get)[0] == ""
    versions = ["16.20.2", "18.20.8", "20.11.0", "20.19.5", "22.23.5", "23.11.1", "24.11.0", "25.1.0"]
    assert [
        choose(versions, spec) for spec in ("", ">=18", "^20.10", "20.x", "lts/iron", ">=16 <21", "23", "^18 || ^20")
    ] == [
        "22.23.5",
        "22.23.5",
        "20.19.5",
        "20.19.5",
        "20.19.5",
        "20.19.5",
        "23.11.1",
        "20.19.5",
    ]


def test_the_lock_file_decides_the_client():
    assert package_manager({"package.json", "package-lock.json"}, {}) == ("npm", "")
    assert package_manager({"pnpm-lock.yaml"}, {"packageManager": "pnpm@9.15.0"}) == ("pnpm", "9.15.0")
    assert package_manager({"yarn.lock"}, {}) == ("yarn", "1")
    assert package_manager({"yarn.lock", ".yarnrc.yml"}, {"packageManager": "yarn@4.5.0"}) == ("yarn", "4.5.0")
    recipe = image.recipe(["package.json", "pnpm-lock.yaml"], {"package.json": '{"engines": {"node": "20"}}'}.get)
    assert "install 20 /usr/local/node" in recipe.toolchain_steps and recipe.key["node"] == "20"
    assert "pnpm-lock.yaml -> pnpm install" in recipe.sources[1]
    # What the image reports as collected: test files by the profile's rule, not only *.test.* names.
    paths = ["package.json", "__tests__/base.js", "src/a.test.ts", "src/a.ts", "__tests__/fixture.json"]
    assert "prepare /opt/gskill/env.json 2\n" in image.recipe(paths, {}.get).steps


def test_coverage_maps_v8_function_names_to_entity_lines():
    output = (
        "gskill-test test/a.test.ts\nsrc/cart.ts\tCart.add\nsrc/cart.ts\t<instance_members_initializer>\n"
        "gskill-test test/b.test.ts\nsrc/cart.ts\tObject.<anonymous>.exports.clamp\n"
    )
    called = coverage.parse_output(output)
    assert called == {"src/cart.ts": {"add": {"test/a.test.ts"}, "clamp": {"test/b.test.ts"}}}
    lines = coverage.line_map(called, {"src/cart.ts": TS})["src/cart.ts"]
    # `add` names both the function and the method: both are attributed (an over-approximation).
    assert lines[5] == {"test/a.test.ts"} and lines[21] == {"test/a.test.ts"} and lines[9] == {"test/b.test.ts"}
    assert 27 not in lines


@pytest.mark.parametrize(
    "package,files,refused",
    [
        ({"scripts": {"test": "xo && npm run build && ava"}, "devDependencies": {"ava": "6"}}, set(), "runs ava"),
        ({"scripts": {"test": "vitest run && playwright test"}}, set(), None),
        ({"scripts": {"test": "node --test && npm run check:type:ts"}}, set(), None),
        ({"scripts": {"test": "npm run unit"}, "devDependencies": {"jest": "29"}}, set(), None),
        ({"scripts": {"test": "npm run unit"}, "devDependencies": {"tape": "5"}}, set(), "use tape"),
        ({"workspaces": ["packages/*"], "devDependencies": {"prettier": "3"}}, set(), "no test script at the root"),
        ({"devDependencies": {"typescript": "5"}}, {"pnpm-workspace.yaml"}, "no test script at the root"),
        ({}, set(), None),  # node --test's own patterns
    ],
)
def test_a_runner_the_driver_cannot_run_is_refused_with_one_line(package, files, refused):
    """Refused in the image build, before any install: ky (ava), a monorepo whose packages hold the tests."""
    reason = runner_refusal(package, files)
    assert (reason is None) if refused is None else (refused in reason and "\n" not in reason)
