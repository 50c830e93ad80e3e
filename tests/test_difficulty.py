"""Difficulty signals and the calibrated selection of mined tasks (no Docker)."""

from __future__ import annotations

from collections import Counter

import pytest
from pydantic import ValidationError

from gskill.schema import Difficulty, DifficultyTarget, Strategy, Task
from swesmith.difficulty import calibrate, distribution, points_at_bug
from swesmith.pipeline import select_tasks

PYTEST_TYPEERROR = """\
____________________________ test_area_of_circle ____________________________
tests/test_shapes.py:12: in test_area_of_circle
    assert area(Circle(2)) == 12.56
src/shapes/core.py:40: in area
    return shape_area(shape)
src/shapes/core.py:31: in shape_area
    if isinstance(Circle, shape):
E   TypeError: isinstance() arg 2 must be a type, a tuple of types, or a union
FAILED tests/test_shapes.py::test_area_of_circle - TypeError: isinstance() arg 2 must be a type
"""

PYTEST_QUIET = """\
____________________________ test_shape_area ____________________________
tests/test_shapes.py:20: in test_shape_area
    assert result == 4
E   assert 5 == 4
FAILED tests/test_shapes.py::test_shape_area - assert 5 == 4
"""

GO_PANIC = """\
{"Action":"output","Package":"example.com/m/stats","Test":"TestMean","Output":"panic: runtime error: index out of range [3] with length 3\\n"}
{"Action":"output","Package":"example.com/m/stats","Test":"TestMean","Output":"example.com/m/stats.(*Window).Mean(...)\\n"}
"""


def test_a_failure_that_names_the_changed_function_points_at_the_bug():
    entities = ("src/shapes/core.py::shape_area",)
    assert points_at_bug(PYTEST_TYPEERROR, entities, ["tests/test_shapes.py::test_area_of_circle"])
    # The test's own name holds the function's name: that is not the failure naming it.
    assert not points_at_bug(PYTEST_QUIET, entities, ["tests/test_shapes.py::test_shape_area"])
    # Go: a method named in the panic's stack.
    assert points_at_bug(GO_PANIC, ("stats/window.go::Window.Mean",), ["example.com/m/stats::TestMean"])
    assert not points_at_bug(GO_PANIC, ("stats/window.go::Window.Median",), ["example.com/m/stats::TestMean"])


def test_short_names_and_constructors():
    output = "E   AttributeError: 'Parser' object has no attribute 'get'\n"
    assert not points_at_bug(output, ("src/p.py::Parser.get",), [])  # `get` is too common a word
    assert points_at_bug(output, ("src/p.py::Parser.__init__",), [])  # a constructor is its class
    assert not points_at_bug("", ("src/p.py::Parser.parse",), [])
    assert not points_at_bug("Parser failed", (), [])


def task(index: int, f2p: int, *, share: float = 0.01, strategy=Strategy.PROCEDURAL, loud=False) -> Task:
    return Task(
        instance_id=f"r.{index}",
        repo="r",
        base_commit="c",
        patch=f"gold {index}",
        problem_statement="p",
        FAIL_TO_PASS=[f"t::test_{n}" for n in range(f2p)],
        image_name="i",
        bug_patch=f"bug {index}",
        strategy=strategy,
        difficulty=Difficulty(f2p_count=f2p, f2p_share=share, points_at_bug=loud),
    )


TARGET = DifficultyTarget(f2p_bins=[1, 3], shares=[0.5, 0.3, 0.2], max_suite_share=0.2)


def bins(tasks) -> Counter:
    return Counter(TARGET.bin_of(t.difficulty.f2p_count) for t in tasks)


def test_calibration_meets_the_shares_when_every_bin_has_enough():
    tasks = [task(i, f2p) for i, f2p in enumerate([40, 1, 2, 50, 1, 9, 3, 1, 12, 1, 1, 30, 2, 1, 2, 60] * 3)]
    chosen = calibrate(tasks, TARGET, 10)
    assert bins(chosen) == {"1": 5, "2-3": 3, ">3": 2}
    assert [t.instance_id for t in chosen] == sorted((t.instance_id for t in chosen), key=lambda i: int(i[2:]))
    assert chosen == calibrate(tasks, TARGET, 10)  # deterministic


def test_calibration_prefers_real_commits_and_quiet_failures_within_a_bin():
    tasks = [
        task(0, 1, loud=True),
        task(1, 1),
        task(2, 1, strategy=Strategy.COMMIT_MIRROR, loud=True),
        task(3, 1, strategy=Strategy.COMMIT_MIRROR),
        task(4, 2),
        task(5, 2, loud=True),
        task(6, 8),
        task(7, 8, loud=True),
    ]
    target = DifficultyTarget(f2p_bins=[1, 3], shares=[0.5, 0.25, 0.25], max_suite_share=0.2)
    chosen = {t.instance_id for t in calibrate(tasks, target, 4)}
    assert chosen == {"r.3", "r.2", "r.4", "r.6"}


def test_a_short_bin_is_filled_from_its_neighbours_and_broad_bugs_come_last():
    # No single-test bugs at all; many that fail a third of the suite.
    tasks = [task(i, 2) for i in range(3)] + [task(10 + i, 20, share=0.3) for i in range(5)] + [task(20, 7)]
    chosen = calibrate(tasks, TARGET, 6)
    # Every eligible task, then the two first broad ones; kept in mining order.
    assert [t.instance_id for t in chosen] == ["r.0", "r.1", "r.2", "r.10", "r.11", "r.20"]


def test_a_bin_that_lent_to_a_short_one_is_not_drained_after():
    # Bin "1" is short by 2; "2-3" lends them and is then over its quota: nothing else changes.
    tasks = [task(i, 1) for i in range(3)] + [task(10 + i, 2) for i in range(10)] + [task(30 + i, 9) for i in range(10)]
    chosen = calibrate(tasks, TARGET, 10)
    assert len(chosen) == 10 and bins(chosen) == {"1": 3, "2-3": 5, ">3": 2}


def test_fewer_tasks_than_wanted_are_all_kept_and_no_count_keeps_everything():
    tasks = [task(i, 50, share=0.9) for i in range(3)]
    assert calibrate(tasks, TARGET, 10) == tasks
    assert select_tasks(tasks, None, TARGET) == tasks
    assert select_tasks(tasks, 2, None) == tasks[:2]  # --no-calibrate: the first validated


def test_distribution_counts_each_signal():
    tasks = [task(0, 1, loud=True), task(1, 2), task(2, 40, share=0.5)]
    summary = distribution(tasks, TARGET)
    assert summary == {
        "tasks": 3,
        "f2p_bins": {"1": 1, "2-3": 1, ">3": 1},
        "over_suite_share": 1,
        "points_at_bug": 1,
        "multi_function": 0,
        "multi_file": 0,
    }


@pytest.mark.parametrize(
    "fields",
    [{"shares": [0.5, 0.5]}, {"shares": [0.9, 0.3, 0.1, 0.0, -0.3]}, {"f2p_bins": [3, 1, 10, 30]}],
)
def test_a_bad_target_is_refused(fields):
    with pytest.raises(ValidationError):
        DifficultyTarget(**fields)


def test_statements_name_a_few_specific_behaviours_the_symptom_and_a_reproduction():
    from swesmith.statements import most_specific, write_problem_statement

    failing = [f"tests/test_calc.py::test_clamp_{n}" for n in ("high", "low", "mid", "edge", "zero")]
    failing += ["tests/test_parse.py::test_parse", "tests/test_parse.py::test_parse/empty input"]
    source = "def test_clamp_high():\n    value = clamp(50, 0, 10)\n    assert value == 10\n"
    text = write_problem_statement(
        repo="calc",
        hint="clamp ignores the upper bound\n\nclamp(50, 0, 10) returns 50 instead of 10.\n\nUse min().",
        fail_to_pass=failing,
        failure_output="E   assert 50 == 10\n",
        test_sources=[source],
        gold_patch="--- a/src/calc.py\n+++ b/src/calc.py\n-    return value\n+    return min(value, high)\n",
    )
    listed = [line for line in text.splitlines() if line.startswith("- ")]
    assert listed == ["- clamp edge", "- clamp high", "- clamp low", "- and related behaviours"]
    # One behaviour per top-level test in turn; `parse` is left out when `parse / empty input` is there.
    assert most_specific(["load", "parse", "parse / empty input", "parse / nil"]) == [
        "parse / empty input",
        "load",
        "parse / nil",
    ]
    assert "clamp(50, 0, 10) returns 50 instead of 10." in text  # the body says what the user saw
    assert "Use min()" not in text  # ... not how it was fixed
    assert "value = clamp(50, 0, 10)\nassert value == 10" in text  # the test's body, not its name
    for leak in ("test_clamp", "tests/", "min(value, high)"):
        assert leak not in text

    # A reproduction that would quote the fix is left out.
    quoting = write_problem_statement(
        repo="calc",
        hint="",
        fail_to_pass=failing[:1],
        failure_output="",
        test_sources=["def test_clamp_high():\n    total = min(value, high)\n    assert clamp(50, 0, 10) == total\n"],
        gold_patch="+    total = min(value, high)\n",
    )
    assert "To reproduce" not in quoting

    # So is a failure message quoting a changed line (node prints the source line at the throw site).
    thrown = write_problem_statement(
        repo="cli",
        hint="",
        fail_to_pass=["tests/a.test.js::lookup > finds .cjs"],
        failure_output=(
            "gskill-js-root /repo\ngskill-js-runner node\ngskill-js-report node tests/a.test.js\n<testsuites>"
            '<testcase name="finds .cjs"><failure type="testCodeFailure" message="file:///repo/lib/command.js:1302 '
            "throw new Error(executableMissing); Error: 'pm-try' does not exist\"/></testcase></testsuites>\n"
            "gskill-js-report-end\n"
        ),
        language="typescript",
        gold_patch="-        throw new Error(executableMissing);\n+        this._exit(1, executableMissing);\n",
    )
    assert "executableMissing" not in thrown and "finds .cjs" in thrown


def test_a_mining_folder_gets_an_html_report_with_its_difficulty(tmp_path):
    import json
    from dataclasses import asdict

    from gskill.report import render
    from swesmith.pipeline import MiningReport, difficulty_report

    validated = [task(0, 1), task(1, 2), task(2, 80, share=0.4, loud=True), task(3, 1, loud=True)]
    report = MiningReport(repo="r", snapshot="c" * 40, image="i", candidates={"procedural": 9})
    report.validated, report.rejected = {"procedural": 4}, {"procedural": {"no_f2p": 5}}
    report.difficulty = difficulty_report(validated, calibrate(validated, TARGET, 3), TARGET)
    (tmp_path / "mining_report.json").write_text(json.dumps(asdict(report)))
    page = render(tmp_path).read_text()
    assert page.count('<img alt="difficulty" src="data:image/png;base64,') == 1
    assert "<td>procedural</td><td>9</td><td>4</td><td>no_f2p 5</td>" in page
    # validated: 4 tasks, 1 failing 40% of the suite, 2 naming the function; kept: the broad one dropped.
    assert "<tr><th>validated</th><td>4</td><td>1</td><td>2</td><td>0</td></tr>" in page
    assert "<tr><th>kept</th><td>3</td><td>0</td><td>1</td><td>0</td></tr>" in page


SOURCE = """\
def low(values):
    return min(values)


def high(values):
    return max(values)


def span(values):
    return high(values) - low(values)
"""


def bug(source: str, function: str, old: str, new: str):
    from swesmith.candidate import Candidate
    from swesmith.patches import make_patch

    return Candidate(
        strategy=Strategy.PROCEDURAL,
        group=f"src/m.py::{function}",
        bug_patch=make_patch({"src/m.py": (source, source.replace(old, new, 1))}),
        test_files=(f"tests/test_{function}.py",),
        entities=(f"src/m.py::{function}",),
    )


def test_composites_pair_bugs_of_one_file_whose_failures_overlap():
    from languages import profile_named
    from swesmith.composite import PARTS, composite_candidates, keeps_every_failure
    from swesmith.validate import Verdict

    low_bug, high_bug = (
        bug(SOURCE, "low", "min(values)", "max(values)"),
        bug(SOURCE, "high", "max(values)", "min(values)"),
    )
    same_function = bug(SOURCE, "low", "return min(values)", "return min(values) + 1")
    apart = bug(SOURCE, "span", "high(values) - low(values)", "low(values) - high(values)")
    results = [
        (low_bug, Verdict(True, "ok", fail_to_pass=["t::test_low", "t::test_span"])),
        (same_function, Verdict(True, "ok", fail_to_pass=["t::test_low"])),
        (apart, Verdict(True, "ok", fail_to_pass=["t::test_other"])),  # no common failing test
        (high_bug, Verdict(True, "ok", fail_to_pass=["t::test_high", "t::test_span"])),
    ]
    made = composite_candidates(results, {"src/m.py": SOURCE}, profile_named("python"), limit=5)
    assert len(made) == 1
    combo = made[0]
    assert combo.strategy is Strategy.COMPOSITE and combo.group == "src/m.py::low|src/m.py::high"
    assert combo.meta[PARTS] == [low_bug.key, high_bug.key]
    assert combo.test_files == ("tests/test_low.py", "tests/test_high.py")
    assert combo.bug_patch.count("\n-    return") == 2 and "+    return max(values)" in combo.bug_patch
    assert composite_candidates(results, {"src/m.py": SOURCE}, profile_named("python"), limit=0) == []

    by_key = {c.key: v for c, v in results}
    union = ["t::test_high", "t::test_low", "t::test_span"]
    assert keeps_every_failure(combo, Verdict(True, "ok", fail_to_pass=union), by_key).ok
    masked = keeps_every_failure(combo, Verdict(True, "ok", fail_to_pass=["t::test_high", "t::test_span"]), by_key)
    assert not masked.ok and masked.reason == "masks_a_part"


def test_every_other_composite_has_three_parts_when_the_file_has_them():
    from languages import profile_named
    from swesmith.composite import PARTS, composite_candidates
    from swesmith.validate import Verdict

    names = ["a", "b", "c", "d", "e"]
    source = "".join(f"def {name}():\n    return 1\n\n\n" for name in names)
    bugs = [bug(source, name, f"def {name}():\n    return 1", f"def {name}():\n    return 2") for name in names]
    # a+b share t1; c+d share t2, e shares t3 with d (not with c): a part must overlap some earlier part.
    fails = [["t1"], ["t1"], ["t2"], ["t2", "t3"], ["t3"]]
    results = [(b, Verdict(True, "ok", fail_to_pass=f)) for b, f in zip(bugs, fails)]
    made = composite_candidates(results, {"src/m.py": source}, profile_named("python"), limit=5)
    assert [len(combo.meta[PARTS]) for combo in made] == [2, 3]
    assert made[1].group == "src/m.py::c|src/m.py::d|src/m.py::e"
    assert made[1].bug_patch.count("+    return 2") == 3


def test_a_composite_and_its_parts_share_one_group():
    from swesmith.composite import merged_groups

    tasks = [task(i, 1) for i in range(5)]
    groups = ["a", "b", "a|b", "c", "b|d"]
    tasks = [t.model_copy(update={"group": g}) for t, g in zip(tasks, groups)]
    assert [t.group for t in merged_groups(tasks)] == ["a|b|d"] * 3 + ["c", "a|b|d"]
