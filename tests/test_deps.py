"""Tests for harnesses.images.deps: dependency detection rules and the generated install script."""

from __future__ import annotations

import json
import os
import random
import shutil
import stat
import subprocess
import textwrap
from pathlib import Path

import pytest

from harnesses.images.deps import DependencySpec, detect_dependencies


def detect(files: dict[str, str]) -> DependencySpec:
    """Run detection over an in-memory tree."""
    return detect_dependencies(list(files), files.get)


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip()


PROJECT = '[project]\nname = "demo"\nversion = "0"\n'


# --------------------------------------------------------------------------------------
# Editable install detection
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "files, editable",
    [
        ({"pyproject.toml": PROJECT}, True),
        ({"pyproject.toml": '[build-system]\nrequires = ["setuptools"]\n'}, True),
        ({"pyproject.toml": "[tool.black]\nline-length = 100\n"}, False),
        ({"pyproject.toml": "[project]\nname = 'broken\n"}, True),  # unparsable, but declares a project
        ({"setup.py": "from setuptools import setup\nsetup()\n"}, True),
        ({"setup.cfg": "[metadata]\nname = demo\n"}, True),
        ({"setup.cfg": "[flake8]\nmax-line-length = 100\n"}, False),  # tool config only
        ({"README.md": "hi"}, False),
    ],
)
def test_editable_install_detection(files: dict[str, str], editable: bool) -> None:
    assert detect(files).editable_install is editable


# --------------------------------------------------------------------------------------
# pyproject extras and dependency groups
# --------------------------------------------------------------------------------------


def test_test_extras_preferred_over_dev_with_name_normalisation() -> None:
    spec = detect(
        {
            "pyproject.toml": PROJECT
            + dedent(
                """
                [project.optional-dependencies]
                Tests = ["pytest"]
                test_ing = ["hypothesis"]
                dev = ["black"]
                docs = ["sphinx"]
                """
            )
        }
    )
    assert spec.extras == ("Tests",)  # "test_ing" normalises to "test-ing", not "testing"
    assert spec.sources == ("pyproject optional-dependencies: Tests",)


def test_testing_with_underscore_and_case_variants_are_all_taken() -> None:
    spec = detect(
        {"pyproject.toml": PROJECT + '[project.optional-dependencies]\nTESTING = ["a"]\n"test_" = ["b"]\ndev = ["c"]\n'}
    )
    assert spec.extras == ("TESTING", "test_")


def test_dev_extra_only_without_test_extras() -> None:
    spec = detect({"pyproject.toml": PROJECT + '[project.optional-dependencies]\ndev = ["pytest"]\ndocs = ["x"]\n'})
    assert spec.extras == ("dev",)
    assert spec.sources == ("pyproject optional-dependencies: dev",)


def test_no_matching_extras() -> None:
    spec = detect({"pyproject.toml": PROJECT + '[project.optional-dependencies]\ndocs = ["sphinx"]\n'})
    assert spec.extras == ()


def test_dependency_groups_include_group_recursively_and_cycle_safe() -> None:
    spec = detect(
        {
            "pyproject.toml": PROJECT
            + dedent(
                """
                [dependency-groups]
                test = ["pytest>=7", {include-group = "coverage"}]
                coverage = ["coverage[toml]", {include-group = "Test"}, {include-group = "missing"}]
                dev = ["ruff"]
                """
            )
        }
    )
    assert spec.requirements == ("coverage[toml]", "pytest>=7")
    assert spec.sources == ("pyproject dependency-groups: test",)
    assert spec.extras == ()


def test_dependency_groups_dev_fallback() -> None:
    spec = detect({"pyproject.toml": PROJECT + '[dependency-groups]\ndev = ["pytest", "mypy"]\nlint = ["ruff"]\n'})
    assert spec.requirements == ("mypy", "pytest")
    assert spec.sources == ("pyproject dependency-groups: dev",)


def test_setup_cfg_and_setup_py_extras() -> None:
    setup_py = dedent(
        """
        from setuptools import setup
        EXTRAS = {"tests": ["pytest"], "docs": ["sphinx"]}
        setup(name="demo", extras_require=EXTRAS)
        """
    )
    spec = detect({"setup.py": setup_py})
    assert spec.extras == ("tests",)
    assert spec.sources == ("setup.py extras_require: tests",)

    spec = detect({"setup.py": "import setuptools\nsetuptools.setup(extras_require=dict(dev=['x']))\n"})
    assert spec.extras == ("dev",)

    setup_cfg = "[metadata]\nname = demo\n[options.extras_require]\nTesting = pytest\ndev = black\n"
    spec = detect({"setup.cfg": setup_cfg})
    assert spec.extras == ("Testing",)
    assert spec.sources == ("setup.cfg extras_require: Testing",)


def test_poetry_pdm_and_hatch_groups() -> None:
    poetry = PROJECT + dedent(
        """
        [tool.poetry.dev-dependencies]
        black = "*"
        [tool.poetry.group.test.dependencies]
        python = "^3.8"
        pytest = "^7.0"
        pytest-asyncio = {version = "*", extras = ["testing"]}
        localthing = {path = "../localthing"}
        """
    )
    spec = detect({"pyproject.toml": poetry})
    assert spec.requirements == ("pytest", "pytest-asyncio[testing]")
    assert spec.sources == ("pyproject poetry group: test",)

    pdm = PROJECT + '[tool.pdm.dev-dependencies]\nlint = ["ruff"]\ntest = ["pytest", "-e file:///${PROJECT_ROOT}/x"]\n'
    assert detect({"pyproject.toml": pdm}).requirements == ("pytest",)

    hatch = PROJECT + dedent(
        """
        [tool.hatch.envs.default]
        dependencies = ["pytest", "coverage[toml]", "{root:uri}/sub"]
        features = ["cli"]
        [tool.hatch.envs.dev]
        dependencies = ["black"]
        """
    )
    spec = detect({"pyproject.toml": hatch})
    assert spec.requirements == ("coverage[toml]", "pytest")
    assert spec.extras == ("cli",)
    assert spec.sources == ("pyproject hatch env: default",)


# --------------------------------------------------------------------------------------
# Requirement files
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "paths, expected",
    [
        (["requirements-test.txt"], ["requirements-test.txt"]),
        (["requirements_tests.txt"], ["requirements_tests.txt"]),
        (["requirements-testing.txt"], ["requirements-testing.txt"]),
        (["test-requirements.txt"], ["test-requirements.txt"]),
        (["tests_requirements.txt"], ["tests_requirements.txt"]),
        (["requirements/test.txt"], ["requirements/test.txt"]),
        (["requirements/tests.txt", "requirements/base.txt"], ["requirements/tests.txt"]),
        (["requirements/testing.in"], ["requirements/testing.in"]),  # .in without a .txt sibling
        (["requirements/test.in", "requirements/test.txt"], ["requirements/test.txt"]),
        (["tests/requirements.txt"], ["tests/requirements.txt"]),
        (["tests/requirements-ci.txt"], ["tests/requirements-ci.txt"]),
        # docs and unrelated files are ignored
        (["requirements-docs.txt", "docs/requirements.txt", "requirements/docs.txt"], []),
        (["requirements/doc-test.txt"], []),
        (["requirements-latest.txt"], []),  # "latest" contains "test" but is not a test file
        (["examples/requirements-test.txt", "docs/test-requirements.txt"], []),  # outside searched dirs
        # dev files only when there is no test file
        (["requirements-dev.txt"], ["requirements-dev.txt"]),
        (["requirements/dev.txt"], ["requirements/dev.txt"]),
        (["dev-requirements.txt", "requirements-test.txt"], ["requirements-test.txt"]),
        (["requirements/dev.txt", "requirements/test.txt"], ["requirements/test.txt"]),
    ],
)
def test_requirement_file_patterns(paths: list[str], expected: list[str]) -> None:
    files = {"pyproject.toml": PROJECT, **{p: "pytest\n" for p in paths}}
    spec = detect(files)
    assert list(spec.requirement_files) == expected
    assert set(expected) <= set(spec.sources)


def test_root_requirements_txt_only_without_an_installable_project() -> None:
    spec = detect({"requirements.txt": "flask\n", "requirements-test.txt": "pytest\n"})
    assert spec.editable_install is False
    assert spec.requirement_files == ("requirements-test.txt", "requirements.txt")

    spec = detect({"setup.py": "setup()", "requirements.txt": "flask\n"})
    assert spec.requirement_files == ()


# --------------------------------------------------------------------------------------
# tox
# --------------------------------------------------------------------------------------

TOX_INI = dedent(
    """
    [tox]
    envlist = py38, py39

    [testenv]
    # comments are dropped
    deps =
        -r{toxinidir}/requirements/base.txt
        -r{toxinidir}/requirements/missing.txt
        pytest>=7  # inline comment
        pytest-cov
        py38: mock
        !py39,py310: typing-extensions
        {posargs}
        -e .
        -c constraints.txt
        mylib @ https://example.com/mylib.tar.gz#egg=mylib
        long-name-\\
          continued
    extras =
        test
        py38: legacy
    commands = pytest {posargs}
    """
)


def test_tox_ini_fallback_with_substitutions_factors_and_comments() -> None:
    spec = detect({"setup.py": "setup()", "tox.ini": TOX_INI, "requirements/base.txt": "six\n"})
    assert spec.requirement_files == ("requirements/base.txt",)
    assert spec.requirements == (
        "long-name-continued",
        "mylib @ https://example.com/mylib.tar.gz#egg=mylib",
        "pytest-cov",
        "pytest>=7",
    )
    assert spec.extras == ("test",)
    assert spec.sources == ("tox.ini [testenv] deps", "tox.ini [testenv] extras")


def test_tox_not_used_when_test_dependencies_already_found() -> None:
    files = {
        "pyproject.toml": PROJECT + '[project.optional-dependencies]\ntest = ["pytest"]\n',
        "tox.ini": "[testenv]\ndeps = nose\n",
    }
    spec = detect(files)
    assert spec.requirements == ()
    assert spec.extras == ("test",)

    files = {"setup.py": "setup()", "requirements-test.txt": "pytest\n", "tox.ini": "[testenv]\ndeps = nose\n"}
    assert detect(files).requirements == ()


def test_runtime_requirements_txt_does_not_suppress_tox() -> None:
    spec = detect({"requirements.txt": "flask\n", "tox.ini": "[testenv]\ndeps = pytest\n"})
    assert spec.requirement_files == ("requirements.txt",)
    assert spec.requirements == ("pytest",)


def test_tox_section_in_setup_cfg() -> None:
    setup_cfg = dedent(
        """
        [metadata]
        name = demo

        [tox:tox]
        envlist = py3

        [testenv]
        deps =
            pytest
            py37: importlib-metadata
        """
    )
    spec = detect({"setup.cfg": setup_cfg})
    assert spec.editable_install is True
    assert spec.requirements == ("pytest",)
    assert spec.sources == ("setup.cfg [testenv] deps",)


def test_tox_legacy_ini_in_pyproject_and_native_toml() -> None:
    legacy = PROJECT + dedent(
        '''
        [tool.tox]
        legacy_tox_ini = """
        [testenv]
        deps =
            pytest
            {[base]deps}
        """
        '''
    )
    spec = detect({"pyproject.toml": legacy})
    assert spec.requirements == ("pytest",)
    assert spec.sources == ("pyproject [tool.tox] legacy_tox_ini [testenv] deps",)

    native = PROJECT + '[tool.tox.env_run_base]\ndeps = ["pytest", "hypothesis"]\nextras = ["testing"]\n'
    spec = detect({"pyproject.toml": native})
    assert spec.requirements == ("hypothesis", "pytest")
    assert spec.extras == ("testing",)


def test_tox_ini_wins_over_setup_cfg() -> None:
    files = {
        "setup.cfg": "[metadata]\nname = x\n[testenv]\ndeps = nose\n",
        "tox.ini": "[testenv]\ndeps = pytest\n",
    }
    assert detect(files).requirements == ("pytest",)


# --------------------------------------------------------------------------------------
# nox
# --------------------------------------------------------------------------------------

NOXFILE = dedent(
    """
    import nox

    TEST_DEPS = ["pytest-mock", "hypothesis"]

    @nox.session
    def lint(session):
        session.install("flake8")

    @nox.session(python=["3.8", "3.9"])
    def tests(session):
        session.install("-e", ".[test]")
        session.install("-r", "requirements/ci.txt", "-r", "requirements/absent.txt")
        session.install("pytest", "-c", "constraints.txt", "--upgrade", ".")
        session.install(*TEST_DEPS)
        session.run("pytest")

    @nox.session(name="unit-test")
    def run_unit(s):
        s.install("coverage")
    """
)


def test_noxfile_install_calls_of_test_sessions() -> None:
    spec = detect({"setup.py": "setup()", "noxfile.py": NOXFILE, "requirements/ci.txt": "x\n"})
    assert spec.requirements == ("coverage", "hypothesis", "pytest", "pytest-mock")  # no flake8 (lint session)
    assert spec.requirement_files == ("requirements/ci.txt",)
    assert spec.extras == ("test",)
    assert spec.sources == ("noxfile.py session.install",)


def test_noxfile_all_sessions_when_none_is_test_named() -> None:
    noxfile = "import nox\n@nox.session\ndef check(session):\n    session.install('pytest')\n"
    assert detect({"noxfile.py": noxfile}).requirements == ("pytest",)


def test_noxfile_only_when_tox_found_nothing() -> None:
    files = {"noxfile.py": NOXFILE, "tox.ini": "[testenv]\ndeps = nose\n"}
    assert detect(files).requirements == ("nose",)
    files = {"noxfile.py": "this is not python(", "setup.py": "setup()"}
    assert detect(files).requirements == ()


# --------------------------------------------------------------------------------------
# Nothing found, determinism, serialisation
# --------------------------------------------------------------------------------------


def test_nothing_found() -> None:
    spec = detect({"README.md": "hello", "src/x.py": ""})
    assert spec == DependencySpec(False, (), (), (), ())
    script = spec.install_script()
    assert "pip install -e" not in script
    assert script.rstrip().endswith("python -m pytest --version >/dev/null 2>&1 || python -m pip install pytest")


def test_deterministic_regardless_of_path_order() -> None:
    files = {
        "pyproject.toml": PROJECT + '[project.optional-dependencies]\ntests = ["a"]\ntest = ["b"]\n'
        '[dependency-groups]\ntest = ["zeta", "alpha", "alpha"]\n',
        "requirements/test.txt": "",
        "requirements-test.txt": "",
        "tests/requirements.txt": "",
    }
    paths = list(files)
    results = set()
    for seed in range(5):
        random.Random(seed).shuffle(paths)
        spec = detect_dependencies(list(paths), files.get)
        results.add((json.dumps(spec.to_json(), sort_keys=True), spec.install_script()))
    assert len(results) == 1
    payload = json.loads(results.pop()[0])
    assert payload == {
        "editable_install": True,
        "extras": ["test", "tests"],
        "requirement_files": ["requirements-test.txt", "requirements/test.txt", "tests/requirements.txt"],
        "requirements": ["alpha", "zeta"],
        "sources": [
            "pyproject dependency-groups: test",
            "pyproject optional-dependencies: test",
            "pyproject optional-dependencies: tests",
            "requirements-test.txt",
            "requirements/test.txt",
            "tests/requirements.txt",
        ],
    }


def test_install_script_text() -> None:
    spec = DependencySpec(
        editable_install=True,
        extras=("test", "tests"),
        requirement_files=("requirements/my tests.txt",),
        requirements=('pytest>=7; python_version >= "3.8"',),
        sources=(),
    )
    script = spec.install_script()
    assert script.startswith("#!/usr/bin/env bash\n")
    assert "\nset -u\n" in script
    assert "python -m pip install -U pip ||" in script
    assert "python -m pip install -e '.[test,tests]'" in script
    assert "python -m pip install -e .;" in script
    assert "exit 1" in script
    assert "python -m pip install -r 'requirements/my tests.txt' ||" in script
    assert "python -m pip install 'pytest>=7; python_version >= \"3.8\"' ||" in script
    assert "[gskill-install]" in script
    # Never a bare pip: every pip call goes through `python -m pip`.
    for line in script.splitlines():
        if "pip install" in line and not line.lstrip().startswith("echo"):
            assert line.replace("python -m pip install", "").count("pip install") == 0, line
    assert script.rstrip().endswith("python -m pytest --version >/dev/null 2>&1 || python -m pip install pytest")


# --------------------------------------------------------------------------------------
# Running the generated script against a fake `python` that records its argv
# --------------------------------------------------------------------------------------

FAKE_PYTHON = r"""#!/usr/bin/env bash
# Records argv (one invocation per line, args separated by \x1f) and fails on request.
( IFS=$'\x1f'; printf '%s\n' "$*" ) >> "$FAKE_LOG"
joined="$*"
while IFS= read -r failing; do
  if [ -n "$failing" ] && [ "$joined" = "$failing" ]; then
    exit 1
  fi
done <<< "${FAKE_FAIL:-}"
exit 0
"""


@pytest.fixture
def run_script(tmp_path: Path):
    """Run an install script with a fake `python` first on PATH; returns (exit code, argv list, stdout)."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not available")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    fake_python = fake_bin / "python"
    fake_python.write_text(FAKE_PYTHON)
    fake_python.chmod(fake_python.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "calls.log"

    def run(script: str, failing: list[str] = ()) -> tuple[int, list[list[str]], str]:
        log.write_text("")
        script_path = tmp_path / "install.sh"
        script_path.write_text(script)
        env = {
            **os.environ,
            "PATH": f"{fake_bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "FAKE_LOG": str(log),
            "FAKE_FAIL": "\n".join(failing),
        }
        completed = subprocess.run(
            [bash, str(script_path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        calls = [line.split("\x1f") for line in log.read_text().splitlines()]
        return completed.returncode, calls, completed.stdout

    return run


FULL_SPEC = DependencySpec(
    editable_install=True,
    extras=("test",),
    requirement_files=("requirements/a b.txt", "requirements/c.txt"),
    requirements=("mock", 'pytest>=7; python_version >= "3.8"'),
    sources=(),
)
PIP = ["-m", "pip", "install"]


def test_script_success_path(run_script) -> None:
    code, calls, stdout = run_script(FULL_SPEC.install_script())
    assert code == 0
    assert calls == [
        PIP + ["-U", "pip"],
        PIP + ["-e", ".[test]"],
        PIP + ["-r", "requirements/a b.txt"],
        PIP + ["-r", "requirements/c.txt"],
        PIP + ["mock", 'pytest>=7; python_version >= "3.8"'],
        ["-m", "pytest", "--version"],
    ]
    assert "[gskill-install] upgrading pip" in stdout


def test_script_falls_back_and_skips_failures(run_script) -> None:
    failing = [
        "-m pip install -U pip",
        "-m pip install -e .[test]",
        "-m pip install -r requirements/a b.txt",
        '-m pip install mock pytest>=7; python_version >= "3.8"',
        "-m pip install mock",
        "-m pytest --version",
    ]
    code, calls, stdout = run_script(FULL_SPEC.install_script(), failing)
    assert code == 0
    assert calls == [
        PIP + ["-U", "pip"],
        PIP + ["-e", ".[test]"],
        PIP + ["-e", "."],  # fallback without extras
        PIP + ["-r", "requirements/a b.txt"],  # fails, logged, skipped
        PIP + ["-r", "requirements/c.txt"],
        PIP + ["mock", 'pytest>=7; python_version >= "3.8"'],  # together fails ...
        PIP + ["mock"],  # ... so one at a time; mock fails but the next still runs
        PIP + ['pytest>=7; python_version >= "3.8"'],
        ["-m", "pytest", "--version"],
        PIP + ["pytest"],  # pytest missing -> installed
    ]
    assert "falling back to a plain editable install" in stdout
    assert "FAILED requirement file (skipped): requirements/a b.txt" in stdout
    assert "FAILED requirement (skipped): mock" in stdout


def test_script_exits_when_editable_install_fails(run_script) -> None:
    failing = ["-m pip install -e .[test]", "-m pip install -e ."]
    code, calls, stdout = run_script(FULL_SPEC.install_script(), failing)
    assert code == 1
    assert calls == [PIP + ["-U", "pip"], PIP + ["-e", ".[test]"], PIP + ["-e", "."]]
    assert "FATAL" in stdout


def test_script_without_extras_or_project(run_script) -> None:
    spec = DependencySpec(False, (), ("requirements.txt",), ("pytest",), ())
    code, calls, _ = run_script(spec.install_script())
    assert code == 0
    assert calls == [
        PIP + ["-U", "pip"],
        PIP + ["-r", "requirements.txt"],
        PIP + ["pytest"],
        ["-m", "pytest", "--version"],
    ]

    spec = DependencySpec(True, (), (), (), ())
    code, calls, _ = run_script(spec.install_script(), ["-m pip install -e ."])
    assert code == 1
    assert calls == [PIP + ["-U", "pip"], PIP + ["-e", "."]]


def test_script_from_detection_end_to_end(run_script) -> None:
    files = {
        "pyproject.toml": PROJECT + '[project.optional-dependencies]\ntesting = ["pytest"]\n',
        "requirements/test.txt": "x\n",
    }
    code, calls, _ = run_script(detect(files).install_script())
    assert code == 0
    assert calls[1:3] == [PIP + ["-e", ".[testing]"], PIP + ["-r", "requirements/test.txt"]]


def test_extras_dropped_without_an_installable_project() -> None:
    spec = detect({"tox.ini": "[testenv]\ndeps = pytest\nextras = test\n"})
    assert spec.editable_install is False
    assert spec.extras == ()
    assert spec.requirements == ("pytest",)
    assert spec.sources == ("tox.ini [testenv] deps",)
