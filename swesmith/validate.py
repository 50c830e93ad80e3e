"""Validation: does a candidate bug make tests fail that pass on the snapshot, reliably?

One long-lived sandbox per worker holds the snapshot; each candidate is applied, its tests run twice,
and the tree is reset (`git checkout` + `git clean`, ignored build files kept) for the next one. The
fixed state is the snapshot itself, measured ONCE for the whole suite (twice, for flakiness) and shared
by every candidate — that is what keeps validation overhead close to the bare test time. A candidate
costs two round trips to the sandbox (a `docker exec` costs about 60 ms): the patch travels in the
first run's command, and the gold patch is taken and the tree reset at the end of the last run's.

How tests are run and read is the language profile's `TestSpec` (`languages/`): pytest and swebench's
log parser for Python, `go test -json` for Go; never grepping here. Semantics follow swebench 5.x
grading: a test absent from a run whose suite did run counts as failed (a module that no longer
imports); SKIPPED on the bug state is not a failure. A language whose broken units are environment
errors (a Go package that does not build) rejects the candidate instead.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from harnesses.sandbox import Sandbox
from languages import profile_named
from languages.base import FAILING, PASSING, TestRunLog, TestSpec, unit_of
from swesmith.candidate import Candidate


@dataclass
class TestRun:
    status: dict[str, str]
    exit_code: int
    duration_s: float
    timed_out: bool
    ran: bool  # the suite actually ran: the runner got as far as reporting tests
    output: str = ""
    broken_units: tuple[str, ...] = ()  # units that failed before their tests ran (import, build)
    # Set by a run with `finish`: the tree was reset after it, and the gold patch (git's diff from the
    # state the run left back to the snapshot) when it came through whole.
    reset: bool = False
    gold_patch: str | None = None

    @property
    def tail(self) -> str:
        return "\n".join(self.output.strip().splitlines()[-40:])


PATCH_FAILED = 97  # exit code of a `prefix` that could not apply its patch


def run_tests(
    sandbox: Sandbox,
    spec: TestSpec,
    selection: tuple[str, ...],
    timeout: float,
    purpose: str,
    prefix: str = "",
    finish: bool = False,
    limit_s: float | None = None,
) -> TestRun:
    """One test run of `selection` (units and/or test ids; empty = the whole suite); `prefix` is shell
    run first in the same exec (one round trip for apply + run); `finish`: the gold patch is taken and
    the tree reset after the run, in the same exec too; `limit_s`: what the tests themselves may take,
    for a runner that stops a stalled test on its own. The one place a test run happens."""
    missing = {path: text for path, text in spec.support_files.items() if path not in _written(sandbox)}
    if missing:  # once per sandbox: /tmp survives reset()
        sandbox.write_files(missing)
        _written(sandbox).update(missing)
    command = spec.command(selection, purpose, limit_s)
    marker = f"gskill-gold-{uuid.uuid4().hex}"
    if finish:  # the test command's output, the marker, the gold patch, the marker again once reset
        command = (
            f"( {command} ); gskill_rc=$?; printf '\\n%s\\n' {marker}; "
            f"{GOLD_AND_RESET} && printf %s {marker}; exit $gskill_rc"
        )
    result = sandbox.exec(prefix + command, timeout=timeout, env=dict(spec.env))
    output, found, after = result.output.partition(f"\n{marker}\n")
    reset_done = finish and result.output.endswith(marker)
    timed_out = result.timed_out or spec.stalled(output)
    log = TestRunLog(output, result.exit_code, timed_out)
    return TestRun(
        spec.parse(output),
        result.exit_code,
        result.duration_s,
        timed_out,
        spec.ran(log),
        output,
        spec.broken_units(output),
        reset=reset_done,
        gold_patch=after[: -len(marker)] if found and reset_done else None,
    )


def _written(sandbox: Sandbox) -> set[str]:
    if not hasattr(sandbox, "_gskill_support_files"):
        sandbox._gskill_support_files = set()
    return sandbox._gskill_support_files


@dataclass
class Baseline:
    """The snapshot's test results, measured twice. Only tests that passed both times can be F2P/P2P."""

    passing: set[str]
    flaky: set[str]
    duration_s: float  # one full-suite run
    # unit (test file, package) -> its tests' time; for Go also top-level test id -> its time
    run_seconds: dict[str, float] = field(default_factory=dict)
    # Records written before languages existed are Python's.
    language: str = "python"
    log: str = ""  # the first run's full output: the baseline's outcomes can be recomputed from it
    by_file: dict[str, set[str]] = field(init=False)  # unit -> its stably passing ids

    def __post_init__(self) -> None:
        self.by_file = {}
        for test in self.passing:
            self.by_file.setdefault(unit_of(test), set()).add(test)

    @property
    def spec(self) -> TestSpec:
        return profile_named(self.language).test_spec

    def to_json(self) -> dict:
        return {
            "passing": sorted(self.passing),
            "flaky": sorted(self.flaky),
            "duration_s": self.duration_s,
            "run_seconds": self.run_seconds,
            "language": self.language,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Baseline":
        return cls(
            set(data["passing"]),
            set(data["flaky"]),
            data["duration_s"],
            data.get("run_seconds", {}),
            data.get("language", "python"),
        )

    @classmethod
    def measure(
        cls, sandbox: Sandbox, timeout: float, test_files: tuple[str, ...] = (), language: str = "python"
    ) -> "Baseline":
        spec = profile_named(language).test_spec
        first = run_tests(sandbox, spec, test_files, timeout, "baseline")
        second = run_tests(sandbox, spec, test_files, timeout, "repeat")
        for run in (first, second):
            if not run.ran:
                reason = "timed out" if run.timed_out else f"exit {run.exit_code}"
                raise RuntimeError(f"the snapshot's test suite does not run ({reason}):\n{run.tail}")
        flaky = {
            test for test in set(first.status) | set(second.status) if first.status.get(test) != second.status.get(test)
        }
        passing = {test for test, outcome in first.status.items() if outcome in PASSING and test not in flaky}
        seconds = spec.unit_seconds(first.output)
        return cls(passing, flaky, min(first.duration_s, second.duration_s), seconds, language, first.output)

    def test_limit(self, selection: tuple[str, ...]) -> float:
        """What the selected tests may take once built, for a runner that stops a stalled test itself
        (a hang in Go's concurrency code is then rejected in seconds): four times their time on the
        snapshot plus 5 s, never under 10 s — two workers share the cores that measured it alone."""
        return max(10.0, 4 * self.estimate_seconds(selection, {}) + 5)

    def estimate_seconds(self, selection: tuple[str, ...], collect_seconds: dict[str, float]) -> float:
        """Expected bare time of one run of `selection`: each unit's collection (runner startup
        included) plus its tests' run time: the selected tests' own times where the runner reported
        them (`run_seconds` holds test ids too, for Go), else the whole unit's (an upper bound)."""
        if not selection:
            return self.duration_s
        chosen: dict[str, list[str]] = {}
        for entry in selection:
            chosen.setdefault(unit_of(entry), []).append(entry)
        total = 0.0
        for unit, entries in chosen.items():
            known = all(entry in self.run_seconds for entry in entries) and unit not in entries
            tests = sum(self.run_seconds[entry] for entry in entries) if known else self.run_seconds.get(unit, 0.0)
            total += collect_seconds.get(unit, 1.0) + tests
        return total

    def relevant(self, selection: tuple[str, ...]) -> set[str]:
        """Stably passing tests selected by units and/or test ids (an id selects its parametrized
        cases, as pytest does, and its subtests, as `go test -run` does)."""
        if not selection:
            return set(self.passing)
        chosen: set[str] = set()
        for entry in selection:
            path, _, node = entry.partition("::")
            in_file = self.by_file.get(path, set())
            if not node:
                chosen |= in_file
            else:
                chosen |= {
                    test
                    for test in in_file
                    if test == entry or test.startswith((entry + "[", entry + "::", entry + "/"))
                }
        return chosen


@dataclass
class Verdict:
    ok: bool
    reason: str  # "ok" or why it was rejected
    fail_to_pass: list[str] = field(default_factory=list)
    pass_to_pass: list[str] = field(default_factory=list)
    gold_patch: str = ""
    test_time_s: float = 0.0
    validation_time_s: float = 0.0
    failure_output: str = ""  # the bug run's output, for problem statements
    # Full outputs of the runs that decided an accepted verdict (bug runs, then own-gold runs), so
    # F2P/P2P can be recomputed from them (`recompute`); empty for rejections.
    logs: list[str] = field(default_factory=list)


def _failed(test: str, run: TestRun) -> bool:
    """Failed in `run`: a failing outcome, or absent from a run that ran."""
    outcome = run.status.get(test)
    if outcome is None:  # absent from a run that ran: its module failed to import or it was removed
        return run.ran
    return outcome in FAILING


# -d for new directories; no -x: ignored build artefacts (egg-info, compiled extensions) stay.
RESET = "git checkout -q -- . && git clean -fdq"
# The gold patch is git's own reversed diff of the bug state (exact, binary files included), kept in
# /tmp (outside the tree) so it survives the reset.
GOLD_AND_RESET = f"git diff -R --binary > /tmp/gskill-gold.diff && {RESET} && cat /tmp/gskill-gold.diff"


def reset(sandbox: Sandbox) -> None:
    done = sandbox.exec(RESET, timeout=120)
    if not done.ok:
        raise RuntimeError(f"cannot reset the sandbox: {done.output.strip()[-300:]}")


def apply_patch(sandbox: Sandbox, patch: str) -> bool:
    sandbox.write_file("/tmp/gskill-candidate.diff", patch)
    return sandbox.exec("git apply --whitespace=nowarn /tmp/gskill-candidate.diff", timeout=60).ok


BUILD_FAILED = 98  # exit code of a `prefix` whose patched tree does not build
# A patch up to this size travels inside the exec's command (a heredoc): one round trip fewer than an
# upload. The whole command is one argument, which Linux caps at 128 KiB.
INLINE_PATCH_BYTES = 100_000


def _apply_line(sandbox: Sandbox, patch: str) -> str:
    """Shell that applies `patch` (exit PATCH_FAILED if it does not), ending with a newline."""
    apply = "git apply --whitespace=nowarn"
    if patch.endswith("\n") and "\0" not in patch and len(patch.encode()) <= INLINE_PATCH_BYTES:
        delimiter = f"GSKILL_PATCH_{uuid.uuid4().hex}"
        return f"{apply} <<'{delimiter}' || exit {PATCH_FAILED}\n{patch}{delimiter}\n"
    sandbox.write_file("/tmp/gskill-candidate.diff", patch)
    return f"{apply} /tmp/gskill-candidate.diff || exit {PATCH_FAILED}\n"


def _repeat(
    sandbox: Sandbox,
    spec: TestSpec,
    selection: tuple[str, ...],
    timeout: float,
    runs: int,
    stop=lambda run: False,
    patch: str = "",
    finish: bool = False,
    limit_s: float | None = None,
) -> tuple[list[TestRun], str]:
    """Up to `runs` runs, `patch` applied in the first one's exec, the gold patch taken and the tree
    reset in the last one's if `finish`; (runs, "") or (runs so far, why).

    A patched tree's build check runs in the second run's exec (in the first's when there is only
    one): most candidates break nothing and stop after one run, and a tree that does not compile
    already fails the first run's build (units broken before any test ran, where a broken unit is
    not a failed test: "does_not_build"). A check that fails still rejects before any verdict."""
    done: list[TestRun] = []
    apply_line = _apply_line(sandbox, patch) if patch else ""
    check = f"{{ {spec.build_check} ; }} || exit {BUILD_FAILED}; " if patch and spec.build_check else ""
    check_on = 0 if runs == 1 else 1
    for attempt in range(runs):
        prefix = (apply_line if attempt == 0 else "") + (check if attempt == check_on else "")
        run = run_tests(
            sandbox,
            spec,
            selection,
            timeout,
            "first" if attempt == 0 else "repeat",
            prefix,
            finish=finish and attempt == runs - 1,
            limit_s=limit_s,
        )
        if attempt == 0 and patch and run.exit_code == PATCH_FAILED and not run.ran:
            return [], "patch_does_not_apply"
        if attempt == check_on and check and run.exit_code == BUILD_FAILED and not run.ran:
            return [*done, run], "does_not_build"
        if run.timed_out:
            return done, "timeout"
        if attempt == 0 and patch and run.broken_units and not spec.broken_unit_fails_tests:
            return [run], "does_not_build"
        if not run.ran or (run.broken_units and not spec.broken_unit_fails_tests):
            return [*done, run], "env_error"
        done.append(run)
        if stop(run):
            break
    return done, ""


def validate(
    sandbox: Sandbox,
    candidate: Candidate,
    baseline: Baseline,
    *,
    timeout: float,
    runs: int = 2,
    limit_s: float | None = None,
) -> Verdict:
    """Apply, run the candidate's tests `runs` times, decide F2P/P2P, reset. Never leaves the tree dirty.
    `timeout` bounds each run's exec (build included); `limit_s`, the tests alone, where the runner can.

    The fixed state is the snapshot (its results: `baseline`), unless the candidate carries its own
    gold patch (commit-historical): then the fixed state is bug state + gold, run `runs` times here.
    """
    began = time.monotonic()
    own_gold = candidate.meta.get("gold_patch")
    spec = baseline.spec

    def rejected(reason: str, **details) -> Verdict:
        return Verdict(False, reason, validation_time_s=time.monotonic() - began, **details)

    relevant = set() if own_gold else baseline.relevant(candidate.test_files)
    if not own_gold and not relevant:
        return rejected("no_passing_tests_at_snapshot")
    clean = False
    try:
        # Nothing broke on the first run: a second cannot create an F2P. Saves half of most rejects.
        if own_gold:

            def nothing_broke(run: TestRun) -> bool:
                return not run.broken_units and not any(outcome in FAILING for outcome in run.status.values())
        else:

            def nothing_broke(run: TestRun) -> bool:
                return not any(_failed(test, run) for test in relevant)

        # Own gold: its runs follow on the bug state, so only they may reset the tree.
        bug_runs, why = _repeat(
            sandbox,
            spec,
            candidate.test_files,
            timeout,
            runs,
            stop=nothing_broke,
            patch=candidate.bug_patch,
            finish=not own_gold,
            limit_s=limit_s,
        )
        clean = any(run.reset for run in bug_runs)
        if why:
            return rejected(why, failure_output=bug_runs[-1].tail if bug_runs else "")
        first = bug_runs[0]
        if nothing_broke(first):
            return rejected("no_f2p", test_time_s=first.duration_s)
        failure_output = first.output
        fixed_runs = []
        if own_gold:
            fixed_runs, why = _repeat(
                sandbox, spec, candidate.test_files, timeout, runs, patch=own_gold, finish=True, limit_s=limit_s
            )
            clean = any(run.reset for run in fixed_runs)
            if why == "patch_does_not_apply":
                return rejected("gold_does_not_apply")
            if why:
                return rejected(why, failure_output=fixed_runs[-1].tail if fixed_runs else "")
            # Like the baseline: only tests that pass on every fixed run count (flaky ones drop out).
            relevant = {
                test for test in fixed_runs[0].status if all(run.status.get(test) in PASSING for run in fixed_runs)
            }
            if not relevant:
                return rejected("no_passing_tests_fixed")
        flips = {test for test in relevant if len({_failed(test, run) for run in bug_runs}) > 1}
        if flips:
            return rejected("flaky")
        fail_to_pass = sorted(test for test in relevant if _failed(test, first))
        pass_to_pass = sorted(test for test in relevant if all(run.status.get(test) in PASSING for run in bug_runs))
        if own_gold:
            gold_patch = own_gold
        elif bug_runs[-1].gold_patch is not None:  # taken by the last run's exec
            gold_patch = bug_runs[-1].gold_patch
        else:  # that exec did not get that far, or its output was cut (a huge log): the same again / read back
            done = sandbox.exec("cat /tmp/gskill-gold.diff" if clean else GOLD_AND_RESET, timeout=120)
            if not done.ok:
                raise RuntimeError(f"cannot take the gold patch: {done.output.strip()[-300:]}")
            gold_patch, clean = done.output, True
        return Verdict(
            ok=bool(fail_to_pass),
            reason="ok" if fail_to_pass else "no_f2p",
            fail_to_pass=fail_to_pass,
            pass_to_pass=pass_to_pass,
            gold_patch=gold_patch,
            test_time_s=min(run.duration_s for run in bug_runs),
            validation_time_s=time.monotonic() - began,
            failure_output=failure_output,
            logs=[run.output for run in [*bug_runs, *fixed_runs]] if fail_to_pass else [],
        )
    finally:
        if not clean:
            reset(sandbox)


def hidden_view_builds(sandbox: Sandbox, spec: TestSpec, bug_patch: str, test_patch: str, timeout: float) -> bool:
    """Whether the agent's starting point (bug state, `test_patch` reverse-applied) passes the
    language's build check. Leaves the tree reset."""
    sandbox.write_files({"/tmp/gskill-bug.diff": bug_patch, "/tmp/gskill-hide.diff": test_patch})
    try:
        done = sandbox.exec(
            "git apply --whitespace=nowarn /tmp/gskill-bug.diff && "
            f"git apply --whitespace=nowarn -R /tmp/gskill-hide.diff && {{ {spec.build_check} ; }}",
            timeout=timeout,
        )
        return done.ok
    finally:
        reset(sandbox)
