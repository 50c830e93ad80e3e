"""`gskill mine`: a repository's history → validated fail-to-pass tasks, split train / val / test.

`mine()` is the whole control flow; each stage is one call into its module (ARCHITECTURE.md, "Mining"):
resolve (`snapshot`) → env image (`snapshot`) → baseline + per-unit collection costs (`baseline`) →
candidate sources (`sources`) → validation in parallel workers, one long-lived sandbox each
(`validation_pool`) → tasks (`tasks`) → dedupe → difficulty calibration (`difficulty`) → split (`split`) →
files + report.
Every verdict is written to `OUT/mining_cache.sqlite` (`store`) as it arrives, so a re-run resumes:
validated or rejected candidates are never run again.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from gskill.errors import GskillError
from gskill.schema import DifficultyTarget, Settings, Task
from languages import profile_named
from languages.base import Profile
from swesmith.baseline import collection_costs, snapshot_baseline
from swesmith.composite import composite_candidates, keeps_every_failure, merged_groups
from swesmith.difficulty import calibrate, distribution
from swesmith.model_access import ModelAccess
from swesmith.snapshot import open_sandboxes, snapshot_code_files
from swesmith.sources import candidate_sources
from swesmith.split import assign_splits, dedupe, shortfall
from swesmith.store import MiningStore
from swesmith.tasks import make_tasks, write_split_files
from swesmith.validation_pool import ValidationPool

STRATEGY_CHOICES = ("commit-mirror", "commit-historical", "procedural", "llm-rewrite", "composite")
# llm-rewrite only with --model; composite is made of procedural (and llm-rewrite) bugs.
DEFAULT_STRATEGIES = ("commit-mirror", "commit-historical", "procedural", "composite")

if TYPE_CHECKING:  # importing the image builder imports Docker: mine() does it when it runs
    from harnesses.images.build import RepoSnapshot


@dataclass
class MineOptions:
    out: Path
    snapshot: str | None = None
    workers: int = 2
    max_tasks: int | None = None  # None: the sum of the split sizes (or every candidate with exhaust)
    exhaust: bool = False
    strategies: tuple[str, ...] = DEFAULT_STRATEGIES
    sizes: tuple[int, int, int] = (200, 50, 60)
    seed: int = 0
    sandbox: str = "docker"
    test_timeout_s: float = 300.0
    runs: int = 2
    per_function: int = 2
    max_commits: int | None = None
    since: str | None = None  # only commits after this one (an incremental refresh mines what is new)
    max_historical_lines: int = 3000  # commit-historical: largest bug patch (snapshot -> the commit's parent)
    model: str | None = None  # litellm model name (or scripted/...): enables llm-rewrite and --issue-writer llm
    llm_attempts: int = 1  # llm-rewrite: rewrites asked per function
    issue_writer: str = "offline"  # offline | llm
    max_test_files: int = 2  # per procedural candidate: test files holding the most tests that execute the function
    whole_file_seconds: float = 2.0  # a test file quicker than this runs whole; a slower one, only its covering tests
    max_covering_tests: int = 60  # node ids taken from a slow test file
    language: str | None = None  # a profile name (python, go, rust, typescript); None: detected from the repository
    # Keep the tasks whose difficulty matches `Settings.difficulty` (validating `oversample` × the
    # tasks wanted); False keeps the first tasks validated.
    calibrate: bool = True
    composite_share: float = 0.1  # composite bugs made, as a share of the tasks wanted


@dataclass
class MiningReport:
    repo: str
    snapshot: str
    image: str
    language: str = "python"
    candidates: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, dict[str, int]] = field(default_factory=dict)
    validated: dict[str, int] = field(default_factory=dict)
    cached: int = 0
    tasks: int = 0
    duplicates: int = 0
    splits: dict[str, int] = field(default_factory=dict)
    baseline_tests: int = 0
    baseline_flaky: int = 0
    baseline_seconds: float = 0.0
    issue_writer: dict[str, int] = field(default_factory=dict)  # statements by source (llm / fell_back_offline)
    llm_calls: int = 0
    mean_validation_seconds: float = 0.0
    mean_test_seconds: float = 0.0
    wall_seconds: float = 0.0
    # A strategy that was asked for and produced no candidate at all: why (it must never be silent).
    empty_strategies: dict[str, str] = field(default_factory=dict)
    # The difficulty target, and the distributions of the tasks validated and of those kept.
    difficulty: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what else the user should know (splits short of the sizes)


Progress = Callable[[str, int, int | None], None]  # (stage, done, total)


@dataclass(frozen=True)
class MiningRun:
    """What every stage after the env image reads; the same from the baseline to the last task."""

    snapshot: RepoSnapshot
    files: dict[str, str]  # the snapshot's code files in its language (sources and tests), by path
    profile: Profile
    image: str  # the env image (`local:<commit>` for the local sandbox)
    store: MiningStore
    models: ModelAccess | None  # None without --model
    options: MineOptions  # its language resolved
    progress: Progress


def mine(
    repo: str, options: MineOptions, settings: Settings, progress: Progress = lambda *a: None, log=print
) -> MiningReport:
    from harnesses.images.build import configured_env_image, resolve_snapshot, snapshot_language

    began = time.monotonic()
    unknown = set(options.strategies) - set(STRATEGY_CHOICES)
    if unknown:
        raise GskillError(f"unknown strategy {sorted(unknown)[0]!r}; choose from {', '.join(STRATEGY_CHOICES)}")
    if options.issue_writer not in ("offline", "llm"):
        raise GskillError(f"unknown issue writer {options.issue_writer!r}; choose offline or llm")
    if not options.model and ("llm-rewrite" in options.strategies or options.issue_writer == "llm"):
        raise GskillError("llm-rewrite and --issue-writer llm need a model: pass --model (e.g. openai/gpt-4o-mini)")
    snapshot = resolve_snapshot(repo, options.snapshot, settings.cache_dir)
    language = snapshot_language(snapshot, options.language)
    profile = profile_named(language)
    unsupported = [name for name in options.strategies if name not in profile.strategies]
    chosen = tuple(name for name in options.strategies if name in profile.strategies)
    if not chosen:
        raise GskillError(f"{profile.title} repositories are mined with {', '.join(profile.strategies)}")
    options = replace(options, language=language, strategies=chosen)
    files = snapshot_code_files(snapshot.path, snapshot.commit, profile)
    store = MiningStore(options.out / "mining_cache.sqlite")
    models = (
        ModelAccess(options.model, store, options.out / "llm_calls.jsonl", settings.run.endpoints.get(options.model))
        if options.model
        else None
    )

    image = f"local:{snapshot.commit[:12]}"
    if options.sandbox == "docker":
        from harnesses.sandbox import SandboxError, docker_client

        try:
            client = docker_client()
        except SandboxError as exc:
            raise GskillError(f"{exc}; use --sandbox local or start Docker") from None
        progress("env image", 0, 1)
        env = configured_env_image(client, snapshot, settings, language=language)
        if not env.collects:
            raise GskillError(f"the test suite does not collect in {env.image}; see `gskill env build {repo}`")
        image = env.image
        progress("env image", 1, 1)

    run = MiningRun(snapshot, files, profile, image, store, models, options, progress)
    report = MiningReport(repo=snapshot.name, snapshot=snapshot.commit, image=image, language=language)
    # Default: stop once the splits can be filled (with a surplus to calibrate difficulty from);
    # --all validates every candidate.
    target = options.max_tasks or (None if options.exhaust else sum(options.sizes))
    oversample = settings.difficulty.oversample if options.calibrate else 1.0
    to_validate = None if target is None else math.ceil(target * oversample)
    boxes = open_sandboxes(options.sandbox, image, snapshot.path, snapshot.commit, options.workers, settings)
    try:
        progress("baseline", 0, 1)
        baseline = snapshot_baseline(run, boxes[0])
        report.baseline_tests, report.baseline_flaky = len(baseline.passing), len(baseline.flaky)
        report.baseline_seconds = round(baseline.duration_s, 2)
        progress("baseline", 1, 1)
        if not baseline.passing:
            raise GskillError("no test passes on the snapshot: nothing to mine")
        collect_seconds = collection_costs(run, boxes[0], baseline)
        found = candidate_sources(run, boxes[0], baseline, collect_seconds)
        pool = ValidationPool(run, boxes, baseline, collect_seconds, to_validate)
        results = pool.verdicts(found.candidates, report, found.rejected)
        if "composite" in options.strategies:
            results = composite_verdicts(run, pool, results, report, found, target)
    finally:
        for box in boxes:
            box.stop()

    tasks = merged_groups(make_tasks(run, results, found.rejected, report))
    unique = dedupe(tasks)
    report.duplicates = len(tasks) - len(unique)
    kept = select_tasks(unique, target, settings.difficulty if options.calibrate else None)
    report.difficulty = difficulty_report(unique, kept, settings.difficulty)
    split_tasks = assign_splits(kept, options.sizes, options.seed)
    report.tasks = len(split_tasks)
    report.empty_strategies = {name: found.empty[name] for name in options.strategies if name in found.empty}
    report.empty_strategies |= {name: f"not available for {profile.title} repositories yet" for name in unsupported}
    for name, why in report.empty_strategies.items():
        log(f"warning: {name} gave no candidates: {why}")
    if note := shortfall(split_tasks, options.sizes):
        report.notes.append(note)
        log(f"warning: {note}")
    report.rejected = rejections_by_stage(found.rejected)
    report.splits = write_split_files(options.out, split_tasks)
    report.llm_calls = len(models.log.calls) if models else 0
    report.wall_seconds = round(time.monotonic() - began, 1)
    (options.out / "mining_report.json").write_text(json.dumps(asdict(report), indent=2, sort_keys=True))
    return report


def composite_verdicts(run: MiningRun, pool: ValidationPool, results, report: MiningReport, found, target: int | None):
    """The verdicts with composite bugs added: `composite_share` × the tasks wanted (or × the
    validated bugs with --all), each checked to fail everything its parts failed alone."""
    wanted = target if target is not None else sum(verdict.ok for _, verdict in results)
    made = composite_candidates(results, run.files, run.profile, math.ceil(run.options.composite_share * wanted))
    if not made:
        found.empty["composite"] = (
            "no two validated made-up bugs of one file, in different functions, fail a common test"
        )
        return results
    pool.target = None  # every composite made is validated
    everything = pool.verdicts(made, report, found.rejected)
    by_key = {candidate.key: verdict for candidate, verdict in everything}
    return [(candidate, keeps_every_failure(candidate, verdict, by_key)) for candidate, verdict in everything]


def select_tasks(tasks: list[Task], wanted: int | None, target: DifficultyTarget | None) -> list[Task]:
    """The tasks that go into the splits: all of them without a count, else `wanted` of them,
    calibrated to `target` (None: the first validated)."""
    if wanted is None:
        return tasks
    return calibrate(tasks, target, wanted) if target is not None else tasks[:wanted]


def difficulty_report(validated: list[Task], kept: list[Task], target: DifficultyTarget) -> dict:
    return {
        "target": dict(zip(target.bin_names(), target.shares)) | {"max_suite_share": target.max_suite_share},
        "validated": distribution(validated, target),
        "kept": distribution(kept, target),
    }


def rejections_by_stage(rejected: Counter) -> dict[str, dict[str, int]]:
    """{"stage:reason": count} -> {stage: {reason: count}}, as the report shows them."""
    by_stage: dict[str, dict[str, int]] = {}
    for key, count in sorted(rejected.items()):
        stage, _, reason = key.partition(":")
        by_stage.setdefault(stage, {})[reason] = count
    return by_stage
