"""The candidate sources: every strategy asked for, as one lazy, interleaved stream of candidates.

Reads the repository's history (commit-mirror, commit-historical: one walk for both), the coverage
of the snapshot's source functions by its tests (procedural, llm-rewrite), the baseline and per-unit
collection costs (which tests validate a bug in a function), and the model (llm-rewrite). Writes the
store's `history:...` and `coverage-nodes:IMAGE` entries, so a resumed run neither walks nor measures
again. Procedural and llm-rewrite candidates are made only as fast as validation draws them.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, replace
from itertools import zip_longest
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from languages import profile_named
from swesmith.candidate import Candidate
from swesmith.store import candidate_from_json, candidate_to_json
from swesmith.validate import Baseline

if TYPE_CHECKING:
    from swesmith.pipeline import MineOptions, MiningRun

HISTORY_STRATEGIES = ("commit-mirror", "commit-historical")


@dataclass
class CandidateSources:
    """The candidates to validate, and what their sources found. `empty` and `rejected` keep filling
    while `candidates` is drawn: a lazy source records why it gave nothing only once it runs dry."""

    candidates: Iterator[Candidate]  # round-robin over the strategies
    empty: dict[str, str]  # strategy -> why it gave no candidate
    rejected: Counter  # "stage:reason" -> candidates (or commits) dropped


def candidate_sources(
    run: MiningRun, sandbox, baseline: Baseline, collect_seconds: dict[str, float]
) -> CandidateSources:
    """Every source `options.strategies` asks for; a strategy that cannot give any says why in `empty`."""
    options, files, progress = run.options, run.files, run.progress
    rejected: Counter = Counter()
    history_counts: Counter = Counter()  # (path, qualname) -> commits that changed it
    sources: list[Iterable[Candidate]] = []
    empty: dict[str, str] = {}
    walk_strategies = [name for name in HISTORY_STRATEGIES if name in options.strategies]
    mirrored: list[Candidate] = []
    historical: list[Candidate] = []
    if walk_strategies:
        progress("history", 0, None)
        mirrored, historical = walked_history(run, walk_strategies, rejected, history_counts)
        for name, found in (("commit-mirror", mirrored), ("commit-historical", historical)):
            if name in options.strategies and not found:
                empty[name] = history_empty_reason(name, rejected)
        progress("history", len(mirrored) + len(historical), len(mirrored) + len(historical))
    if {"procedural", "llm-rewrite"} & set(options.strategies):
        progress("coverage", 0, 1)
        coverage_map, coverage_failure = covered_functions(run, sandbox, baseline)
        progress("coverage", 1, 1)
        mirrored = [narrowed_to_covering(candidate, coverage_map, baseline, options) for candidate in mirrored]
        targets = ranked_targets(files, coverage_map, history_counts)
        tests_for = covering_selector(coverage_map, collect_seconds, baseline, options)
        if coverage_failure:
            why = f"the coverage step failed, so no function is known to be tested: {coverage_failure}"
        elif not targets:
            why = "coverage maps no source function to a test (no test executes the body of a function in the snapshot's source files)"
        else:
            why = f"none of the {len(targets)} covered function(s) gave a candidate"
        if "procedural" in options.strategies:
            sources.append(
                noting_empty(procedural_source(files, targets, tests_for, options), "procedural", why, empty)
            )
        if "llm-rewrite" in options.strategies:
            from swesmith.llm_rewrite import rewrite_candidates

            models = run.models
            assert models is not None
            rewrites = rewrite_candidates(
                files,
                targets,
                ask=lambda messages, attempt: models.ask(messages, attempt, "llm-rewrite"),
                attempts=options.llm_attempts,
                rejected=rejected,
                test_files_for=tests_for,
            )
            sources.append(noting_empty(rewrites, "llm-rewrite", why, empty))
    history = [found for found in (mirrored, historical) if found]
    return CandidateSources(interleave(*history, *sources), empty, rejected)


def walked_history(
    run: MiningRun, walk_strategies: list[str], rejected: Counter, history_counts: Counter
) -> tuple[list[Candidate], list[Candidate]]:
    """`history_candidates`, cached in the store: the walk is minutes of parsing on a big repo."""
    snapshot, options = run.snapshot, run.options
    history_key = f"history:{snapshot.commit}:{options.max_commits}:{options.since or ''}:{','.join(walk_strategies)}:{options.max_historical_lines}"
    walked = run.store.get_meta(history_key)
    if walked is not None:  # resume
        rejected.update(walked["rejected"])
        history_counts.update({(path, name): count for path, name, count in walked["counts"]})
        return (
            [candidate_from_json(record) for record in walked["mirrored"]],
            [candidate_from_json(record) for record in walked["historical"]],
        )
    walk_rejected: Counter = Counter()
    mirrored, historical = history_candidates(snapshot.path, snapshot.commit, options, walk_rejected, history_counts)
    run.store.set_meta(
        history_key,
        {
            "mirrored": [candidate_to_json(c) for c in mirrored],
            "historical": [candidate_to_json(c) for c in historical],
            "rejected": dict(walk_rejected),
            "counts": [[path, name, count] for (path, name), count in history_counts.items()],
        },
    )
    rejected.update(walk_rejected)
    return mirrored, historical


def covered_functions(run: MiningRun, sandbox, baseline: Baseline) -> tuple[dict[tuple[str, str], set[str]], str]:
    """(source function -> the tests that execute it, why the coverage step failed or ""), cached per image."""
    store, image, profile = run.store, run.image, run.profile
    coverage = store.get_meta(f"coverage-nodes:{image}")
    coverage_failure = ""
    if not coverage:  # an empty map is measured again: earlier versions cached a failed step as one
        from languages.base import CoverageError
        from swesmith.coverage_map import tests_per_function

        try:
            lines = profile.measure_coverage(sandbox, set(baseline.by_file), run.options.test_timeout_s * 8)
        except CoverageError as exc:  # not cached: the next run measures again
            coverage_failure, lines = str(exc), {}
        per_function = tests_per_function(
            {p: t for p, t in run.files.items() if profile.is_source_file(p)}, lines, profile.parse_entities
        )
        coverage = [[path, name, sorted(tests)] for (path, name), tests in per_function.items()]
        if not coverage_failure:
            store.set_meta(f"coverage-nodes:{image}", coverage)
    return {(path, name): set(tests) for path, name, tests in coverage}, coverage_failure


def history_candidates(
    repo_path: Path, snapshot: str, options: MineOptions, rejected: Counter, history_counts: Counter
) -> tuple[list[Candidate], list[Candidate]]:
    """One walk over the history: (commit-mirror candidates, commit-historical candidates)."""
    from swesmith.historical import historical_candidate
    from swesmith.history import filter_reason, walk_commits
    from swesmith.mirror import SnapshotIndex, mirror_candidate

    language = options.language or "python"
    mirrored, historical = [], []
    # The walk goes newest first and the bug patch grows with the distance to the snapshot: after a
    # run of commits too far away, every older one is too, and computing their diffs is wasted time.
    too_far_in_a_row = 0
    with SnapshotIndex(repo_path, snapshot, language) as index:
        walk = walk_commits(
            repo_path, snapshot, max_commits=options.max_commits, since=options.since, language=language
        )
        for change in walk:
            for path, names in change.modified.items():
                for name in names:
                    history_counts[(path, name)] += 1
            reason = filter_reason(change, language=language)
            if reason:
                rejected[f"history:{reason}"] += 1
                continue
            if "commit-mirror" in options.strategies:
                candidate, why = mirror_candidate(change, index)
                if candidate is None:
                    rejected[f"mirror:{why}"] += 1
                else:
                    mirrored.append(candidate)
            if "commit-historical" in options.strategies:
                if too_far_in_a_row >= 5:
                    why = "too_far_from_snapshot"
                else:
                    candidate, why = historical_candidate(
                        repo_path, snapshot, change, max_lines=options.max_historical_lines, language=language
                    )
                    too_far_in_a_row = too_far_in_a_row + 1 if why == "too_far_from_snapshot" else 0
                    if candidate is not None:
                        historical.append(candidate)
                if why != "ok":
                    rejected[f"historical:{why}"] += 1
    return mirrored, historical


def history_empty_reason(strategy: str, rejected: Counter) -> str:
    """Why a walk over the history gave `strategy` no candidate: the commonest rejections, in words."""
    stage = "mirror" if strategy == "commit-mirror" else "historical"
    walked = sum(count for key, count in rejected.items() if key.startswith(("history:", f"{stage}:")))
    if not walked:
        return "the walk over the history found no commit to consider"
    top = sorted(
        ((key, count) for key, count in rejected.items() if key.startswith(("history:", f"{stage}:"))),
        key=lambda kv: (-kv[1], kv[0]),
    )
    return (
        f"every one of {walked} commit(s) was rejected (" + ", ".join(f"{key} {count}" for key, count in top[:4]) + ")"
    )


def noting_empty(source: Iterable[Candidate], strategy: str, why: str, empty: dict[str, str]) -> Iterator[Candidate]:
    """`source`, recording `empty[strategy] = why` if it turns out to yield nothing."""
    produced = False
    for candidate in source:
        produced = True
        yield candidate
    if not produced:
        empty[strategy] = why


def ranked_targets(
    files: dict[str, str], coverage: dict[tuple[str, str], set[str]], history_counts: Counter
) -> list[tuple[str, str]]:
    """Covered source functions, those the history changes often first (where real bugs live).
    `coverage` maps source functions only (the coverage stage reads source files alone)."""
    targets = [key for key in coverage if key[0] in files]
    targets.sort(key=lambda key: (-history_counts.get(key, 0), key))
    return targets


def narrowed_to_covering(
    candidate: Candidate, coverage: dict[tuple[str, str], set[str]], baseline: Baseline, options: MineOptions
) -> Candidate:
    """A commit-mirror candidate whose slow test units are cut down to the tests that execute its
    reverted functions (the commit's own new test among them, where it passes at the snapshot).

    A mirror selects the commit's whole test units; a big Go package such as bleve's root costs
    most of a minute per run, its tests that execute the functions a few seconds. A unit quicker
    than `whole_file_seconds` stays whole (a broader P2P for free), and so does a slow unit none of
    whose tests execute the functions (coverage missed them: no guess).
    """
    covering: set[str] = set()
    for entity in candidate.entities:
        path, _, qualname = entity.partition("::")
        covering |= coverage.get((path, qualname), set())
    selection: list[str] = []
    for unit in candidate.test_files:
        nodes = sorted(test for test in covering if test.split("::", 1)[0] == unit)
        if "::" in unit or not nodes or baseline.run_seconds.get(unit, 0.0) <= options.whole_file_seconds:
            selection.append(unit)
            continue
        if len(nodes) > options.max_covering_tests:
            nodes = random.Random(f"{options.seed}:{candidate.group}:{unit}").sample(nodes, options.max_covering_tests)
        selection.extend(nodes)
    if selection == list(candidate.test_files):
        return candidate
    return replace(candidate, test_files=tuple(sorted(selection)))


def covering_selector(
    coverage: dict[tuple[str, str], set[str]],
    collect_seconds: dict[str, float],
    baseline: Baseline,
    options: MineOptions,
) -> Callable[[str, str], tuple[str, ...]]:
    """(path, qualname) -> the tests that validate a bug in that function.

    A run costs mostly the collection of each test file it touches (a second or so each on a real
    repo), so take the few files that hold the most covering tests, not covering tests spread over a
    dozen files. A file that is quick to run goes whole (a broader P2P for free); a slow one
    contributes only its covering tests. A file that takes seconds just to collect is used only when
    nothing else covers the function.
    """
    costs = sorted(collect_seconds.values())
    slow_collection = max(2.0, 3 * costs[len(costs) // 2]) if costs else float("inf")

    def tests_for(path: str, qualname: str) -> tuple[str, ...]:
        per_file: dict[str, list[str]] = {}
        for node in sorted(coverage.get((path, qualname), ())):
            per_file.setdefault(node.split("::", 1)[0], []).append(node)
        cheap = [test_file for test_file in per_file if collect_seconds.get(test_file, 0.0) <= slow_collection]
        ranked = sorted(cheap or per_file, key=lambda f: (-len(per_file[f]), collect_seconds.get(f, 0.0), f))
        selection: list[str] = []
        for test_file in ranked[: options.max_test_files]:
            if baseline.run_seconds.get(test_file, 0.0) <= options.whole_file_seconds:
                selection.append(test_file)
            else:
                nodes = per_file[test_file]
                if len(nodes) > options.max_covering_tests:
                    nodes = random.Random(f"{options.seed}:{path}:{qualname}").sample(nodes, options.max_covering_tests)
                selection.extend(nodes)
        return tuple(sorted(selection))

    return tests_for


def procedural_source(
    files: dict[str, str],
    targets: list[tuple[str, str]],
    tests_for: Callable[[str, str], tuple[str, ...]],
    options: MineOptions,
) -> Iterator[Candidate]:
    """Lazily: mutations are made only as fast as validation consumes them."""
    profile = profile_named(options.language or "python")
    sources = {path: text for path, text in files.items() if profile.is_source_file(path)}
    # A small library has few covered functions: take more mutations of each so the candidates can
    # still reach the tasks wanted (about half of the candidates validate), up to 10 per function.
    wanted = options.max_tasks or sum(options.sizes)
    per_function = options.per_function
    if targets and len(targets) * per_function < 3 * wanted:
        per_function = min(10, max(per_function, -(-3 * wanted // len(targets))))
    return spread_by_function(
        profile.procedural_candidates(
            sources, targets, seed=options.seed, per_function=per_function, test_files_for=tests_for
        )
    )


def spread_by_function(candidates: Iterable[Candidate], window: int = 8) -> Iterator[Candidate]:
    """The candidates of each `window` functions (groups) in turns, one of each group per turn, where
    the source gives a function's mutations back to back. Validation then knows how the first
    mutation of a function went (it hung) before drawing the next, and the first turn spans more
    functions."""
    block: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        if candidate.group not in block and len(block) >= window:
            yield from interleave(*block.values())
            block = {}
        block.setdefault(candidate.group, []).append(candidate)
    yield from interleave(*block.values())


def interleave(*sources: Iterable[Candidate]) -> Iterator[Candidate]:
    """Round-robin over the strategies, so a --max-tasks run gets a mix."""
    for batch in zip_longest(*sources):
        for candidate in batch:
            if candidate is not None:
                yield candidate
