"""`gskill learn` end to end: tasks mined from a fixture repo, mini-SWE-agent in real containers driven by
the skill-sensitive `scripted/needs-skill`, the `scripted/reflector` proposing skills, grading in fresh
containers. Plus a kill -9 in the middle and an exact resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gskill.schema import patch_files, read_tasks
from tests.repo_factory import make_library_repo
from tests.test_cli import ROOT, assert_one_line_error, gskill

# needs-skill: a task resolves (with probability 0.9) only when the skill names the file its fix is in;
# base=0: never by luck, so every validation point is earned by what the skill says.
LEARN = ["--model", "scripted/needs-skill", "--reflection-model", "scripted/reflector", "--scripted", "base=0",
         "--max-metric-calls", "40", "--workers", "2"]  # fmt: skip


def modules(tasks) -> set[str]:
    return {path for task in tasks for path in patch_files(task.patch)}


@pytest.fixture(scope="module")
def library_tasks(base_image, tmp_path_factory) -> Path:
    repo = make_library_repo(tmp_path_factory.mktemp("library"))
    out = tmp_path_factory.mktemp("library-tasks")
    done = gskill("mine", str(repo), "--out", str(out), "--strategies", "procedural", "--all", "--split", "10,5,5",
                  "--seed", "2", env={"GSKILL_BASE_IMAGE": base_image})  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    train, val = read_tasks(out / "train.jsonl"), read_tasks(out / "val.jsonl")
    # The premise of the learning test: what validation needs can be learned from training failures.
    assert len(train) >= 6 and len(val) >= 4 and modules(val) <= modules(train), (modules(train), modules(val))
    return out


@pytest.fixture(scope="module")
def reference_run(library_tasks, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("learn") / "run"
    done = gskill("learn", "--tasks", str(library_tasks), *LEARN, "--out", str(run_dir))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "say nothing about real models" in done.stdout
    return run_dir


def test_learning_reaches_the_attainable_maximum_on_validation(reference_run, library_tasks, tmp_path):
    evidence = json.loads((reference_run / "evidence.json").read_text())
    # The attainable maximum: a skill naming every source file, scored by the same pipeline.
    every_file = tmp_path / "every-file.md"
    every_file.write_text("\n".join(f"- `{path}`" for path in sorted(modules(read_tasks(library_tasks / "tasks.jsonl")))))
    done = gskill("eval", "--tasks", str(library_tasks), "--split", "val", "--model", "scripted/needs-skill",
                  "--skill", str(every_file), "--out", str(tmp_path / "attainable"))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    # eval has no --scripted flag; its default base competence (0.1) can only raise this bar
    attainable = json.loads((tmp_path / "attainable" / "summary.json").read_text())["resolve_rate"]
    assert evidence["seed"]["val_mean"] == 0.0 and attainable >= 0.6
    assert evidence["best"]["val_mean"] >= 0.8 * attainable, (evidence["best"], attainable)
    assert evidence["best"]["tokens"] <= evidence["best"]["token_budget"] == 2000
    best = (reference_run / "best_skill.md").read_text()
    assert best == evidence["best"]["text"] and "src/shop/" in best and evidence["diff_vs_seed"].startswith("--- seed")
    # The budget held, and the test split was scored apart from the search, for the seed and the best.
    assert evidence["spend"]["metric_calls"] <= 40 and evidence["executions"] <= 40
    assert set(evidence["test"]) == {"seed", "best"} and evidence["test"]["seed"]["tasks"] == len(read_tasks(library_tasks / "test.jsonl"))
    test_ids = {task.instance_id for task in read_tasks(library_tasks / "test.jsonl")}
    store = sqlite3.connect(reference_run / "store.sqlite")
    searched = {row[0] for row in store.execute("SELECT example FROM evaluations")}
    assert searched and not searched & test_ids  # the search never touched a test task
    candidates = [json.loads(line) for line in (reference_run / "candidates.jsonl").read_text().splitlines()]
    assert candidates[0]["operator"] == "seed" and all(c["parents"] for c in candidates[1:])
    # Rollout traces per candidate; reflection calls recorded.
    assert list((reference_run / "rollouts").glob("*/traces/*.gateway.jsonl"))
    assert (reference_run / "reflection_calls.jsonl").read_text().count("\n") == evidence["spend"]["reflection_calls"]


def _evaluations(store: Path) -> int:
    try:
        with sqlite3.connect(store) as db:
            return db.execute("SELECT count(*) FROM evaluations").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_kill_9_then_resume_ends_where_an_uninterrupted_run_does(reference_run, library_tasks, tmp_path, docker_client):
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "gskill", "learn", "--tasks", str(library_tasks), *LEARN, "--out", str(run_dir)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while _evaluations(run_dir / "store.sqlite") < 12 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.poll() is None, "the run finished before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    with sqlite3.connect(run_dir / "store.sqlite") as db:
        finished = {(c, e) for c, e in db.execute("SELECT candidate, example FROM evaluations")}
    assert 12 <= len(finished) < 40
    gskill("env", "reap")  # the killed run's containers

    done = gskill("learn", "--resume", str(run_dir))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    keys = ("hash", "operator", "parents", "val_scores", "tokens", "components")
    resumed = [{k: c[k] for k in keys} for c in map(json.loads, (run_dir / "candidates.jsonl").read_text().splitlines())]
    reference = [{k: c[k] for k in keys} for c in map(json.loads, (reference_run / "candidates.jsonl").read_text().splitlines())]
    assert resumed == reference
    assert (run_dir / "best_skill.md").read_text() == (reference_run / "best_skill.md").read_text()
    with sqlite3.connect(run_dir / "store.sqlite") as db:
        sessions = [row[0] for row in db.execute("SELECT DISTINCT session FROM executions ORDER BY id")]
        rerun = {(c, e) for c, e in db.execute("SELECT candidate, example FROM executions WHERE session = ?", (sessions[-1],))}
    assert len(sessions) == 2 and rerun and not rerun & finished  # no finished rollout was paid again


def test_learn_input_errors_are_one_line(library_tasks, tmp_path):
    clean = {k: "" for k in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    assert_one_line_error(gskill("learn", "--tasks", str(library_tasks), "--out", str(tmp_path / "r"), env=clean), "no model", "OPENAI_API_KEY")
    assert_one_line_error(gskill("learn", "--resume", str(tmp_path)), "not a learn run folder")
    assert_one_line_error(gskill("learn", "--tasks", str(tmp_path), *LEARN, "--out", str(tmp_path / "r")), "no train split")
    assert_one_line_error(gskill("learn", "--tasks", str(library_tasks), *LEARN, "--mix", "1,2", "--out", str(tmp_path / "r")), "--mix")
    assert_one_line_error(gskill("learn", *LEARN), "either a REPO")


def test_one_shot_learn_mines_drafts_a_seed_learns_and_publishes_into_the_repo(base_image, tmp_path):
    repo = make_library_repo(tmp_path)
    env = {"GSKILL_BASE_IMAGE": base_image, "GSKILL_CACHE_DIR": str(tmp_path / "cache")}
    args = ["learn", str(repo), *LEARN[:-4], "--max-metric-calls", "25", "--draft-seed", "--no-test", "--out", str(tmp_path / "run")]
    done = gskill(*args, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "mined" in done.stdout and "drafted a seed skill" in done.stdout and "published" in done.stdout
    seed = json.loads((tmp_path / "run" / "learn.json").read_text())["options"]["seed_skill"]
    assert "`src/shop/`: source" in seed and "`tests/`: tests" in seed  # drafted from the layout
    skill = repo / ".skills" / "shop-skill"
    text = (skill / "SKILL.md").read_text()
    front, body = text.split("---\n", 2)[1:]
    assert "name: shop-skill\n" in front and "description:" in front
    assert body.strip() == (tmp_path / "run" / "best_skill.md").read_text().strip()
    meta = json.loads((skill / "skill.json").read_text())
    assert meta["repo_commit"] == subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert meta["model"] == "scripted/needs-skill" and meta["scripted"] is True and meta["tokens"] <= 2000
    # A second run at the same commit reuses the mined tasks.
    again = gskill(*args[:-1], str(tmp_path / "run2"), env=env)
    assert again.returncode == 0 and "reusing mined tasks" in again.stdout, again.stderr[-2000:]
