"""Bad input is one line and a non-zero exit BEFORE anything slow: no container, no mining, no rollout.

Every command here runs with DOCKER_HOST pointing at a socket nobody serves, so a check that came after
the first container (or after the Docker check) would show up as a Docker error instead of the message
the test expects; each must also answer within seconds.
"""

from __future__ import annotations

import json
import time

import pytest

from gskill.learn import LearnOptions
from tests.helpers import ROOT, assert_one_line_error, gskill
from tests.repo_factory import commit_all, git, make_calc_repo, write
from tests.test_refresh import published  # noqa: F401 - a fixture: a repository with a published skill

NO_KEYS = {"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": ""}


def fast_one_line_error(tmp_path, *args: str, fragments: tuple[str, ...], env: dict[str, str] | None = None, cwd=None):
    began = time.monotonic()
    # PYTHONPATH: from another working directory `python -m gskill` must still import this checkout
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock", "PYTHONPATH": str(ROOT), **NO_KEYS, **(env or {})}
    done = gskill(*args, env=env, cwd=cwd)
    assert_one_line_error(done, *fragments)
    assert time.monotonic() - began < 60, "the check came after something slow"
    return done


@pytest.fixture()
def tasks_dir(tmp_path):
    """A mining output folder whose tasks point at an image that does not exist (nothing may run them)."""
    folder = tmp_path / "tasks"
    folder.mkdir()
    task = {
        "instance_id": "calc__x-1",
        "repo": "calc",
        "base_commit": "0" * 40,
        "patch": "",
        "problem_statement": "It breaks.",
        "FAIL_TO_PASS": ["tests/test_core.py::test_add"],
        "image_name": "gskill-test/absent:0",
        "strategy": "commit-mirror",
    }
    for name in ("tasks", "train", "val", "test"):
        (folder / f"{name}.jsonl").write_text(json.dumps(task) + "\n")
    return folder


# ---- 6: models are checked before the first container --------------------------------------------


@pytest.mark.parametrize(
    "model,fragments",
    [
        ("nosuch/model-x", ("--model", "no provider", "nosuch/model-x")),
        ("openai/gpt-5-mini", ("--model", "OPENAI_API_KEY")),
    ],
)
def test_eval_checks_the_model_first(tmp_path, tasks_dir, model, fragments):
    done = fast_one_line_error(
        tmp_path,
        "eval",
        "--tasks",
        str(tasks_dir),
        "--model",
        model,
        "--out",
        str(tmp_path / "o"),
        fragments=fragments,
        env={"OPENAI_API_KEY": ""},
    )
    assert "sk-" not in done.stderr


def test_a_missing_key_is_named_never_its_value(tmp_path, tasks_dir):
    # ANTHROPIC_API_KEY is set (its value must not appear), OPENAI_API_KEY is not.
    secret = "sk-gskill-sentinel-42"
    done = fast_one_line_error(
        tmp_path,
        "learn",
        "--tasks",
        str(tasks_dir),
        "--model",
        "anthropic/claude-haiku-4-5",
        "--reflection-model",
        "openai/gpt-5-mini",
        "--out",
        str(tmp_path / "r"),
        fragments=("--reflection-model", "OPENAI_API_KEY"),
        env={"ANTHROPIC_API_KEY": secret},
    )
    assert secret not in done.stdout + done.stderr


def test_learn_checks_the_models_before_mining(tmp_path):
    repo = make_calc_repo(tmp_path)
    fast_one_line_error(
        tmp_path,
        "learn",
        str(repo),
        "--model",
        "nosuch/model-x",
        fragments=("--model", "nosuch/model-x"),
        env={"GSKILL_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert not (tmp_path / "cache" / "mined").exists()


def test_transfer_checks_every_cells_model(tmp_path, tasks_dir):
    skill = tmp_path / "skill.md"
    skill.write_text("- run `pytest -q`\n")
    fast_one_line_error(
        tmp_path,
        "transfer",
        "--skill",
        str(skill),
        "--tasks",
        str(tasks_dir),
        "--matrix",
        "mini:scripted/noop,claude:anthropic/claude-haiku-4-5",
        "--out",
        str(tmp_path / "t"),
        fragments=("claude:anthropic/claude-haiku-4-5", "ANTHROPIC_API_KEY"),
    )


def test_mine_checks_its_model(tmp_path):
    repo = make_calc_repo(tmp_path)
    fast_one_line_error(
        tmp_path,
        "mine",
        str(repo),
        "--out",
        str(tmp_path / "o"),
        "--model",
        "nosuch/model-x",
        fragments=("--model", "nosuch/model-x"),
    )


def test_refresh_checks_the_recorded_models_before_mining(tmp_path, published):  # noqa: F811
    meta_path = published / ".skills" / "shop-skill" / "skill.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "model": "openai/gpt-5-mini"}))
    commit_all(published, "Record a real model")
    write(published, {"NEWS.md": "news\n"})
    commit_all(published, "A new commit")
    fast_one_line_error(
        tmp_path, "refresh", str(published), "--out", str(tmp_path / "r"), fragments=("--model", "OPENAI_API_KEY")
    )
    assert not (tmp_path / "r").exists()


# ---- 8: skill modes are the agent's own ------------------------------------------------------------


@pytest.mark.parametrize("cell", ["mini:scripted/noop@claude-md", "codex:scripted/noop@bogus"])
def test_transfer_rejects_a_skill_mode_the_agent_lacks(tmp_path, tasks_dir, cell):
    skill = tmp_path / "skill.md"
    skill.write_text("- run `pytest -q`\n")
    fast_one_line_error(
        tmp_path,
        "transfer",
        "--skill",
        str(skill),
        "--tasks",
        str(tasks_dir),
        "--matrix",
        cell,
        "--out",
        str(tmp_path / "t"),
        fragments=(cell.split("@")[1], "skill mode"),
    )


def test_learn_rejects_a_skill_mode_the_agent_lacks(tmp_path, tasks_dir):
    fast_one_line_error(
        tmp_path,
        "learn",
        "--tasks",
        str(tasks_dir),
        "--model",
        "scripted/noop",
        "--skill-mode",
        "agents-md",
        "--out",
        str(tmp_path / "r"),
        fragments=("--skill-mode", "agents-md", "mini"),
    )


# ---- 9: a skill file over the token budget ----------------------------------------------------------


@pytest.fixture()
def huge_skill(tmp_path):
    path = tmp_path / "huge.md"
    path.write_text("Use pytest -q to run the tests in tests/ and read src/calc/core.py first.\n" * 70_000)  # ~5 MB
    return path


def test_eval_rejects_a_skill_over_the_token_budget(tmp_path, tasks_dir, huge_skill):
    fast_one_line_error(
        tmp_path,
        "eval",
        "--tasks",
        str(tasks_dir),
        "--model",
        "scripted/noop",
        "--skill",
        str(huge_skill),
        "--out",
        str(tmp_path / "o"),
        fragments=("tokens", "--token-budget 2000"),
    )


def test_transfer_rejects_a_skill_over_the_token_budget(tmp_path, tasks_dir, huge_skill):
    fast_one_line_error(
        tmp_path,
        "transfer",
        "--skill",
        str(huge_skill),
        "--tasks",
        str(tasks_dir),
        "--matrix",
        "mini:scripted/noop",
        "--out",
        str(tmp_path / "t"),
        fragments=("tokens", "--token-budget 2000"),
    )


# ---- 10: learn --resume with a bad learn.json, or with flags it would ignore ---------------------------


def write_learn_json(run_dir, tasks_dir, **extra) -> None:
    run_dir.mkdir()
    options = LearnOptions(model="scripted/needs-skill", reflection_model="scripted/reflector").to_json()
    (run_dir / "learn.json").write_text(json.dumps({"tasks": str(tasks_dir), "options": {**options, **extra}}))


def test_resume_with_a_corrupt_learn_json(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "learn.json").write_text('{"tasks": "x", "options": {')
    assert_one_line_error(
        gskill("learn", "--resume", str(tmp_path / "run")), "learn.json", "not a learn run's settings"
    )


def test_resume_with_an_unknown_setting(tmp_path, tasks_dir):
    write_learn_json(tmp_path / "run", tasks_dir, temperature=0.3)
    assert_one_line_error(
        gskill("learn", "--resume", str(tmp_path / "run")), "learn.json", "unknown setting", "temperature"
    )


@pytest.mark.parametrize(
    "flags", [["--model", "scripted/oracle"], ["--agent", "codex"], ["--token-budget", "500", "--seed", "3"]]
)
def test_resume_refuses_flags_that_define_the_search(tmp_path, tasks_dir, flags):
    write_learn_json(tmp_path / "run", tasks_dir)
    done = gskill("learn", "--resume", str(tmp_path / "run"), *flags, "--max-metric-calls", "5")
    assert_one_line_error(done, "--resume", *(flag for flag in flags if flag.startswith("--")))


# ---- 11: a GSKILL_* typo --------------------------------------------------------------------------------


def test_a_top_level_setting_typo_is_rejected_like_a_nested_one(tmp_path):
    fast_one_line_error(
        tmp_path,
        "doctor",
        env={"GSKILL_BASE_IMAG": "x:1"},
        fragments=("GSKILL_BASE_IMAG", "did you mean GSKILL_BASE_IMAGE"),
    )
    fast_one_line_error(tmp_path, "doctor", env={"GSKILL_LIMITS__MEMRY": "8g"}, fragments=("limits.memry",))


def test_sandbox_markers_are_not_settings(monkeypatch):
    from gskill.config import load_settings

    monkeypatch.setenv("GSKILL_SANDBOX_ID", "abc")
    monkeypatch.setenv("GSKILL_LIMITS__MEMORY", "3g")
    assert load_settings().limits.memory == "3g"


# ---- 15: run folders default to a per-user data folder, not the current directory ---------------------


def test_refresh_run_folder_is_not_left_in_the_checkout(tmp_path, published):  # noqa: F811
    write(published, {"NEWS.md": "news\n"})
    commit_all(published, "A new commit")
    data = tmp_path / "data"
    done = fast_one_line_error(
        tmp_path,
        "refresh",
        str(published),
        fragments=("gskill refresh mines",),
        env={"XDG_DATA_HOME": str(data)},
        cwd=published,
    )
    assert not (published / "gskill-runs").exists()
    head = git(published, "rev-parse", "HEAD")[:12]
    expected = data / "gskill" / "runs" / f"{published.name}-refresh-{head}"
    assert expected.is_dir() and f"run folder: {expected}" in done.stdout.replace("\n", "")


# ---- 17: the workflows run without a process ------------------------------------------------------------


def test_refresh_runs_in_process(tmp_path, published, docker_client, monkeypatch):  # noqa: F811
    from gskill.config import load_settings
    from gskill.refresh import EXIT_UNCHANGED, refresh

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    lines: list[str] = []
    mined: list[str] = []

    def mine(repo, options, cfg):  # mines nothing: the skill's named paths all exist, so it stays fresh
        from swesmith.pipeline import MiningReport

        mined.append(repo)
        return MiningReport(repo=repo, snapshot="0" * 40, image="")

    assert refresh(published, load_settings(), mine=mine, say=lines.append) == EXIT_UNCHANGED
    assert lines[-1].startswith("unchanged: no commit since") and not mined
    write(published, {"NEWS.md": "news\n"})
    commit_all(published, "A new commit")
    assert refresh(published, load_settings(), mine=mine, say=lines.append) == EXIT_UNCHANGED
    assert mined == [str(published.resolve())] and "no new task among 1 new commit(s)" in lines[-1]
    assert lines[-2].startswith(f"run folder: {tmp_path / 'data' / 'gskill' / 'runs'}")
