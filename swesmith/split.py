"""De-duplication, difficulty, and the deterministic train / val / test split.

Tasks from one group (one source commit, or one mutated function) always land in the same split, so
the test split never shares a fix with training. Within each stratum (strategy × difficulty bucket)
groups are shuffled with the seed and dealt to the split furthest below its share; dealing whole groups
misses the sizes by a few tasks (198 / 51 / 61 for 200 / 50 / 60), so an exact search over the group
sizes then moves as few groups as it must to meet the sizes exactly whenever the groups allow it.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections import defaultdict
from typing import Iterable, Iterator, Sequence

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
    return largest_remainder([size * available / total for size in sizes], available)


def largest_remainder(exact: Sequence[float], total: int) -> list[int]:
    """Whole numbers summing to `total`, each its `exact` quota rounded down or up: the largest
    fractional parts round up (the first on a tie)."""
    counts = [int(value) for value in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - counts[i]), i))
    for index in by_remainder[: total - sum(counts)]:
        counts[index] += 1
    return counts


def assign_splits(tasks: Sequence[Task], sizes: Sequence[int] = DEFAULT_SIZES, seed: int = 0) -> list[Task]:
    """Return copies of `tasks` with `split` set. Fewer tasks than sum(sizes): shares are scaled down;
    more: the surplus keeps split=None (still in tasks.jsonl, in no split). The splits hold exactly
    `apportion(sizes, len(tasks))` tasks whenever some assignment of whole groups does; otherwise the
    closest one (`shortfall` says by how much). Deterministic for a seed."""
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
    dealt: list[str] = []  # groups in dealing order
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
            dealt.append(name)
            size = len(groups[name])
            open_splits = [
                split for split in _SPLITS if quota[split] > 0 and filled[split] + size <= quota[split] + size // 2
            ]
            if not open_splits:
                assignment[name] = None
                continue
            target = min(open_splits, key=lambda split: (filled[split] / quota[split], _SPLITS.index(split)))
            assignment[name] = target
            filled[target] += size
    if any(filled[split] != quota[split] for split in _SPLITS):
        assignment = _exact(dealt, {name: len(members) for name, members in groups.items()}, assignment, quota)
    return [task.model_copy(update={"split": assignment[group_of(task)]}) for task in tasks]


_MAX_STATES = 1 << 23  # (train+1)·(val+1)·(test+1) above this: keep the dealt split (bits of memory per size)


def _exact(
    order: list[str], size: dict[str, int], dealt: dict[str, Split | None], quota: dict[Split, int]
) -> dict[str, Split | None]:
    """Re-assign groups so the splits meet `quota` exactly (or as closely as whole groups can), keeping
    the dealt split of as many groups as possible (the stratification). Groups of one size are
    interchangeable for the sizes, so a bitset search over (train, val, test) fill levels runs once
    per distinct group size; it then decides how many groups of each size go where."""
    qa, qb, qc = (quota[split] for split in _SPLITS)
    # Fill levels up to one group over the quota: when no exact split exists, overshooting by a group
    # can be closer than leaving the split short (3 tasks of one group, quotas 2/0/1: train gets 3).
    over = max(size.values())
    la, lb, lc = qa + over, qb + over, qc + over
    span_c, span_b = lc + 1, (lb + 1) * (lc + 1)
    states = (la + 1) * span_b
    if states > _MAX_STATES:
        return dealt

    def repeat(pattern: int, width: int, times: int) -> int:
        return pattern * (((1 << (width * times)) - 1) // ((1 << width) - 1))

    full = (1 << states) - 1
    by_size: dict[int, list[str]] = defaultdict(list)
    for name in order:
        by_size[size[name]].append(name)
    layers = [1]  # reachable (train, val, test) fill levels, bit index a*span_b + b*span_c + c
    for s in sorted(by_size):
        keep_c = repeat(((1 << span_c) - 1) ^ ((1 << min(s, span_c)) - 1), span_c, (la + 1) * (lb + 1))
        keep_b = repeat(((1 << span_b) - 1) ^ ((1 << min(s * span_c, span_b)) - 1), span_b, la + 1)
        reach = layers[-1]
        for _ in by_size[s]:
            reach |= ((reach << (s * span_b)) & full) | ((reach << (s * span_c)) & keep_b) | ((reach << s) & keep_c)
        layers.append(reach)

    def reachable(layer: int, a: int, b: int, c: int) -> bool:
        return 0 <= a <= la and 0 <= b <= lb and 0 <= c <= lc and (layer >> (a * span_b + b * span_c + c)) & 1 == 1

    # The reachable fill closest to the quota (exact when possible).
    goal = next(fill for fill in _nearest((qa, qb, qc)) if reachable(layers[-1], *fill))
    # Walk back through the sizes: how many groups of each size each split takes, nearest the dealt counts.
    counts: dict[int, tuple[int, ...]] = {}
    for index, s in reversed(list(enumerate(sorted(by_size)))):
        members = by_size[s]
        wanted = tuple(sum(1 for name in members if dealt[name] is split) for split in _SPLITS)
        counts[s] = next(
            taken
            for taken in _nearest(wanted)
            if min(taken) >= 0
            and sum(taken) <= len(members)
            and reachable(layers[index], *(fill - s * n for fill, n in zip(goal, taken)))
        )
        goal = tuple(fill - s * n for fill, n in zip(goal, counts[s]))
    # Groups keep their dealt split while its count lasts; the rest fill the remaining places in order.
    result: dict[str, Split | None] = {}
    for s, members in by_size.items():
        left: dict[Split | None, int] = dict(zip(_SPLITS, counts[s]))
        left[None] = len(members) - sum(counts[s])
        moved = []
        for name in members:
            if left[dealt[name]] > 0:
                result[name] = dealt[name]
                left[dealt[name]] -= 1
            else:
                moved.append(name)
        places = [split for split in (*_SPLITS, None) for _ in range(left[split])]
        result.update(zip(moved, places))
    return result


def _nearest(point: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    """Every integer triple, by L1 distance from `point` (then in a fixed order): the search for the
    nearest one that satisfies a condition. Callers filter; the first hit is the nearest."""
    x, y, z = point
    for distance in itertools.count():
        for dx in range(-distance, distance + 1):
            rest = distance - abs(dx)
            for dy in range(-rest, rest + 1):
                dz = rest - abs(dy)
                for sign in (-1, 1) if dz else (1,):
                    yield (x + dx, y + dy, z + sign * dz)


def shortfall(tasks: Sequence[Task], sizes: Sequence[int]) -> str:
    """'' when the splits of `tasks` (from assign_splits) hold the sizes asked for (scaled down to the
    tasks there are); else one line saying what whole groups allowed instead."""
    wanted = apportion(sizes, len(tasks))
    got = [sum(1 for task in tasks if task.split is split) for split in _SPLITS]
    if got == wanted:
        return ""
    return (
        f"splits {'/'.join(map(str, got))} instead of {'/'.join(map(str, wanted))}: no assignment of whole groups "
        "(tasks of one commit or function stay in one split) meets the sizes exactly"
    )


def parse_sizes(text: str) -> tuple[int, int, int]:
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise ValueError(f"--split wants three whole numbers like 200,50,60, got {text!r}")
    return tuple(int(part) for part in parts)  # type: ignore[return-value]
