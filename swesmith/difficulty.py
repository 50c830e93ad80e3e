"""Difficulty without a model: what a task's own data says about how hard it is, and the selection
that makes the mined tasks match a target distribution (`gskill.schema.DifficultyTarget`).

Why: mutations of a central function break dozens of tests at once, with a message that names the
function (`TypeError: isinstance() arg 2 must be a type`, 57 failing tests); real agents solve those
at a glance, so a skill cannot show lift on them. Real bugs are mostly decided by one to three tests.
The signals are measured at the tasks stage (`signals`); `calibrate` then keeps, from the validated
tasks (mining validates `oversample` × what it needs), a set whose FAIL_TO_PASS counts follow the
target's shares, preferring within a bin the tasks from real commits and the ones whose failure does
not name the broken function. Pure functions of the tasks: no I/O, deterministic.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from gskill.schema import DifficultyTarget, Strategy, Task
from swesmith.split import largest_remainder

_SCANNED = 200_000  # characters of a failing run read for function names (the start holds the first failures)
_MIN_NAME = 4  # shorter names (`get`, `add`) match ordinary words of a message


def points_at_bug(output: str, entities: Sequence[str], fail_to_pass: Sequence[str]) -> bool:
    """Whether the failing run's output names a function the bug changed, in a message or a
    traceback frame. Test names are blanked first: `test_parse_dates` naming `parse_dates` is the
    test's name, which the agent never sees, not the failure pointing at the code."""
    names = {_callable_name(entity) for entity in entities} - {""}
    if not names or not output:
        return False
    text = output[:_SCANNED]
    for test in sorted({part for test in fail_to_pass for part in _test_names(test)}, key=len, reverse=True):
        text = text.replace(test, " ")
    return any(re.search(rf"(?<!\w){re.escape(name)}\b", text) for name in names)


def _callable_name(entity: str) -> str:
    """`src/x.py::Parser.parse` -> `parse`; a constructor (`Parser.__init__`) is named by its class."""
    qualname = entity.rsplit("::", 1)[-1]
    parts = qualname.split(".")
    name = parts[-1]
    if name.startswith("__") and len(parts) > 1:
        name = parts[-2]
    return name if len(name) >= _MIN_NAME and not name.startswith("__") else ""


def _test_names(test_id: str) -> list[str]:
    """The names a test id puts into a log: the id, its last `::` part, and each subtest level."""
    name = test_id.rsplit("::", 1)[-1]
    levels = name.split("/")
    return [test_id, name, *("/".join(levels[: depth + 1]) for depth in range(len(levels)))]


def calibrate(tasks: Sequence[Task], target: DifficultyTarget, wanted: int) -> list[Task]:
    """At most `wanted` of `tasks`, in their order, with FAIL_TO_PASS counts as close to the target's
    shares as the tasks allow. Each bin takes its quota, best first (real commits before made-up
    bugs, quiet failures before ones that name the broken function, then mining order); bins short
    of their quota are filled from the nearest bins (the easier side first on a tie); a task failing
    more than `max_suite_share` of the suite is taken only when nothing else is left."""
    if len(tasks) <= wanted:
        return list(tasks)
    names = target.bin_names()
    quota = dict(zip(names, largest_remainder([share * wanted for share in target.shares], wanted)))
    eligible: dict[str, list[int]] = {name: [] for name in names}
    too_broad: list[int] = []
    for index in sorted(range(len(tasks)), key=lambda i: _preference(tasks[i], i)):
        task = tasks[index]
        if task.difficulty.f2p_share > target.max_suite_share:
            too_broad.append(index)
        else:
            eligible[target.bin_of(task.difficulty.f2p_count)].append(index)
    chosen: list[int] = []
    for name in names:
        chosen += eligible[name][: quota[name]]
        del eligible[name][: quota[name]]
    for position, name in enumerate(names):  # deficits, nearest bins first
        missing = quota[name] - sum(1 for i in chosen if target.bin_of(tasks[i].difficulty.f2p_count) == name)
        if missing <= 0:  # full, or over its quota with another bin's deficit
            continue
        for other in sorted(names, key=lambda n: (abs(names.index(n) - position), names.index(n) > position)):
            taken = eligible[other][:missing]
            chosen += taken
            del eligible[other][: len(taken)]
            missing -= len(taken)
            if missing <= 0:
                break
    missing = wanted - len(chosen)
    if missing > 0:  # only bugs that break much of the suite are left
        chosen += sorted(too_broad, key=lambda i: tasks[i].difficulty.f2p_count)[:missing]
    return [tasks[index] for index in sorted(chosen)]


def _preference(task: Task, index: int) -> tuple:
    """Real commits first, then composite bugs (two places to find), then single made-up bugs."""
    rank = {Strategy.COMPOSITE: 1, Strategy.PROCEDURAL: 2, Strategy.LLM_REWRITE: 2}.get(task.strategy, 0)
    return (rank, task.difficulty.points_at_bug, index)


def distribution(tasks: Sequence[Task], target: DifficultyTarget) -> dict:
    """What the report shows: tasks per F2P bin, how many fail a broad share of the suite, how many
    failures name the broken function, and the changed-function counts."""
    bins = Counter(target.bin_of(task.difficulty.f2p_count) for task in tasks)
    return {
        "tasks": len(tasks),
        "f2p_bins": {name: bins.get(name, 0) for name in target.bin_names()},
        "over_suite_share": sum(task.difficulty.f2p_share > target.max_suite_share for task in tasks),
        "points_at_bug": sum(task.difficulty.points_at_bug for task in tasks),
        "multi_function": sum(task.difficulty.functions > 1 for task in tasks),
        "multi_file": sum(task.difficulty.files > 1 for task in tasks),
    }
