"""What a newcomer's first run needs. `pytest -m "not docker"` is the fast suite: it must never start a
container or build an image. Tests that reach Docker only at run time (`request.getfixturevalue`) escape
the automatic marking, so conftest stops them loudly; a tiny test file checks that guard in a real
pytest run. And a client only some tests need (the `dev` extra) skips those tests when it is missing
(fails them under CI=true) instead of breaking a whole module's collection."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import ROOT

TINY = """
import pytest


def test_reaches_docker_at_run_time(request):
    request.getfixturevalue("calc_env_image")


@pytest.mark.docker
def test_marked(calc_env_image):
    pass


def test_plain():
    pass
"""


def _pytest(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_a_docker_fixture_under_not_docker_fails_loudly(tmp_path):
    tiny = tmp_path / "test_tiny.py"
    tiny.write_text(TINY)
    # No engine at this address: without the guard the fixture would quietly skip, not fail.
    done = _pytest(
        "-p",
        "tests.conftest",
        "-m",
        "not docker",
        "-q",
        str(tiny),
        env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    )
    out = " ".join(done.stdout.split())
    assert done.returncode == 1, out
    assert "1 failed, 1 passed, 1 deselected" in out, out
    assert "::test_reaches_docker_at_run_time uses Docker but is not marked docker" in out, out


def test_the_sandbox_tests_under_not_docker_run_the_local_backend_only():
    done = _pytest("-m", "not docker", "--collect-only", "-q", "tests/test_sandbox.py")
    assert done.returncode == 0, done.stdout[-2000:]
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    assert collected and all(line.endswith("[local]") for line in collected), collected


def test_a_missing_optional_client_skips_its_tests_and_fails_them_in_ci(tmp_path):
    shadow = tmp_path / "shadow" / "anthropic"  # what a venv without the dev extra looks like
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'anthropic'\", name='anthropic')\n"
    )
    env = {"PYTHONPATH": str(tmp_path / "shadow"), "CI": ""}
    done = _pytest("-q", "-rs", "tests/test_gateway.py", "-k", "anthropic", env=env)
    assert done.returncode == 0 and "2 skipped" in done.stdout and "anthropic is not installed" in done.stdout, (
        done.stdout[-2000:]
    )
    in_ci = _pytest("-q", "tests/test_gateway.py", "-k", "anthropic", env={**env, "CI": "true"})
    assert in_ci.returncode == 1 and "2 failed" in in_ci.stdout and "CI=true requires anthropic" in in_ci.stdout, (
        in_ci.stdout[-2000:]
    )


def test_the_readmes_one_fast_test_runs_and_passes():
    line = next(line for line in (ROOT / "README.md").read_text().splitlines() if line.endswith("# one fast test"))
    args = line.split("#")[0].split()
    assert args[:3] == [".venv/bin/python", "-m", "pytest"], line
    done = _pytest(*args[3:], "-q")
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout[-2000:]


def test_the_gepa_benchmark_without_gepa_says_what_to_install(tmp_path):
    shadow = tmp_path / "shadow" / "gepa"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'gepa'\", name='gepa')\n")
    done = subprocess.run(
        [sys.executable, "benchmarks/engine_vs_gepa.py", "--seeds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "shadow")},
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == "this benchmark runs upstream gepa too: pip install -e .[bench]"
