"""Validation in a real sandbox: exact F2P/P2P sets, and every rejection reason."""

from __future__ import annotations

import textwrap
import uuid
from dataclasses import replace

import pytest

from gskill.schema import Strategy
from harnesses.sandbox import DockerSandbox
from swesmith.candidate import Candidate
from swesmith.patches import make_patch
from swesmith.validate import INLINE_PATCH_BYTES, Baseline, validate
from tests.repo_factory import CALC_FILES

CALC = textwrap.dedent(CALC_FILES["src/calc/__init__.py"]).lstrip("\n")
TESTS = ("tests/test_calc.py",)
ALL_TESTS = {
    "tests/test_calc.py::test_add[1-2-3]",
    "tests/test_calc.py::test_add[0-0-0]",
    "tests/test_calc.py::test_add[-1-1-0]",
    "tests/test_calc.py::test_add[10-5-15]",
    "tests/test_calc.py::test_clamp_low",
    "tests/test_calc.py::test_clamp_high",
    "tests/test_calc.py::test_clamp_inside",
}


def candidate(new_source: str, test_files=TESTS, path="src/calc/__init__.py", old=CALC) -> Candidate:
    return Candidate(
        strategy=Strategy.PROCEDURAL, group="g", bug_patch=make_patch({path: (old, new_source)}), test_files=test_files
    )


@pytest.fixture(scope="module")
def box(calc_env_image):
    with DockerSandbox.start(calc_env_image, run_id=f"test-validate-{uuid.uuid4().hex[:6]}") as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def baseline(box) -> Baseline:
    return Baseline.measure(box, timeout=120)


def test_baseline_sees_every_test_pass_twice(baseline):
    assert baseline.passing == ALL_TESTS and baseline.flaky == set()
    assert baseline.by_file == {"tests/test_calc.py": ALL_TESTS}
    # Node ids select like pytest does: a function id takes all its parametrized cases.
    assert len(baseline.relevant(("tests/test_calc.py::test_add",))) == 4
    assert baseline.relevant(("tests/test_calc.py::test_clamp_low", "nope.py")) == {
        "tests/test_calc.py::test_clamp_low"
    }


def test_node_id_selection_narrows_what_runs(box, baseline):
    selection = ("tests/test_calc.py::test_clamp_high", "tests/test_calc.py::test_clamp_low")
    verdict = validate(
        box, candidate(CALC.replace("return high", "return low"), test_files=selection), baseline, timeout=60
    )
    assert verdict.fail_to_pass == ["tests/test_calc.py::test_clamp_high"]
    assert verdict.pass_to_pass == ["tests/test_calc.py::test_clamp_low"]


def test_a_real_bug_gives_exact_fail_to_pass_and_pass_to_pass(box, baseline):
    verdict = validate(box, candidate(CALC.replace("return high", "return low")), baseline, timeout=60)
    assert verdict.ok and verdict.reason == "ok"
    assert verdict.fail_to_pass == ["tests/test_calc.py::test_clamp_high"]
    assert set(verdict.pass_to_pass) == ALL_TESTS - {"tests/test_calc.py::test_clamp_high"}
    assert "-        return low\n+        return high" in verdict.gold_patch  # gold = bug state -> snapshot
    assert "assert 0 == 10" in verdict.failure_output
    assert box.diff() == ""  # the sandbox is reset for the next candidate


def test_a_patch_too_big_to_travel_in_the_command_is_uploaded_with_the_same_verdict(box, baseline):
    bug = CALC.replace("return high", "return low")
    big = candidate(bug + "# padding\n" * 12_000)  # past Linux's 128 KiB limit for one argument
    assert len(big.bug_patch) > INLINE_PATCH_BYTES
    small_verdict, big_verdict = (validate(box, case, baseline, timeout=60) for case in (candidate(bug), big))
    assert big_verdict.fail_to_pass == small_verdict.fail_to_pass == ["tests/test_calc.py::test_clamp_high"]
    assert big_verdict.pass_to_pass == small_verdict.pass_to_pass
    assert big_verdict.gold_patch.count("\n-# padding") == 12_000
    assert box.diff() == ""


def test_a_module_that_stops_importing_fails_every_test(box, baseline):
    verdict = validate(box, candidate("import calc_missing_dependency\n" + CALC), baseline, timeout=60)
    assert verdict.ok and set(verdict.fail_to_pass) == ALL_TESTS and verdict.pass_to_pass == []


@pytest.mark.parametrize(
    "new_source,reason",
    [
        (CALC.replace("return a + b", "return b + a  # same behaviour"), "no_f2p"),
        (CALC.replace("if value > high:", "if value > high:\n        while True:\n            pass"), "timeout"),
    ],
)
def test_rejections(box, baseline, new_source, reason):
    verdict = validate(box, candidate(new_source), baseline, timeout=5)
    assert not verdict.ok and verdict.reason == reason
    assert box.diff() == ""


def test_the_build_check_runs_once_a_bug_broke_something_and_still_rejects(box, baseline, monkeypatch):
    """The language's build check runs with the second run: a candidate that breaks nothing is
    rejected after one run without it; one that breaks tests but fails the check is rejected."""
    spec = replace(baseline.spec, build_check="! grep -q CHECK-FAILS src/calc/__init__.py")
    monkeypatch.setattr(Baseline, "spec", property(lambda self: spec))
    checked = baseline
    harmless = CALC.replace("return a + b", "return b + a  # CHECK-FAILS")
    assert validate(box, candidate(harmless), checked, timeout=60).reason == "no_f2p"
    failing_check = CALC.replace("return high", "return low  # CHECK-FAILS")
    verdict = validate(box, candidate(failing_check), checked, timeout=60)
    assert verdict.reason == "does_not_build" and not verdict.ok
    assert box.diff() == ""
    assert validate(box, candidate(CALC.replace("return high", "return low")), checked, timeout=60).ok
    single = validate(box, candidate(failing_check), checked, timeout=60, runs=1)  # one run: checked in it
    assert single.reason == "does_not_build" and box.diff() == ""


def test_patch_that_does_not_apply(box, baseline):
    stale = candidate("x = 2\n", path="src/calc/__init__.py", old="x = 1\n")
    assert validate(box, stale, baseline, timeout=60).reason == "patch_does_not_apply"


def test_a_broken_test_environment_is_an_env_error(box, baseline):
    broken = candidate("raise SystemExit('conftest explodes')\n", path="tests/conftest.py", old=None)
    assert validate(box, broken, baseline, timeout=60).reason == "env_error"
    assert box.exec("test -e tests/conftest.py; echo $?").output.strip() == "1"  # new files are cleaned too


def test_a_bug_that_fails_only_sometimes_is_flaky(box, baseline):
    flip = f"/tmp/gskill-flip-{uuid.uuid4().hex}"
    # Alternates per process: the first pytest run sees the bug, the second does not.
    flaky = (
        "import os\n"
        f"_BROKEN = not os.path.exists({flip!r})\n"
        f"if _BROKEN:\n    open({flip!r}, 'w').close()\n"
        f"else:\n    os.remove({flip!r})\n" + CALC.replace("return a + b", "return a + b + (1 if _BROKEN else 0)")
    )
    assert validate(box, candidate(flaky), baseline, timeout=60).reason == "flaky"


def test_tests_that_flicker_on_the_snapshot_are_excluded_from_the_baseline(box):
    flip = f"/tmp/gskill-flip-{uuid.uuid4().hex}"
    test = (
        "import os\n\n\ndef test_flicker():\n"
        f"    if os.path.exists({flip!r}):\n        os.remove({flip!r})\n        assert False\n"
        f"    open({flip!r}, 'w').close()\n"
    )
    box.write_file("tests/test_flicker.py", test)
    try:
        baseline = Baseline.measure(box, timeout=60)
    finally:
        box.exec("rm -f tests/test_flicker.py")
    assert baseline.flaky == {"tests/test_flicker.py::test_flicker"}
    assert "tests/test_flicker.py::test_flicker" not in baseline.passing


def test_coverage_maps_functions_to_the_test_files_that_run_them(box):
    from swesmith.coverage_map import measure, tests_per_function

    lines = measure(box, {"tests/test_calc.py"}, timeout=300)
    assert lines is not None and "src/calc/__init__.py" in lines
    mapping = tests_per_function({"src/calc/__init__.py": CALC}, lines)
    assert mapping == {
        ("src/calc/__init__.py", "add"): {"tests/test_calc.py::test_add"},
        ("src/calc/__init__.py", "clamp"): {
            f"tests/test_calc.py::test_clamp_{case}" for case in ("low", "high", "inside")
        },
    }
    assert box.diff() == ""  # coverage's files are gone
