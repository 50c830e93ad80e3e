"""A mining candidate: a proposed bug state, before validation decides whether it is a task.

Every strategy produces candidates against ONE snapshot (the env image's commit): the bug state is
`snapshot + bug_patch`, the fixed state is the snapshot itself. One env image then serves every task
of the repo, and the fixed state's test results are measured once and shared by all candidates.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from gskill.schema import Strategy

TEST_DIR_NAMES = frozenset({"test", "tests", "testing"})


def is_test_file(path: str) -> bool:
    """R2E-Gym's rule: a path component `test`/`tests`/`testing`, or a name `test_*.py` / `*_test.py`.

    Deliberately not a substring match: `contest.py` or `attestation/` are source.
    """
    parts = path.split("/")
    name = parts[-1]
    if any(part in TEST_DIR_NAMES for part in parts[:-1]):
        return True
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py")


@dataclass(frozen=True)
class Candidate:
    strategy: Strategy
    # Tasks that share a group go to the same split (one source commit, or one function).
    group: str
    # `git apply`-able diff (a/ b/ prefixes) from the snapshot to the bug state. Source files only.
    bug_patch: str
    # Snapshot-relative test files whose tests decide F2P/P2P. Empty = the whole suite.
    test_files: tuple[str, ...] = ()
    # Raw material for the problem statement (commit message, mutation kind). Never a diff.
    hint: str = ""
    source_commit: str = ""
    # Changed functions as "path::Qualified.name".
    entities: tuple[str, ...] = ()
    created_at: str = ""
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        """Identity for caching and de-duplication: the same bug checked by the same tests."""
        digest = hashlib.sha256()
        for part in (self.bug_patch, "\0".join(self.test_files)):
            digest.update(part.encode())
            digest.update(b"\1")
        return digest.hexdigest()[:20]
