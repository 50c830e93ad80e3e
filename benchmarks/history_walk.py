"""How fast the commit-mirror strategy reads a repository's history, in one run.

    python benchmarks/history_walk.py PATH-TO-GIT-CLONE

Prints: commits walked and the time, the filter's verdicts, and mirror outcomes with their time.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from swesmith.history import filter_reason, walk_commits  # noqa: E402
from swesmith.mirror import SnapshotIndex, mirror_candidate  # noqa: E402


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    repo = sys.argv[1]
    began = time.perf_counter()
    changes = list(walk_commits(repo, "HEAD"))
    walk_s = time.perf_counter() - began
    reasons = Counter(filter_reason(change) or "keep" for change in changes)
    began = time.perf_counter()
    outcomes: Counter = Counter()
    with SnapshotIndex(repo, "HEAD") as index:
        for change in changes:
            if filter_reason(change) is None:
                outcomes[mirror_candidate(change, index)[1]] += 1
    mirror_s = time.perf_counter() - began
    print(f"walk: {len(changes)} commits in {walk_s:.1f}s")
    print(f"filter: {dict(reasons.most_common())}")
    print(f"mirror: {dict(outcomes.most_common())} in {mirror_s:.1f}s")


if __name__ == "__main__":
    main()
