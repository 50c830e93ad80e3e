"""The validation stage: candidates validated in parallel, one long-lived sandbox per worker.

Reads the candidate stream lazily, in its order, a few ahead of the free sandboxes, and stops drawing
once `target` distinct bugs validated (`None`: every candidate). A made-up bug (procedural,
llm-rewrite) in a function whose earlier made-up bug hung its tests is skipped, not run: mutations of
a goroutine loop or a retry hang as a rule, and each costs the run's whole time limit. Reads the
store's verdicts (a candidate validated before is not run again) and writes each new verdict to it
as it arrives, so an interrupted run resumes. Writes the report's `candidates` (drawn, per strategy) and `cached` counts.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import TYPE_CHECKING, Iterable, Iterator

from gskill.schema import Strategy
from swesmith.candidate import Candidate
from swesmith.hide import VisibleTests
from swesmith.tasks import git_reader, task_test_patch
from swesmith.validate import Baseline, Verdict, hidden_view_builds, validate

if TYPE_CHECKING:
    from swesmith.pipeline import MiningReport, MiningRun


# Strategies that make many bugs per function (history's bugs are each their own).
MADE_UP = frozenset({Strategy.PROCEDURAL, Strategy.LLM_REWRITE})


class ValidationPool:
    """Candidates to verdicts on a fixed set of sandboxes, each busy with one candidate at a time."""

    def __init__(
        self, run: MiningRun, boxes: list, baseline: Baseline, collect_seconds: dict[str, float], target: int | None
    ) -> None:
        self.boxes, self.baseline, self.collect_seconds, self.target = boxes, baseline, collect_seconds, target
        self.run = run
        self.read_at, self.read_lock = git_reader(run.snapshot.path), threading.Lock()  # one git repo object
        self.store, self.runs, self.progress = run.store, run.options.runs, run.progress
        self.free: queue.Queue = queue.Queue()
        for box in boxes:
            self.free.put(box)
        # A bug that makes tests stall (an endless loop, a prompt waiting for input) is rejected as a
        # timeout: after a few times what its tests cost on the snapshot, never more than the whole
        # suite thrice or the configured test timeout.
        self.run_timeout = min(run.options.test_timeout_s, max(20.0, 3 * baseline.duration_s))
        self.results: list[tuple[Candidate, Verdict]] = []
        self.seen_keys: set[str] = set()
        self.distinct_bugs: set[str] = set()  # validated bug patches: what dedupe will keep
        self.hung_functions: set[str] = set()  # "path::qualname" of made-up bugs rejected as timeouts

    def verdicts(
        self, candidates: Iterable[Candidate], report: MiningReport, rejected: Counter
    ) -> list[tuple[Candidate, Verdict]]:
        """Every verdict, cached or new, in the order it was known; skipped candidates counted in
        `rejected` ("strategy:function_hung_before")."""
        self.progress("validate", 0, self.target)
        with ThreadPoolExecutor(max_workers=len(self.boxes)) as pool:
            fresh = self.fresh_candidates(candidates, report)
            running: set = set()
            exhausted = False
            while True:
                while not exhausted and len(running) < len(self.boxes) * 2 and not self.enough():
                    candidate = next(fresh, None)
                    if candidate is None:
                        exhausted = True
                    else:
                        running.add(pool.submit(self.validate_one, candidate))
                if not running:
                    break
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    candidate, verdict = future.result()
                    if verdict is None:  # skipped, not validated: nothing to store
                        rejected[f"{candidate.strategy.value}:function_hung_before"] += 1
                        continue
                    self.store.put(candidate, verdict)
                    self.record(candidate, verdict)
                    self.progress("validate", len(self.distinct_bugs), self.target)
        return self.results

    def fresh_candidates(self, candidates: Iterable[Candidate], report: MiningReport) -> Iterator[Candidate]:
        """The candidates not validated yet; those the store knows are recorded on the way."""
        for candidate in candidates:
            if candidate.key in self.seen_keys:
                continue
            self.seen_keys.add(candidate.key)
            strategy = candidate.strategy.value
            report.candidates[strategy] = report.candidates.get(strategy, 0) + 1
            verdict = self.store.verdict(candidate.key)
            if verdict is None:
                yield candidate
            else:
                report.cached += 1
                self.record(candidate, verdict)
                if self.enough():
                    return

    def record(self, candidate: Candidate, verdict: Verdict) -> None:
        self.results.append((candidate, verdict))
        if verdict.ok:
            self.distinct_bugs.add(candidate.bug_patch)
        if verdict.reason == "timeout" and candidate.strategy in MADE_UP:
            self.hung_functions.update(candidate.entities)

    def hung_before(self, candidate: Candidate) -> bool:
        return (
            candidate.strategy in MADE_UP
            and bool(candidate.entities)
            and set(candidate.entities) <= self.hung_functions
        )

    def enough(self) -> bool:
        return self.target is not None and len(self.distinct_bugs) >= self.target

    def validate_one(self, candidate: Candidate) -> tuple[Candidate, Verdict | None]:
        """(candidate, its verdict), or (candidate, None) if skipped: it was drawn before a sibling's
        verdict said its function hangs, and a sandbox got free only after."""
        box = self.free.get()
        try:
            if self.hung_before(candidate):
                return candidate, None
            verdict = validate(
                box,
                candidate,
                self.baseline,
                timeout=self.timeout_for(candidate),
                runs=self.runs,
                limit_s=self.baseline.test_limit(candidate.test_files),
            )
            if verdict.ok and self.baseline.spec.build_check:
                verdict = self.check_hidden_view(box, candidate, verdict)
            return candidate, verdict
        finally:
            self.free.put(box)

    def check_hidden_view(self, box, candidate: Candidate, verdict: Verdict) -> Verdict:
        """The agent's view (bug state, F2P tests hidden) must still build, where the language builds:
        hiding a Go test function can strand what only it used. A view that does not build is
        rejected; a test that cannot be hidden at all is left to the tasks stage (f2p_not_hideable)."""
        run = self.run
        with self.read_lock:
            try:
                test_patch = task_test_patch(
                    candidate,
                    verdict,
                    snapshot=run.snapshot.commit,
                    files=run.files,
                    read_at=self.read_at,
                    profile=run.profile,
                )
            except VisibleTests:
                return verdict
        timeout = self.timeout_for(candidate)
        if not test_patch or hidden_view_builds(box, self.baseline.spec, candidate.bug_patch, test_patch, timeout):
            return verdict
        return replace(verdict, ok=False, reason="hidden_view_does_not_build", logs=[])

    def timeout_for(self, candidate: Candidate) -> float:
        expected = self.baseline.estimate_seconds(candidate.test_files, self.collect_seconds)
        return min(self.run_timeout, max(15.0, 4 * expected + 5)) + self.baseline.spec.rebuild_s
