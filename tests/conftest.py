"""Shared fixtures. Docker-marked tests skip on a laptop without an engine, but FAIL under CI=true:
CI must prove the Docker paths, so a skipped Docker test there is a red build.

A test that uses a Docker fixture is marked `docker` automatically when it names the fixture; one that
reaches Docker at run time (`request.getfixturevalue`) must carry the mark itself (e.g.
`pytest.param("docker", marks=pytest.mark.docker)`). Under `-m "not docker"` any Docker fixture set
up anyway fails the test loudly: that run never starts a container or builds an image."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import IN_CI
from tests.repo_factory import make_calc_repo

_skipped_docker_tests: list[str] = []


def _need(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true requires Docker: {reason}", pytrace=False)
    pytest.skip(reason)


def docker_excluded(config) -> bool:
    """True when `-m` deselects docker-marked tests (e.g. `-m "not docker"`)."""
    from _pytest.mark.expression import Expression

    markexpr = config.getoption("markexpr", "")
    return bool(markexpr) and not Expression.compile(markexpr).evaluate(lambda name, **_: name == "docker")


@pytest.fixture(scope="session")
def docker_client(request):
    # Every Docker fixture starts here: the one place to stop a test that escaped the docker mark.
    if docker_excluded(request.config):
        test = os.environ.get("PYTEST_CURRENT_TEST", "a test").rsplit(" ", 1)[0]
        pytest.fail(
            f"{test} uses Docker but is not marked docker, so -m {request.config.getoption('markexpr')!r} "
            "did not deselect it: mark it (pytest.mark.docker, or pytest.param(..., marks=pytest.mark.docker))",
            pytrace=False,
        )
    from harnesses.sandbox import SandboxError
    from harnesses.sandbox import docker_client as connect

    try:
        return connect(timeout=60)
    except SandboxError as exc:
        _need(str(exc))


@pytest.fixture(scope="session")
def base_image(docker_client) -> str:
    """The image sandboxes and env builds start from: configured, else the offline fallback."""
    from gskill.config import load_settings

    settings = load_settings()
    for name in (settings.base_image, settings.base_image_fallback):
        if name:
            try:
                docker_client.images.get(name)
                return name
            except Exception:
                continue
    _need(f"no base image ({settings.base_image} / {settings.base_image_fallback}); run `gskill env base`")


@pytest.fixture(scope="session")
def calc_repo(tmp_path_factory) -> Path:
    return make_calc_repo(tmp_path_factory.mktemp("repos"))


@pytest.fixture(scope="session")
def calc_env_image(docker_client, base_image, calc_repo, tmp_path_factory) -> str:
    """The env image of the calc fixture repo (built once per session; reused across sessions)."""
    from harnesses.images.build import build_env_image, host_ca_bundle, resolve_snapshot

    snapshot = resolve_snapshot(calc_repo, None, tmp_path_factory.mktemp("cache"))
    env = build_env_image(
        docker_client,
        snapshot,
        base_image=base_image,
        cache_dir=tmp_path_factory.mktemp("cache"),
        ca_bundle=host_ca_bundle(),
    )
    assert env.collected == 7, env.report
    return env.image


@pytest.fixture(scope="session")
def mined_tasks(base_image, tmp_path_factory) -> Path:
    """Two commit-mirror tasks mined from the fixture history (tests/repo_factory.make_history_repo)."""
    from gskill.schema import read_tasks
    from tests.helpers import mine_fixture
    from tests.repo_factory import make_history_repo

    repo, _ = make_history_repo(tmp_path_factory.mktemp("history"))
    out = tmp_path_factory.mktemp("mined")
    mine_fixture(repo, out, base_image, "--strategies", "commit-mirror")
    assert len(read_tasks(out / "tasks.jsonl")) == 2
    return out


@pytest.fixture(scope="session")
def tally_tasks(base_image, tmp_path_factory) -> Path:
    """Commit-mirror and commit-historical tasks of the `tally` fixture repo, whose F2P tests are hard
    to hide (tests/repo_factory.make_tally_repo): two of each strategy."""
    from gskill.schema import read_tasks
    from tests.helpers import mine_fixture
    from tests.repo_factory import make_tally_repo

    repo, _ = make_tally_repo(tmp_path_factory.mktemp("tally"))
    out = tmp_path_factory.mktemp("tally-tasks")
    mine_fixture(repo, out, base_image, "--strategies", "commit-mirror,commit-historical")
    strategies = sorted(task.strategy.value for task in read_tasks(out / "tasks.jsonl"))
    assert strategies == ["commit-historical"] * 2 + ["commit-mirror"] * 2, strategies
    return out


@pytest.fixture(scope="session")
def library_tasks(base_image, tmp_path_factory) -> Path:
    """Procedural tasks of the 4-module `shop` fixture repo (tests/repo_factory.make_library_repo)."""
    from gskill.schema import patch_files, read_tasks
    from tests.helpers import mine_fixture
    from tests.repo_factory import make_library_repo

    def modules(tasks):
        return {path for task in tasks for path in patch_files(task.patch)}

    repo = make_library_repo(tmp_path_factory.mktemp("library"))
    out = tmp_path_factory.mktemp("library-tasks")
    mine_fixture(repo, out, base_image, "--strategies", "procedural", "--all", "--split", "10,5,5", "--seed", "2")
    train, val = read_tasks(out / "train.jsonl"), read_tasks(out / "val.jsonl")
    # The premise of the learning test: what validation needs can be learned from training failures.
    assert len(train) >= 6 and len(val) >= 4 and modules(val) <= modules(train), (modules(train), modules(val))
    return out


def pytest_collection_modifyitems(config, items):
    # Any test using a Docker fixture is a docker test, marked or not.
    for item in items:
        if {"docker_client", "base_image", "calc_env_image"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.docker)


def pytest_runtest_logreport(report):
    if report.skipped and "docker" in report.keywords:
        _skipped_docker_tests.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if IN_CI and _skipped_docker_tests:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter):
    if _skipped_docker_tests:
        verdict = "FAILED the run (CI=true)" if IN_CI else "skipped: no Docker here"
        terminalreporter.write_line(f"{len(_skipped_docker_tests)} docker test(s) {verdict}")
    docker_ran = terminalreporter.stats.get("passed", [])
    count = sum(1 for rep in docker_ran if "docker" in rep.keywords)
    terminalreporter.write_line(f"docker tests passed: {count}")
