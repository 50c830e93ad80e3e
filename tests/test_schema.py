"""Shared schemas: SWE-bench compatibility of Task records, JSONL round trips, package boundaries."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from gskill.schema import (
    Difficulty,
    ExitStatus,
    Grade,
    GradeStatus,
    Rollout,
    Strategy,
    Task,
    Usage,
    read_tasks,
    write_atomic,
    write_jsonl,
)


def make_task(**overrides) -> Task:
    fields = dict(
        instance_id="calc__calc-1",
        repo="calc",
        base_commit="a" * 40,
        patch="diff --git a/src/calc/__init__.py b/src/calc/__init__.py\n",
        problem_statement="clamp returns the wrong bound",
        FAIL_TO_PASS=["tests/test_calc.py::test_clamp_high"],
        PASS_TO_PASS=["tests/test_calc.py::test_add[1-2-3]", "tests/test_calc.py::test_clamp_low"],
        image_name="gskill-env/calc:aaaaaaaaaaaa-0123456789",
        strategy="commit-mirror",
        difficulty=Difficulty(files=1, hunks=1, lines=2, f2p_count=1),
        split="train",
    )
    fields.update(overrides)
    return Task(**fields)


def test_tasks_round_trip_through_jsonl(tmp_path):
    tasks = [make_task(), make_task(instance_id="calc__calc-2", strategy=Strategy.PROCEDURAL, split=None)]
    path = tmp_path / "tasks.jsonl"
    assert write_jsonl(path, tasks) == 2
    assert read_tasks(path) == tasks
    assert not path.with_suffix(".jsonl.tmp").exists()


def test_write_atomic_replaces_whole_or_not_at_all(tmp_path):
    path = tmp_path / "report.html"
    write_atomic(path, "old · page")
    write_atomic(path, "new · page")
    assert path.read_text(encoding="utf-8") == "new · page"
    with pytest.raises(UnicodeEncodeError):  # a write that fails half way
        write_atomic(path, "x" * 100_000 + "\ud800")
    assert path.read_text(encoding="utf-8") == "new · page"  # the old file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # and no temporary left behind


def test_one_write_then_rename_helper():
    # Files readers may see mid-write go through gskill.schema.write_atomic; no second copy of it.
    root = Path(__file__).parents[1]
    pattern = re.compile(r"os\.replace\(|\.replace\((path|target|dest)|tmp\w*\.rename\(")
    # Calls in this process's code only: scripts that run inside a container are string constants.
    found = [
        f"{path.relative_to(root)}:{node.lineno}"
        for folder in ("gskill", "harnesses", "swesmith")
        for path in sorted((root / folder).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and pattern.search(ast.unparse(node))
    ]
    assert len(found) == 1 and found[0].startswith("gskill/schema.py:"), found


def test_task_json_uses_swebench_key_names(tmp_path):
    record = json.loads(make_task().model_dump_json())
    for key in (
        "instance_id",
        "repo",
        "base_commit",
        "patch",
        "test_patch",
        "problem_statement",
        "FAIL_TO_PASS",
        "PASS_TO_PASS",
        "version",
        "environment_setup_commit",
        "created_at",
    ):
        assert key in record
    assert record["strategy"] == "commit-mirror" and record["split"] == "train"


def test_swebench_grading_accepts_our_tasks_unchanged():
    from swebench.harness.constants import FAIL_TO_PASS, PASS_TO_PASS, ResolvedStatus
    from swebench.harness.grading import get_eval_tests_report, get_resolution_status
    from swebench.harness.log_parsers.python import parse_log_pytest

    task = make_task().to_swebench()
    log = "\n".join(
        [
            "PASSED tests/test_calc.py::test_add[1-2-3]",
            "PASSED tests/test_calc.py::test_clamp_low",
            "FAILED tests/test_calc.py::test_clamp_high - assert 0 == 10",
        ]
    )
    report = get_eval_tests_report(
        parse_log_pytest(log, None), {FAIL_TO_PASS: task[FAIL_TO_PASS], PASS_TO_PASS: task[PASS_TO_PASS]}
    )
    assert report[FAIL_TO_PASS]["failure"] == ["tests/test_calc.py::test_clamp_high"]
    assert get_resolution_status(report) == ResolvedStatus.NO.value
    fixed = get_eval_tests_report(
        parse_log_pytest(log.replace("FAILED", "PASSED"), None),
        {FAIL_TO_PASS: task[FAIL_TO_PASS], PASS_TO_PASS: task[PASS_TO_PASS]},
    )
    assert get_resolution_status(fixed) == ResolvedStatus.FULL.value


def test_hub_style_json_encoded_test_lists_and_unknown_keys_are_accepted():
    task = make_task(FAIL_TO_PASS='["t::a", "t::b"]', PASS_TO_PASS="", hints_text="kept")
    assert task.FAIL_TO_PASS == ["t::a", "t::b"] and task.PASS_TO_PASS == []
    assert task.model_dump()["hints_text"] == "kept"


def test_bad_task_records_fail_with_the_line_number(tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text(make_task().model_dump_json() + "\n" + json.dumps({"instance_id": "x"}) + "\n")
    with pytest.raises(ValueError, match=r"tasks.jsonl:2: not a valid Task"):
        read_tasks(path)
    with pytest.raises(ValidationError):
        make_task(strategy="guesswork")


def test_tasks_written_before_languages_existed_load_as_python():
    record = make_task().model_dump(mode="json")
    del record["language"]
    assert Task.model_validate(record).language == "python"
    assert make_task(language="go").model_dump(mode="json")["language"] == "go"


def test_rollout_and_grade_records():
    usage = Usage(calls=1, input_tokens=10, output_tokens=5, cost_usd=0.01) + Usage(
        calls=2, input_tokens=1, cost_usd=0.02
    )
    assert (usage.calls, usage.input_tokens, usage.output_tokens) == (3, 11, 5)
    assert usage.cost_usd == pytest.approx(0.03)
    rollout = Rollout(
        instance_id="i", agent="mini", model="scripted/oracle", exit_status=ExitStatus.SUBMITTED, usage=usage
    )
    assert Rollout.model_validate_json(rollout.model_dump_json()) == rollout
    assert Grade(instance_id="i", status=GradeStatus.RESOLVED).resolved
    assert not Grade(instance_id="i", status=GradeStatus.INFRA_ERROR).resolved
    with pytest.raises(ValidationError):
        Rollout(instance_id="i", agent="mini", model="m", exit_status="submitted", surprise=1)


def test_package_boundaries():
    """The schema is import-light; the harness layer never imports the optimizer."""
    probe = (
        "import sys, gskill.schema; assert 'docker' not in sys.modules, 'schema imports docker';"
        "import harnesses.sandbox, harnesses.images.build, harnesses.grading, languages;"
        "languages.load_profiles(); [languages.profile_named(n).test_spec for n in languages.PROFILES];"
        "bad = [m for m in sys.modules if m.startswith(('gskill.engine', 'gskill.cli', 'swesmith.'))];"
        "assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
