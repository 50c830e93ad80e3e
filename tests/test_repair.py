"""Tests for harnesses/images/repair.py: output parsers and one real end-to-end collection repair."""

from __future__ import annotations

import ast
import json
import sys
import textwrap
from pathlib import Path

import pytest

from harnesses.images import repair
from harnesses.images.repair import distribution_for, missing_modules, missing_plugins, parse_collection

IMPORT_ERROR_OUTPUT = textwrap.dedent(
    """
    tests/test_b.py::test_b

    ==================================== ERRORS ====================================
    _______________________ ERROR collecting tests/test_a.py _______________________
    ImportError while importing test module '/repo/tests/test_a.py'.
    Hint: make sure your test modules/packages have valid Python names.
    Traceback:
    /usr/lib/python3.11/importlib/__init__.py:126: in import_module
        return _bootstrap._gcd_import(name[level:], package, level)
    tests/test_a.py:1: in <module>
        import yaml.constructor
    E   ModuleNotFoundError: No module named 'yaml'
    _______________________ ERROR collecting tests/test_c.py _______________________
    tests/test_c.py:3: in <module>
        from google.protobuf import message
    E   ModuleNotFoundError: No module named 'google.protobuf'
    ImportError while loading conftest '/repo/tests/conftest.py'.
    tests/conftest.py:2: in <module>
        import sklearn.linear_model
    E   ModuleNotFoundError: No module named 'sklearn.linear_model'
    E   ImportError: No module named yaml
    E   ModuleNotFoundError: No module named 'mypkg.sub'; 'mypkg' is not a package
    =========================== short test summary info ============================
    ERROR tests/test_a.py
    !!!!!!!!!!!!!!!!!!!! Interrupted: 3 errors during collection !!!!!!!!!!!!!!!!!!!!
    1 test collected, 3 errors in 0.22s
    """
)


def test_missing_modules_top_level_deduplicated_in_order() -> None:
    assert missing_modules(IMPORT_ERROR_OUTPUT) == ["yaml", "google", "sklearn"]


def test_missing_modules_python_dash_m_and_py2_style() -> None:
    assert missing_modules("/usr/bin/python3: No module named pytest\n") == ["pytest"]
    assert missing_modules("ImportError: No module named six.moves\n") == ["six"]
    assert missing_modules("all good\n3 tests collected in 0.1s\n") == []


USAGE_ERROR_OUTPUT = textwrap.dedent(
    """
    ERROR: usage: python -m pytest [options] [file_or_dir] [file_or_dir] [...]
    python -m pytest: error: unrecognized arguments: --cov=foo --cov-report=term-missing -n --dist=loadfile --timeout=30 --benchmark-skip --mypy --doctest-modules --reruns 3
      inifile: /repo/setup.cfg
      rootdir: /repo
    """
)

WARNINGS_OUTPUT = textwrap.dedent(
    """
    =============================== warnings summary ===============================
    ../venv/lib/python3.11/site-packages/_pytest/config/__init__.py:1636
      /venv/lib/python3.11/site-packages/_pytest/config/__init__.py:1636: PytestConfigWarning: Unknown config option: asyncio_mode

        self._warn_or_fail_if_strict(f"Unknown config option: {key}\\n")

    ../venv/lib/python3.11/site-packages/_pytest/config/__init__.py:1636
      PytestConfigWarning: Unknown config option: timeout
      PytestConfigWarning: Unknown config option: env
      PytestConfigWarning: Unknown config option: some_made_up_option
    tests/test_x.py:5
      /repo/tests/test_x.py:5: PytestUnknownMarkWarning: Unknown pytest.mark.django_db - is this a typo?
    """
)


def test_missing_plugins_from_unrecognized_arguments() -> None:
    assert missing_plugins(USAGE_ERROR_OUTPUT) == [
        "pytest-cov",
        "pytest-xdist",
        "pytest-timeout",
        "pytest-benchmark",
        "pytest-mypy",
        "pytest-rerunfailures",
    ]
    assert missing_plugins("error: unrecognized arguments: -n4\n") == ["pytest-xdist"]
    assert missing_plugins("error: unrecognized arguments: --numprocesses=auto\n") == ["pytest-xdist"]
    # built-in options and option values imply nothing
    assert missing_plugins("error: unrecognized arguments: --doctest-glob=*.rst --nothing-known 4\n") == []


def test_missing_plugins_from_config_warnings_and_markers() -> None:
    assert missing_plugins(WARNINGS_OUTPUT) == ["pytest-asyncio", "pytest-timeout", "pytest-env", "pytest-django"]
    strict_marker = "'asyncio' not found in `markers` configuration option"
    assert missing_plugins(strict_marker) == ["pytest-asyncio"]


def test_missing_plugins_async_fixtures_and_required_plugins() -> None:
    async_output = (
        "PytestUnhandledCoroutineWarning: async def functions are not natively supported and have been skipped.\n"
        "  You need to install a suitable plugin for your async framework, for example:\n"
    )
    assert missing_plugins(async_output) == ["pytest-asyncio"]
    assert missing_plugins("E       fixture 'mocker' not found\n") == ["pytest-mock"]
    required = "ERROR: Missing required plugins: pytest-django>=4.5, pytest-mock\n"
    assert missing_plugins(required) == ["pytest-django>=4.5", "pytest-mock"]


@pytest.mark.parametrize(
    "module, distribution",
    [
        ("yaml", "PyYAML"),
        ("PIL", "Pillow"),
        ("cv2", "opencv-python"),
        ("sklearn", "scikit-learn"),
        ("bs4", "beautifulsoup4"),
        ("dateutil", "python-dateutil"),
        ("attr", "attrs"),
        ("OpenSSL", "pyOpenSSL"),
        ("jwt", "PyJWT"),
        ("Crypto", "pycryptodome"),
        ("dotenv", "python-dotenv"),
        ("magic", "python-magic"),
        ("serial", "pyserial"),
        ("usb", "pyusb"),
        ("git", "GitPython"),
        ("docx", "python-docx"),
        ("zmq", "pyzmq"),
        ("xdist", "pytest-xdist"),
        ("sklearn.linear_model", "scikit-learn"),
        ("google.protobuf.message", "protobuf"),
        ("google", ""),  # ambiguous namespace: no guess
        ("google.cloud.storage", ""),
        ("typing_inspect", "typing-inspect"),
        ("requests", "requests"),
    ],
)
def test_distribution_for(module: str, distribution: str) -> None:
    assert distribution_for(module) == distribution


@pytest.mark.parametrize(
    "output, expected",
    [
        ("a.py::t\n\n123 tests collected in 0.5s\n", (123, 0)),
        ("1 test collected in 0.01s", (1, 0)),
        ("!!! Interrupted: 2 errors during collection !!!\n12 tests collected, 2 errors in 0.3s", (12, 2)),
        ("12/15 tests collected (3 deselected) in 0.2s", (12, 0)),
        ("no tests collected in 0.00s", (0, 0)),
        ("no tests collected, 1 error in 0.10s", (0, 1)),
        ("!!! Interrupted: 1 error during collection !!!\n1 error in 0.1s", (0, 1)),
        ("tests/test_a.py::test_one\ntests/test_a.py::TestX::test_two\n\nno tests ran in 0.01 seconds", (2, 0)),
        ("/usr/bin/python3: No module named pytest", (0, 0)),
    ],
)
def test_parse_collection(output: str, expected: tuple[int, int]) -> None:
    assert parse_collection(output) == expected


def test_is_local_module(tmp_path: Path) -> None:
    (tmp_path / "src" / "srcpkg").mkdir(parents=True)
    (tmp_path / "src" / "srcpkg" / "__init__.py").write_text("")
    (tmp_path / "toplevel.py").write_text("")
    (tmp_path / "tests" / "helpers").mkdir(parents=True)
    (tmp_path / "tests" / "helpers" / "__init__.py").write_text("")
    (tmp_path / ".venv" / "lib" / "six").mkdir(parents=True)
    (tmp_path / ".venv" / "lib" / "six" / "__init__.py").write_text("")
    assert repair.is_local_module(str(tmp_path), "srcpkg")
    assert repair.is_local_module(str(tmp_path), "toplevel")
    assert repair.is_local_module(str(tmp_path), "helpers")
    assert not repair.is_local_module(str(tmp_path), "six")  # inside a virtualenv: not the repo's own
    assert not repair.is_local_module(str(tmp_path), "yaml")


def test_script_is_standalone_and_python38_compatible() -> None:
    source = Path(repair.__file__).read_text()
    tree = ast.parse(source, feature_version=(3, 8))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            imported.add((node.module or "").split(".")[0])
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)


# --------------------------------------------------------------------------------------
# End to end, with the venv's real pytest and a monkeypatched pip
# --------------------------------------------------------------------------------------


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory on the subprocess's PYTHONPATH where fake "installs" put modules."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    return site


def test_main_end_to_end(tmp_path: Path, fake_site: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    repo = tmp_path / "repo"
    # A src-layout package that is not on sys.path: its import fails, but it must never be pip-installed.
    write(repo / "src" / "localpkg" / "__init__.py", "VALUE = 1\n")
    write(
        repo / "tests" / "test_uses_dependency.py",
        """
        import fakedep_xyz

        def test_one():
            assert fakedep_xyz.ANSWER == 42

        def test_two():
            pass
        """,
    )
    write(repo / "tests" / "test_uses_local.py", "import localpkg\n\ndef test_local():\n    pass\n")
    write(repo / "pytest.ini", "[pytest]\nasyncio_mode = auto\n")

    pip_calls: list[str] = []

    def fake_pip_install(distribution: str, timeout: float) -> bool:
        pip_calls.append(distribution)
        if distribution == "fakedep-xyz":
            (fake_site / "fakedep_xyz.py").write_text("ANSWER = 42\n")
            return True
        return False  # e.g. no network for pytest-asyncio

    monkeypatch.setattr(repair, "pip_install", fake_pip_install)
    report_path = tmp_path / "out" / "report.json"
    exit_code = repair.main(["--repo", str(repo), "--report", str(report_path), "--timeout", "120"])

    report = json.loads(report_path.read_text())
    assert exit_code == 0
    assert sorted(pip_calls) == ["fakedep-xyz", "pytest-asyncio"]  # each tried once; localpkg never
    assert report["collected"] == 2
    assert report["collection_errors"] == 1  # test_uses_local.py still cannot import localpkg
    assert report["exit_code"] == 2
    assert report["rounds"] == [
        {
            "missing": ["fakedep-xyz", "pytest-asyncio"],
            "installed": ["fakedep-xyz"],
            "failed": ["pytest-asyncio"],
            "skipped": ["localpkg (local)"],
        }
    ]
    assert "2 tests collected, 1 error" in report["tail"]
    assert report["python"] == sys.version
    assert "[gskill-repair] round 1" in capsys.readouterr().out


def test_main_reports_failure_when_nothing_collected(
    tmp_path: Path, fake_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    write(repo / "tests" / "test_nothing.py", "import tests_helper_that_does_not_exist_anywhere\n")
    attempts: list[str] = []
    monkeypatch.setattr(repair, "pip_install", lambda name, timeout: attempts.append(name) or False)
    report_path = tmp_path / "report.json"

    assert repair.main(["--repo", str(repo), "--report", str(report_path), "--max-rounds", "3"]) == 3
    report = json.loads(report_path.read_text())
    assert attempts == ["tests-helper-that-does-not-exist-anywhere"]  # failed once, never retried
    assert report["collected"] == 0
    assert report["rounds"][0]["failed"] == ["tests-helper-that-does-not-exist-anywhere"]
