"""`gskill refresh` on a fixture repository: unchanged, fresh after new commits, stale after a rename
(re-learned from the current skill and published again), and one refresh at a time."""

from __future__ import annotations

import json
import subprocess

import pytest

from gskill.errors import GskillError
from gskill.refresh import RepoLock, carry_renames, missing_paths, referenced_paths, renamed_paths
from gskill.skills import publish
from tests.helpers import assert_one_line_error, gskill
from tests.repo_factory import commit_all, git, make_library_repo, write

SKILL = """---
name: shop-skill
description: "Where things live in shop."
---

# Working in this repository

- `src/shop/pricing.py`: prices, discounts and tax.
- `src/shop/stock.py`: stock levels.
- Tests live in `tests/`; run `python -m pytest -q`.
"""
SCRIPTED = [
    "--model",
    "scripted/needs-skill",
    "--reflection-model",
    "scripted/reflector",
    "--scripted",
    "base=0",
    "--scripted",
    "competent=1",
]


@pytest.fixture()
def published(tmp_path):
    repo = make_library_repo(tmp_path)
    folder = repo / ".skills" / "shop-skill"
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(SKILL)
    meta = {
        "name": "shop-skill",
        "repo_commit": git(repo, "rev-parse", "HEAD"),
        "agent": "mini",
        "model": "scripted/needs-skill",
        "reflection_model": "scripted/reflector",
        "test": {"best": {"resolved": 4, "scored_runs": 5, "resolve_rate": 0.8}},
    }
    (folder / "skill.json").write_text(json.dumps(meta))
    commit_all(repo, "Publish the learned skill")  # as the nightly job does: a commit that touches only .skills/
    return repo


def test_referenced_paths_and_missing_ones(published):
    assert referenced_paths(SKILL) == ["src/shop/pricing.py", "src/shop/stock.py", "tests/"]
    assert missing_paths(published, SKILL) == []
    assert missing_paths(published, SKILL + "\n- `src/shop/gone.py` and `docs/`\n") == ["docs/", "src/shop/gone.py"]


def test_refresh_unchanged_fresh_and_stale(published, base_image, tmp_path):
    env = {"GSKILL_BASE_IMAGE": base_image, "GSKILL_CACHE_DIR": str(tmp_path / "cache")}
    run = lambda out: gskill(
        "refresh", str(published), *SCRIPTED, "--max-metric-calls", "20", "--out", str(tmp_path / out), env=env
    )  # noqa: E731
    same = run("r0")
    assert same.returncode == 0 and "unchanged" in same.stdout and "no commit since" in same.stdout, same.stderr[-2000:]

    # A new commit fixes a pricing bug with a test: one new task, which the skill (it names pricing.py) resolves.
    pricing = (published / "src/shop/pricing.py").read_text()
    write(
        published,
        {
            "src/shop/pricing.py": pricing.replace(
                "return round(amount * rate, 2)",
                "if amount < 0:\n        return 0.0\n    return round(amount * rate, 2)",
            ),
            "tests/test_pricing_refunds.py": "from shop.pricing import tax\n\n\ndef test_no_tax_on_refunds():\n    assert tax(-10) == 0.0\n",
        },
    )
    commit_all(published, "pricing: no tax on refunds")
    fresh = run("r1")
    assert fresh.returncode == 0 and "is fresh" in fresh.stdout, fresh.stdout[-2000:] + fresh.stderr[-3000:]
    verdict = json.loads((tmp_path / "r1" / "refresh.json").read_text())
    assert (
        verdict["new_commits"] == 1
        and 1 <= verdict["new_tasks"] <= 2
        and verdict["rate"] == 1.0
        and not verdict["stale"]
    )
    assert (
        sum(verdict["mining"]["candidates"].values()) <= 2
    )  # the one new commit (mirrored, historical), nothing older

    # stock.py is renamed: the skill now names a path that does not exist -> stale -> re-learned and published.
    git(published, "mv", "src/shop/stock.py", "src/shop/inventory.py")
    tests = (published / "tests/test_stock.py").read_text().replace("shop.stock", "shop.inventory")
    (published / "tests/test_stock.py").write_text(tests)
    head = commit_all(published, "Rename stock to inventory")
    stale = run("r2")
    assert stale.returncode == 10, stale.stdout[-2000:] + stale.stderr[-3000:]
    assert (
        "stale: the skill names paths that no longer exist: src/shop/stock.py" in stale.stdout
        and "refreshed:" in stale.stdout
    )
    meta = json.loads((published / ".skills/shop-skill/skill.json").read_text())
    assert meta["repo_commit"] == head and meta["model"] == "scripted/needs-skill"
    learned = json.loads((tmp_path / "r2" / "learn" / "learn.json").read_text())["options"]
    # Re-learned FROM the current skill, with the rename git saw carried in; reflection is told what is gone.
    assert "carried renames into the skill: src/shop/stock.py → src/shop/inventory.py" in stale.stdout
    assert learned["seed_skill"].strip() == SKILL.split("---\n", 2)[2].strip().replace(
        "src/shop/stock.py", "src/shop/inventory.py"
    )
    assert "`src/shop/stock.py` (now `src/shop/inventory.py`)" in learned["background"]
    # The published skill names only the path that exists now.
    published_text = (published / ".skills/shop-skill/SKILL.md").read_text()
    assert "`src/shop/inventory.py`" in published_text and "stock.py" not in published_text
    assert missing_paths(published, published_text) == []
    again = run("r3")
    assert again.returncode == 0 and "no commit since" in again.stdout


def test_one_refresh_at_a_time_and_bad_input(published, tmp_path):
    with RepoLock(published):
        assert_one_line_error(gskill("refresh", str(published), *SCRIPTED), "another gskill refresh")
    assert_one_line_error(gskill("refresh", str(tmp_path / "nowhere")), "not a git repository")
    bare = make_library_repo(tmp_path / "bare")
    assert_one_line_error(gskill("refresh", str(bare)), "no published skill")
    assert (
        subprocess.run(
            ["git", "-C", str(published), "status", "--porcelain"], capture_output=True, text=True
        ).stdout.strip()
        == ""
    )


def _learn_run(folder, skill: str):
    folder.mkdir(parents=True)
    (folder / "best_skill.md").write_text(skill)
    evidence = {
        "agent": "mini",
        "model": "scripted/needs-skill",
        "reflection_model": "scripted/reflector",
        "scripted": True,
        "best": {"val_mean": 0.8, "tokens": 20, "token_budget": 2000},
        "seed": {"val_mean": 0.0},
        "test": {},
    }
    (folder / "evidence.json").write_text(json.dumps(evidence))
    return folder


def test_renames_are_carried_and_no_skill_naming_a_missing_path_is_published(published, tmp_path):
    before = git(published, "rev-parse", "HEAD")
    git(published, "mv", "src/shop/stock.py", "src/shop/inventory.py")
    git(published, "mv", "tests", "checks")
    commit_all(published, "Rename stock to inventory, tests to checks")
    renames = renamed_paths(published, before)
    assert (
        renames["src/shop/stock.py"] == "src/shop/inventory.py"
        and renames["tests/test_pricing.py"] == "checks/test_pricing.py"
    )
    assert renames["tests/"] == "checks/" and "src/shop/" not in renames  # a folder only when all of it moved
    body = SKILL.split("---\n", 2)[2]
    carried, applied = carry_renames(body + "Not `src/shop/stock.pyc`, nor docs/src/shop/stock.py.\n", renames)
    assert (
        "`src/shop/inventory.py`" in carried
        and "`checks/`" in carried
        and set(applied) == {"src/shop/stock.py", "tests/"}
    )
    assert "`src/shop/stock.pyc`" in carried and "docs/src/shop/stock.py" in carried  # only whole paths are renamed
    assert carry_renames("`a.py` then `b.py`", {"a.py": "b.py", "b.py": "a.py"}) == (
        "`b.py` then `a.py`",
        {"a.py": "b.py", "b.py": "a.py"},
    )

    # learn / skills publish: a skill naming a path missing at HEAD is refused, in one line; nothing is written.
    run = _learn_run(tmp_path / "run", body)
    before_publish = (published / ".skills/shop-skill/SKILL.md").read_text()
    with pytest.raises(GskillError, match=r"names path\(s\) missing at .*: src/shop/stock.py, tests/"):
        publish(run, published, name="shop-skill")
    assert (published / ".skills/shop-skill/SKILL.md").read_text() == before_publish
    assert_one_line_error(
        gskill("skills", "publish", str(run), "--repo", str(published), "--name", "shop-skill"),
        "not publishing",
        "src/shop/stock.py",
    )
    # refresh: the renames git saw are carried in, then checked again.
    folder = publish(run, published, name="shop-skill", renames=renames)
    text = (folder / "SKILL.md").read_text()
    assert (
        "`src/shop/inventory.py`" in text
        and "`checks/`" in text
        and "stock.py" not in text
        and missing_paths(published, text) == []
    )
    gone = _learn_run(tmp_path / "gone", body.replace("stock levels", "stock levels; `src/shop/legacy.py` is deleted"))
    with pytest.raises(GskillError, match=r"missing at .*: src/shop/legacy.py \("):
        publish(gone, published, name="shop-skill", renames=renames)
