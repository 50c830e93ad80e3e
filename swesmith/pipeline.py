"""`gskill mine`: a repository's history → validated fail-to-pass tasks, split train / val / test.

`mine()` is the whole control flow; each stage is one call into its module (ARCHITECTURE.md, "Mining"):
resolve (`snapshot`) → env image (`snapshot`) → baseline + per-unit collection costs (`baseline`) →
candidate sources (`sources`) → validation in parallel workers, one long-lived sandbox each
(`validation_pool`) → tasks (`tasks`) → dedupe → split (`split`) → files + report.
Every verdict is written to `OUT/mining_cache.sqlite` (`store`) as it arrives, so a re-run resumes:
validated or rejected candidates are never run again.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from gskill.errors import GskillError
from gskill.schema import Settings
from languages import profile_named
from languages.base import Profile
from swesmith.baseline import collection_costs, snapshot_baseline
from swesmith.model_access import ModelAccess
from swesmith.snapshot import open_sandboxes, snapshot_code_files
from swesmith.sources import candidate_sources
from swesmith.split import assign_splits, dedupe, shortfall
from swesmith.store import MiningStore
from swesmith.tasks import make_tasks, write_split_files
from swesmith.validation_pool import ValidationPool

STRATEGY_CHOICES = ("commit-mirror", "commit-historical", "procedural", "llm-rewrite")
DEFAULT_STRATEGIES = ("commit-mirror", "commit-historical", "procedural")  # llm-rewrite only with --model

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
    language: str | None = None  # a profile name (python, go); None: detected from the repository


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
    models = ModelAccess(options.model, store, options.out / "llm_calls.jsonl") if options.model else None

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
    # Default: stop once the splits can be filled; --all validates every candidate.
    target = options.max_tasks or (None if options.exhaust else sum(options.sizes))
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
        results = ValidationPool(run, boxes, baseline, collect_seconds, target).verdicts(
            found.candidates, report, found.rejected
        )
    finally:
        for box in boxes:
            box.stop()

    tasks = make_tasks(run, results, found.rejected, report)
    unique = dedupe(tasks)
    report.duplicates = len(tasks) - len(unique)
    split_tasks = assign_splits(unique if target is None else unique[:target], options.sizes, options.seed)
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


def rejections_by_stage(rejected: Counter) -> dict[str, dict[str, int]]:
    """{"stage:reason": count} -> {stage: {reason: count}}, as the report shows them."""
    by_stage: dict[str, dict[str, int]] = {}
    for key, count in sorted(rejected.items()):
        stage, _, reason = key.partition(":")
        by_stage.setdefault(stage, {})[reason] = count
    return by_stage
