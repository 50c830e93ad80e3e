"""`gskill learn` end to end: tasks mined from a fixture repo, mini-SWE-agent in real containers driven by
the skill-sensitive `scripted/needs-skill`, the `scripted/reflector` proposing skills, grading in fresh
containers. Plus a kill -9 in the middle and an exact resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gskill.schema import patch_files, read_tasks
from tests.helpers import ROOT, assert_one_line_error, gskill
from tests.repo_factory import make_library_repo

# needs-skill: a task resolves (with probability 0.9) only when the skill names the file its fix is in;
# base=0: never by luck, so every validation point is earned by what the skill says.
LEARN = [
    "--model",
    "scripted/needs-skill",
    "--reflection-model",
    "scripted/reflector",
    "--scripted",
    "base=0",
    "--max-metric-calls",
    "40",
    "--workers",
    "2",
]


def modules(tasks) -> set[str]:
    return {path for task in tasks for path in patch_files(task.patch)}


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
    every_file.write_text(
        "\n".join(f"- `{path}`" for path in sorted(modules(read_tasks(library_tasks / "tasks.jsonl"))))
    )
    done = gskill(
        "eval",
        "--tasks",
        str(library_tasks),
        "--split",
        "val",
        "--model",
        "scripted/needs-skill",
        "--skill",
        str(every_file),
        "--out",
        str(tmp_path / "attainable"),
    )
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
    assert set(evidence["test"]) == {"seed", "best"} and evidence["test"]["seed"]["tasks"] == len(
        read_tasks(library_tasks / "test.jsonl")
    )
    test_ids = {task.instance_id for task in read_tasks(library_tasks / "test.jsonl")}
    store = sqlite3.connect(reference_run / "store.sqlite")
    searched = {row[0] for row in store.execute("SELECT example FROM evaluations")}
    assert searched and not searched & test_ids  # the search never touched a test task
    candidates = [json.loads(line) for line in (reference_run / "candidates.jsonl").read_text().splitlines()]
    assert candidates[0]["operator"] == "seed" and all(c["parents"] for c in candidates[1:])
    # Rollout traces per candidate; reflection calls recorded.
    assert list((reference_run / "rollouts").glob("*/traces/*.gateway.jsonl"))
    assert (reference_run / "reflection_calls.jsonl").read_text().count("\n") == evidence["spend"]["reflection_calls"]
    # How the search ran: gskill's default parent choice, one kept child in five validated in full.
    search = evidence["search"]
    assert search["parent_selection"] == "guarded" and search["validation"] == "full"
    assert search["validate_every"] == 5 and search["raced_out_at"] == {}
    assert sum(search["children"].values()) == len(candidates) - 1 and set(search["children"]) <= {"full", "deferred"}
    deferred = [c for c in candidates if not c["val_scores"]]
    assert len(deferred) == search["children"].get("deferred", 0) - (candidates[-1]["validation"].get("at") == "end")


def _evaluations(store: Path) -> int:
    try:
        with sqlite3.connect(store) as db:
            return db.execute("SELECT count(*) FROM evaluations").fetchone()[0]
    except sqlite3.Error:
        return 0


def _containers_of(client, run_dir: Path) -> set[str]:
    """Names of the containers a run in `run_dir` started (its rollouts' and gradings')."""
    from harnesses.sandbox.docker_backend import LABEL_RUN_FOLDER

    labelled = client.containers.list(
        all=True, filters={"label": f"{LABEL_RUN_FOLDER}={run_dir.resolve()}"}, ignore_removed=True
    )
    return {container.name for container in labelled}


def test_kill_9_then_resume_ends_where_an_uninterrupted_run_does(reference_run, library_tasks, tmp_path, docker_client):
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "gskill", "learn", "--tasks", str(library_tasks), *LEARN, "--out", str(run_dir)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    deadline = time.monotonic() + 300
    # Killed while it has containers: they stay behind, until the resumed run removes them itself.
    # The run is stopped (SIGSTOP) before its containers are listed, so none can be removed between
    # seeing them and the kill; one seen twice a second apart was not on its way out either.
    while process.poll() is None and time.monotonic() < deadline:
        if _evaluations(run_dir / "store.sqlite") >= 12:
            os.killpg(process.pid, signal.SIGSTOP)
            seen = _containers_of(docker_client, run_dir)
            time.sleep(1)
            if seen & _containers_of(docker_client, run_dir):
                break
            os.killpg(process.pid, signal.SIGCONT)
        time.sleep(0.2)
    assert process.poll() is None, "the run finished before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    with sqlite3.connect(run_dir / "store.sqlite") as db:
        finished = {(c, e) for c, e in db.execute("SELECT candidate, example FROM evaluations")}
    assert 12 <= len(finished) < 40
    left_behind = _containers_of(docker_client, run_dir)
    assert left_behind, "no container of the killed run was left to remove"
    in_progress = gskill("report", str(run_dir))  # a stopped run can be reported
    assert in_progress.returncode == 0 and "in progress" in (run_dir / "report.html").read_text()

    done = gskill("learn", "--resume", str(run_dir))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    keys = ("hash", "operator", "parents", "val_scores", "tokens", "components")
    resumed = [
        {k: c[k] for k in keys} for c in map(json.loads, (run_dir / "candidates.jsonl").read_text().splitlines())
    ]
    reference = [
        {k: c[k] for k in keys} for c in map(json.loads, (reference_run / "candidates.jsonl").read_text().splitlines())
    ]
    assert resumed == reference
    assert (run_dir / "best_skill.md").read_text() == (reference_run / "best_skill.md").read_text()
    with sqlite3.connect(run_dir / "store.sqlite") as db:
        sessions = [row[0] for row in db.execute("SELECT DISTINCT session FROM executions ORDER BY id")]
        rerun = {
            (c, e)
            for c, e in db.execute("SELECT candidate, example FROM executions WHERE session = ?", (sessions[-1],))
        }
    assert len(sessions) == 2 and rerun and not rerun & finished  # no finished rollout was paid again
    # The resumed run removed the killed run's containers (no `gskill env reap`).
    assert not left_behind & {
        container.name for container in docker_client.containers.list(all=True, ignore_removed=True)
    }


def test_learn_input_errors_are_one_line(library_tasks, tmp_path):
    clean = {k: "" for k in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    assert_one_line_error(
        gskill("learn", "--tasks", str(library_tasks), "--out", str(tmp_path / "r"), env=clean),
        "no model",
        "OPENAI_API_KEY",
    )
    assert_one_line_error(gskill("learn", "--resume", str(tmp_path)), "not a learn run folder")
    assert_one_line_error(
        gskill("learn", "--tasks", str(tmp_path), *LEARN, "--out", str(tmp_path / "r")), "no train split"
    )
    assert_one_line_error(
        gskill("learn", "--tasks", str(library_tasks), *LEARN, "--mix", "1,2", "--out", str(tmp_path / "r")), "--mix"
    )
    assert_one_line_error(gskill("learn", *LEARN), "either a REPO")
    for flag, value in (("--parent", "best"), ("--validation", "half")):
        assert_one_line_error(
            gskill("learn", "--tasks", str(library_tasks), *LEARN, flag, value, "--out", str(tmp_path / "r")), flag
        )


def test_one_shot_learn_mines_drafts_a_seed_learns_and_publishes_into_the_repo(base_image, tmp_path):
    repo = make_library_repo(tmp_path)
    env = {"GSKILL_BASE_IMAGE": base_image, "GSKILL_CACHE_DIR": str(tmp_path / "cache")}
    args = [
        "learn",
        str(repo),
        *LEARN[:-4],
        "--max-metric-calls",
        "25",
        "--draft-seed",
        "--no-test",
        "--out",
        str(tmp_path / "run"),
    ]
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
    assert (
        meta["repo_commit"]
        == subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    )
    assert meta["model"] == "scripted/needs-skill" and meta["scripted"] is True and meta["tokens"] <= 2000
    # A resumed run publishes where the one-shot run did (it remembers the repository and name).
    shutil.rmtree(skill)
    resumed = gskill("learn", "--resume", str(tmp_path / "run"), env=env)
    assert resumed.returncode == 0 and "published" in resumed.stdout, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert (skill / "SKILL.md").read_text() == text
    # A second run at the same commit reuses the mined tasks.
    again = gskill(*args[:-1], str(tmp_path / "run2"), env=env)
    assert again.returncode == 0 and "reusing mined tasks" in again.stdout, again.stderr[-2000:]


def test_transfer_reports_paired_statistics_per_cell(reference_run, library_tasks, tmp_path):
    skill = reference_run / "best_skill.md"
    out = tmp_path / "transfer"
    matrix = "mini:scripted/needs-skill#base=0,mini:scripted/needs-skill#base=0.5&competent=1"
    args = [
        "transfer",
        "--skill",
        str(skill),
        "--tasks",
        str(library_tasks),
        "--split",
        "val",
        "--matrix",
        matrix,
        "--runs",
        "2",
        "--out",
        str(out),
    ]
    done = gskill(*args)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "| mini:scripted/needs-skill#base=0 |" in done.stdout and "say nothing about real models" in done.stdout
    result = json.loads((out / "transfer.json").read_text())
    val_ids = {task.instance_id for task in read_tasks(library_tasks / "val.jsonl")}
    for cell in result["cells"]:
        assert cell["pairs"] == 2 * len(val_ids) and cell["excluded_infra_pairs"] == 0
        # Recompute every figure from the two arms' own records: the table is what was measured.
        arms = {}
        for arm in ("baseline", "skill"):
            lines = out / cell["folder"] / arm / "rollouts.jsonl"
            arms[arm] = {
                (r["instance_id"], r["run_index"]): r["grade"]["status"] == "resolved"
                for r in map(json.loads, lines.read_text().splitlines())
            }
        gained = sorted(f"{t}#{i}" for (t, i), ok in arms["skill"].items() if ok and not arms["baseline"][(t, i)])
        lost = sorted(f"{t}#{i}" for (t, i), ok in arms["skill"].items() if not ok and arms["baseline"][(t, i)])
        assert cell["fail_to_pass"] == gained and cell["pass_to_fail"] == lost
        assert cell["baseline"]["resolved"] == sum(arms["baseline"].values()) and cell["skill"]["resolved"] == sum(
            arms["skill"].values()
        )
        low, high = cell["skill"]["ci95"]
        assert low <= cell["skill"]["resolve_rate"] <= high and 0 <= cell["mcnemar_p"] <= 1
    no_luck, lucky = result["cells"]
    assert no_luck["baseline"]["resolved"] == 0 and no_luck["skill"]["resolved"] > 0  # base=0: only the skill helps
    assert lucky["baseline"]["resolved"] > 0  # base=0.5: some tasks resolve without the skill
    assert (out / "transfer.md").read_text().count("\n") == 4
    again = gskill(*args)  # resumes: nothing runs twice
    assert again.returncode == 0 and json.loads((out / "transfer.json").read_text()) == result


def _chromium(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("CI=true requires chromium (scripts/test installs it)", pytrace=False)
        pytest.skip("no chromium here")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,4000",
    ]
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=120)


def test_report_renders_every_section_in_a_real_browser(reference_run, tmp_path):
    from PIL import Image

    done = gskill("report", str(reference_run))
    assert done.returncode == 0, done.stderr[-2000:]
    page = reference_run / "report.html"
    dom = _chromium("--virtual-time-budget=5000", "--dump-dom", page.as_uri(), tmp_path=tmp_path).stdout
    for section in (
        "summary",
        "scores",
        "frontier",
        "lineage",
        "spend",
        "skill",
        "transfer",
        "difficulty",
        "iterations",
    ):
        assert f'<section id="{section}">' in dom, section
    assert 'data-images-loaded="5"' in dom  # the browser decoded all five plots (difficulty: the tasks' mining)
    assert "parent guarded, validation full, one kept child in 5 validated: " in dom and "<th>validation</th>" in dom
    shot = tmp_path / "report.png"
    _chromium(f"--screenshot={shot}", page.as_uri(), tmp_path=tmp_path)
    import numpy as np

    image = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert image.shape == (4000, 1200, 3)
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    inked = float((image.min(axis=2) < 200).mean())  # text, tables, plots (measured ~3.4% here; a blank page is 0)
    orange = int(((r > 230) & (g > 100) & (g < 150) & (b < 60)).sum())  # the best-score line, #ff7f0e
    blue = int(((abs(r - 31) < 25) & (abs(g - 119) < 25) & (abs(b - 180) < 25)).sum())  # refine candidates, #1f77b4
    dark_green = int(((r < 40) & (g > 60) & (g < 120) & (b < 60)).sum())  # solved cells of the frontier grid
    assert inked > 0.02 and orange > 200 and blue > 200 and dark_green > 500, (inked, orange, blue, dark_green)


def test_reflection_bounds_a_calls_price_from_litellms_price_map(tmp_path):
    """gpt-4o in litellm 1.106.2's map: $2.50 / $10 per million tokens in / out, 16,384 output tokens at most."""
    from gskill.learn import LitellmReflection

    bound = LitellmReflection("openai/gpt-4o", log_path=tmp_path / "calls.jsonl").max_cost_usd("word " * 2000)
    assert 16_384 * 10e-6 + 2000 * 2.5e-6 <= bound <= 16_384 * 10e-6 + 2100 * 2.5e-6
    assert LitellmReflection("scripted/reflector", log_path=tmp_path / "c").max_cost_usd("x") == 0.0
    assert (
        LitellmReflection("nobody/unpriced-model", log_path=tmp_path / "c").max_cost_usd("x") is None
    )  # the fixed reserve applies
