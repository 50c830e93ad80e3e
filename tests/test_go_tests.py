"""The Go profile's test running, toolchain choice, image recipe and coverage, against real `go test`
output of a small module built here (the host's go), and one image build with Docker."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from languages.base import FAILED, PASSED, SKIPPED, CoverageError
from languages.base import TestRunLog as RunLog  # not collected as a test class
from languages.golang import coverage, gotest, image, image_setup, toolchain

GO = shutil.which("go")
needs_go = pytest.mark.skipif(GO is None, reason="no go on PATH")
MODULE = "example.com/fix"
# The host's caches: a private HOME (LocalSandbox) would otherwise compile the standard library anew.
HOST_GO_ENV = {"GOCACHE": os.path.expanduser("~/.cache/go-build"), "GOPATH": os.path.expanduser("~/go")}

FILES = {
    "go.mod": f"module {MODULE}\n\ngo 1.22\n",
    "calc/calc.go": """\
package calc

func Add(a, b int) int { return a + b }

func Sub(a, b int) int {
	if a > 100 {
		return 0
	}
	return a - b
}
""",
    "calc/calc_test.go": """\
package calc

import "testing"

func TestAdd(t *testing.T) {
	if Add(1, 2) != 3 {
		t.Fatal("bad")
	}
}

func TestSubFails(t *testing.T) {
	if got := Sub(5, 3); got != 3 {
		t.Errorf("Sub(5, 3) = %d, want 3", got)
	}
}

func TestSkipped(t *testing.T) { t.Skip("not today") }

func TestTable(t *testing.T) {
	for _, name := range []string{"one", "two words"} {
		t.Run(name, func(t *testing.T) {
			if name == "two words" {
				t.Fatalf("case %q failed\\nsecond line", name)
			}
		})
	}
}
""",
    "shapes/area.go": """\
package shapes

import "example.com/fix/calc"

func Square(side int) int { return side * side }

func Perimeter(side int) int { return calc.Add(side, side) * 2 }
""",
    "shapes/area_test.go": """\
package shapes

import "testing"

func TestSquare(t *testing.T) {
	if Square(3) != 9 {
		t.Fatal("square")
	}
}

func TestPerimeter(t *testing.T) {
	if Perimeter(2) != 8 {
		t.Fatal("perimeter")
	}
}
""",
    "broken/broken.go": "package broken\n\nfunc X() int { return undefinedThing }\n",
    "broken/broken_test.go": 'package broken\n\nimport "testing"\n\nfunc TestX(t *testing.T) { X() }\n',
    "panicky/p.go": "package panicky\n\nfunc Boom(xs []int) int { return xs[3] }\n",
    "panicky/p_test.go": """\
package panicky

import "testing"

func TestFine(t *testing.T) {}

func TestBoom(t *testing.T) { Boom(nil) }
""",
}
PASSING_FILES = {path: text for path, text in FILES.items() if path.split("/")[0] in ("go.mod", "calc", "shapes")}
PASSING_FILES["calc/calc_test.go"] = """\
package calc

import "testing"

func TestAdd(t *testing.T) {
	if Add(1, 2) != 3 {
		t.Fatal("bad")
	}
}

func TestSub(t *testing.T) {
	for _, name := range []string{"small", "large"} {
		t.Run(name, func(t *testing.T) {
			if Sub(5, 3) != 2 {
				t.Fatal(name)
			}
		})
	}
}
"""


def write_module(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "fixture"], cwd=root, check=True)
    return root


def go_test(root: Path, selection: tuple[str, ...] = ()) -> RunLog:
    done = subprocess.run(
        ["bash", "-c", gotest.command(selection, "baseline")],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, **gotest.TEST_SPEC.env},
    )
    return RunLog(done.stdout + done.stderr, done.returncode)


@pytest.fixture(scope="module")
def module(tmp_path_factory) -> Path:
    return write_module(tmp_path_factory.mktemp("gomod"), FILES)


@pytest.fixture(scope="module")
def full_run(module) -> RunLog:
    if GO is None:
        pytest.skip("no go on PATH")
    return go_test(module)


# --- go test -json -----------------------------------------------------------------------------


@needs_go
def test_parse_reads_every_outcome_with_package_qualified_ids(full_run):
    status = gotest.parse(full_run.output)
    calc, panicky = f"{MODULE}/calc::", f"{MODULE}/panicky::"
    assert status == {
        calc + "TestAdd": PASSED,
        calc + "TestSubFails": FAILED,
        calc + "TestSkipped": SKIPPED,
        calc + "TestTable": FAILED,
        calc + "TestTable/one": PASSED,
        calc + "TestTable/two_words": FAILED,
        f"{MODULE}/shapes::TestSquare": PASSED,
        f"{MODULE}/shapes::TestPerimeter": PASSED,
        panicky + "TestFine": PASSED,
        panicky + "TestBoom": FAILED,
    }
    assert full_run.exit_code != 0 and gotest.ran(full_run)


@needs_go
def test_a_package_that_does_not_build_is_a_broken_unit_not_failed_tests(full_run):
    assert gotest.broken_units(full_run.output) == (f"{MODULE}/broken",)
    assert not any(test.startswith(f"{MODULE}/broken::") for test in gotest.parse(full_run.output))


def test_broken_units_of_go_before_1_24_without_build_events():
    old = "\n".join(
        json.dumps(event)
        for event in (
            {"Action": "output", "Package": "m/a", "Output": "FAIL\tm/a [build failed]\n"},
            {"Action": "fail", "Package": "m/a", "Elapsed": 0},
            {"Action": "run", "Package": "m/b", "Test": "TestB"},
            {"Action": "fail", "Package": "m/b", "Test": "TestB"},
            {"Action": "fail", "Package": "m/b", "Elapsed": 0.1},
            {"Action": "fail", "Package": "m/c", "Elapsed": 0.2},  # died before any test: TestMain, init
        )
    )
    assert gotest.broken_units("# m/a\na.go:3:1: undefined: x\n" + old) == ("m/a", "m/c")


def test_a_test_that_started_and_never_ended_failed():
    log = "\n".join(
        [
            json.dumps({"Action": "run", "Package": "m/p", "Test": "TestHangs"}),
            json.dumps({"Action": "run", "Package": "m/p", "Test": "TestDone"}),
            json.dumps({"Action": "pass", "Package": "m/p", "Test": "TestDone"}),
            "panic: test timed out after 30m0s",
        ]
    )
    assert gotest.parse(log) == {"m/p::TestHangs": FAILED, "m/p::TestDone": PASSED}


@needs_go
def test_selection_runs_whole_packages_and_top_level_tests_in_one_stream(module):
    calc, shapes = f"{MODULE}/calc", f"{MODULE}/shapes"
    run = go_test(module, (f"{calc}::TestAdd", f"{calc}::TestTable/one", shapes))
    assert gotest.parse(run.output) == {
        f"{calc}::TestAdd": PASSED,
        f"{calc}::TestTable": FAILED,
        f"{calc}::TestTable/one": PASSED,
        f"{calc}::TestTable/two_words": FAILED,
        f"{shapes}::TestSquare": PASSED,
        f"{shapes}::TestPerimeter": PASSED,
    }
    assert run.exit_code != 0  # the calc part failed, though the shapes part ran after it and passed
    assert {key for key in gotest.unit_seconds(run.output) if "::" not in key} == {calc, shapes}
    passing = go_test(module, (f"{calc}::TestAdd", shapes))
    assert passing.exit_code == 0 and len(gotest.parse(passing.output)) == 3


def test_command_groups_packages_by_filter():
    assert gotest.command((), "baseline") == f"{gotest.GO_TEST} ./..."
    one = gotest.command(("m/a::TestX", "m/a::TestY/sub", "m/b::TestX"), "first")
    assert "-run '^(TestX|TestY)$' m/a" in one and "-run '^(TestX)$' m/b" in one and "exit $gskill_rc" in one
    # A whole package covers its own test ids.
    assert gotest.command(("m/a", "m/a::TestX"), "grade") == f"{gotest.GO_TEST} m/a"


def test_a_validation_run_runs_test_binaries_with_the_limit_as_their_timeout():
    assert "-timeout 30m" in gotest.command(("m/a",), "first") and gotest.RUN_BINARIES not in gotest.command(
        ("m/a",), "first"
    )
    first = gotest.command(("m/a::TestX", "m/b"), "first", 12.2)
    assert first == f"bash {gotest.RUN_BINARIES} build 13s '' m/b '^(TestX)$' m/a"
    assert gotest.command(("m/a::TestX", "m/b"), "repeat", 12.2).startswith(f"bash {gotest.RUN_BINARIES} reuse 13s ")


@needs_go
def test_a_repeat_runs_the_binaries_the_first_run_linked(tmp_path):
    from harnesses.sandbox.local_backend import LocalSandbox
    from swesmith.validate import run_tests

    root = write_module(tmp_path / "mod", FILES)
    calc, shapes = f"{MODULE}/calc", f"{MODULE}/shapes"
    selection = (f"{calc}::TestAdd", shapes)
    with LocalSandbox.start(root, env=HOST_GO_ENV) as sandbox:
        first = run_tests(sandbox, gotest.TEST_SPEC, selection, timeout=300, purpose="first", limit_s=30)
        assert (
            first.ran
            and not first.broken_units
            and first.status
            == {
                f"{calc}::TestAdd": PASSED,
                f"{shapes}::TestSquare": PASSED,
                f"{shapes}::TestPerimeter": PASSED,
            }
        )
        assert gotest.unit_seconds(first.output).keys() >= {calc, shapes}
        sandbox.write_file("calc/calc.go", FILES["calc/calc.go"].replace("return a + b", "return a - b"))
        # The same binaries: the change is not seen (a repeat follows its first run on the same tree).
        repeat = run_tests(sandbox, gotest.TEST_SPEC, selection, timeout=300, purpose="repeat", limit_s=30)
        assert repeat.status == first.status and repeat.exit_code == 0
        again = run_tests(sandbox, gotest.TEST_SPEC, selection, timeout=300, purpose="first", limit_s=30)
        assert again.status[f"{calc}::TestAdd"] == FAILED and again.exit_code != 0
        sandbox.write_file("calc/calc.go", FILES["calc/calc.go"].replace("return a + b", 'return "a"'))
        broken = run_tests(sandbox, gotest.TEST_SPEC, selection, timeout=300, purpose="first", limit_s=30)
        assert set(broken.broken_units) == {calc, shapes} and not broken.status  # shapes imports calc


@needs_go
def test_a_hanging_test_is_stopped_by_go_and_the_run_counts_as_timed_out(tmp_path):
    from harnesses.sandbox.local_backend import LocalSandbox
    from swesmith.validate import run_tests

    hangs = {
        "go.mod": "module example.com/hang\n\ngo 1.22\n",
        "hang_test.go": 'package hang\n\nimport "testing"\n\nfunc TestQuick(t *testing.T) {}\n\n'
        "func TestHangs(t *testing.T) { select {} }\n",
    }
    root = write_module(tmp_path / "hang", hangs)
    assert not gotest.stalled(go_test(root, ("example.com/hang::TestQuick",)).output)
    with LocalSandbox.start(root, env=HOST_GO_ENV) as sandbox:
        run = run_tests(sandbox, gotest.TEST_SPEC, ("example.com/hang",), timeout=300, purpose="first", limit_s=1)
    assert run.timed_out and not run.ran and gotest.stalled(run.output)
    assert run.duration_s < 60  # Go stopped it, not our 300 s
    assert gotest.parse(run.output)["example.com/hang::TestHangs"] == FAILED


@needs_go
def test_ran_is_false_for_a_usage_error_or_our_timeout(module):
    usage = subprocess.run(
        ["go", "test", "-json", "-count=1", "-notaflag=1", "./calc"], cwd=module, capture_output=True, text=True
    )
    assert not gotest.ran(RunLog(usage.stdout + usage.stderr, usage.returncode))
    assert not gotest.ran(RunLog('{"Action":"run","Package":"m","Test":"TestA"}', -9, timed_out=True))


@needs_go
def test_unit_seconds_are_the_package_and_top_level_test_elapsed(full_run):
    seconds = gotest.unit_seconds(full_run.output)
    packages = {f"{MODULE}/{name}" for name in ("calc", "shapes", "panicky", "broken")}
    assert {key for key in seconds if "::" not in key} == packages
    tests = {key for key in seconds if "::" in key}
    assert f"{MODULE}/calc::TestAdd" in tests and not any("/" in key.split("::")[1] for key in tests)  # no subtests
    assert all(value >= 0 for value in seconds.values())


@needs_go
def test_failure_messages_are_the_symptoms_without_locations_or_stacks(full_run):
    messages = gotest.failure_messages(full_run.output, limit=10)
    assert messages == [
        "Sub(5, 3) = 2, want 3",
        'case "two words" failed',
        "second line",
        "runtime error: index out of range [3] with length 0",
    ]
    assert gotest.failure_messages(full_run.output, limit=2) == messages[:2]


def test_failure_messages_of_testify_drop_the_lines_naming_test_files():
    log = """\
=== RUN   TestEqual
    store_test.go:14: 
        \tError Trace:\t/repo/store/store_test.go:14
        \tError:      \tNot equal: 
        \t            \texpected: 3
        \t            \tactual  : 2
        \tTest:       \tTestEqual
--- FAIL: TestEqual (0.00s)
FAIL
"""
    assert gotest.failure_messages(log) == ["Error: Not equal:", "expected: 3", "actual : 2"]


@needs_go
def test_the_build_check_tells_a_mutation_that_does_not_compile(module, tmp_path):
    from harnesses.sandbox.local_backend import LocalSandbox

    def builds(sandbox) -> bool:
        return sandbox.exec(gotest.TEST_SPEC.build_check, timeout=120).exit_code == 0

    with LocalSandbox.start(module, env=HOST_GO_ENV) as sandbox:
        assert builds(sandbox)  # nothing changed
        sandbox.write_file("calc/calc.go", FILES["calc/calc.go"].replace("return a + b", "return a - b"))
        assert builds(sandbox)
        sandbox.write_file("calc/calc.go", FILES["calc/calc.go"].replace("return a + b", 'return "a"'))
        assert not builds(sandbox)
        sandbox.exec("git checkout -q -- .")
        # go test's vet checks fail a build as well.
        vet = FILES["shapes/area.go"].replace(
            'import "example.com/fix/calc"', 'import (\n\t"fmt"\n\n\t"example.com/fix/calc"\n)'
        )
        sandbox.write_file("shapes/area.go", vet + 'func S() string { return fmt.Sprintf("%d", "x") }\n')
        assert not builds(sandbox)


# --- toolchain ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "go_mod, version",
    [
        ("module m\n\ngo 1.22\n", "1.22.0"),
        ("module m\n\ngo 1.21.5\n", "1.21.5"),
        ("module m\n\ngo 1.22.1\n\ntoolchain go1.23.4\n", "1.23.4"),
        ("module m\n\ngo 1.23.2\ntoolchain go1.23.0 // older than the go line: go wins\n", "1.23.2"),
        ("module m\n\ngo 1.16\n", toolchain.DEFAULT_VERSION),
        ("module m\n", toolchain.DEFAULT_VERSION),
    ],
)
def test_wanted_version(go_mod, version):
    assert toolchain.wanted_version(go_mod) == version


def test_install_unpacks_the_toolchain_zip_with_its_file_modes(tmp_path, monkeypatch):
    """image_setup.install against a zip laid out as the proxy serves it (served from a file URL)."""
    version = "1.22.0"
    root = toolchain.zip_root(version)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        for name, mode, text in (("bin/go", 0o755, "#!/bin/sh\necho go\n"), ("VERSION", 0o644, "go1.22.0\n")):
            info = zipfile.ZipInfo(root + name)
            info.external_attr = (0o100000 | mode) << 16
            bundle.writestr(info, text)
    served = tmp_path / "proxy" / "golang.org/toolchain/@v" / f"v0.0.1-go{version}.linux-amd64.zip"
    served.parent.mkdir(parents=True)
    served.write_bytes(archive.getvalue())
    assert toolchain.toolchain_url(version).endswith(served.name)
    monkeypatch.setattr(image_setup, "PROXY", (tmp_path / "proxy").as_uri())
    image_setup.install(version, str(tmp_path / "go"))
    assert os.access(tmp_path / "go/bin/go", os.X_OK)
    assert (tmp_path / "go/VERSION").read_text() == "go1.22.0\n"
    assert not os.access(tmp_path / "go/VERSION", os.X_OK)


# --- image recipe and layout notes -------------------------------------------------------------


def test_recipe_installs_the_wanted_toolchain_and_runs_offline_after():
    files = {"go.mod": "module m\n\ngo 1.23.1\n", "go.sum": "x v1 h1:abc=\n"}
    made = image.recipe(sorted(files), files.get)
    assert made.sources == ("go.mod: go 1.23.1 -> toolchain go1.23.1",)
    assert "image_setup.py install 1.23.1 /usr/local/go" in made.toolchain_steps and made.files["gskill/image_setup.py"]
    offline = made.steps.index("GOPROXY=off")
    assert made.steps.index("image_setup.py prepare") < offline and "GOTOOLCHAIN=local" in made.toolchain_steps
    assert made.key["go"] == "1.23.1"
    other = image.recipe(sorted(files), {**files, "go.sum": "x v2 h1:def=\n"}.get)
    assert other.key != made.key


def test_layout_notes_name_the_module_version_packages_and_commands():
    paths = ["go.mod", "main.go", "index/index.go", "index/index_test.go", "search/q/q.go", "vendor/x/x.go"]
    notes = image.layout_notes(paths, {"go.mod": "module github.com/a/b\n\ngo 1.24\n"}.get)
    text = "\n".join(notes)
    assert "`github.com/a/b`" in text and "go1.24.0" in text
    assert "`.`, `index/`, `search/`." in text and "vendor" not in text
    assert "go test ./..." in text and "go test -run '^TestName$' ./index/..." in text


# --- coverage ----------------------------------------------------------------------------------


@needs_go
def test_coverage_maps_lines_to_the_tests_that_run_them(tmp_path):
    from harnesses.sandbox.local_backend import LocalSandbox

    repo = write_module(tmp_path / "repo", PASSING_FILES)
    with LocalSandbox.start(repo, env=HOST_GO_ENV) as sandbox:
        lines = coverage.measure(sandbox, set(), timeout=300)
        assert sandbox.exec("git status --porcelain --ignored").output == ""
    tests = {test for by_line in lines.values() for ids in by_line.values() for test in ids}
    # Each line maps to the tests of its own package that executed it, by test id.
    assert tests and all(test.startswith((f"{MODULE}/calc::", f"{MODULE}/shapes::")) for test in tests)
    assert all(test.startswith(f"{MODULE}/calc::") for test in lines["calc/calc.go"][3])
    assert 7 not in lines["calc/calc.go"]  # `return 0` of a > 100: no test gets there
    assert lines["shapes/area.go"][5] and "calc/calc_test.go" not in lines


@needs_go
def test_coverage_of_chosen_units_and_its_errors(tmp_path):
    from harnesses.sandbox.local_backend import LocalSandbox

    repo = write_module(tmp_path / "repo", PASSING_FILES)
    with LocalSandbox.start(repo, env=HOST_GO_ENV) as sandbox:
        lines = coverage.measure(sandbox, {f"{MODULE}/shapes::TestSquare"}, timeout=300)
        assert set(lines) == {"shapes/area.go"}
        with pytest.raises(CoverageError):
            coverage.measure(sandbox, {f"{MODULE}/nothere"}, timeout=300)
        sandbox.exec("rm go.mod")
        with pytest.raises(CoverageError, match="cannot read the module path"):
            coverage.measure(sandbox, set(), timeout=300)


# --- the image, built for real -----------------------------------------------------------------


@pytest.mark.docker
def test_the_recipe_builds_an_image_whose_tests_run_offline(docker_client, base_image, tmp_path):
    """The recipe after a header like the env image's: the toolchain installed, tests run with no
    network, and the build cache holds no compiled package of the repository's own."""
    from harnesses.images.build import _build_context, host_ca_bundle, resolve_snapshot

    repo = write_module(tmp_path / "repo", PASSING_FILES)
    made = image.recipe(sorted(PASSING_FILES), PASSING_FILES.get)
    # The env image's own Dockerfile and context around the recipe (toolchain layers first).
    snapshot = resolve_snapshot(repo, None, tmp_path / "cache")
    context = _build_context(snapshot, made, base_image, host_ca_bundle())
    tag = "gskill-test/go-recipe:latest"
    try:
        for event in docker_client.api.build(
            fileobj=io.BytesIO(context), custom_context=True, tag=tag, rm=True, forcerm=True, decode=True
        ):
            assert "error" not in event, event["error"]
        script = (
            "tr -d '\\n' < /opt/gskill/env.json; echo; "
            # The cache holds nothing compiled from the repository's own packages.
            f"if grep -rlq '{MODULE}' /root/.cache/go-build; then echo OWN CODE CACHED; exit 1; fi; "
            + gotest.command((), "baseline")
        )
        output = docker_client.containers.run(tag, ["bash", "-c", script], network_mode="none", remove=True).decode()
        report = json.loads(output.split("\n", 1)[0])
        assert report["collected"] == 4 and report["language"] == "go" and report["go_version"] == "1.22.0"
        status = gotest.parse(output)
        assert len(status) == 6 and set(status.values()) == {PASSED}, output[-2000:]
    finally:
        try:
            docker_client.images.remove(tag, force=True)
        except Exception:
            pass
