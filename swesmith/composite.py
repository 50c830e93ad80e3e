"""Composite bugs (SWE-smith's combined bugs): two or three validated made-up bugs of one file whose
failing tests overlap, put together into one task that fails the union of their tests.

A single mutation is often found by reading the one function its failure names; two bugs in two
functions of a file, failing some of the same tests, must both be found, and fixing one leaves
tests failing. Candidates are made from the verdicts validation already holds and validated like
any other (`ValidationPool`); a composite is kept only if it still fails every test each of its
parts failed alone (`keeps_every_failure`): one bug must not mask the other.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from gskill.schema import Strategy, Task
from languages.base import Profile
from swesmith.candidate import Candidate
from swesmith.patches import make_patch
from swesmith.validate import Verdict

PARTS = "composite_parts"  # Candidate.meta: the parts' candidate keys
MAX_TEST_FILES = 4
MAX_PARTS = 3


def composite_candidates(
    results: Sequence[tuple[Candidate, Verdict]], files: Mapping[str, str], profile: Profile, limit: int
) -> list[Candidate]:
    """Up to `limit` composites of validated single-function made-up bugs of the same file, each in
    another function and failing some test an earlier part fails; two parts, and every other
    composite three where the file has a third such bug. Each bug used once, in validation order."""
    singles = [
        (candidate, verdict)
        for candidate, verdict in results
        if verdict.ok
        and candidate.strategy in (Strategy.PROCEDURAL, Strategy.LLM_REWRITE)
        and len(candidate.entities) == 1
    ]
    used: set[str] = set()
    made: list[Candidate] = []
    for index, (first, first_verdict) in enumerate(singles):
        if len(made) >= limit:
            break
        if first.key in used:
            continue
        path = first.entities[0].split("::")[0]
        parts, failing, patch = [first], set(first_verdict.fail_to_pass), None
        wanted = MAX_PARTS if len(made) % 2 else 2
        for other, other_verdict in singles[index + 1 :]:
            if (
                other.key in used
                or other.entities[0].split("::")[0] != path
                or other.entities[0] in {part.entities[0] for part in parts}
                or not failing & set(other_verdict.fail_to_pass)
            ):
                continue
            combined = combine(files, path, [part.bug_patch for part in parts] + [other.bug_patch], profile)
            if combined is None:
                continue
            parts, patch = parts + [other], combined
            failing |= set(other_verdict.fail_to_pass)
            if len(parts) == wanted:
                break
        if patch is None:
            continue
        made.append(
            Candidate(
                strategy=Strategy.COMPOSITE,
                group="|".join(part.group for part in parts),
                bug_patch=patch,
                test_files=tuple(dict.fromkeys(f for part in parts for f in part.test_files))[:MAX_TEST_FILES],
                hint="",
                entities=tuple(entity for part in parts for entity in part.entities),
                created_at=max(part.created_at for part in parts),
                meta={PARTS: [part.key for part in parts]},
            )
        )
        used.update(part.key for part in parts)
    return made


def combine(files: Mapping[str, str], path: str, patches: Sequence[str], profile: Profile) -> str | None:
    """One patch from the snapshot's `path` with every patch of `patches` applied (each made against
    the snapshot; different functions, so their hunks apply side by side); None when they do not
    apply together or the result does not parse."""
    original = files.get(path)
    if original is None:
        return None
    with tempfile.TemporaryDirectory(prefix="gskill-composite-") as tmp:
        target = Path(tmp, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(original, encoding="utf-8")
        for patch in patches:
            done = subprocess.run(
                ["git", "apply", "--whitespace=nowarn", "-"], cwd=tmp, input=patch, capture_output=True, text=True
            )
            if done.returncode != 0:
                return None
        combined = target.read_text(encoding="utf-8")
    if combined == original or not profile.parses(combined):
        return None
    return make_patch({path: (original, combined)})


def keeps_every_failure(candidate: Candidate, verdict: Verdict, by_key: Mapping[str, Verdict]) -> Verdict:
    """A composite's verdict, rejected ("masks_a_part") when it no longer fails a test that one of
    its parts failed alone; any other verdict unchanged."""
    parts = candidate.meta.get(PARTS)
    if not verdict.ok or not parts:
        return verdict
    expected = set().union(*(set(by_key[key].fail_to_pass) for key in parts if key in by_key))
    if expected <= set(verdict.fail_to_pass):
        return verdict
    return Verdict(False, "masks_a_part", validation_time_s=verdict.validation_time_s)


def merged_groups(tasks: Sequence[Task]) -> list[Task]:
    """Tasks whose groups share a function with a composite's ("a|b") get one group, so a composite
    and the single bugs it was made of land in the same split."""
    parent: dict[str, str] = {}

    def find(name: str) -> str:
        while parent.setdefault(name, name) != name:
            name = parent[name]
        return name

    for task in tasks:
        names = task.group.split("|") if task.group else []
        for name in names[1:]:
            parent[find(name)] = find(names[0])
    roots: dict[str, list[str]] = {}
    for name in list(parent):
        roots.setdefault(find(name), []).append(name)
    merged = {root: "|".join(sorted(members)) for root, members in roots.items() if len(members) > 1}
    out = []
    for task in tasks:
        first = task.group.split("|")[0] if task.group else ""
        group = merged.get(find(first)) if first in parent else None
        out.append(task.model_copy(update={"group": group}) if group and group != task.group else task)
    return out
