"""TypeScript repositories end to end, through real containers: a fixture package (vitest with a
`tsc --noEmit` test script, a test helper shared by the test files, a flaky JavaScript test, two
bug-fix commits) is mined, its tasks graded, every agent run on them, and a cheating agent finds
nothing of the fix."""

from __future__ import annotations

import json

import pytest

from gskill.schema import RunConfig, Strategy, Task, read_tasks
from harnesses.taskenv import open_task_sandbox
from tests.helpers import assert_swebench_grades_like_gskill, gskill, mine_fixture
from tests.repo_factory import make_ts_repo

STATS = "test/stats.test.ts::stats > "
# Every stats test of the snapshot as vitest's JSON report names it (describe path joined by " > ").
STATS_TESTS = [
    "averages",
    "averages nothing to zero",
    "clamps",
    "max > finds the largest",
    "max > handles negatives",
    "sums",
]
TEXT_TESTS = [
    "test/text.test.ts::text > counts words",
    "test/text.test.ts::text > reverses",
    "test/text.test.ts::text > shouts",
]


@pytest.fixture(scope="module")
def ts_repo(tmp_path_factory):
    return make_ts_repo(tmp_path_factory.mktemp("ts"))


@pytest.fixture(scope="module")
def ts_mined(ts_repo, base_image, tmp_path_factory):
    repo, _ = ts_repo
    out = tmp_path_factory.mktemp("ts-mined")
    mine_fixture(
        repo,
        out,
        base_image,
        "--strategies",
        "commit-mirror,procedural",
        "--max-tasks",
        "4",
        "--split",
        "2,1,1",
        "--workers",
        "2",
    )
    return out


def _mirrored(out) -> dict[str, Task]:
    return {t.source_commit: t for t in read_tasks(out / "tasks.jsonl") if t.strategy is Strategy.COMMIT_MIRROR}


def test_ts_mirror_tasks_have_exact_fail_to_pass_and_pass_to_pass(ts_mined, ts_repo):
    _, commits = ts_repo
    tasks = _mirrored(ts_mined)
    assert set(tasks) == {commits["fix_mean"], commits["fix_max"]}
    mean, maximum = tasks[commits["fix_mean"]], tasks[commits["fix_max"]]
    assert mean.FAIL_TO_PASS == [STATS + "averages nothing to zero"]
    assert mean.PASS_TO_PASS == [STATS + name for name in STATS_TESTS if name != "averages nothing to zero"]
    assert maximum.FAIL_TO_PASS == [STATS + "max > handles negatives"]
    assert maximum.PASS_TO_PASS == [STATS + name for name in STATS_TESTS if name != "max > handles negatives"]
    for task in (mean, maximum):
        assert task.language == "typescript" and task.image_name.startswith("gskill-env/tsstats:")
        assert "src/stats.ts" in task.bug_patch and "test/" not in task.bug_patch
        assert task.difficulty.f2p_count == 1
        # The symptom is vitest's assertion message, never a stack frame or a test file path.
        assert "expected" in task.problem_statement and "stats.test.ts" not in task.problem_statement


def test_ts_report_names_the_flaky_test_and_every_rejection(ts_mined):
    report = json.loads((ts_mined / "mining_report.json").read_text())
    assert report["language"] == "typescript"
    assert report["baseline_flaky"] == 1  # test/flaky.test.js flips on every run
    for task in read_tasks(ts_mined / "tasks.jsonl"):
        assert "test/flaky.test.js::sometimes" not in task.FAIL_TO_PASS + task.PASS_TO_PASS
    assert report["validated"]["commit-mirror"] == 2 and report["validated"]["procedural"] >= 2
    validation_reasons = {"no_f2p", "flaky", "timeout", "env_error", "does_not_build", "hidden_view_does_not_build"}
    assert set(report["rejected"].get("procedural", {})) <= validation_reasons, report["rejected"]
    # The full logs that decided each task are kept: its F2P can be recomputed from them.
    from languages.typescript.jstest import parse

    baseline = parse((ts_mined / "logs" / "baseline.log").read_text())
    stable = {STATS + name for name in STATS_TESTS} | set(TEXT_TESTS)
    assert {test for test, outcome in baseline.items() if outcome == "PASSED"} - {
        "test/flaky.test.js::sometimes"
    } == stable
    assert report["baseline_tests"] == len(stable) == 9

    for task in read_tasks(ts_mined / "tasks.jsonl"):
        log = (ts_mined / "logs" / f"{task.instance_id}.run1.log").read_text()
        assert all(parse(log).get(test) == "FAILED" for test in task.FAIL_TO_PASS)


def test_procedural_ts_tasks_fail_for_the_right_tests(ts_mined):
    procedural = [t for t in read_tasks(ts_mined / "tasks.jsonl") if t.strategy is Strategy.PROCEDURAL]
    assert procedural
    for task in procedural:
        assert task.FAIL_TO_PASS and all(
            test.startswith(("test/stats.test.ts::", "test/text.test.ts::")) for test in task.FAIL_TO_PASS
        )
        assert task.bug_patch.count("diff --git") == 1 and "a/src/" in task.bug_patch


def test_the_agent_sees_the_bug_state_without_the_hidden_ts_tests(ts_mined, ts_repo):
    _, commits = ts_repo
    task = _mirrored(ts_mined)[commits["fix_mean"]]
    assert '+  it("averages nothing to zero"' in task.test_patch and "helpers.ts" not in task.test_patch
    box = open_task_sandbox(task)
    try:
        shown = box.exec("cat test/stats.test.ts", timeout=30).output
        assert "averages nothing to zero" not in shown and "handles negatives" in shown
        # The helper shared by the test files stays; the file's remaining tests pass, offline.
        assert box.exec("grep -c 'export function approx' test/helpers.ts", timeout=30).output.strip() == "1"
        ran = box.exec("npx vitest run test/stats.test.ts", timeout=300)
        assert ran.ok, ran.output[-2000:]
        assert "5 passed" in ran.output
    finally:
        box.stop()


def test_a_cheating_agent_finds_no_ts_fix(ts_mined, ts_repo):
    """No git history, no build output, tsbuildinfo or node_modules/.cache, no other copy of the source
    holds the fixed mean or the hidden test; the network is closed."""
    _, commits = ts_repo
    task = _mirrored(ts_mined)[commits["fix_mean"]]
    fixed_mean = "export function mean(values: number[]): number {\n  if (values.length === 0) {\n"
    assert fixed_mean.replace("\n", "\n ") in task.patch.replace("\n+", "\n ")
    box = open_task_sandbox(task)
    try:
        assert box.exec("git rev-list --all --count", timeout=30).output.strip() == "1"
        for command in ("git log --all -p", "git reflog", "git stash list", "ls -la /tmp /root /repo", "cat src/*.ts"):
            output = box.exec(command, timeout=120).output
            assert "averages nothing to zero" not in output, command
            assert fixed_mean not in output.replace("\n+", "\n"), command
        for needle in ("averages nothing to zero", "Fix mean of an empty list"):
            found = box.exec(f"grep -rlaF '{needle}' / --exclude-dir=proc --exclude-dir=sys 2>/dev/null | head", 600)
            assert found.output.strip() == "", (needle, found.output)
        # The source of mean exists once on disk: no build output, transform cache or copy holds it.
        copies = box.exec("grep -rlaF 'function mean(' / --exclude-dir=proc --exclude-dir=sys 2>/dev/null", 600)
        assert copies.output.split() == ["/repo/src/stats.ts"], copies.output
        leftovers = box.exec(
            "find / -xdev \\( -name '*.tsbuildinfo' -o -path '*/node_modules/.cache' -o -path '*/node_modules/.vite' "
            "-o -path /repo/dist \\) -print 2>/dev/null | head",
            timeout=300,
        )
        assert leftovers.output.strip() == "", leftovers.output
        fetch = box.exec(
            "timeout 60 node -e \"fetch('https://registry.npmjs.org/vitest').then(() => console.log('reached'), "
            "() => console.log('blocked'))\"",
            timeout=120,
        ).output
        assert "reached" not in fetch
    finally:
        box.stop()


@pytest.mark.parametrize("agent", ["mini", "codex", "claude"])
def test_every_agent_resolves_ts_tasks_with_the_oracle_and_none_with_noop(agent, ts_mined, ts_repo, tmp_path):
    from gskill.config import load_settings
    from gskill.schema import EvalRecord
    from harnesses.agents import TOOLS
    from harnesses.agents.tools import install
    from harnesses.evaluate import evaluate
    from languages.base import TestRunLog
    from languages.verdict import verdict

    # One task per agent keeps the three agents' runs near 20 s each; test_go.py runs two.
    tasks = [_mirrored(ts_mined)[ts_repo[1]["fix_mean"]]]
    cache = load_settings().cache_dir
    if agent in TOOLS:
        install(TOOLS[agent], cache)
    for model, statuses in (("scripted/oracle", {"resolved": 1}), ("scripted/noop", {"no_patch": 1})):
        summary = evaluate(
            tasks,
            config=RunConfig(agent=agent, model=model, workers=2, step_limit=20, wall_time_limit_s=300),
            skill="",
            run_dir=tmp_path / model.split("/")[1],
            cache_dir=cache,
        )
        assert summary["statuses"] == statuses and summary["infra_errors"] == 0, json.dumps(summary)
    # The grade's full log is kept, and the verdict recomputed from it is the same.
    by_id = {task.instance_id: task for task in tasks}
    for line in (tmp_path / "oracle" / "rollouts.jsonl").read_text().splitlines():
        record = EvalRecord.model_validate_json(line)
        again = verdict(by_id[record.instance_id], TestRunLog(open(record.grade.log_path).read(), 0))
        assert again.status == record.grade.status and again.f2p_passed == record.grade.f2p_passed


def test_a_ts_patch_that_does_not_parse_fails_its_tests(ts_mined, ts_repo):
    from harnesses.grading import grade

    _, commits = ts_repo
    task = _mirrored(ts_mined)[commits["fix_mean"]]
    broken = task.patch.replace("return 0;\n", "return 0;;)\n", 1)
    assert broken != task.patch
    graded = grade(task, broken, run_id="ts-broken")
    # The test file no longer loads: a broken unit, whose tests count as failed.
    assert graded.status.value == "f2p_failed" and graded.f2p_failed == [STATS + "averages nothing to zero"]


def test_a_mutation_that_does_not_type_check_is_rejected_before_its_tests_run(ts_mined, ts_repo):
    from harnesses.sandbox import DockerSandbox
    from swesmith.candidate import Candidate
    from swesmith.patches import make_patch
    from swesmith.validate import Baseline, hidden_view_builds, validate

    repo, commits = ts_repo
    task = read_tasks(ts_mined / "tasks.jsonl")[0]
    source = (repo / "src" / "stats.ts").read_text()
    mistyped = source.replace("  let total = 0;\n", '  let total: number = "0";\n', 1)
    assert mistyped != source
    candidate = Candidate(
        strategy=Strategy.PROCEDURAL,
        group="src/stats.ts::sum",
        bug_patch=make_patch({"src/stats.ts": (source, mistyped)}),
        test_files=("test/stats.test.ts",),
    )
    # The snapshot's results as mining measured them (its baseline run twice): no run needed here.
    passing = {STATS + name for name in STATS_TESTS} | set(TEXT_TESTS)
    baseline = Baseline(passing=passing, flaky=set(), duration_s=5.0, language="typescript")
    with DockerSandbox.start(task.image_name, run_id="ts-untyped") as box:
        verdict = validate(box, candidate, baseline, timeout=300)
        assert verdict.reason == "does_not_build" and not verdict.ok
        assert box.exec("git status --porcelain", timeout=30).output.strip() == ""  # the tree was reset
        # The agent's view must type-check too.
        mean = _mirrored(ts_mined)[commits["fix_mean"]]
        assert hidden_view_builds(box, baseline.spec, mean.bug_patch, mean.test_patch, 300)
        assert box.exec("git status --porcelain", timeout=30).output.strip() == ""


def test_a_repository_whose_tests_run_under_ava_is_refused_in_one_line(base_image, tmp_path):
    """The image build stops before installing anything, and the line says why (not docker's
    "returned a non-zero code")."""
    from tests.helpers import assert_one_line_error
    from tests.repo_factory import commit_all, git, write

    repo = tmp_path / "avalib"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    package = '{"name": "avalib", "type": "module", "engines": {"node": ">=20"}, "scripts": {"test": "ava"}}\n'
    write(
        repo,
        {"package.json": package, "index.js": "export const one = () => 1;\n", "test.js": "import test from 'ava';\n"},
    )
    commit_all(repo, "initial")
    done = gskill("env", "build", str(repo), env={"GSKILL_BASE_IMAGE": base_image})
    assert_one_line_error(done, "the test script runs ava", "gskill runs vitest, jest, mocha or node --test")


def test_swebench_harness_grades_ts_tasks_like_gskill(ts_mined, tmp_path):
    """swebench's own `run_evaluation` on exported TypeScript tasks: gold resolves all, an empty or an
    irrelevant patch none (the tests ran: FAIL_TO_PASS failed)."""
    assert_swebench_grades_like_gskill(ts_mined, tmp_path, limit=3)
