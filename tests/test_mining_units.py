"""Pure parts of mining: test-file rule, entities, problem statements, dedupe and the split."""

from __future__ import annotations

from collections import Counter

import pytest

from gskill.schema import Difficulty, Split, Strategy, Task
from swesmith.candidate import is_test_file
from swesmith.entities import changed_entities, parse_entities, replace_entity
from swesmith.split import apportion, assign_splits, dedupe, parse_sizes, shortfall
from swesmith.statements import commit_subject, write_problem_statement


@pytest.mark.parametrize(
    "path,expected",
    [
        ("tests/test_core.py", True),
        ("test/helpers.py", True),
        ("src/pkg/testing/util.py", True),
        ("test_x.py", True),
        ("pkg/x_test.py", True),
        ("tests/conftest.py", True),
        ("src/contest.py", False),
        ("src/attestation/core.py", False),
        ("src/pkg/latest.py", False),
    ],
)
def test_is_test_file_is_not_a_substring_match(path, expected):
    assert is_test_file(path) is expected


SOURCE = '''\
import os

class Parser:
    @staticmethod
    def parse(text):
        """Docstring."""
        return text.split()

    async def fetch(self):
        return 1

if os.name:
    def helper(x):
        return x + 1
'''


def test_entities_have_exact_spans_and_qualified_names():
    entities = parse_entities(SOURCE)
    assert list(entities) == ["Parser.parse", "Parser.fetch", "helper"]
    parse = entities["Parser.parse"]
    assert (parse.start, parse.end, parse.indent) == (4, 7, 4)  # the decorator is part of it
    assert parse.source.startswith("    @staticmethod\n")


def test_changed_entities_ignores_formatting_and_reports_innermost():
    edited = SOURCE.replace("return text.split()", "return text.split( )  # same")
    assert changed_entities(SOURCE, edited) == ([], [], [])
    edited = SOURCE.replace("return x + 1", "return x + 2").replace(
        "    async def fetch", "    def added(self):\n        pass\n\n    async def fetch"
    )
    assert changed_entities(SOURCE, edited) == (["helper"], ["Parser.added"], [])


def test_replace_entity_reindents_and_refuses_broken_results():
    moved = "def parse(text):\n    return list(text)\n"
    result = replace_entity(SOURCE, "Parser.parse", moved, new_indent=0)
    assert "    def parse(text):\n        return list(text)\n" in result
    assert replace_entity(SOURCE, "Parser.parse", "def parse(:\n", new_indent=0) is None
    assert replace_entity(SOURCE, "Parser.missing", moved) is None


def test_problem_statements_never_leak_paths_diffs_or_commands():
    output = "\n".join(
        [
            "tests/test_calc.py:12: in test_clamp_high",
            "E   assert 0 == 10",
            "E    +  where 0 = clamp(50, 0, 10)",
            "E   AssertionError: /repo/tests/test_calc.py mismatch",
        ]
    )
    text = write_problem_statement(
        repo="calc",
        hint="fix: clamp returns the lower bound (#12)\n\nUse high.",
        fail_to_pass=["tests/test_calc.py::test_clamp_high[a]"],
        failure_output=output,
    )
    assert text.startswith("# clamp returns the lower bound\n")
    assert "- clamp high" in text and "assert 0 == 10" in text
    for leak in ("tests/", "test_calc", "pytest", "#12", "Use high", "diff --git"):
        assert leak not in text
    assert commit_subject("Fixed(parser)! handle empty input. Closes #3") == "handle empty input"
    assert commit_subject("fix: a bug (#12)\n\nbody") == "a bug"
    assert commit_subject("Fixture loading is slow") == "Fixture loading is slow"  # not a "fix" prefix


def make_task(index: int, group: str, strategy=Strategy.PROCEDURAL, lines=2) -> Task:
    return Task(
        instance_id=f"r.{index}",
        repo="r",
        base_commit="c",
        patch=f"gold {index}",
        problem_statement="p",
        FAIL_TO_PASS=["t::a"],
        image_name="i",
        bug_patch=f"bug {index}",
        strategy=strategy,
        group=group,
        difficulty=Difficulty(files=1, hunks=1, lines=lines),
    )


def test_split_is_deterministic_sized_and_keeps_groups_together():
    tasks = [
        make_task(
            i, group=f"g{i // 3}", strategy=Strategy.COMMIT_MIRROR if i % 4 else Strategy.PROCEDURAL, lines=i % 30
        )
        for i in range(420)
    ]
    first = assign_splits(tasks, (200, 50, 60), seed=7)
    assert first == assign_splits(tasks, (200, 50, 60), seed=7)
    assert first != assign_splits(tasks, (200, 50, 60), seed=8)
    sizes = Counter(task.split for task in first)
    # Groups of 3 cannot make 200 or 50: the nearest sizes, and a note saying so.
    assert (sizes[Split.TRAIN], sizes[Split.VAL], sizes[Split.TEST]) == (201, 51, 60)
    assert shortfall(first, (200, 50, 60)).startswith("splits 201/51/60 instead of 200/50/60")
    by_group: dict[str, set] = {}
    for task in first:
        by_group.setdefault(task.group, set()).add(task.split)
    assert all(len(splits) == 1 for splits in by_group.values())
    # Both strategies reach the test split.
    assert {task.strategy for task in first if task.split is Split.TEST} == {
        Strategy.COMMIT_MIRROR,
        Strategy.PROCEDURAL,
    }


def groups_summing_to(total: int, rng, choices) -> list[int]:
    sizes = []
    while sum(sizes) < total:
        sizes.append(min(rng.choice(choices), total - sum(sizes)))
    return sizes


@pytest.mark.parametrize("choices", [(1, 2, 3), (2, 3, 5), (4, 6, 9), (1, 10), (3,), (2, 7, 11, 13)])
@pytest.mark.parametrize("surplus", [0, 1, 40])
def test_split_meets_the_sizes_exactly_whenever_whole_groups_can(choices, surplus):
    """A real run dealt 198 / 51 / 61 for 200 / 50 / 60. Here every task set is built so that some
    assignment of whole groups meets the sizes; the split must find one, per seed, groups kept whole."""
    import random

    for trial in range(4):
        rng = random.Random(f"{choices}:{surplus}:{trial}")
        group_sizes = [
            *groups_summing_to(200, rng, choices),
            *groups_summing_to(50, rng, choices),
            *groups_summing_to(60, rng, choices),
        ]
        group_sizes += groups_summing_to(surplus, rng, choices) if surplus else []
        rng.shuffle(group_sizes)
        tasks, index = [], 0
        for group, size in enumerate(group_sizes):
            for _ in range(size):
                strategy = Strategy.COMMIT_MIRROR if group % 3 else Strategy.PROCEDURAL
                tasks.append(make_task(index, f"g{group}", strategy=strategy, lines=1 + index % 25))
                index += 1
        split = assign_splits(tasks, (200, 50, 60), seed=trial)
        sizes = Counter(task.split for task in split)
        assert (sizes[Split.TRAIN], sizes[Split.VAL], sizes[Split.TEST]) == (200, 50, 60), (choices, surplus, trial)
        assert shortfall(split, (200, 50, 60)) == ""
        assert split == assign_splits(tasks, (200, 50, 60), seed=trial)
        by_group: dict[str, set] = {}
        for task in split:
            by_group.setdefault(task.group, set()).add(task.split)
        assert all(len(splits) == 1 for splits in by_group.values())


def test_split_scaled_down_sizes_are_exact_too():
    tasks = [make_task(i, group=f"g{i // 2}", lines=i % 9) for i in range(146)]  # 73 groups of 2
    sizes = Counter(task.split for task in assign_splits(tasks, (200, 50, 60), seed=3))
    wanted = apportion((200, 50, 60), 146)  # [94, 24, 28]: all even, so whole pairs meet them
    assert [sizes[Split.TRAIN], sizes[Split.VAL], sizes[Split.TEST]] == wanted == [94, 24, 28]


def test_split_impossible_sizes_get_the_closest_and_say_so():
    tasks = [make_task(i, group=f"g{i // 3}") for i in range(21)]  # 7 groups of 3; 10/5/5 cannot be met
    split = assign_splits(tasks, (10, 5, 5))
    sizes = Counter(task.split for task in split)
    assert (sizes[Split.TRAIN], sizes[Split.VAL], sizes[Split.TEST]) == (9, 6, 6)  # 3 off: nothing closer exists
    assert shortfall(split, (10, 5, 5)).startswith("splits 9/6/6 instead of 10/5/5")
    # One group bigger than a share: it still goes somewhere rather than leaving train empty.
    one = assign_splits([make_task(i, group="g") for i in range(3)], (200, 50, 60))
    assert {task.split for task in one} == {Split.TRAIN}


def test_split_scales_down_when_there_are_fewer_tasks():
    tasks = [make_task(i, group=f"g{i}") for i in range(31)]
    sizes = Counter(task.split for task in assign_splits(tasks, (200, 50, 60)))
    assert (sizes[Split.TRAIN], sizes[Split.VAL], sizes[Split.TEST]) == (20, 5, 6)


def test_tiny_task_sets_still_fill_every_split_they_can():
    tasks = [make_task(i, group=f"g{i}") for i in range(2)]
    assert sorted(task.split.value for task in assign_splits(tasks, (200, 50, 60))) == ["test", "train"]


def test_dedupe_keeps_the_first_of_identical_bugs():
    a, b = make_task(1, "g1"), make_task(2, "g2")
    clone = b.model_copy(update={"instance_id": "r.clone"})
    assert [t.instance_id for t in dedupe([a, b, clone])] == ["r.1", "r.2"]


def test_parse_sizes():
    assert parse_sizes("200,50,60") == (200, 50, 60)
    with pytest.raises(ValueError, match="three whole numbers"):
        parse_sizes("200,50")


def test_procedural_tests_come_from_the_few_files_holding_most_covering_tests():
    from swesmith.pipeline import MineOptions
    from swesmith.sources import covering_selector, procedural_source, ranked_targets
    from swesmith.validate import Baseline

    files = {"pkg/core.py": "def f(x):\n    if x > 1:\n        return x + 1\n    return x - 1\n"}
    covering = {
        "tests/test_a.py::test_1",
        "tests/test_a.py::test_2",
        "tests/test_a.py::test_3",  # most: whole file
        "tests/test_slow.py::test_1",
        "tests/test_slow.py::test_2",  # second: slow to run, so node ids
        "tests/test_b.py::test_1",  # a third file: left out (max_test_files=2)
        "tests/test_huge.py::test_1",
        "tests/test_huge.py::test_2",
        "tests/test_huge.py::test_3",
        "tests/test_huge.py::test_4",  # the most covering tests, but seconds just to collect: skipped
    }
    collect = {"tests/test_a.py": 0.8, "tests/test_slow.py": 0.9, "tests/test_b.py": 0.7, "tests/test_huge.py": 6.0}
    baseline = Baseline(passing=covering, flaky=set(), duration_s=12.0, run_seconds={"tests/test_slow.py": 5.0})
    coverage = {("pkg/core.py", "f"): covering}
    options = MineOptions(out=None)
    targets = ranked_targets(files, coverage, Counter())
    source = procedural_source(files, targets, covering_selector(coverage, collect, baseline, options), options)
    candidate = next(iter(source))
    assert candidate.test_files == ("tests/test_a.py", "tests/test_slow.py::test_1", "tests/test_slow.py::test_2")
    # What one run of that selection costs: collection of the two files + their tests.
    assert baseline.estimate_seconds(candidate.test_files, collect) == pytest.approx(0.8 + 0.9 + 5.0)
    assert baseline.estimate_seconds((), collect) == 12.0


def test_a_mirror_runs_only_the_covering_tests_of_its_slow_units():
    from gskill.schema import Strategy
    from swesmith.candidate import Candidate
    from swesmith.pipeline import MineOptions
    from swesmith.sources import narrowed_to_covering
    from swesmith.validate import Baseline

    covering = {"m/slow::TestNew", "m/slow::TestOld", "m/quick::TestA", "m/other::TestB"}
    coverage = {("core/core.go", "Parse"): covering, ("core/core.go", "Other"): {"m/slow::TestUnrelated"}}
    baseline = Baseline(
        passing=covering | {"m/slow::TestUnrelated", "m/lost::TestC"},
        flaky=set(),
        duration_s=90.0,
        run_seconds={"m/slow": 40.0, "m/quick": 0.5, "m/lost": 30.0},
    )
    mirror = Candidate(
        strategy=Strategy.COMMIT_MIRROR,
        group="abc",
        bug_patch="diff",
        test_files=("m/lost", "m/quick", "m/slow"),
        entities=("core/core.go::Parse",),
    )
    options = MineOptions(out=None)
    narrowed = narrowed_to_covering(mirror, coverage, baseline, options)
    # slow: only the tests executing Parse; quick: whole; lost (no test of it executes Parse): whole;
    # m/other is not one of the commit's units: not added.
    assert narrowed.test_files == ("m/lost", "m/quick", "m/slow::TestNew", "m/slow::TestOld")
    assert narrowed.key != mirror.key and narrowed.bug_patch == mirror.bug_patch
    # Nothing slow: the candidate itself, its cache key unchanged.
    quick = Candidate(Strategy.COMMIT_MIRROR, "abc", "diff", ("m/quick",), entities=mirror.entities)
    assert narrowed_to_covering(quick, coverage, baseline, options) is quick
    few = MineOptions(out=None, max_covering_tests=1)
    assert len(narrowed_to_covering(mirror, coverage, baseline, few).test_files) == 3


def test_baseline_reads_per_file_times_from_the_durations_table():
    from languages.python import file_seconds

    output = (
        "============================= slowest durations ==============================\n"
        "0.21s call     tests/test_options.py::test_bool[0.0]\n"
        "0.05s setup    tests/test_options.py::test_x\n"
        "0.00s teardown tests/test_utils/test_pager.py::test_pager[test0- less ]\n"
        "1.50s call     tests/test_utils/test_pager.py::TestPager::test_big\n"
        "PASSED tests/test_options.py::test_x\n"
    )
    assert file_seconds(output) == {"tests/test_options.py": 0.26, "tests/test_utils/test_pager.py": 1.5}


def test_hiding_tests_removes_functions_and_keeps_classes_valid():
    from swesmith.hide import hidden_test_patch, remove_functions

    source = "import pytest\n\n\nclass TestA:\n    def test_x(self):\n        assert 1\n\n    def test_y(self):\n        assert 2\n\n\ndef test_z():\n    assert 3\n"
    one = remove_functions(source, {"TestA.test_x", "test_z"})
    assert "test_x" not in one and "test_z" not in one and "def test_y" in one and "pass" not in one
    both = remove_functions(source, {"TestA.test_x", "TestA.test_y"})
    assert "class TestA:\n    pass\n" in both and "def test_z" in both
    compile(both, "t", "exec")
    patch = hidden_test_patch(["tests/test_a.py::TestA::test_x[case-1]"], {"tests/test_a.py": source}.get)
    assert "+    def test_x(self):" in patch and "test_y" not in patch.split("@@")[1].split("\n")[0]


def test_hiding_covers_inherited_tests_tests_of_the_parent_and_refuses_doctests():
    import pytest

    from swesmith.hide import VisibleTests, hidden_test_patch

    mixin = "class Checks:\n    def test_triple(self):\n        assert 1\n\n\nclass TestTally(Checks):\n    pass\n\n\ndef test_other():\n    pass\n"
    # The id names a class that does not define the test: only removing the whole file hides it.
    patch = hidden_test_patch(["tests/test_t.py::TestTally::test_triple"], {"tests/test_t.py": mixin}.get)
    assert "deleted file" not in patch and "new file mode" in patch and "+class TestTally(Checks):" in patch
    # Historical: the test exists (older) at the parent: it goes from the agent's view too, and the
    # commit's own test changes to other files stay as they were.
    parent, commit = (
        "def test_halve():\n    assert 1\n\n\ndef test_keep():\n    pass\n",
        "def test_halve():\n    assert 2\n\n\ndef test_keep():\n    pass\n",
    )
    other = "diff --git a/tests/test_other.py b/tests/test_other.py\nnew file mode 100644\n--- /dev/null\n+++ b/tests/test_other.py\n@@ -0,0 +1 @@\n+x = 1\n"
    patch = hidden_test_patch(
        ["tests/test_h.py::test_halve"],
        {"tests/test_h.py": commit}.get,
        shown={"tests/test_h.py": parent}.get,
        base_patch=other,
    )
    assert patch.startswith(other) and "+def test_halve():\n+    assert 2\n" in patch and "assert 1" not in patch
    # A test that exists at the parent only where the commit adds it: nothing more to hide.
    assert (
        hidden_test_patch(
            ["tests/test_o.py::test_new"],
            {"tests/test_o.py": "def test_new(): pass\n"}.get,
            shown=lambda path: None,
            base_patch=other,
        )
        == other
    )
    # A doctest lives in a source module, which must stay: the task cannot hide it.
    with pytest.raises(VisibleTests) as caught:
        hidden_test_patch(["src/pkg/mod.py::pkg.mod.f"], {"src/pkg/mod.py": "def f():\n    '''>>> 1\n    1'''\n"}.get)
    assert caught.value.tests == ["src/pkg/mod.py::pkg.mod.f"]


def test_a_run_of_a_few_tests_of_a_big_unit_is_estimated_by_those_tests():
    from swesmith.validate import Baseline

    times = {"m/pkg": 30.0, "m/pkg::TestA": 0.5, "m/pkg::TestB": 1.0}
    baseline = Baseline(
        passing={"m/pkg::TestA", "m/pkg::TestB", "m/pkg::TestC"}, flaky=set(), duration_s=40.0, run_seconds=times
    )
    collect = {"m/pkg": 4.0}
    assert baseline.estimate_seconds(("m/pkg::TestA", "m/pkg::TestB"), collect) == 5.5
    assert baseline.estimate_seconds(("m/pkg",), collect) == 34.0
    assert baseline.estimate_seconds(("m/pkg::TestA", "m/pkg::TestC"), collect) == 34.0  # TestC's time unknown


def test_mutations_of_a_function_are_spread_apart():
    from gskill.schema import Strategy
    from swesmith.candidate import Candidate
    from swesmith.sources import spread_by_function

    stream = [Candidate(Strategy.PROCEDURAL, group, f"{group}{n}") for group in "abc" for n in (1, 2)]
    spread = [candidate.bug_patch for candidate in spread_by_function(stream, window=2)]
    assert spread == ["a1", "b1", "a2", "b2", "c1", "c2"]


def test_a_function_whose_mutation_hung_is_not_run_again(tmp_path, monkeypatch):
    import subprocess
    from collections import Counter
    from types import SimpleNamespace

    import swesmith.validation_pool as pool_module
    from gskill.schema import Strategy
    from swesmith.candidate import Candidate
    from swesmith.pipeline import MineOptions, MiningReport
    from swesmith.store import MiningStore
    from swesmith.validate import Baseline, Verdict

    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    store = MiningStore(tmp_path / "cache.sqlite")
    run = SimpleNamespace(
        snapshot=SimpleNamespace(path=tmp_path / "repo"), store=store, options=MineOptions(out=None), progress=print
    )
    ran: list[str] = []

    def fake_validate(box, candidate, baseline, **limits) -> Verdict:
        ran.append(candidate.bug_patch)
        return Verdict(False, "timeout" if candidate.bug_patch == "loop-1" else "no_f2p")

    monkeypatch.setattr(pool_module, "validate", fake_validate)
    baseline = Baseline(passing={"m::TestA"}, flaky=set(), duration_s=5.0, language="go")

    def made_up(patch: str, entity: str, strategy=Strategy.PROCEDURAL) -> Candidate:
        return Candidate(strategy, entity, patch, ("m::TestA",), entities=(entity,))

    candidates = [
        made_up("loop-1", "a.go::loop"),
        made_up("other-1", "a.go::other"),
        made_up("other-2", "a.go::other"),
        made_up("loop-2", "a.go::loop"),  # drawn after loop-1's verdict: skipped
        made_up("mirror", "a.go::loop", Strategy.COMMIT_MIRROR),  # a real bug of its own: run
    ]
    rejected: Counter = Counter()
    report = MiningReport(repo="r", snapshot="s", image="i")
    pool = pool_module.ValidationPool(run, [object()], baseline, {}, target=None)
    results = pool.verdicts(candidates, report, rejected)
    assert ran == ["loop-1", "other-1", "other-2", "mirror"]
    assert rejected == Counter({"procedural:function_hung_before": 1})
    assert [candidate.bug_patch for candidate, _ in results] == ran
    assert store.verdict(made_up("loop-2", "a.go::loop").key) is None  # a skip is not a verdict
