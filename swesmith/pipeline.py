"""`gskill mine`: a repository's history → validated fail-to-pass tasks, split train / val / test.

Stages: snapshot + env image → baseline (the snapshot's suite, twice) → candidates per strategy →
validation in parallel workers (one long-lived sandbox each) → tasks → dedupe → split → files.
Every verdict is written to `OUT/mining_cache.sqlite` as it arrives, so a re-run resumes: validated or
rejected candidates are never run again.
"""

from __future__ import annotations

import base64
import json
import queue
import random
import re
import sqlite3
import sys
import threading
import time
import zlib
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Callable, Iterable, Iterator

import git

from gskill.errors import GskillError
from gskill.schema import Difficulty, Settings, Strategy, Task, patch_files, write_jsonl
from languages import profile_named
from languages.base import Profile
from swesmith.candidate import Candidate
from swesmith.hide import VisibleTests
from swesmith.patches import patch_size
from swesmith.split import assign_splits, dedupe, shortfall
from swesmith.statements import write_problem_statement
from swesmith.validate import Baseline, Verdict, validate

STRATEGY_CHOICES = ("commit-mirror", "commit-historical", "procedural", "llm-rewrite")
DEFAULT_STRATEGIES = ("commit-mirror", "commit-historical", "procedural")  # llm-rewrite only with --model
HISTORY_STRATEGIES = ("commit-mirror", "commit-historical")
_SHORT = {
    Strategy.COMMIT_MIRROR: "mirror",
    Strategy.PROCEDURAL: "proc",
    Strategy.COMMIT_HISTORICAL: "hist",
    Strategy.LLM_REWRITE: "llm",
}


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


# ------------------------------------------------------------------------------------------------
# The store: one SQLite file next to the outputs


class MiningStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, strategy TEXT, candidate TEXT, verdict TEXT, at REAL)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self._lock = threading.Lock()

    def verdict(self, key: str) -> Verdict | None:
        with self._lock:
            row = self._db.execute("SELECT verdict FROM verdicts WHERE key = ?", (key,)).fetchone()
        if not row:
            return None
        fields = json.loads(row[0])
        if "logs_z" in fields:
            fields["logs"] = json.loads(zlib.decompress(base64.b64decode(fields.pop("logs_z"))))
        return Verdict(**fields)

    def put(self, candidate: Candidate, verdict: Verdict) -> None:
        record, fields = candidate_to_json(candidate), asdict(verdict)
        # Test logs (go test -json above all) are large and repetitive: compressed, they cost a tenth.
        if fields["logs"]:
            fields["logs_z"] = base64.b64encode(zlib.compress(json.dumps(fields.pop("logs")).encode())).decode()
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?)",
                (candidate.key, candidate.strategy.value, json.dumps(record), json.dumps(fields), time.time()),
            )

    def get_meta(self, key: str):
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))


# ------------------------------------------------------------------------------------------------
# Snapshot files


def candidate_to_json(candidate: Candidate) -> dict:
    return {**asdict(candidate), "strategy": candidate.strategy.value}


def candidate_from_json(record: dict) -> Candidate:
    fields = dict(record)
    fields["strategy"] = Strategy(fields["strategy"])
    fields["test_files"] = tuple(fields.get("test_files", ()))
    fields["entities"] = tuple(fields.get("entities", ()))
    return Candidate(**fields)


def snapshot_code_files(repo_path: Path, commit: str, profile: Profile) -> dict[str, str]:
    """The snapshot's files in `profile`'s language (sources and tests), by path."""
    tree = git.Repo(repo_path).commit(commit).tree
    files = {}
    for item in tree.traverse():
        if item.type == "blob" and item.path.endswith(profile.suffixes):
            files[item.path] = item.data_stream.read().decode("utf-8", errors="replace")
    return files


# ------------------------------------------------------------------------------------------------
# Candidate sources


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
    return profile.procedural_candidates(
        sources, targets, seed=options.seed, per_function=per_function, test_files_for=tests_for
    )


class ModelAccess:
    """The miner's model calls: cached in the store (a resumed run never pays twice for one prompt)
    and recorded, request and response, in OUT/llm_calls.jsonl. Keys never pass through here."""

    def __init__(self, model: str, store: "MiningStore", log_path: Path) -> None:
        from harnesses.gateway.models import CallLog

        self.model = model
        self.store = store
        self.log = CallLog(log_path)

    def ask(self, messages: list[dict], attempt: int = 0, purpose: str = "") -> str:
        import hashlib

        from harnesses.gateway.models import complete, text_of

        key = (
            "llm:"
            + hashlib.sha256(json.dumps([self.model, messages, attempt], sort_keys=True).encode()).hexdigest()[:32]
        )
        cached = self.store.get_meta(key)
        if cached is not None:
            return cached
        try:
            reply = text_of(
                complete(
                    self.model,
                    messages,
                    metadata={"attempt": attempt, "purpose": purpose},
                    log=self.log,
                    purpose=purpose,
                )
            )
        except Exception as exc:  # provider errors, bad keys, unknown models: one line, run resumable
            raise GskillError(f"model {self.model!r} failed: {str(exc).splitlines()[0][:300]}") from None
        self.store.set_meta(key, reply)
        return reply


def measure_collection(sandbox, profile: Profile, units: list[str], timeout: float) -> dict[str, float]:
    """Seconds the test runner needs to load each unit alone (startup included); {} when the
    language's runner has no such step (then every unit is assumed to cost a second)."""
    seconds: dict[str, float] = {}
    if profile.test_spec.collect_command is None:
        return seconds
    for unit in units:
        result = sandbox.exec(profile.test_spec.collect_command(unit), timeout=timeout)
        seconds[unit] = round(result.duration_s, 2)
    return seconds


def interleave(*sources: Iterable[Candidate]) -> Iterator[Candidate]:
    """Round-robin over the strategies, so a --max-tasks run gets a mix."""
    for batch in zip_longest(*sources):
        for candidate in batch:
            if candidate is not None:
                yield candidate


# ------------------------------------------------------------------------------------------------
# Sandboxes


def open_sandboxes(kind: str, image: str, repo_path: Path, commit: str, count: int, settings: Settings) -> list:
    from harnesses.sandbox import DockerSandbox, LocalSandbox

    boxes = []
    try:
        for _ in range(count):
            if kind == "docker":
                boxes.append(DockerSandbox.start(image, limits=settings.limits.offline(), run_id=f"mine-{commit[:12]}"))
            else:
                # The local backend runs in the caller's Python environment (it must hold the test deps).
                box = LocalSandbox.start(repo_path, commit, venv=sys.prefix)
                boxes.append(box)
        return boxes
    except BaseException:
        for box in boxes:
            box.stop()
        raise


# ------------------------------------------------------------------------------------------------
# Tasks


def offline_statement(candidate: Candidate, verdict: Verdict, repo: str, language: str) -> str:
    return write_problem_statement(
        repo=repo,
        hint=candidate.hint,
        fail_to_pass=verdict.fail_to_pass,
        failure_output=verdict.failure_output,
        language=language,
    )


def llm_statement(
    candidate: Candidate, verdict: Verdict, repo: str, files: dict[str, str], models: ModelAccess, language: str
) -> tuple[str, str]:
    """(statement, "llm") — or, when the model's issue quotes a line of the fix, (offline statement,
    "fell_back_offline")."""
    from swesmith.statements import issue_messages, leaked_fix_line

    profile = profile_named(language)
    sources = [source for test in verdict.fail_to_pass[:3] if (source := profile.test_source(files, test))]
    messages = issue_messages(
        repo=repo,
        hint=candidate.hint,
        fail_to_pass=verdict.fail_to_pass,
        failure_output=verdict.failure_output,
        test_sources=sources,
        language=language,
    )
    statement = models.ask(messages, 0, "issue-writer").strip()
    if not statement or leaked_fix_line(statement, verdict.gold_patch):
        return offline_statement(candidate, verdict, repo, language), "fell_back_offline"
    return statement + "\n", "llm"


def write_log(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def git_reader(repo_path: Path) -> Callable[[str, str], str | None]:
    """(commit, path) -> the file's text at that commit, None where it does not exist."""
    repository = git.Repo(repo_path)

    def read(commit: str, path: str) -> str | None:
        try:
            blob = repository.commit(commit).tree / path
        except KeyError:
            return None
        return blob.data_stream.read().decode("utf-8", errors="replace") if blob.type == "blob" else None

    return read


def task_test_patch(
    candidate: Candidate, verdict: Verdict, *, snapshot: str, files: dict[str, str], read_at, profile: Profile
) -> str:
    """The test_patch that hides every FAIL_TO_PASS test from the agent (raises VisibleTests).

    Historical: the agent sees the commit's parent's test files, so the commit's own test changes
    are the base, and F2P tests that already existed at the parent are removed from that view too.
    Otherwise the agent sees the snapshot's tests, without the F2P ones."""
    if candidate.strategy is Strategy.COMMIT_HISTORICAL:
        parent, commit, base = (
            candidate.meta["base_commit"],
            candidate.source_commit,
            candidate.meta.get("test_patch", ""),
        )
        changed = set(patch_files(base))
        return profile.hidden_test_patch(
            verdict.fail_to_pass,
            lambda path: read_at(commit if path in changed else parent, path),
            paths=sorted(files),
            shown=lambda path: read_at(parent, path),
            base_patch=base,
        )
    return profile.hidden_test_patch(
        verdict.fail_to_pass,
        lambda path: files[path] if path in files else read_at(snapshot, path),
        paths=sorted(files),
    )


def build_task(
    candidate: Candidate,
    verdict: Verdict,
    *,
    repo: str,
    snapshot: str,
    image: str,
    test_patch: str,
    statement: str,
    language: str,
) -> Task:
    size = patch_size(verdict.gold_patch)
    return Task(
        instance_id=f"{repo}.{_SHORT[candidate.strategy]}.{candidate.key[:12]}",
        repo=repo,
        base_commit=snapshot,
        patch=verdict.gold_patch,
        test_patch=test_patch,
        problem_statement=statement,
        FAIL_TO_PASS=verdict.fail_to_pass,
        PASS_TO_PASS=verdict.pass_to_pass,
        version=snapshot[:12],
        environment_setup_commit=snapshot,
        created_at=candidate.created_at,
        image_name=image,
        bug_patch=candidate.bug_patch,
        strategy=candidate.strategy,
        language=language,
        source_commit=candidate.source_commit,
        group=candidate.group,
        difficulty=Difficulty(
            files=size.files,
            hunks=size.hunks,
            lines=size.lines,
            f2p_count=len(verdict.fail_to_pass),
            test_time_s=round(verdict.test_time_s, 3),
        ),
    )


# ------------------------------------------------------------------------------------------------
# The whole job


Progress = Callable[[str, int, int | None], None]  # (stage, done, total)


def mine(
    repo: str, options: MineOptions, settings: Settings, progress: Progress = lambda *a: None, log=print
) -> MiningReport:
    from dataclasses import replace

    from harnesses.images.build import build_env_image, host_ca_bundle, resolve_snapshot, snapshot_language

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
    options = replace(options, language=language)
    profile = profile_named(language)
    if "llm-rewrite" in options.strategies and language != "python":
        raise GskillError(f"llm-rewrite mines Python only for now; drop it for this {language} repository")
    files = snapshot_code_files(snapshot.path, snapshot.commit, profile)
    store = MiningStore(options.out / "mining_cache.sqlite")
    model_access = ModelAccess(options.model, store, options.out / "llm_calls.jsonl") if options.model else None

    image = f"local:{snapshot.commit[:12]}"
    if options.sandbox == "docker":
        from harnesses.sandbox import SandboxError, docker_client

        try:
            client = docker_client()
        except SandboxError as exc:
            raise GskillError(f"{exc}; use --sandbox local or start Docker") from None
        progress("env image", 0, 1)
        env = build_env_image(
            client,
            snapshot,
            base_image=settings.base_image,
            base_image_fallback=settings.base_image_fallback,
            cache_dir=settings.cache_dir,
            ca_bundle=host_ca_bundle(settings.ca_bundle),
            timeout_s=settings.env_build_timeout_s,
            language=language,
        )
        if not env.collects:
            raise GskillError(f"the test suite does not collect in {env.image}; see `gskill env build {repo}`")
        image = env.image
        progress("env image", 1, 1)

    report = MiningReport(repo=snapshot.name, snapshot=snapshot.commit, image=image, language=language)
    boxes = open_sandboxes(options.sandbox, image, snapshot.path, snapshot.commit, options.workers, settings)
    try:
        # Baseline: cached per image (the snapshot's results do not change).
        progress("baseline", 0, 1)
        cached = store.get_meta(f"baseline:{image}:{options.runs}")
        if cached and "run_seconds" not in cached:  # cached before per-file times were recorded
            cached = None
        if cached:
            baseline = Baseline.from_json(cached)
        else:
            baseline = Baseline.measure(boxes[0], options.test_timeout_s * 4, language=language)
            store.set_meta(f"baseline:{image}:{options.runs}", baseline.to_json())
            write_log(options.out / "logs" / "baseline.log", baseline.log)
        report.baseline_tests, report.baseline_flaky = len(baseline.passing), len(baseline.flaky)
        report.baseline_seconds = round(baseline.duration_s, 2)
        progress("baseline", 1, 1)
        if not baseline.passing:
            raise GskillError("no test passes on the snapshot: nothing to mine")

        # What a run of each test file costs: collection alone (measured here) + its tests (baseline).
        collect_seconds = store.get_meta(f"collect-seconds:{image}")
        if collect_seconds is None:
            collect_seconds = measure_collection(boxes[0], profile, sorted(baseline.by_file), options.test_timeout_s)
            store.set_meta(f"collect-seconds:{image}", collect_seconds)

        # Candidates.
        rejected: Counter = Counter()
        history_counts: Counter = Counter()
        sources = []
        empty: dict[str, str] = {}  # strategy -> why it gave no candidate
        walk_strategies = [name for name in HISTORY_STRATEGIES if name in options.strategies]
        if walk_strategies:
            progress("history", 0, None)
            history_key = f"history:{snapshot.commit}:{options.max_commits}:{options.since or ''}:{','.join(walk_strategies)}:{options.max_historical_lines}"
            walked = store.get_meta(history_key)
            if walked is None:
                walk_rejected: Counter = Counter()
                mirrored, historical = history_candidates(
                    snapshot.path, snapshot.commit, options, walk_rejected, history_counts
                )
                store.set_meta(
                    history_key,
                    {
                        "mirrored": [candidate_to_json(c) for c in mirrored],
                        "historical": [candidate_to_json(c) for c in historical],
                        "rejected": dict(walk_rejected),
                        "counts": [[path, name, count] for (path, name), count in history_counts.items()],
                    },
                )
                rejected.update(walk_rejected)
            else:  # resume: the walk over the history is minutes of parsing on a big repo
                mirrored = [candidate_from_json(record) for record in walked["mirrored"]]
                historical = [candidate_from_json(record) for record in walked["historical"]]
                rejected.update(walked["rejected"])
                history_counts.update({(path, name): count for path, name, count in walked["counts"]})
            sources.extend(found for found in (mirrored, historical) if found)
            for name, found in (("commit-mirror", mirrored), ("commit-historical", historical)):
                if name in options.strategies and not found:
                    empty[name] = history_empty_reason(name, rejected)
            progress("history", len(mirrored) + len(historical), len(mirrored) + len(historical))
        if {"procedural", "llm-rewrite"} & set(options.strategies):
            progress("coverage", 0, 1)
            coverage = store.get_meta(f"coverage-nodes:{image}")
            coverage_failure = ""
            if not coverage:  # an empty map is measured again: earlier versions cached a failed step as one
                from languages.base import CoverageError
                from swesmith.coverage_map import tests_per_function

                try:
                    lines = profile.measure_coverage(boxes[0], set(baseline.by_file), options.test_timeout_s * 8)
                except CoverageError as exc:  # not cached: the next run measures again
                    coverage_failure, lines = str(exc), {}
                per_function = tests_per_function(
                    {p: t for p, t in files.items() if profile.is_source_file(p)}, lines, profile.parse_entities
                )
                coverage = [[path, name, sorted(tests)] for (path, name), tests in per_function.items()]
                if not coverage_failure:
                    store.set_meta(f"coverage-nodes:{image}", coverage)
            coverage_map = {(path, name): set(tests) for path, name, tests in coverage}
            progress("coverage", 1, 1)
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

                assert model_access is not None
                sources.append(
                    noting_empty(
                        rewrite_candidates(
                            files,
                            targets,
                            ask=lambda messages, attempt: model_access.ask(messages, attempt, "llm-rewrite"),
                            attempts=options.llm_attempts,
                            rejected=rejected,
                            test_files_for=tests_for,
                        ),
                        "llm-rewrite",
                        why,
                        empty,
                    )
                )
        # Validation, in parallel, resumable; candidates are drawn lazily so --max-tasks stops early.
        results: list[tuple[Candidate, Verdict]] = []
        seen_keys: set[str] = set()
        distinct_bugs: set[str] = set()  # validated bug patches: what dedupe will keep
        validated = 0
        # Default: stop once the splits can be filled; --all validates every candidate.
        target = options.max_tasks or (None if options.exhaust else sum(options.sizes))

        def count(candidate: Candidate, verdict: Verdict) -> None:
            nonlocal validated
            if verdict.ok:
                distinct_bugs.add(candidate.bug_patch)
                validated = len(distinct_bugs)

        def enough() -> bool:
            return target is not None and validated >= target

        def fresh_candidates() -> Iterator[Candidate]:
            for candidate in interleave(*sources):
                if candidate.key in seen_keys:
                    continue
                seen_keys.add(candidate.key)
                strategy = candidate.strategy.value
                report.candidates[strategy] = report.candidates.get(strategy, 0) + 1
                verdict = store.verdict(candidate.key)
                if verdict is None:
                    yield candidate
                else:
                    report.cached += 1
                    results.append((candidate, verdict))
                    count(candidate, verdict)
                    if enough():
                        return

        free: queue.Queue = queue.Queue()
        for box in boxes:
            free.put(box)

        # A bug that makes tests stall (an endless loop, a prompt waiting for input) is rejected as a
        # timeout: after a few times what its tests cost on the snapshot, never more than the whole
        # suite thrice or the configured test timeout.
        run_timeout = min(options.test_timeout_s, max(20.0, 3 * baseline.duration_s))

        def timeout_for(candidate: Candidate) -> float:
            expected = baseline.estimate_seconds(candidate.test_files, collect_seconds)
            return min(run_timeout, max(15.0, 4 * expected + 5)) + baseline.spec.rebuild_s

        def run_one(candidate: Candidate) -> tuple[Candidate, Verdict]:
            box = free.get()
            try:
                return candidate, validate(box, candidate, baseline, timeout=timeout_for(candidate), runs=options.runs)
            finally:
                free.put(box)

        progress("validate", 0, target)
        with ThreadPoolExecutor(max_workers=len(boxes)) as pool:
            iterator = fresh_candidates()
            running: set = set()
            exhausted = False
            while True:
                while not exhausted and len(running) < len(boxes) * 2 and not enough():
                    candidate = next(iterator, None)
                    if candidate is None:
                        exhausted = True
                    else:
                        running.add(pool.submit(run_one, candidate))
                if not running:
                    break
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    candidate, verdict = future.result()
                    store.put(candidate, verdict)
                    results.append((candidate, verdict))
                    count(candidate, verdict)
                    progress("validate", validated, target)
    finally:
        for box in boxes:
            box.stop()

    # Tasks.
    validation_times, test_times = [], []
    accepted, test_patches = [], []
    read_at = git_reader(snapshot.path)
    for candidate, verdict in results:
        strategy = candidate.strategy.value
        if verdict.validation_time_s:
            validation_times.append(verdict.validation_time_s)
        if not verdict.ok:
            rejected[f"{strategy}:{verdict.reason}"] += 1
            continue
        try:
            test_patches.append(
                task_test_patch(
                    candidate, verdict, snapshot=snapshot.commit, files=files, read_at=read_at, profile=profile
                )
            )
        except VisibleTests:  # the agent could run the very tests that grade it
            rejected[f"{strategy}:f2p_not_hideable"] += 1
            continue
        report.validated[strategy] = report.validated.get(strategy, 0) + 1
        test_times.append(verdict.test_time_s)
        accepted.append((candidate, verdict))
    if options.issue_writer == "llm":
        assert model_access is not None
        progress("issues", 0, len(accepted))
        with ThreadPoolExecutor(max_workers=max(1, options.workers * 2)) as pool:
            written = list(
                pool.map(lambda pair: llm_statement(*pair, snapshot.name, files, model_access, language), accepted)
            )
        statements = [statement for statement, _ in written]
        report.issue_writer = dict(Counter(source for _, source in written))
        progress("issues", len(accepted), len(accepted))
    else:
        statements = [offline_statement(candidate, verdict, snapshot.name, language) for candidate, verdict in accepted]
    tasks = [
        build_task(
            candidate,
            verdict,
            repo=snapshot.name,
            snapshot=snapshot.commit,
            image=image,
            test_patch=test_patch,
            statement=statement,
            language=language,
        )
        for (candidate, verdict), test_patch, statement in zip(accepted, test_patches, statements)
    ]
    for task, (_, verdict) in zip(tasks, accepted):  # the runs that decided each task, for recomputing
        for number, output in enumerate(verdict.logs, 1):
            write_log(options.out / "logs" / f"{task.instance_id}.run{number}.log", output)
    unique = dedupe(tasks)
    report.duplicates = len(tasks) - len(unique)
    if target is not None:
        unique = unique[:target]
    split_tasks = assign_splits(unique, options.sizes, options.seed)
    report.tasks = len(split_tasks)
    report.empty_strategies = {name: empty[name] for name in options.strategies if name in empty}
    for name, why in report.empty_strategies.items():
        log(f"warning: {name} gave no candidates: {why}")
    if note := shortfall(split_tasks, options.sizes):
        report.notes.append(note)
        log(f"warning: {note}")
    report.rejected = {}
    for key, count in sorted(rejected.items()):
        stage, _, reason = key.partition(":")
        report.rejected.setdefault(stage, {})[reason] = count
    write_jsonl(options.out / "tasks.jsonl", split_tasks)
    for split in ("train", "val", "test"):
        chosen = [task for task in split_tasks if task.split and task.split.value == split]
        report.splits[split] = write_jsonl(options.out / f"{split}.jsonl", chosen)
    report.mean_validation_seconds = (
        round(sum(validation_times) / len(validation_times), 3) if validation_times else 0.0
    )
    report.mean_test_seconds = round(sum(test_times) / len(test_times), 3) if test_times else 0.0
    report.llm_calls = len(model_access.log.calls) if model_access else 0
    report.wall_seconds = round(time.monotonic() - began, 1)
    (options.out / "mining_report.json").write_text(json.dumps(asdict(report), indent=2, sort_keys=True))
    return report
