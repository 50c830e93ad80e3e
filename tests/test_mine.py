"""`gskill mine` end to end on a fixture history, through real containers."""

from __future__ import annotations

import json
import subprocess

import pytest

from gskill.schema import read_tasks
from tests.helpers import assert_statements_clean, gskill, mine_fixture
from tests.repo_factory import make_history_repo, make_template_repo

CORE = "tests/test_core.py::"


@pytest.fixture(scope="module")
def history_repo(tmp_path_factory):
    return make_history_repo(tmp_path_factory.mktemp("history"))


@pytest.fixture(scope="module")
def mined(history_repo, base_image, tmp_path_factory):
    repo, _ = history_repo
    out = tmp_path_factory.mktemp("mined")
    done = mine_fixture(repo, out, base_image, "--strategies", "commit-mirror", "--workers", "2")
    return out, done


def test_mirror_tasks_have_exact_fail_to_pass_and_pass_to_pass(mined, history_repo):
    out, _ = mined
    _, commits = history_repo
    tasks = {task.source_commit: task for task in read_tasks(out / "tasks.jsonl")}
    assert set(tasks) == {commits["fix_perimeter"], commits["fix_area"]}
    perimeter, area = tasks[commits["fix_perimeter"]], tasks[commits["fix_area"]]
    assert perimeter.FAIL_TO_PASS == [CORE + "test_perimeter"]
    assert sorted(perimeter.PASS_TO_PASS) == [
        CORE + name for name in ("test_area", "test_area_negative", "test_describe", "test_describe_large")
    ]
    assert area.FAIL_TO_PASS == [CORE + "test_area_negative"]
    assert sorted(area.PASS_TO_PASS) == [
        CORE + name for name in ("test_area", "test_describe", "test_describe_large", "test_perimeter")
    ]
    for task in tasks.values():
        assert task.strategy.value == "commit-mirror" and task.group == task.source_commit
        assert "src/shapes/core.py" in task.bug_patch  # mirrored through the rename
        assert task.patch and task.difficulty.f2p_count == 1 and task.difficulty.files == 1
        assert task.image_name.startswith("gskill-env/shapes:")


def test_fail_to_pass_tests_are_hidden_and_statements_do_not_leak(mined, history_repo):
    out, _ = mined
    _, commits = history_repo
    task = next(t for t in read_tasks(out / "tasks.jsonl") if t.source_commit == commits["fix_perimeter"])
    # test_patch restores the hidden F2P test for grading; the agent's tree lacks it.
    assert "+def test_perimeter():" in task.test_patch and "tests/test_core.py" in task.test_patch
    assert "+def test_area_negative" not in task.test_patch  # only the F2P test is hidden
    statement = task.problem_statement
    assert statement.startswith("# perimeter of rectangles\n")  # the conventional "Fix" prefix is stripped
    for leak in ("tests/", "test_core", "2 * (width + height)", "diff --git", "pytest", "#7"):
        assert leak not in statement, leak


def test_rejections_and_report(mined):
    out, done = mined
    report = json.loads((out / "mining_report.json").read_text())
    assert report["validated"] == {"commit-mirror": 2}
    assert report["rejected"]["commit-mirror"] == {"no_f2p": 1}  # the f-string refactor's test passes before
    assert report["rejected"]["history"]["docs_only"] == 1
    assert report["baseline_flaky"] == 1  # tests/test_flaky.py alternates and is never used
    assert report["tasks"] == 2 and sum(report["splits"].values()) == 2
    assert "mining shapes@" in done.stdout


def test_rerun_resumes_from_the_cache(mined, history_repo, base_image):
    out, _ = mined
    repo, _ = history_repo
    done = gskill(
        "mine", str(repo), "--out", str(out), "--strategies", "commit-mirror", env={"GSKILL_BASE_IMAGE": base_image}
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((out / "mining_report.json").read_text())
    assert report["cached"] == 3 and report["tasks"] == 2  # nothing re-validated


def test_verify_rechecks_tasks_in_fresh_containers(mined, base_image):
    out, _ = mined
    done = gskill("mine", "verify", str(out), "--sample", "5", env={"GSKILL_BASE_IMAGE": base_image})
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert '"ok": 2' in done.stdout and '"mismatches": {}' in done.stdout


def test_verify_catches_a_tampered_task(mined, tmp_path, base_image):
    out, _ = mined
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    lines = (out / "tasks.jsonl").read_text().splitlines()
    record = json.loads(lines[0])
    record["PASS_TO_PASS"].append("tests/test_core.py::test_does_not_exist")
    (tampered / "tasks.jsonl").write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n")
    done = gskill("mine", "verify", str(tampered), env={"GSKILL_BASE_IMAGE": base_image})
    assert done.returncode != 0 and "did not re-validate" in done.stderr


def test_procedural_bugs_from_covered_functions(history_repo, base_image, tmp_path):
    repo, _ = history_repo
    mine_fixture(repo, tmp_path, base_image, "--strategies", "procedural", "--max-tasks", "4")
    tasks = read_tasks(tmp_path / "tasks.jsonl")
    assert 1 <= len(tasks) <= 4
    for task in tasks:
        assert task.strategy.value == "procedural" and task.FAIL_TO_PASS
        assert task.group.startswith("src/shapes/core.py::")
        assert all(test.startswith(CORE) for test in task.FAIL_TO_PASS + task.PASS_TO_PASS)
    verify = gskill("mine", "verify", str(tmp_path), env={"GSKILL_BASE_IMAGE": base_image})
    assert verify.returncode == 0, verify.stdout + verify.stderr[-2000:]


def test_bad_mine_inputs_are_one_line_errors(tmp_path, history_repo):
    repo, _ = history_repo
    for args, fragment in (
        (["mine", str(tmp_path), "--out", str(tmp_path / "o")], "not a git repository"),
        (["mine", str(repo), "--out", str(tmp_path / "o"), "--strategies", "guessing"], "unknown strategy"),
        (["mine", str(repo), "--out", str(tmp_path / "o"), "--split", "1,2"], "three whole numbers"),
        (["mine", str(repo)], "--out DIR is required"),
        (["mine", "verify", str(tmp_path)], "no tasks.jsonl"),
    ):
        done = gskill(*args)
        assert done.returncode != 0
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and fragment in lines[0], done.stderr
    assert (
        subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True).stdout == ""
    )


def test_historical_tasks_are_swe_bench_style_at_the_commits_parent(history_repo, base_image, tmp_path):
    repo, commits = history_repo
    mine_fixture(repo, tmp_path, base_image, "--strategies", "commit-historical", "--workers", "2")
    tasks = {task.source_commit: task for task in read_tasks(tmp_path / "tasks.jsonl")}
    assert set(tasks) == {commits["fix_perimeter"], commits["fix_area"]}
    geometry = "tests/test_geometry.py::"  # the test file's name at the commit, before the rename
    perimeter, area = tasks[commits["fix_perimeter"]], tasks[commits["fix_area"]]
    assert perimeter.FAIL_TO_PASS == [geometry + "test_perimeter"]
    assert sorted(perimeter.PASS_TO_PASS) == [geometry + "test_area", geometry + "test_describe"]
    assert area.FAIL_TO_PASS == [geometry + "test_area_negative"]
    assert sorted(area.PASS_TO_PASS) == [geometry + name for name in ("test_area", "test_describe", "test_perimeter")]
    report = json.loads((tmp_path / "mining_report.json").read_text())
    assert report["rejected"]["commit-historical"] == {"no_f2p": 1}  # the refactor's new test passes before

    # The agent's view (snapshot + bug_patch, test_patch reversed) is exactly the parent's tree, and
    # the gold patch plus test_patch lead to the commit's tree: SWE-bench's setting, on the snapshot.
    for label, task in (("fix_perimeter", perimeter), ("fix_area", area)):
        commit = commits[label]
        assert task.strategy.value == "commit-historical" and task.group == commit
        work = tmp_path / f"tree-{label}"
        subprocess.run(["git", "clone", "-q", str(repo), str(work)], check=True)
        run = lambda *args, stdin=None: subprocess.run(
            args, cwd=work, input=stdin, text=True, check=True, capture_output=True
        )  # noqa: E731
        run("git", "checkout", "-q", task.base_commit)
        run("git", "apply", "-", stdin=task.bug_patch)
        run("git", "apply", "-R", "-", stdin=task.test_patch)
        run("git", "add", "-A")
        agent_tree = run("git", "write-tree").stdout.strip()
        assert agent_tree == run("git", "rev-parse", f"{commit}^^{{tree}}").stdout.strip()
        run("git", "apply", "-", stdin=task.patch)
        run("git", "apply", "-", stdin=task.test_patch)
        run("git", "add", "-A")
        assert run("git", "write-tree").stdout.strip() == run("git", "rev-parse", f"{commit}^{{tree}}").stdout.strip()
        assert "test_" not in task.patch and "src/shapes/geometry.py" in task.patch  # gold = source only

    done = gskill("mine", "verify", str(tmp_path), "--sample", "5", env={"GSKILL_BASE_IMAGE": base_image})
    assert done.returncode == 0 and '"ok": 2' in done.stdout, done.stdout + done.stderr[-2000:]


def test_llm_rewrite_and_llm_issues_through_a_scripted_model(history_repo, base_image, tmp_path):
    """Every LLM path of mining runs through litellm with `scripted/` models: rewrites become validated
    tasks, issues are written from evidence that holds no diff, and a resumed run calls no model."""
    repo, _ = history_repo
    args = [
        "mine",
        str(repo),
        "--out",
        str(tmp_path),
        "--strategies",
        "llm-rewrite",
        "--model",
        "scripted/bug-rewriter",
        "--llm-attempts",
        "2",
        "--max-tasks",
        "3",
    ]
    done = gskill(*args, env={"GSKILL_BASE_IMAGE": base_image})
    assert done.returncode == 0, done.stderr[-3000:]
    tasks = read_tasks(tmp_path / "tasks.jsonl")
    assert len(tasks) == 3
    for task in tasks:
        assert (
            task.strategy.value == "llm-rewrite" and task.FAIL_TO_PASS and task.group.startswith("src/shapes/core.py::")
        )
    calls = [json.loads(line) for line in (tmp_path / "llm_calls.jsonl").read_text().splitlines()]
    assert calls and all(call["model"] == "scripted/bug-rewriter" and call["prompt_tokens"] > 0 for call in calls)
    assert "```python\ndef " in calls[0]["messages"][1]["content"]  # the function, dedented, in a code block

    # Issues written by a (scripted) model: it restates its evidence, so the statement IS what it was shown.
    writer = tmp_path / "issues"
    mine_fixture(
        repo,
        writer,
        base_image,
        "--strategies",
        "commit-mirror",
        "--issue-writer",
        "llm",
        "--model",
        "scripted/issue-writer",
    )
    for task in read_tasks(writer / "tasks.jsonl"):
        assert task.problem_statement.startswith("# ")
        assert "Affected behaviours:" in task.problem_statement  # the model's words, not the offline template
        for line in task.patch.splitlines():
            if line.startswith(("+", "-")) and not line.startswith(("+++", "---")) and len(line.strip()) > 13:
                assert line[1:].strip() not in task.problem_statement
        assert "diff --git" not in task.problem_statement and "tests/" not in task.problem_statement
    report = json.loads((writer / "mining_report.json").read_text())
    assert report["issue_writer"] == {"llm": 2} and report["llm_calls"] == 2

    # Resume: every answer comes from the cache, no model is called again.
    (writer / "llm_calls.jsonl").unlink()
    done = gskill(
        "mine",
        str(repo),
        "--out",
        str(writer),
        "--strategies",
        "commit-mirror",
        "--issue-writer",
        "llm",
        "--model",
        "scripted/issue-writer",
        env={"GSKILL_BASE_IMAGE": base_image},
    )
    assert done.returncode == 0 and not (writer / "llm_calls.jsonl").exists()


def test_llm_options_without_a_model_are_one_line_errors(history_repo, tmp_path):
    repo, _ = history_repo
    for extra in (["--strategies", "llm-rewrite"], ["--issue-writer", "llm"]):
        done = gskill("mine", str(repo), "--out", str(tmp_path), *extra)
        assert done.returncode == 2 and done.stderr.strip().count("\n") == 0 and "--model" in done.stderr, done.stderr


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory):
    return make_template_repo(tmp_path_factory.mktemp("template"))


def test_procedural_survives_code_compiled_from_files_not_on_disk(template_repo, base_image, tmp_path):
    """A template engine's tests run generated code whose file name is not on disk: `coverage json`
    stops with "No source for code" unless told to skip such files, and procedural mining got nothing."""
    repo, commits = template_repo
    done = gskill(
        "mine",
        str(repo),
        "--out",
        str(tmp_path),
        "--snapshot",
        commits["engine"],
        "--strategies",
        "procedural",
        "--max-tasks",
        "2",
        env={"GSKILL_BASE_IMAGE": base_image},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    tasks = read_tasks(tmp_path / "tasks.jsonl")
    assert len(tasks) == 2, done.stdout + done.stderr[-2000:]
    assert all(
        task.strategy.value == "procedural" and task.group.startswith("src/tmpl/__init__.py::") for task in tasks
    )
    report = json.loads((tmp_path / "mining_report.json").read_text())
    assert report["candidates"]["procedural"] >= 2 and report["empty_strategies"] == {}

    # Earlier versions cached the failed coverage step as an empty map: a resumed run measures again.
    import sqlite3

    with sqlite3.connect(tmp_path / "mining_cache.sqlite") as db:
        assert db.execute("UPDATE meta SET value = '[]' WHERE key LIKE 'coverage-nodes:%'").rowcount == 1
    again = gskill(
        "mine",
        str(repo),
        "--out",
        str(tmp_path),
        "--snapshot",
        commits["engine"],
        "--strategies",
        "procedural",
        "--max-tasks",
        "2",
        env={"GSKILL_BASE_IMAGE": base_image},
    )
    assert again.returncode == 0 and len(read_tasks(tmp_path / "tasks.jsonl")) == 2, again.stdout + again.stderr[-2000:]


def test_composite_bugs_fail_what_both_parts_failed_and_share_their_split(template_repo, base_image, tmp_path):
    """The template engine's functions call each other (render -> compile_template -> generate ->
    escape), so bugs of two or three of them fail common tests and can be combined."""
    repo, commits = template_repo
    done = gskill(
        "mine",
        str(repo),
        "--out",
        str(tmp_path),
        "--snapshot",
        commits["engine"],
        "--strategies",
        "procedural,composite",
        "--all",
        "--split",
        "6,2,2",
        env={"GSKILL_BASE_IMAGE": base_image},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    tasks = read_tasks(tmp_path / "tasks.jsonl")
    composites = [task for task in tasks if task.strategy.value == "composite"]
    assert composites, [task.strategy.value for task in tasks]
    singles = [task for task in tasks if task.strategy.value == "procedural"]

    def changed(patch: str) -> set[str]:
        return {line for line in patch.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))}

    for combo in composites:
        functions = set(combo.group.split("|"))
        assert len(functions) >= 2 and all(name.startswith("src/tmpl/__init__.py::") for name in functions)
        # Its parts: the single bugs whose changed lines it carries; it fails every test they failed.
        parts = [
            task
            for task in singles
            if task.group == combo.group and changed(task.bug_patch) <= changed(combo.bug_patch)
        ]
        # Two or three bugs of different functions (every other composite wants three).
        assert 2 <= len(parts) <= 3 and len(parts) == combo.difficulty.functions, combo.instance_id
        assert len({part.bug_patch for part in parts}) == len(parts)
        assert set().union(*(set(part.FAIL_TO_PASS) for part in parts)) <= set(combo.FAIL_TO_PASS)
        assert len({task.split for task in tasks if task.group == combo.group}) == 1  # one split for them all
    report = json.loads((tmp_path / "mining_report.json").read_text())
    assert report["validated"]["composite"] == len(composites) and "composite" not in report["empty_strategies"]
    assert_statements_clean(tmp_path)
    verify = gskill("mine", "verify", str(tmp_path), "--sample", "100", env={"GSKILL_BASE_IMAGE": base_image})
    assert verify.returncode == 0, verify.stdout + verify.stderr[-2000:]


def test_a_strategy_that_yields_nothing_says_why(template_repo, base_image, tmp_path):
    """The coverage step fails for good (the suite leaves before any test runs under coverage): the
    procedural strategy has nothing to mutate, and the report and the console say why."""
    repo, _ = template_repo
    done = mine_fixture(repo, tmp_path, base_image, "--strategies", "commit-mirror,procedural", "--max-tasks", "2")
    report = json.loads((tmp_path / "mining_report.json").read_text())
    why = report["empty_strategies"]["procedural"]
    assert why.startswith("the coverage step failed") and "No data to report" in why, why
    assert "commit-mirror" in report["empty_strategies"]  # no commit fixes source code with a test: said too
    console = " ".join((done.stdout + done.stderr).split())
    assert "warning: procedural gave no candidates: the coverage step failed" in console, console[-3000:]
    assert "warning: commit-mirror gave no candidates" in console
    assert report["tasks"] == 0
