"""Rust repositories end to end, through real containers: a fixture cargo workspace (two packages,
unit tests inside the source, an integration test file, a flaky test, one crates.io dependency, two
bug fixes tested by integration tests and one tested only inline) is mined, its tasks graded, every
agent run on them, and a cheating agent finds nothing of the fix."""

from __future__ import annotations

import json

import pytest

from gskill.schema import RunConfig, Strategy, Task, read_tasks
from harnesses.taskenv import open_task_sandbox
from tests.helpers import assert_swebench_grades_like_gskill, mine_fixture
from tests.rust_repo import make_rust_repo

LIB = "stats/lib::tests::"
API = "stats/test/api::"
API_TESTS = ["max_of_negatives", "max_of_three", "mean_of_nothing", "mean_of_three", "sum_of_nothing"]
# The procedural bug whose FAIL_TO_PASS tests live inline, in the buggy file itself.
INLINE_BUG = "+    if !(v < low) {\n"


@pytest.fixture(scope="module")
def rust_repo(tmp_path_factory):
    return make_rust_repo(tmp_path_factory.mktemp("rust"))


@pytest.fixture(scope="module")
def rust_mined(rust_repo, base_image, tmp_path_factory):
    repo, _ = rust_repo
    out = tmp_path_factory.mktemp("rust-mined")
    mine_fixture(
        repo, out, base_image, "--strategies", "commit-mirror,procedural", "--all", "--split", "4,1,1", "--workers", "2"
    )
    return out


def _mirrored(out) -> dict[str, Task]:
    return {t.source_commit: t for t in read_tasks(out / "tasks.jsonl") if t.strategy is Strategy.COMMIT_MIRROR}


def _inline(out) -> Task:
    (task,) = [t for t in read_tasks(out / "tasks.jsonl") if INLINE_BUG in t.bug_patch]
    return task


def test_rust_mirror_tasks_have_exact_fail_to_pass_and_pass_to_pass(rust_mined, rust_repo):
    _, commits = rust_repo
    tasks = _mirrored(rust_mined)
    # fix_words changed no test file (its test is inline): not mined from history.
    assert set(tasks) == {commits["fix_mean"], commits["fix_max"]}
    mean, maximum = tasks[commits["fix_mean"]], tasks[commits["fix_max"]]
    assert mean.FAIL_TO_PASS == [API + "mean_of_nothing"]
    assert mean.PASS_TO_PASS == [API + name for name in API_TESTS if name != "mean_of_nothing"]
    assert maximum.FAIL_TO_PASS == [API + "max_of_negatives"]
    assert maximum.PASS_TO_PASS == [API + name for name in API_TESTS if name != "max_of_negatives"]
    for task in (mean, maximum):
        assert task.language == "rust" and task.image_name.startswith("gskill-env/rstats:")
        assert "crates/stats/src/lib.rs" in task.bug_patch and "tests/api.rs" not in task.bug_patch
        assert "crates/stats/tests/api.rs" in task.test_patch and "src/lib.rs" not in task.test_patch


def test_rust_inline_tests_are_hidden_from_the_buggy_file_itself(rust_mined):
    task = _inline(rust_mined)
    assert task.FAIL_TO_PASS == [LIB + "clamps", LIB + "clamps_at_the_edges"]
    assert task.PASS_TO_PASS == [LIB + "sums", *(API + name for name in API_TESTS)]
    # Bug and hidden tests are two hunks of one source file.
    assert task.bug_patch.count("diff --git") == 1 and task.test_patch.count("diff --git") == 1
    assert "crates/stats/src/lib.rs" in task.bug_patch and "crates/stats/src/lib.rs" in task.test_patch
    assert "+    fn clamps_at_the_edges() {" in task.test_patch and "/// Both edges" in task.test_patch
    assert "fn sums()" not in task.test_patch


def test_rust_report_names_the_flaky_test_and_every_rejection(rust_mined):
    report = json.loads((rust_mined / "mining_report.json").read_text())
    assert report["language"] == "rust"
    assert report["baseline_flaky"] == 1  # text-utils/lib::tests::sometimes flips on every run
    for task in read_tasks(rust_mined / "tasks.jsonl"):
        assert "text-utils/lib::tests::sometimes" not in task.FAIL_TO_PASS + task.PASS_TO_PASS
    assert report["rejected"]["history"]["no_tests"] == 1  # fix_words
    assert report["validated"]["commit-mirror"] == 2 and report["validated"]["procedural"] >= 3
    validation_reasons = {"no_f2p", "flaky", "timeout", "env_error", "does_not_build", "hidden_view_does_not_build"}
    assert set(report["rejected"].get("procedural", {})) <= validation_reasons, report["rejected"]
    for task in read_tasks(rust_mined / "tasks.jsonl"):
        log = (rust_mined / "logs" / f"{task.instance_id}.run1.log").read_text()
        assert all(f"test {test.split('::', 1)[1]} ... FAILED" in log for test in task.FAIL_TO_PASS)
        assert task.bug_patch.count("diff --git") == 1 and "/tests/" not in task.bug_patch


def test_the_agent_sees_the_rust_bug_state_without_the_hidden_tests(rust_mined, rust_repo):
    _, commits = rust_repo
    for task, unit, hidden in (
        (_mirrored(rust_mined)[commits["fix_mean"]], "--test api", ["mean_of_nothing"]),
        (_inline(rust_mined), "--lib", ["tests::clamps", "tests::clamps_at_the_edges"]),
    ):
        box = open_task_sandbox(task)
        try:
            listed = box.exec(f"cargo test -q -p stats {unit} -- --list 2>&1", timeout=300)
            assert listed.ok, listed.output[-2000:]
            names = {line.split(": ")[0] for line in listed.output.splitlines() if line.endswith(": test")}
            assert names and not names & set(hidden), listed.output
            # The rest of the unit still builds and passes: hiding left the module whole.
            ran = box.exec("cargo test -q -p stats 2>&1", timeout=300)
            assert ran.ok, ran.output[-2000:]
            assert box.exec("echo $CARGO_NET_OFFLINE", timeout=30).output.strip() == "true"
        finally:
            box.stop()


def test_a_cheating_agent_finds_no_rust_fix(rust_mined, rust_repo):
    """No git history, no build cache (target/), no registry, no leftover file holds the fixed mean,
    the hidden tests or anything compiled from the workspace; the network is closed."""
    _, commits = rust_repo
    task = _mirrored(rust_mined)[commits["fix_mean"]]
    fixed_mean = "pub fn mean(values: &[f64]) -> f64 {\n    if values.is_empty() {\n        return 0.0;\n    }\n"
    assert fixed_mean.replace("\n", "\n ") in task.patch.replace("\n+", "\n ")
    box = open_task_sandbox(task)
    try:
        assert box.exec("git rev-list --all --count", timeout=30).output.strip() == "1"
        for command in (
            "git log --all -p",
            "git reflog",
            "git stash list",
            "ls -la /tmp /root",
            "cat crates/*/src/*.rs",
        ):
            output = box.exec(command, timeout=120).output
            assert "mean_of_nothing" not in output, command
            assert fixed_mean not in output.replace("\n+", "\n"), command
        # The fix's commit message and the hidden test, anywhere on disk: the source, ~/.cargo, the build
        # cache (a test binary compiled from the snapshot would carry its test names).
        for needle in ("mean_of_nothing", "Fix mean of an empty slice"):
            found = box.exec(f"grep -rlaF '{needle}' / --exclude-dir=proc --exclude-dir=sys 2>/dev/null | head", 900)
            assert found.output.strip() == "", (needle, found.output)
        # The image's build cache holds the dependency (itoa) compiled, nothing of the workspace's crates.
        cached = box.exec('ls "$CARGO_TARGET_DIR/debug/deps" "$CARGO_TARGET_DIR/debug/.fingerprint"', timeout=60)
        assert "itoa" in cached.output, cached.output
        for crate in ("stats", "text_utils", "text-utils", "api"):
            assert crate not in cached.output, (crate, cached.output)
        assert box.exec("ls /root/.cargo/registry/src/*/ 2>&1", timeout=60).output.split() == ["itoa-1.0.19"]
        fetch = box.exec(
            "python3 -c \"import urllib.request; urllib.request.urlopen('https://index.crates.io/config.json', "
            'timeout=10)" 2>&1; echo rc=$?',
            timeout=60,
        ).output
        assert "rc=0" not in fetch
    finally:
        box.stop()
    # Tests cut from the buggy source file itself: gone from it, and from everywhere gskill writes.
    inline = _inline(rust_mined)
    box = open_task_sandbox(inline)
    try:
        assert "if !(v < low) {" in box.exec("cat crates/stats/src/lib.rs", timeout=30).output
        found = box.exec("grep -rlaF clamps_at_the_edges /repo /root /tmp /opt 2>/dev/null | head", timeout=300)
        assert found.output.strip() == "", found.output
    finally:
        box.stop()


@pytest.mark.parametrize("agent", ["mini", "codex", "claude"])
def test_every_agent_resolves_rust_tasks_with_the_oracle_and_none_with_noop(agent, rust_mined, rust_repo, tmp_path):
    """One task whose hidden test is in an integration test file, one whose hidden tests were cut from
    the buggy source file: grading puts them back on top of the agent's fix."""
    from gskill.config import load_settings
    from harnesses.agents import TOOLS
    from harnesses.agents.tools import install
    from harnesses.evaluate import evaluate

    _, commits = rust_repo
    tasks = [_mirrored(rust_mined)[commits["fix_mean"]], _inline(rust_mined)]
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


def test_rust_grading_of_patches_that_do_not_compile_or_break_the_hidden_tests(rust_mined, rust_repo):
    from harnesses.grading import grade
    from languages.rust.hide import remove_tests
    from swesmith.patches import make_patch

    _, commits = rust_repo
    task = _mirrored(rust_mined)[commits["fix_mean"]]
    broken = task.patch.replace("return 0.0;\n", "return zero;\n", 1)
    assert broken != task.patch
    graded = grade(task, broken, run_id="rust-broken")
    assert graded.status.value == "f2p_failed" and graded.f2p_failed == [API + "mean_of_nothing"]
    assert set(graded.p2p_failed) == {API + name for name in API_TESTS if name != "mean_of_nothing"}
    inline = _inline(rust_mined)
    assert grade(inline, inline.patch, run_id="rust-inline-gold").status.value == "resolved"
    # An agent that fixed the bug but rewrote the lines the hidden tests go back between: its patch
    # conflicts with the task's tests (graded as its failure, never as a broken task).
    repo, _ = rust_repo
    path = "crates/stats/src/lib.rs"
    snapshot = (repo / path).read_text()
    start = remove_tests(
        snapshot.replace("    if v < low {", "    if !(v < low) {"),
        [(["tests"], "clamps"), (["tests"], "clamps_at_the_edges")],
    )
    edited = snapshot.replace("assert_eq!(sum(&[1.0, 2.0, 3.0]), 6.0);", "assert_eq!(sum(&[1.0, 2.0]), 3.0);")
    agent = remove_tests(edited, [(["tests"], "clamps"), (["tests"], "clamps_at_the_edges")])
    assert start is not None and agent is not None and start != agent
    graded = grade(inline, make_patch({path: (start, agent)}), run_id="rust-inline-rewrite")
    assert graded.status.value == "patch_failed_to_apply"


def test_a_rust_mutation_that_does_not_compile_is_rejected_before_its_tests_run(rust_mined, rust_repo):
    from harnesses.sandbox import DockerSandbox
    from languages.rust.hide import remove_tests
    from swesmith.candidate import Candidate
    from swesmith.patches import make_patch
    from swesmith.validate import Baseline, hidden_view_builds, validate

    repo, _ = rust_repo
    task = read_tasks(rust_mined / "tasks.jsonl")[0]
    source = (repo / "crates/stats/src/lib.rs").read_text()
    mistyped = source.replace("        return low;\n", "        return low as u8;\n", 1)
    assert mistyped != source
    candidate = Candidate(
        strategy=Strategy.PROCEDURAL,
        group="crates/stats/src/lib.rs::clamp",
        bug_patch=make_patch({"crates/stats/src/lib.rs": (source, mistyped)}),
        test_files=("stats/lib",),
    )
    with DockerSandbox.start(task.image_name, run_id="rust-unbuilt") as box:
        baseline = Baseline.measure(box, 300, ("stats/lib", "stats/test/api"), language="rust")
        assert baseline.passing == {LIB + "sums", LIB + "clamps", LIB + "clamps_at_the_edges"} | {
            API + name for name in API_TESTS
        }
        verdict = validate(box, candidate, baseline, timeout=300)
        assert verdict.reason == "does_not_build" and not verdict.ok
        assert box.exec("git status --porcelain", timeout=30).output.strip() == ""  # the tree was reset
        # The agent's view must build too: hiding that leaves a dangling attribute does not.
        inline = _inline(rust_mined)
        assert hidden_view_builds(box, baseline.spec, inline.bug_patch, inline.test_patch, 300)
        path = "crates/stats/src/lib.rs"
        dangling = remove_tests(source, [(["tests"], "clamps")]).replace(
            "    fn clamps_at_the_edges() {\n        assert_eq!(clamp(0, 0, 10), 0);\n"
            "        assert_eq!(clamp(10, 0, 10), 10);\n    }\n",
            "",
        )
        assert "#[test]\n}" in dangling.replace(" ", "")
        stranding = make_patch({path: (dangling, source)})
        assert not hidden_view_builds(box, baseline.spec, inline.bug_patch, stranding, 300)
        assert box.exec("git status --porcelain", timeout=30).output.strip() == ""


# Every operator has sites here: conditions (if, while, `!x`, parenthesized), comparisons, `&&`/`||`
# chains, literals with suffixes and bases in indices, ranges and comparisons, early returns (one
# inside a closure), constants in `let`, `return` and assignments.
MUTATION_SAMPLE = """
pub struct Window {
    values: Vec<u8>,
    limit: usize,
}

impl Window {
    pub fn first_over(&self, floor: u8) -> Option<usize> {
        if self.values.is_empty() {
            return None;
        }
        let mut index = 0;
        while index < self.values.len() && !(self.values[index] > floor) {
            index += 1;
        }
        let found = self.values.iter().position(|&v| {
            if v == 0xfe {
                return true;
            }
            v > floor || v == 1u8
        });
        if (index >= self.limit) {
            return found;
        }
        Some(index)
    }

    pub fn window(&self) -> &[u8] {
        let end = if self.values.len() > 3 { 3 } else { self.values.len() };
        &self.values[0..end]
    }
}

pub fn scale(x: i64) -> i64 {
    let mut factor = 2;
    if !(x > 10) {
        factor = 10;
    }
    if x == -1 {
        return 0;
    }
    x * factor + 0b101
}

pub fn flag() -> bool {
    let ready = true;
    ready && scale(1) != 4
}
"""


def test_every_rust_mutation_of_a_sample_crate_compiles(rust_mined):
    from harnesses.sandbox import DockerSandbox
    from languages.rust.mutate import MUTATION_KINDS, mutations_of
    from languages.rust.source import parse_entities

    mutations = [m for name in parse_entities(MUTATION_SAMPLE) for m in mutations_of(MUTATION_SAMPLE, name)]
    assert {m.kind for m in mutations} == set(MUTATION_KINDS)
    assert sum(m.kind == "remove_early_return" for m in mutations) == 4  # the closure's one too
    # One file rustc refuses, so the check is seen to catch a type error.
    broken = MUTATION_SAMPLE.replace("x * factor + 0b101", "x * factor + 0b101u8")
    files = {f"/tmp/mutations/{n}.rs": m.new_source for n, m in enumerate(mutations)}
    files.update({"/tmp/mutations/sample.rs": MUTATION_SAMPLE, "/tmp/mutations/broken.rs": broken})
    task = read_tasks(rust_mined / "tasks.jsonl")[0]
    # rustc alone, type-checking only (what `cargo check` runs per crate, without cargo's start-up).
    check = "rustc --edition 2021 --crate-type lib --emit=metadata -o {}.rmeta {}"
    with DockerSandbox.start(task.image_name, run_id="rust-mutations") as box:
        box.write_files(files)
        done = box.exec(
            f"ls /tmp/mutations/*.rs | xargs -P 2 -I{{}} sh -c '{check} 2>/dev/null || echo BROKEN {{}}'; true",
            timeout=600,
        )
    assert done.ok and done.output.split() == ["BROKEN", "/tmp/mutations/broken.rs"], done.output[-3000:]
    assert len(mutations) >= 20


def test_swebench_harness_grades_rust_tasks_like_gskill(rust_mined, tmp_path):
    """swebench's own `run_evaluation` on exported Rust tasks: gold resolves all, an empty or an
    irrelevant patch none (the tests ran: FAIL_TO_PASS failed)."""
    assert_swebench_grades_like_gskill(rust_mined, tmp_path, limit=3)
