"""Go repositories end to end, through real containers: a fixture module (two packages, a test helper
shared by a package's test files, a flaky test, two bug-fix commits) is mined, its tasks graded, every
agent run on them, and a cheating agent finds nothing of the fix."""

from __future__ import annotations

import json

import pytest

from gskill.schema import RunConfig, Strategy, Task, read_tasks
from harnesses.taskenv import open_task_sandbox
from tests.helpers import assert_swebench_grades_like_gskill, gskill, mine_fixture
from tests.repo_factory import make_go_repo

STATS = "example.com/gostats/stats::"
TEXT = "example.com/gostats/text::"
# Every stats test of the snapshot as `go test -json` names it (t.Run subtests of one name get #NN).
STATS_TESTS = [
    "TestClamp",
    "TestClamp/case",
    "TestClamp/case#01",
    "TestClamp/case#02",
    "TestMax",
    "TestMaxNegative",
    "TestMean",
    "TestMeanOfNothing",
    "TestSum",
]


@pytest.fixture(scope="module")
def go_repo(tmp_path_factory):
    return make_go_repo(tmp_path_factory.mktemp("go"))


@pytest.fixture(scope="module")
def go_mined(go_repo, base_image, tmp_path_factory):
    repo, _ = go_repo
    out = tmp_path_factory.mktemp("go-mined")
    mine_fixture(
        repo, out, base_image, "--strategies", "commit-mirror,procedural", "--all", "--split", "6,2,2", "--workers", "2"
    )
    return out


def _mirrored(out) -> dict[str, Task]:
    return {t.source_commit: t for t in read_tasks(out / "tasks.jsonl") if t.strategy is Strategy.COMMIT_MIRROR}


def test_go_mirror_tasks_have_exact_fail_to_pass_and_pass_to_pass(go_mined, go_repo):
    _, commits = go_repo
    tasks = _mirrored(go_mined)
    assert set(tasks) == {commits["fix_mean"], commits["fix_max"]}
    mean, maximum = tasks[commits["fix_mean"]], tasks[commits["fix_max"]]
    assert mean.FAIL_TO_PASS == [STATS + "TestMeanOfNothing"]
    assert mean.PASS_TO_PASS == [STATS + name for name in STATS_TESTS if name != "TestMeanOfNothing"]
    assert maximum.FAIL_TO_PASS == [STATS + "TestMaxNegative"]
    assert maximum.PASS_TO_PASS == [STATS + name for name in STATS_TESTS if name != "TestMaxNegative"]
    for task in (mean, maximum):
        assert task.language == "go" and task.image_name.startswith("gskill-env/gostats:")
        assert "stats/stats.go" in task.bug_patch and "_test.go" not in task.bug_patch
        assert task.difficulty.f2p_count == 1


def test_go_report_names_the_flaky_test_and_every_rejection(go_mined):
    report = json.loads((go_mined / "mining_report.json").read_text())
    assert report["language"] == "go"
    assert report["baseline_flaky"] == 1  # text::TestSometimes flips on every run
    for task in read_tasks(go_mined / "tasks.jsonl"):
        assert TEXT + "TestSometimes" not in task.FAIL_TO_PASS + task.PASS_TO_PASS
    assert report["validated"]["commit-mirror"] == 2 and report["validated"]["procedural"] >= 2
    validation_reasons = {"no_f2p", "flaky", "timeout", "env_error", "does_not_build", "hidden_view_does_not_build"}
    assert set(report["rejected"].get("procedural", {})) <= validation_reasons, report["rejected"]
    # The full logs of the runs that decided each task are kept: its F2P can be recomputed from them.
    for task in read_tasks(go_mined / "tasks.jsonl"):
        log = (go_mined / "logs" / f"{task.instance_id}.run1.log").read_text()
        assert all(f'"Test":"{test.split("::")[1]}"' in log for test in task.FAIL_TO_PASS)
    assert (go_mined / "logs" / "baseline.log").is_file()


def test_procedural_go_tasks_compile_and_fail_for_the_right_tests(go_mined):
    procedural = [t for t in read_tasks(go_mined / "tasks.jsonl") if t.strategy is Strategy.PROCEDURAL]
    assert procedural
    for task in procedural:
        assert task.FAIL_TO_PASS and all(test.startswith(("example.com/gostats/")) for test in task.FAIL_TO_PASS)
        assert task.bug_patch.count("diff --git") == 1 and "_test.go" not in task.bug_patch


def test_the_agent_sees_the_bug_state_without_the_hidden_go_tests(go_mined, go_repo):
    _, commits = go_repo
    task = _mirrored(go_mined)[commits["fix_mean"]]
    assert "+func TestMeanOfNothing(" in task.test_patch and "helpers_test.go" not in task.test_patch
    box = open_task_sandbox(task)
    try:
        listed = box.exec("go test -list . ./stats", timeout=300)
        assert listed.ok, listed.output[-2000:]
        assert "TestMeanOfNothing" not in listed.output and "TestMaxNegative" in listed.output
        # The helper shared by the package's test files stays; the package's remaining tests pass.
        assert box.exec("grep -c 'func approx' stats/helpers_test.go", timeout=30).output.strip() == "1"
        ran = box.exec("go test -count=1 ./stats", timeout=300)
        assert ran.ok, ran.output[-2000:]
        assert box.exec("go env GOPROXY GOFLAGS", timeout=30).output.split() == ["off", "-mod=mod"]
    finally:
        box.stop()


def test_a_cheating_agent_finds_no_go_fix(go_mined, go_repo):
    """No git history, no module or build cache, no leftover file holds the fixed Mean or the hidden
    test; the network is closed."""
    _, commits = go_repo
    task = _mirrored(go_mined)[commits["fix_mean"]]
    # Mean as the fix wrote it (Max's own early return has the same first line, so the whole body).
    fixed_mean = "func Mean(values []float64) float64 {\n\tif len(values) == 0 {\n\t\treturn 0\n\t}\n"
    assert fixed_mean.replace("\n", "\n ") in task.patch.replace("\n+", "\n ")
    box = open_task_sandbox(task)
    try:
        assert box.exec("git rev-list --all --count", timeout=30).output.strip() == "1"
        for command in ("git log --all -p", "git reflog", "git stash list", "ls -la /tmp /root", "cat stats/*.go"):
            output = box.exec(command, timeout=120).output
            assert "TestMeanOfNothing" not in output, command
            assert fixed_mean not in output.replace("\n+", "\n"), command
        # Mean's fixed body and the hidden test's name, anywhere on disk: the source, GOPATH/pkg/mod,
        # GOCACHE (compiled objects of the fixed package would carry its symbols and line table).
        for needle in ("TestMeanOfNothing", "Fix Mean of an empty slice"):
            found = box.exec(f"grep -rlaF '{needle}' / --exclude-dir=proc --exclude-dir=sys 2>/dev/null | head", 600)
            assert found.output.strip() == "", (needle, found.output)
        cached = box.exec("grep -rlaF 'example.com/gostats/stats' \"$(go env GOCACHE)\" | head", timeout=120)
        assert cached.output.strip() == "", cached.output
        fetch = box.exec("go mod download golang.org/x/text@latest 2>&1; echo rc=$?", timeout=120).output
        assert "rc=0" not in fetch
    finally:
        box.stop()


@pytest.mark.parametrize("agent", ["mini", "codex", "claude"])
def test_every_agent_resolves_go_tasks_with_the_oracle_and_none_with_noop(agent, go_mined, go_repo, tmp_path):
    from gskill.config import load_settings
    from harnesses.agents import TOOLS
    from harnesses.agents.tools import install
    from harnesses.evaluate import evaluate

    _, commits = go_repo
    tasks = list(_mirrored(go_mined).values())
    cache = load_settings().cache_dir
    if agent in TOOLS:
        install(TOOLS[agent], cache)
    for model, statuses in (("scripted/oracle", {"resolved": 2}), ("scripted/noop", {"no_patch": 2})):
        summary = evaluate(
            tasks,
            config=RunConfig(agent=agent, model=model, workers=2, step_limit=20, wall_time_limit_s=300),
            skill="",
            run_dir=tmp_path / model.split("/")[1],
            cache_dir=cache,
        )
        assert summary["statuses"] == statuses and summary["infra_errors"] == 0, json.dumps(summary)
    # The grade's full log is kept, and the verdict recomputed from it is the same.
    from gskill.schema import EvalRecord
    from languages.base import TestRunLog
    from languages.verdict import verdict

    by_id = {task.instance_id: task for task in tasks}
    for line in (tmp_path / "oracle" / "rollouts.jsonl").read_text().splitlines():
        record = EvalRecord.model_validate_json(line)
        log = open(record.grade.log_path).read()
        again = verdict(by_id[record.instance_id], TestRunLog(log, 0))
        assert again.status == record.grade.status and again.f2p_passed == record.grade.f2p_passed


def test_a_go_patch_that_does_not_compile_fails_its_tests(go_mined, go_repo):
    from harnesses.grading import grade

    _, commits = go_repo
    task = _mirrored(go_mined)[commits["fix_mean"]]
    broken = task.patch.replace("return 0\n", "return zero\n", 1)
    assert broken != task.patch
    graded = grade(task, broken, run_id="go-broken")
    assert graded.status.value == "f2p_failed" and graded.f2p_failed == [STATS + "TestMeanOfNothing"]


def test_a_mutation_that_does_not_compile_is_rejected_before_its_tests_run(go_mined, go_repo):
    from harnesses.sandbox import DockerSandbox
    from swesmith.candidate import Candidate
    from swesmith.patches import make_patch
    from swesmith.validate import Baseline, hidden_view_builds, validate

    repo, _ = go_repo
    task = read_tasks(go_mined / "tasks.jsonl")[0]
    source = (repo / "stats" / "stats.go").read_text()
    unused = source.replace("\ttotal := 0.0\n", "\ttotal := 0.0\n\tunused := 1\n", 1)
    assert unused != source
    candidate = Candidate(
        strategy=Strategy.PROCEDURAL,
        group="stats/stats.go::Sum",
        bug_patch=make_patch({"stats/stats.go": (source, unused)}),
        test_files=("example.com/gostats/stats",),
    )
    with DockerSandbox.start(task.image_name, run_id="go-unbuilt") as box:
        baseline = Baseline.measure(box, 300, ("example.com/gostats/stats",), language="go")
        assert baseline.passing == {STATS + name for name in STATS_TESTS}
        verdict = validate(box, candidate, baseline, timeout=300)
        assert verdict.reason == "does_not_build" and not verdict.ok
        assert box.exec("git status --porcelain", timeout=30).output.strip() == ""  # the tree was reset
        # The agent's view must build too: a hiding that strands the shared helper does not.
        mean = _mirrored(go_mined)[go_repo[1]["fix_mean"]]
        spec = baseline.spec
        assert hidden_view_builds(box, spec, mean.bug_patch, mean.test_patch, 300)
        helpers = (repo / "stats" / "helpers_test.go").read_text()
        stranding = make_patch({"stats/helpers_test.go": ("package stats\n", helpers)})
        assert not hidden_view_builds(box, spec, mean.bug_patch, stranding, 300)
        assert box.exec("git status --porcelain", timeout=30).output.strip() == ""


def test_learn_on_a_go_repository_drafts_from_its_layout_and_raises_validation(base_image, tmp_path):
    """`gskill learn REPO` on Go: mines, drafts the seed from the Go layout, learns with the scripted
    skill-sensitive agent and reflector, publishes. (Scripted results say nothing about real models.)"""
    repo, _ = make_go_repo(tmp_path)
    env = {"GSKILL_BASE_IMAGE": base_image, "GSKILL_CACHE_DIR": str(tmp_path / "cache")}
    done = gskill(
        "learn",
        str(repo),
        "--model",
        "scripted/needs-skill",
        "--reflection-model",
        "scripted/reflector",
        "--scripted",
        "base=0",
        "--max-metric-calls",
        "30",
        "--draft-seed",
        "--no-test",
        "--out",
        str(tmp_path / "run"),
        env=env,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    seed = json.loads((tmp_path / "run" / "learn.json").read_text())["options"]["seed_skill"]
    assert "`stats/`: source" in seed and "`text/`: source" in seed  # drafted from the Go layout
    evidence = json.loads((tmp_path / "run" / "evidence.json").read_text())
    assert evidence["seed"]["val_mean"] == 0.0 < evidence["best"]["val_mean"], evidence["best"]
    assert ".go`" in evidence["best"]["text"]
    skill = (repo / ".skills" / "gostats-skill" / "SKILL.md").read_text()
    assert "name: gostats-skill" in skill


def test_swebench_harness_grades_go_tasks_like_gskill(go_mined, tmp_path):
    """swebench's own `run_evaluation` on exported Go tasks: gold resolves all, an empty or an
    irrelevant patch none (the tests ran: FAIL_TO_PASS failed)."""
    assert_swebench_grades_like_gskill(go_mined, tmp_path, limit=3)
