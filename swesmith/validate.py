"""Validation: does a candidate bug make tests fail that pass on the snapshot, reliably?

One long-lived sandbox per worker holds the snapshot; each candidate is applied, its tests run twice,
and the tree is reset (`git checkout` + `git clean`, ignored build files kept) for the next one. The
fixed state is the snapshot itself, measured ONCE for the whole suite (twice, for flakiness) and shared
by every candidate — that is what keeps validation overhead close to the bare test time.

Per-test results come from swebench's pytest log parser (`-rA` summary lines), never from grepping.
Semantics follow swebench 5.x grading: a test absent from a run whose suite did run counts as failed
(a module that no longer imports); SKIPPED on the bug state is not a failure.
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass, field

from swebench.harness.log_parsers.python import parse_log_pytest

from harnesses.sandbox import Sandbox
from swesmith.candidate import Candidate

PYTEST = "python -m pytest -rA -q -p no:cacheprovider --tb=short"
# Repeat runs only need each test's outcome.
PYTEST_QUIET = "python -m pytest -rA -q -p no:cacheprovider --tb=no"
# The first bug-state run keeps tracebacks for the problem statement, but only of its first few
# failures: a bug that breaks a constructor fails a thousand tests, and formatting their tracebacks
# (source lookups for every frame) took longer than running them (seen on click: 15 s timeouts).
PLUGIN_DIR = "/tmp/gskill-pytest"
PLUGIN = """\
import pytest

_SHOWN = [0]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # After three failures, build reports as --tb=no does (cheap: no source lookups per frame).
    option = item.config.option
    saved = option.tbstyle
    if _SHOWN[0] >= 3:
        option.tbstyle = "no"
    try:
        report = (yield).get_result()
    finally:
        option.tbstyle = saved
    if report.failed and _SHOWN[0] < 3:
        _SHOWN[0] += 1
"""
PYTEST_FIRST = PYTEST + " -p gskill_few_tracebacks"
# Every test's setup/call/teardown time, even the tiny ones, so per-file costs can be summed.
DURATIONS = " --durations=0 --durations-min=0"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s (?:setup|call|teardown)\s+(\S+?)::", re.M)
PASSING = {"PASSED", "XFAIL"}
FAILING = {"FAILED", "ERROR"}
# pytest's closing line, e.g. "=== 3 failed, 10 passed in 0.52s ===" or "no tests ran in 0.01s".
# With -q the line has no "===" frame.
_SUMMARY = re.compile(
    r"^=*\s*(?:no tests ran|\d+ (?:passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?))[^\n]* in [\d.]+s",
    re.M,
)
# Exit codes 0-2 and 5 are pytest's "tests ran" outcomes; 3 (internal error) and 4 (usage) are not.
_RAN_EXIT_CODES = {0, 1, 2, 5}


@dataclass
class TestRun:
    status: dict[str, str]
    exit_code: int
    duration_s: float
    timed_out: bool
    ran: bool  # the suite actually ran: pytest printed its summary line
    output: str = ""
    collection_errors: tuple[str, ...] = ()  # test files that failed to import

    @property
    def tail(self) -> str:
        return "\n".join(self.output.strip().splitlines()[-40:])


def pytest_command(selection: tuple[str, ...], base: str = PYTEST) -> str:
    """The pytest command line for test files and/or node ids (empty = the whole suite)."""
    return " ".join([base, *(shlex.quote(entry) for entry in selection)])


def file_seconds(output: str) -> dict[str, float]:
    """Test file -> seconds its tests took, from pytest's `--durations=0` table."""
    seconds: dict[str, float] = {}
    for match in _DURATION.finditer(output):
        seconds[match[2]] = seconds.get(match[2], 0.0) + float(match[1])
    return {path: round(total, 3) for path, total in seconds.items()}


PATCH_FAILED = 97  # exit code of a `prefix` that could not apply its patch


def run_tests(
    sandbox: Sandbox, test_files: tuple[str, ...], timeout: float, base: str = PYTEST, prefix: str = ""
) -> TestRun:
    """One pytest run; `prefix` is shell run first in the same exec (one round trip for apply + run)."""
    env = {"PYTHONDONTWRITEBYTECODE": "1"}
    if base == PYTEST_FIRST:
        if not getattr(sandbox, "_gskill_plugin", False):  # once per sandbox; /tmp survives reset()
            sandbox.write_file(f"{PLUGIN_DIR}/gskill_few_tracebacks.py", PLUGIN)
            sandbox._gskill_plugin = True
        env["PYTHONPATH"] = PLUGIN_DIR
    result = sandbox.exec(prefix + pytest_command(test_files, base), timeout=timeout, env=env)
    status = parse_log_pytest(result.output, None)
    errors = tuple(sorted(name for name, outcome in status.items() if outcome == "ERROR" and "::" not in name))
    ran = not result.timed_out and result.exit_code in _RAN_EXIT_CODES and bool(_SUMMARY.search(result.output))
    return TestRun(status, result.exit_code, result.duration_s, result.timed_out, ran, result.output, errors)


@dataclass
class Baseline:
    """The snapshot's test results, measured twice. Only tests that passed both times can be F2P/P2P."""

    passing: set[str]
    flaky: set[str]
    duration_s: float  # one full-suite run
    run_seconds: dict[str, float] = field(default_factory=dict)  # test file -> its tests' total time
    by_file: dict[str, set[str]] = field(init=False)  # test file -> its stably passing ids

    def __post_init__(self) -> None:
        self.by_file = {}
        for test in self.passing:
            self.by_file.setdefault(test.split("::", 1)[0], set()).add(test)

    def to_json(self) -> dict:
        return {
            "passing": sorted(self.passing),
            "flaky": sorted(self.flaky),
            "duration_s": self.duration_s,
            "run_seconds": self.run_seconds,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Baseline":
        return cls(set(data["passing"]), set(data["flaky"]), data["duration_s"], data.get("run_seconds", {}))

    @classmethod
    def measure(cls, sandbox: Sandbox, timeout: float, test_files: tuple[str, ...] = ()) -> "Baseline":
        first = run_tests(sandbox, test_files, timeout, PYTEST + DURATIONS)
        second = run_tests(sandbox, test_files, timeout, PYTEST_QUIET)
        for run in (first, second):
            if not run.ran:
                reason = "timed out" if run.timed_out else f"exit {run.exit_code}"
                raise RuntimeError(f"the snapshot's test suite does not run ({reason}):\n{run.tail}")
        flaky = {
            test for test in set(first.status) | set(second.status) if first.status.get(test) != second.status.get(test)
        }
        passing = {test for test, outcome in first.status.items() if outcome in PASSING and test not in flaky}
        return cls(passing, flaky, min(first.duration_s, second.duration_s), file_seconds(first.output))

    def estimate_seconds(self, selection: tuple[str, ...], collect_seconds: dict[str, float]) -> float:
        """Expected bare time of one run of `selection`: each file's collection (pytest startup
        included) plus its tests' run time (whole file, an upper bound for node ids)."""
        if not selection:
            return self.duration_s
        files = {entry.split("::", 1)[0] for entry in selection}
        return sum(collect_seconds.get(path, 1.0) + self.run_seconds.get(path, 0.0) for path in files)

    def relevant(self, selection: tuple[str, ...]) -> set[str]:
        """Stably passing tests selected by test files and/or node ids (a node id without its
        parametrization selects every parametrized case, as pytest does)."""
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
                    if test == entry or test.startswith(entry + "[") or test.startswith(entry + "::")
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


def _failed(test: str, run: TestRun) -> bool:
    outcome = run.status.get(test)
    if outcome is None:  # absent from a run that ran: its module failed to import or it was removed
        return run.ran
    return outcome in FAILING


# -d for new directories; no -x: ignored build artefacts (egg-info, compiled extensions) stay.
RESET = "git checkout -q -- . && git clean -fdq"


def reset(sandbox: Sandbox) -> None:
    done = sandbox.exec(RESET, timeout=120)
    if not done.ok:
        raise RuntimeError(f"cannot reset the sandbox: {done.output.strip()[-300:]}")


def apply_patch(sandbox: Sandbox, patch: str) -> bool:
    sandbox.write_file("/tmp/gskill-candidate.diff", patch)
    return sandbox.exec("git apply --whitespace=nowarn /tmp/gskill-candidate.diff", timeout=60).ok


def _repeat(
    sandbox: Sandbox, selection: tuple[str, ...], timeout: float, runs: int, stop=lambda run: False, patch: str = ""
) -> tuple[list[TestRun], str]:
    """Up to `runs` runs, `patch` applied in the first one's exec; (runs, "") or (runs so far, why)."""
    done: list[TestRun] = []
    prefix = ""
    if patch:
        sandbox.write_file("/tmp/gskill-candidate.diff", patch)
        prefix = f"git apply --whitespace=nowarn /tmp/gskill-candidate.diff || exit {PATCH_FAILED}; "
    for attempt in range(runs):
        run = run_tests(
            sandbox, selection, timeout, PYTEST_FIRST if attempt == 0 else PYTEST_QUIET, prefix if attempt == 0 else ""
        )
        if attempt == 0 and patch and run.exit_code == PATCH_FAILED and not run.ran:
            return [], "patch_does_not_apply"
        if run.timed_out:
            return done, "timeout"
        if not run.ran:
            return [*done, run], "env_error"
        done.append(run)
        if stop(run):
            break
    return done, ""


def validate(sandbox: Sandbox, candidate: Candidate, baseline: Baseline, *, timeout: float, runs: int = 2) -> Verdict:
    """Apply, run the candidate's tests `runs` times, decide F2P/P2P, reset. Never leaves the tree dirty.

    The fixed state is the snapshot (its results: `baseline`), unless the candidate carries its own
    gold patch (commit-historical): then the fixed state is bug state + gold, run `runs` times here.
    """
    began = time.monotonic()
    own_gold = candidate.meta.get("gold_patch")

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
                return not run.collection_errors and not any(outcome in FAILING for outcome in run.status.values())
        else:

            def nothing_broke(run: TestRun) -> bool:
                return not any(_failed(test, run) for test in relevant)

        bug_runs, why = _repeat(
            sandbox, candidate.test_files, timeout, runs, stop=nothing_broke, patch=candidate.bug_patch
        )
        if why:
            return rejected(why, failure_output=bug_runs[-1].tail if bug_runs else "")
        first = bug_runs[0]
        if nothing_broke(first):
            return rejected("no_f2p", test_time_s=first.duration_s)
        failure_output = first.output
        if own_gold:
            fixed_runs, why = _repeat(sandbox, candidate.test_files, timeout, runs, patch=own_gold)
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
        else:  # the gold patch (the bug reversed) and the reset, in one round trip
            done = sandbox.exec(
                f"git diff -R --binary > /tmp/gskill-gold.diff && {RESET} && cat /tmp/gskill-gold.diff", timeout=120
            )
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
        )
    finally:
        if not clean:
            reset(sandbox)
