"""Small real git repositories built by tests (no network, no fetched code)."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "fixture", "GIT_AUTHOR_EMAIL": "fixture@example.com",
    "GIT_COMMITTER_NAME": "fixture", "GIT_COMMITTER_EMAIL": "fixture@example.com",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}  # fmt: skip


def git(repo: Path, *args: str) -> str:
    import os

    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env={**os.environ, **GIT_ENV}, check=True)
    return done.stdout.strip()


def write(repo: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        target = repo / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"))


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


CALC_FILES = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "calc"
        version = "0.1.0"

        [project.optional-dependencies]
        test = ["pytest"]

        [tool.setuptools.packages.find]
        where = ["src"]
    """,
    "src/calc/__init__.py": """
        def add(a, b):
            return a + b


        def clamp(value, low, high):
            if value < low:
                return low
            if value > high:
                return high
            return value
    """,
    "tests/test_calc.py": """
        import pytest

        from calc import add, clamp


        @pytest.mark.parametrize("a,b,total", [(1, 2, 3), (0, 0, 0), (-1, 1, 0), (10, 5, 15)])
        def test_add(a, b, total):
            assert add(a, b) == total


        def test_clamp_low():
            assert clamp(-5, 0, 10) == 0


        def test_clamp_high():
            assert clamp(50, 0, 10) == 10


        def test_clamp_inside():
            assert clamp(5, 0, 10) == 5
    """,
    ".gitignore": "__pycache__/\n",
}


def make_calc_repo(root: Path, extra_files: dict[str, str] | None = None) -> Path:
    """A tiny installable package with 7 passing pytest tests, two commits of history."""
    repo = root / "calc"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    write(repo, {"README.md": "calc\n"})
    commit_all(repo, "initial")
    write(repo, {**CALC_FILES, **(extra_files or {})})
    commit_all(repo, "add calc")
    return repo
