"""Environment images: contents, hygiene, the repair loop, and deterministic reuse."""

from __future__ import annotations

import json

import pytest

from harnesses.images.build import (
    RepoSnapshot,
    build_env_image,
    env_recipe,
    host_ca_bundle,
    image_name,
    resolve_snapshot,
)
from harnesses.sandbox import DockerSandbox
from tests.repo_factory import commit_all, make_calc_repo, write


def test_image_runs_the_repo_test_suite(calc_env_image):
    with DockerSandbox.start(calc_env_image) as box:
        result = box.exec("python -m pytest -q -p no:cacheprovider", timeout=120)
        assert result.exit_code == 0, result.output
        assert "7 passed" in result.output


def test_image_holds_a_fresh_history_and_no_bytecode_of_the_snapshot(calc_env_image):
    """What later keeps task containers from leaking the fix: no upstream history, no stale .pyc."""
    with DockerSandbox.start(calc_env_image) as box:
        assert box.exec("git rev-list --all --count").output.strip() == "1"
        assert box.exec("git remote").output.strip() == ""
        assert box.exec("git stash list; git reflog | wc -l").output.split() == ["1"]
        assert (
            box.exec("find /repo -name '*.pyc' -o -name __pycache__ | grep -v '^/repo/.git' | wc -l").output.strip()
            == "0"
        )
        # Build leftovers (egg-info etc.) must not show up as the agent's patch.
        assert box.diff() == ""
        # The editable install points at /repo, so edits there are what the tests import.
        box.exec("sed -i 's/return a + b/return 42/' src/calc/__init__.py")
        assert box.exec("python -c 'import calc; print(calc.add(1, 2))'").output.strip() == "42"
        report = json.loads(box.read_file("/opt/gskill/env.json"))
        assert report["collected"] == 7


def test_repair_loop_installs_modules_the_tests_import(docker_client, base_image, tmp_path):
    # The tests import `six`, which no dependency file declares: collection fails until repaired.
    repo = make_calc_repo(tmp_path, {"tests/test_six.py": "import six\n\n\ndef test_six():\n    assert six.PY3\n"})
    snapshot = resolve_snapshot(repo, None, tmp_path / "cache")
    env = build_env_image(
        docker_client, snapshot, base_image=base_image, cache_dir=tmp_path / "cache", ca_bundle=host_ca_bundle()
    )
    try:
        assert env.collected == 8, env.report
        installed = [name for rnd in env.report["rounds"] for name in rnd["installed"]]
        assert installed == ["six"]
        with DockerSandbox.start(env.image) as box:
            assert "8 passed" in box.exec("python -m pytest -q -p no:cacheprovider", timeout=120).output
        again = build_env_image(docker_client, snapshot, base_image=base_image, cache_dir=tmp_path / "cache")
        assert again.reused and again.image == env.image and again.build_seconds < 1.0
    finally:
        docker_client.images.remove(env.image, force=True)


def test_image_name_is_a_function_of_commit_dependencies_and_base(tmp_path):
    repo = make_calc_repo(tmp_path)
    first = resolve_snapshot(repo, None, tmp_path)
    spec = env_recipe(first)
    name = image_name(first, spec, "sha256:base1")
    assert name == image_name(first, spec, "sha256:base1")
    assert name.startswith(f"gskill-env/calc:{first.commit[:12]}-")
    assert name != image_name(first, spec, "sha256:base2")
    write(repo, {"requirements-test.txt": "six\n"})
    second = resolve_snapshot(repo, commit_all(repo, "test requirements"), tmp_path)
    assert image_name(second, env_recipe(second), "sha256:base1") != name
    # Dependencies are read at the commit, not from the working tree.
    write(repo, {"requirements-test.txt": "attrs\n"})
    assert env_recipe(second) == env_recipe(resolve_snapshot(repo, second.commit, tmp_path))


def test_snapshot_names_are_docker_safe(tmp_path):
    odd = tmp_path / "My Repo.Name!"
    make_calc_repo(tmp_path).rename(odd)
    snapshot = resolve_snapshot(odd, "HEAD", tmp_path)
    assert isinstance(snapshot, RepoSnapshot) and snapshot.name == "my-repo.name"


@pytest.mark.parametrize("bad", ["no-such-branch", "0" * 40])
def test_unknown_commits_are_rejected(tmp_path, bad):
    from gskill.errors import GskillError

    with pytest.raises(GskillError, match="unknown commit"):
        resolve_snapshot(make_calc_repo(tmp_path), bad, tmp_path)


def test_git_urls_are_cloned_into_the_cache_and_refreshed(tmp_path):
    repo = make_calc_repo(tmp_path)
    url = f"file://{repo}"
    first = resolve_snapshot(url, None, tmp_path / "cache")
    assert first.name == "calc" and first.path.is_relative_to(tmp_path / "cache" / "repos")
    write(repo, {"NEWS.md": "more\n"})
    newer = commit_all(repo, "news")
    assert resolve_snapshot(url, newer, tmp_path / "cache").commit == newer  # fetched, not re-cloned
