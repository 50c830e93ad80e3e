"""De-duplication, difficulty, and the deterministic train / val / test split.

Tasks from one group (one source commit, or one mutated function) always land in the same split, so
the test split never shares a fix with training. Within each stratum (strategy × difficulty bucket)
groups are shuffled with the seed and dealt to the split furthest below its share.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from typing import Iterable, Sequence

from gskill.schema import Split, Task

DEFAULT_SIZES = (200, 50, 60)
_SPLITS = (Split.TRAIN, Split.VAL, Split.TEST)


def difficulty_bucket(task: Task) -> str:
    lines, files = task.difficulty.lines, task.difficulty.files
    if files <= 1 and lines <= 4:
        return "easy"
    if files <= 2 and lines <= 20:
        return "medium"
    return "hard"


def dedupe(tasks: Iterable[Task]) -> list[Task]:
    """Keep the first task of each distinct bug (same bug patch = same task, whatever strategy found it)."""
    seen: set[str] = set()
    kept = []
    for task in tasks:
        digest = hashlib.sha256(task.bug_patch.encode()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            kept.append(task)
    return kept


def group_of(task: Task) -> str:
    return task.group or task.source_commit or task.instance_id


def apportion(sizes: Sequence[int], available: int) -> list[int]:
    """Whole-number shares of `available` in the ratio of `sizes` (largest remainder), never above them."""
    total = sum(sizes)
    if total == 0 or available >= total:
        return list(sizes)
    exact = [size * available / total for size in sizes]
    shares = [int(value) for value in exact]
    by_remainder = sorted(range(len(sizes)), key=lambda i: (-(exact[i] - shares[i]), i))
    for index in by_remainder[: available - sum(shares)]:
        shares[index] += 1
    return shares


def assign_splits(tasks: Sequence[Task], sizes: Sequence[int] = DEFAULT_SIZES, seed: int = 0) -> list[Task]:
    """Return copies of `tasks` with `split` set. Fewer tasks than sum(sizes): shares are scaled down;
    more: the surplus keeps split=None (still in tasks.jsonl, in no split)."""
    quota = dict(zip(_SPLITS, apportion(sizes, len(tasks))))
    filled = {split: 0 for split in _SPLITS}

    groups: dict[str, list[Task]] = defaultdict(list)
    for task in tasks:
        groups[group_of(task)].append(task)
    strata: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name, members in groups.items():
        first = members[0]
        strata[(first.strategy.value, difficulty_bucket(first))].append(name)

    rng = random.Random(seed)
    assignment: dict[str, Split | None] = {}
    # Interleave strata so each split gets every kind of task in proportion.
    queues = []
    for key in sorted(strata):
        names = sorted(strata[key])
        rng.shuffle(names)
        queues.append(names)
    while any(queues):
        for queue in queues:
            if not queue:
                continue
            name = queue.pop()
            size = len(groups[name])
            open_splits = [split for split in _SPLITS if quota[split] > 0 and filled[split] + size <= quota[split] + size // 2]
            if not open_splits:
                assignment[name] = None
                continue
            target = min(open_splits, key=lambda split: (filled[split] / quota[split], _SPLITS.index(split)))
            assignment[name] = target
            filled[target] += size
    return [task.model_copy(update={"split": assignment[group_of(task)]}) for task in tasks]


def parse_sizes(text: str) -> tuple[int, int, int]:
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise ValueError(f"--split wants three whole numbers like 200,50,60, got {text!r}")
    return tuple(int(part) for part in parts)  # type: ignore[return-value]
