"""Make a repository's pytest collection work by installing what it visibly lacks.

Runs inside environment containers, so it is a standalone, stdlib-only script that must
work on any Python >= 3.8 (no imports from gskill, no third-party modules, no 3.9+ APIs):

    python repair.py --repo /repo --report /tmp/repair.json [--max-rounds 6] [--timeout 600]

Each round runs ``python -m pytest --collect-only -q`` in the repo, reads the missing modules
(``ModuleNotFoundError: No module named 'x'``) and missing pytest plugins (unrecognised
command-line/ini options, unknown markers) from its output, and pip-installs them one at a
time. It stops when a round finds nothing new to try. Exit code 0 if at least one test was
collected at the end, else 3.

The parsing helpers (:func:`missing_modules`, :func:`missing_plugins`,
:func:`distribution_for`) are pure and importable for unit tests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from typing import Dict, List, Optional, Sequence, Set, Tuple

LOG_PREFIX = "[gskill-repair]"
TAIL_LINES = 40

# --------------------------------------------------------------------------------------
# Module name -> PyPI distribution
# --------------------------------------------------------------------------------------

# Import names whose distribution is named differently. Dotted keys are matched first, so a
# namespace package like "google" can be resolved for the sub-packages we know.
MODULE_TO_DISTRIBUTION = {
    "yaml": "PyYAML",
    "PIL": "Pillow",
    "cv2": "opencv-python",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "attr": "attrs",
    "OpenSSL": "pyOpenSSL",
    "jwt": "PyJWT",
    "Crypto": "pycryptodome",
    "Cryptodome": "pycryptodomex",
    "dotenv": "python-dotenv",
    "magic": "python-magic",
    "serial": "pyserial",
    "usb": "pyusb",
    "git": "GitPython",
    "docx": "python-docx",
    "pptx": "python-pptx",
    "zmq": "pyzmq",
    "jose": "python-jose",
    "multipart": "python-multipart",
    "slugify": "python-slugify",
    "socks": "PySocks",
    "nacl": "PyNaCl",
    "gi": "PyGObject",
    "win32api": "pywin32",
    "win32con": "pywin32",
    "Levenshtein": "python-Levenshtein",
    "fitz": "PyMuPDF",
    "MySQLdb": "mysqlclient",
    "psycopg2": "psycopg2-binary",
    "lxml": "lxml",
    "markdown": "Markdown",
    "jinja2": "Jinja2",
    "mpl_toolkits": "matplotlib",
    "pkg_resources": "setuptools",
    "setuptools": "setuptools",
    "distutils": "setuptools",  # removed from the stdlib in 3.12; setuptools ships a shim
    "google.protobuf": "protobuf",
    "grpc": "grpcio",
    "xdist": "pytest-xdist",
    "pytest_cov": "pytest-cov",
    "hamcrest": "PyHamcrest",
    "Bio": "biopython",
    "wx": "wxPython",
    "kafka": "kafka-python",
    "ldap": "python-ldap",
    "snappy": "python-snappy",
    "dns": "dnspython",
    "memcache": "python-memcached",
    "tzlocal": "tzlocal",
    "faker": "Faker",
    "github": "PyGithub",
    "telegram": "python-telegram-bot",
    "sqlalchemy": "SQLAlchemy",
    "typing_extensions": "typing-extensions",
}

# Top-level names that many unrelated distributions share: guessing would install junk.
AMBIGUOUS_MODULES = frozenset({"google", "azure", "backports", "zope", "jaraco", "sphinxcontrib"})

# Names that, when missing, are a sys.path problem of the repo's own layout - never a PyPI
# package (installing a distribution called "tests" would be wrong, or a typosquat).
NEVER_INSTALL = frozenset({"tests", "test", "testing", "conftest", "src", "setup"})


def distribution_for(module: str) -> str:
    """The PyPI distribution that provides ``module`` (dotted names allowed).

    Returns "" when no safe guess exists (e.g. the bare ``google`` namespace).
    """
    parts = module.split(".")
    # Longest dotted prefix first: "google.protobuf.message" -> "google.protobuf".
    for length in range(len(parts), 0, -1):
        prefix = ".".join(parts[:length])
        if prefix in MODULE_TO_DISTRIBUTION:
            return MODULE_TO_DISTRIBUTION[prefix]
    top_level = parts[0]
    if top_level in AMBIGUOUS_MODULES or not top_level:
        return ""
    return top_level.replace("_", "-")


# --------------------------------------------------------------------------------------
# Parsing pytest output
# --------------------------------------------------------------------------------------

# The third form is what `python -m pytest` prints when pytest itself is absent:
# "/usr/bin/python3: No module named pytest".
_MISSING_MODULE = re.compile(
    r"(?:ModuleNotFoundError|ImportError|\bpython[0-9.]*): No module named "
    r"['\"]?([A-Za-z_][A-Za-z0-9_.]*)['\"]?(.*)$"
)


def _missing_module_paths(output: str) -> List[str]:
    """Full dotted names of missing modules, de-duplicated, in order of appearance."""
    names = []  # type: List[str]
    for line in output.splitlines():
        match = _MISSING_MODULE.search(line)
        if not match:
            continue
        # "No module named 'a.b'; 'a' is not a package": 'a' exists, so installing won't help.
        if "is not a package" in match.group(2):
            continue
        name = match.group(1).rstrip(".")
        if name and name not in names:
            names.append(name)
    return names


def missing_modules(output: str) -> List[str]:
    """Top-level names of modules reported missing, de-duplicated, in order of appearance."""
    names = []  # type: List[str]
    for path in _missing_module_paths(output):
        top_level = path.split(".")[0]
        if top_level not in names:
            names.append(top_level)
    return names


# Command-line options -> plugin distribution. Keys ending in "*" are prefixes.
OPTION_PLUGINS = {
    "--cov*": "pytest-cov",
    "--no-cov*": "pytest-cov",
    "--numprocesses*": "pytest-xdist",
    "--maxprocesses*": "pytest-xdist",
    "--dist*": "pytest-xdist",
    "--looponfail*": "pytest-xdist",
    "--timeout*": "pytest-timeout",
    "--benchmark-*": "pytest-benchmark",
    "--mypy*": "pytest-mypy",
    "--flake8*": "pytest-flake8",
    "--black*": "pytest-black",
    "--isort*": "pytest-isort",
    "--pylint*": "pytest-pylint",
    "--ruff*": "pytest-ruff",
    "--reruns*": "pytest-rerunfailures",
    "--only-rerun*": "pytest-rerunfailures",
    "--randomly-*": "pytest-randomly",
    "--html*": "pytest-html",
    "--json-report*": "pytest-json-report",
    "--doctest-plus*": "pytest-doctestplus",
    "--doctest-rst*": "pytest-doctestplus",
    "--ds*": "pytest-django",
    "--dc*": "pytest-django",
    "--reuse-db*": "pytest-django",
    "--create-db*": "pytest-django",
    "--nomigrations*": "pytest-django",
    "--asyncio-mode*": "pytest-asyncio",
    "--forked*": "pytest-forked",
    "--instafail*": "pytest-instafail",
    "--mpl*": "pytest-mpl",
    "--remote-data*": "pytest-remotedata",
    "--nbval*": "nbval",
    "--testmon*": "pytest-testmon",
    "--count*": "pytest-repeat",
    "--hypothesis-*": "hypothesis",
    "--snapshot-update*": "syrupy",
}
# xdist's short "-n" ("-n 4", "-n4", "-nauto") is matched separately: as a prefix it is too broad.
# Built-in --doctest-modules / --doctest-glob / --doctest-continue-on-failure need nothing.
_XDIST_SHORT = re.compile(r"^-n(\d+|auto|logical)?$")

# ini options ("Unknown config option: x") -> plugin distribution.
INI_PLUGINS = {
    "asyncio_mode": "pytest-asyncio",
    "asyncio_default_fixture_loop_scope": "pytest-asyncio",
    "timeout": "pytest-timeout",
    "timeout_method": "pytest-timeout",
    "timeout_func_only": "pytest-timeout",
    "env": "pytest-env",
    "DJANGO_SETTINGS_MODULE": "pytest-django",
    "django_find_project": "pytest-django",
    "FAIL_INVALID_TEMPLATE_VARS": "pytest-django",
    "mock_use_standalone_module": "pytest-mock",
    "flake8-ignore": "pytest-flake8",
    "flake8-max-line-length": "pytest-flake8",
    "qt_api": "pytest-qt",
    "doctest_plus": "pytest-doctestplus",
    "doctest_rst": "pytest-doctestplus",
    "remote_data_strict": "pytest-remotedata",
    "looponfailroots": "pytest-xdist",
    "rsyncdirs": "pytest-xdist",
    "trio_mode": "pytest-trio",
    "bdd_features_base_dir": "pytest-bdd",
    "mpl-baseline-path": "pytest-mpl",
    "render_collapsed": "pytest-html",
    "reruns": "pytest-rerunfailures",
    "reruns_delay": "pytest-rerunfailures",
}

# Markers ("Unknown pytest.mark.x" / "'x' not found in `markers`") -> plugin distribution.
MARKER_PLUGINS = {
    "asyncio": "pytest-asyncio",
    "timeout": "pytest-timeout",
    "django_db": "pytest-django",
    "benchmark": "pytest-benchmark",
    "flaky": "pytest-rerunfailures",
    "mpl_image_compare": "pytest-mpl",
    "trio": "pytest-trio",
    "order": "pytest-order",
    "dependency": "pytest-dependency",
    "xdist_group": "pytest-xdist",
    "repeat": "pytest-repeat",
    "freeze_time": "pytest-freezer",
    "httpx_mock": "pytest-httpx",
}

# Fixtures ("fixture 'x' not found") -> plugin distribution. Only seen when tests run, but cheap.
FIXTURE_PLUGINS = {
    "mocker": "pytest-mock",
    "benchmark": "pytest-benchmark",
    "requests_mock": "requests-mock",
    "httpx_mock": "pytest-httpx",
    "httpserver": "pytest-httpserver",
    "qtbot": "pytest-qt",
    "freezer": "pytest-freezer",
    "aioresponses": "aioresponses",
}

_ASYNC_UNSUPPORTED = re.compile(r"async def functions are not natively supported")
_UNRECOGNIZED_ARGS = re.compile(r"unrecognized arguments:\s*(.*)$")
_UNKNOWN_INI = re.compile(r"Unknown config option:\s*([A-Za-z0-9_.\-]+)")
_UNKNOWN_MARK = re.compile(
    r"(?:Unknown pytest\.mark\.([A-Za-z0-9_]+)|'([A-Za-z0-9_]+)' not found in `markers` configuration option)"
)
_MISSING_FIXTURE = re.compile(r"fixture '([A-Za-z0-9_]+)' not found")
_REQUIRED_PLUGINS = re.compile(r"Missing required plugins:\s*(.+)$")


def _plugin_for_option(option: str) -> Optional[str]:
    option = option.split("=", 1)[0]
    if not option.startswith("-"):
        return None  # a value that belonged to the previous option, e.g. the "4" of "-n 4"
    if _XDIST_SHORT.match(option):
        return "pytest-xdist"
    for pattern, distribution in OPTION_PLUGINS.items():
        if option == pattern or (pattern.endswith("*") and option.startswith(pattern[:-1])):
            return distribution
    return None


def missing_plugins(output: str) -> List[str]:
    """pip distributions of pytest plugins the output shows to be missing, in order of appearance."""
    plugins = []  # type: List[str]

    def add(distribution: Optional[str]) -> None:
        if distribution and distribution not in plugins:
            plugins.append(distribution)

    for line in output.splitlines():
        unrecognized = _UNRECOGNIZED_ARGS.search(line)
        if unrecognized:
            for option in unrecognized.group(1).split():
                add(_plugin_for_option(option))
        for match in _UNKNOWN_INI.finditer(line):
            add(INI_PLUGINS.get(match.group(1)))
        for match in _UNKNOWN_MARK.finditer(line):
            add(MARKER_PLUGINS.get(match.group(1) or match.group(2)))
        for match in _MISSING_FIXTURE.finditer(line):
            add(FIXTURE_PLUGINS.get(match.group(1)))
        if _ASYNC_UNSUPPORTED.search(line):
            add("pytest-asyncio")
        required = _REQUIRED_PLUGINS.search(line)
        if required:
            # pytest lists requirement specs, e.g. "pytest-django>=4, pytest-mock".
            for spec in required.group(1).split(","):
                add(spec.strip() or None)
    return plugins


# "123 tests collected in 0.5s", "1 test collected", "12/15 tests collected (3 deselected)",
# "12 tests collected, 2 errors in 0.3s", "no tests collected, 1 error in 0.1s", "1 error in 0.1s".
_COLLECTED = re.compile(r"\b(\d+)(?:/\d+)? tests? collected\b")
_NO_TESTS = re.compile(r"\bno tests collected\b")
_ERRORS = re.compile(r"\b(\d+) errors?\b")
_INTERRUPTED = re.compile(r"Interrupted: (\d+) errors? during collection")
_TEST_ID = re.compile(r"^\S+\.py::\S")


def parse_collection(output: str) -> Tuple[int, int]:
    """(number of collected tests, number of collection errors) from ``pytest --collect-only -q``."""
    collected = None  # type: Optional[int]
    errors = 0
    for line in output.splitlines():
        match = _COLLECTED.search(line)
        if match:
            collected = int(match.group(1))
            error_match = _ERRORS.search(line[match.end() :])
            errors = int(error_match.group(1)) if error_match else 0
        elif _NO_TESTS.search(line):
            collected = 0
            error_match = _ERRORS.search(line)
            errors = int(error_match.group(1)) if error_match else 0
        else:
            interrupted = _INTERRUPTED.search(line)
            if interrupted:
                errors = max(errors, int(interrupted.group(1)))
    if collected is None:
        # Old pytest versions print only the node ids under -q; count them.
        collected = sum(1 for line in output.splitlines() if _TEST_ID.match(line.strip()))
    return collected, errors


# --------------------------------------------------------------------------------------
# Side effects: running pytest and pip
# --------------------------------------------------------------------------------------

_SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".tox", ".nox", ".venv", "venv", "env", "node_modules", "site-packages", "__pycache__"}
)


def is_local_module(repo: str, name: str) -> bool:
    """Whether ``name`` is the repo's own package/module (so pip must not install it).

    Looks at the root and ``src/`` first, then anywhere in the repo: a test helper such as
    ``tests/helpers.py`` that fails to import is a path problem, and a PyPI package of the same
    name would be the wrong thing (or a typosquat) to install.
    """
    for base in (repo, os.path.join(repo, "src")):
        # At the top levels a bare directory counts too (an implicit namespace package).
        if os.path.isdir(os.path.join(base, name)) or os.path.isfile(os.path.join(base, name + ".py")):
            return True
    module_files = {name + ".py", name + ".pyx"}
    for root, dirs, files in os.walk(repo):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith(".")]
        if module_files.intersection(files):
            return True
        if name in dirs and os.path.isfile(os.path.join(root, name, "__init__.py")):
            return True
    return False


def _stdlib_modules() -> Set[str]:
    return set(getattr(sys, "stdlib_module_names", ()))  # Python >= 3.10 only


def run_collection(repo: str, timeout: float) -> Tuple[int, str]:
    """Run pytest's collection in ``repo``; returns (exit code, combined stdout+stderr)."""
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    try:
        completed = subprocess.run(
            command,
            cwd=repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            universal_newlines=True,
            errors="replace",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as expired:
        partial = expired.output or ""
        if isinstance(partial, bytes):
            partial = partial.decode("utf-8", "replace")
        return -1, partial + "\n{} collection timed out after {}s\n".format(LOG_PREFIX, timeout)
    return completed.returncode, completed.stdout or ""


def pip_install(distribution: str, timeout: float) -> bool:
    """``python -m pip install DISTRIBUTION``; True on success. (Tests monkeypatch this.)"""
    command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", distribution]
    try:
        completed = subprocess.run(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            universal_newlines=True,
            errors="replace",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return False
    if completed.returncode != 0:
        tail = (completed.stdout or "").strip().splitlines()[-3:]
        for line in tail:
            print("{}   pip: {}".format(LOG_PREFIX, line))
    return completed.returncode == 0


# --------------------------------------------------------------------------------------
# The repair loop
# --------------------------------------------------------------------------------------


def _wanted_distributions(repo: str, output: str) -> Tuple[List[str], List[str]]:
    """(distributions to try, modules skipped as local / stdlib / ambiguous)."""
    wanted = []  # type: List[str]
    skipped = []  # type: List[str]
    stdlib = _stdlib_modules()
    for path in _missing_module_paths(output):
        top_level = path.split(".")[0]
        distribution = distribution_for(path)
        if top_level in NEVER_INSTALL or is_local_module(repo, top_level):
            reason = "local"
        elif top_level in stdlib and distribution != "setuptools":
            reason = "stdlib"
        elif not distribution:
            reason = "ambiguous"
        else:
            if distribution not in wanted:
                wanted.append(distribution)
            continue
        label = "{} ({})".format(top_level, reason)
        if label not in skipped:
            skipped.append(label)
    for distribution in missing_plugins(output):
        if distribution not in wanted:
            wanted.append(distribution)
    return wanted, skipped


def _tail(output: str) -> str:
    return "\n".join(output.rstrip().splitlines()[-TAIL_LINES:])


def repair(repo: str, max_rounds: int, timeout: float) -> Dict[str, object]:
    """Collect, install what is missing, repeat; returns the report dict."""
    attempted = set()  # type: Set[str]  # never retry a name, whether it succeeded or failed
    rounds = []  # type: List[Dict[str, List[str]]]
    exit_code, output = run_collection(repo, timeout)
    for round_number in range(1, max_rounds + 1):
        wanted, skipped = _wanted_distributions(repo, output)
        new = [d for d in wanted if d not in attempted]
        if not new:
            print(
                "{} round {}: nothing new to install (skipped: {})".format(
                    LOG_PREFIX, round_number, ", ".join(skipped) or "none"
                )
            )
            break
        installed = []  # type: List[str]
        failed = []  # type: List[str]
        for distribution in new:  # one at a time: one bad name must not block the rest
            attempted.add(distribution)
            (installed if pip_install(distribution, timeout) else failed).append(distribution)
        rounds.append({"missing": new, "installed": installed, "failed": failed, "skipped": skipped})
        print(
            "{} round {}: missing {}; installed {}; failed {}; skipped {}".format(
                LOG_PREFIX, round_number, new, installed, failed, skipped
            )
        )
        if not installed:
            break  # the environment did not change, so collecting again would repeat itself
        exit_code, output = run_collection(repo, timeout)

    collected, errors = parse_collection(output)
    print(
        "{} collected {} tests, {} collection errors (pytest exit code {})".format(
            LOG_PREFIX, collected, errors, exit_code
        )
    )
    return {
        "collected": collected,
        "collection_errors": errors,
        "exit_code": exit_code,
        "rounds": rounds,
        "tail": _tail(output),
        "python": sys.version,
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Install what a repository's pytest collection is missing.")
    parser.add_argument("--repo", required=True, help="repository root (pytest runs here)")
    parser.add_argument("--report", required=True, help="where to write the JSON report")
    parser.add_argument("--max-rounds", type=int, default=6)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per pytest/pip run")
    args = parser.parse_args(argv)

    report = repair(os.path.abspath(args.repo), args.max_rounds, args.timeout)
    report_dir = os.path.dirname(os.path.abspath(args.report))
    if not os.path.isdir(report_dir):
        os.makedirs(report_dir)
    with open(args.report, "w") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
    return 0 if int(report["collected"]) > 0 else 3  # type: ignore[call-overload]


if __name__ == "__main__":
    sys.exit(main())
