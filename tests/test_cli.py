"""The CLI as a user meets it: real subprocesses, exit codes, and exactly one line per error."""

from __future__ import annotations

import os

import pytest

from tests.helpers import assert_one_line_error, gskill
from tests.repo_factory import make_calc_repo


def test_env_build_rejects_a_path_that_is_not_a_git_repo(tmp_path):
    assert_one_line_error(gskill("env", "build", str(tmp_path)), "not a git repository", str(tmp_path))


def test_env_build_rejects_a_missing_path(tmp_path):
    assert_one_line_error(gskill("env", "build", str(tmp_path / "nope")), "does not exist")


def test_env_build_rejects_an_unknown_commit(tmp_path):
    repo = make_calc_repo(tmp_path)
    assert_one_line_error(gskill("env", "build", str(repo), "--commit", "no-such-ref"), "unknown commit 'no-such-ref'")


@pytest.mark.parametrize(
    "content,fragment",
    [
        (None, "cannot read config file"),  # missing file
        ("limits: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("limits:\n  cpus: -1\n", "limits.cpus"),
        ("no_such_setting: 1\n", "no_such_setting"),
    ],
)
def test_bad_config_is_one_line(tmp_path, content, fragment):
    config = tmp_path / "gskill.yaml"
    if content is not None:
        config.write_text(content)
    assert_one_line_error(gskill("--config", str(config), "doctor"), fragment)


def test_unreadable_config(tmp_path):
    config = tmp_path / "gskill.yaml"
    config.write_text("sandbox: docker\n")
    config.chmod(0)
    if os.access(config, os.R_OK):  # root reads anything: make it a directory instead
        config.chmod(0o644)
        config.unlink()
        config.mkdir()
    assert_one_line_error(gskill("--config", str(config), "doctor"), "cannot read config file")


def test_config_file_and_environment_layering(tmp_path):
    from gskill.config import load_settings

    config = tmp_path / "gskill.yaml"
    config.write_text("base_image: from-file:1\nlimits:\n  memory: 2g\n  cpus: 1\n")
    env = {"GSKILL_LIMITS__MEMORY": "8g"}
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        settings = load_settings(config)
    finally:
        for key, value in old.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    assert settings.base_image == "from-file:1"  # file beats default
    assert settings.limits.memory == "8g"  # environment beats file
    assert settings.limits.cpus == 1


def test_doctor_without_an_engine_names_it(tmp_path):
    done = gskill("doctor", env={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"})
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: not ready: docker engine")


def test_doctor_ready_and_never_prints_key_values(docker_client, base_image):
    sentinel = "sk-gskill-sentinel-0123456789"
    done = gskill("doctor", env={"OPENAI_API_KEY": sentinel, "GSKILL_BASE_IMAGE": base_image})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ready" in done.stdout and "OPENAI_API_KEY" in done.stdout
    assert sentinel not in done.stdout + done.stderr


def test_doctor_names_a_missing_base_image(docker_client):
    done = gskill("doctor", env={"GSKILL_BASE_IMAGE": "gskill-test/absent:0", "GSKILL_BASE_IMAGE_FALLBACK": ""})
    assert_one_line_error(done, "base image", "gskill-test/absent:0")


def test_env_build_reuses_an_identical_image_quickly(calc_repo, calc_env_image, base_image):
    # calc_env_image built it already; a second request must reuse it, not rebuild.
    done = gskill("env", "build", str(calc_repo), env={"GSKILL_BASE_IMAGE": base_image})
    assert done.returncode == 0, done.stderr
    assert f"reusing existing image {calc_env_image}" in done.stdout
    seconds = float(done.stdout.split(f"{calc_env_image} (")[1].split("s)")[0])
    assert seconds < 1.0, done.stdout
    assert "test suite collects 7 tests" in done.stdout


def test_help_lists_commands():
    done = gskill("--help")
    assert done.returncode == 0
    assert "doctor" in done.stdout and "env" in done.stdout


def test_progress_in_a_log_is_a_plain_line_now_and_then(capsys, monkeypatch):
    """Not a terminal (a nightly job's log): a bar prints its first update, its completion, and at most
    one line per interval between them; a repeated completion prints nothing."""
    from gskill import cli

    clock = iter([0.0, 1.0, 2.0, 40.0, 41.0, 42.0, 43.0])
    monkeypatch.setattr(cli.time, "monotonic", lambda: next(clock))
    update = cli._progress_lines(every_s=30)
    for done in (0, 1, 2, 3):  # t = 1, 2, 40, 41
        update("validate", done, 10, note="validate")
    update("validate", 10, 10)  # t = 42: done
    update("validate", 10, 10)  # t = 43: the same again
    lines = capsys.readouterr().err.splitlines()
    assert [line.split("s]", 1)[1].split() for line in lines] == [
        ["validate", "0/10", "validate"],
        ["validate", "2/10", "validate"],
        ["validate", "10/10"],
    ]
