"""commit-historical: SWE-bench-style tasks at a commit's own parent, carried onto the snapshot.

SWE-bench takes a fix commit C, puts the repository at C's parent, hides C's test changes until
grading, and asks for C's source changes. Here the tree state is the same, but it is expressed as a
patch against the snapshot so that one env image serves every task of the repo:

    bug state   = tree of C's parent, with C's test files at C's version  (snapshot + bug_patch)
    gold patch  = bug state -> C's tree                                    (C's non-test changes)
    test_patch  = C's test changes (reversed in the agent's view, restored for grading)

The snapshot's env must still run that era's code ("where the env at that era can run"): a commit
whose parent does not import or collect under it is rejected as an env error by validation. And the
further C lies from the snapshot, the larger the bug patch; beyond `max_lines` the candidate is
dropped (the walk goes newest first, so after a few such commits every older one is further still).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from gskill.schema import Strategy
from languages import profile_named
from swesmith.candidate import Candidate
from swesmith.history import CommitChange
from swesmith.patches import patch_size


def _git(repo: Path, *args: str, env: dict | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args[:2])}: {done.stderr.strip()[-300:]}")
    return done.stdout


def changed_test_paths(repo: Path, change: CommitChange, language: str = "python") -> list[str]:
    """Every test path the commit touches: test modules, and data files under test directories."""
    names = _git(repo, "diff", "--name-only", "--no-renames", "-z", change.parent, change.sha)
    is_test_file = profile_named(language).is_test_file
    return sorted(path for path in names.split("\0") if path and is_test_file(path))


def bug_tree(repo: Path, change: CommitChange, test_paths: list[str]) -> str:
    """The tree of the commit's parent with the commit's test paths swapped in, written to the object
    store through a throwaway index (the repository's own index and work tree are untouched)."""
    with tempfile.TemporaryDirectory(prefix="gskill-index-") as tmp:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        _git(repo, "read-tree", change.parent, env=env)
        listing = _git(repo, "ls-tree", "-z", change.sha, "--", *test_paths)
        at_commit = set()
        for entry in filter(None, listing.split("\0")):
            meta, path = entry.split("\t", 1)
            mode, _, oid = meta.split()
            at_commit.add(path)
            _git(repo, "update-index", "--add", "--cacheinfo", f"{mode},{oid},{path}", env=env)
        for path in set(test_paths) - at_commit:  # deleted by the commit
            _git(repo, "update-index", "--force-remove", "--", path, env=env)
        return _git(repo, "write-tree", env=env).strip()


def historical_candidate(
    repo: Path, snapshot: str, change: CommitChange, *, max_lines: int, language: str = "python"
) -> tuple[Candidate | None, str]:
    """(candidate, "ok") or (None, why not)."""
    if not change.parent:
        return None, "root_commit"
    profile = profile_named(language)
    test_paths = changed_test_paths(repo, change, language)
    tree = bug_tree(repo, change, test_paths)
    # Every path, docs and changelog included: the snapshot's CHANGES file describes the fix.
    bug_patch = _git(repo, "diff", "--binary", "--no-renames", snapshot, tree)
    if not bug_patch.strip():
        return None, "same_as_snapshot"
    if patch_size(bug_patch).lines > max_lines:
        return None, "too_far_from_snapshot"
    gold_patch = _git(repo, "diff", "--binary", "--no-renames", tree, change.sha)
    if not gold_patch.strip():
        return None, "no_source_change"
    test_patch = _git(repo, "diff", "--binary", "--no-renames", change.parent, change.sha, "--", *test_paths)

    def at_commit(path: str) -> str | None:
        done = subprocess.run(["git", "show", f"{change.sha}:{path}"], cwd=repo, capture_output=True, text=True)
        return done.stdout if done.returncode == 0 else None

    entities = tuple(f"{path}::{name}" for path, names in sorted(change.modified.items()) for name in names)
    return (
        Candidate(
            strategy=Strategy.COMMIT_HISTORICAL,
            group=change.sha,  # the same group as a mirror of this commit: one split for both
            bug_patch=bug_patch,
            test_files=tuple(sorted({profile.test_unit(path, at_commit) for path in change.test_files})),
            hint=change.message,
            source_commit=change.sha,
            entities=entities,
            created_at=change.date,
            meta={"gold_patch": gold_patch, "test_patch": test_patch, "base_commit": change.parent},
        ),
        "ok",
    )
