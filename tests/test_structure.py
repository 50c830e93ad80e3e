"""The source tree keeps its promises: no function nothing calls, and every pointer into ARCHITECTURE.md
lands on a section that exists."""

from __future__ import annotations

import ast
import re
from collections import Counter

from tests.helpers import ROOT

PACKAGES = ("gskill", "harnesses", "interop", "languages", "swesmith")
# Methods a framework calls by name (never by our code), so no reference to them exists.
CALLED_BY_NAME = {
    "do_GET",
    "do_POST",
    "log_message",  # http.server.BaseHTTPRequestHandler
    "get_template_vars",
    "serialize",  # mini-swe-agent's Environment protocol
    "settings_customise_sources",  # pydantic-settings
    "generate_span_id",
    "generate_trace_id",  # opentelemetry's IdGenerator
    "make_bug_state",  # harnesses/taskenv.py: another change removes it
}


def _sources(*folders: str):
    return {path: path.read_text() for folder in folders for path in sorted((ROOT / folder).rglob("*.py"))}


def test_no_function_or_property_that_nothing_references():
    words = Counter(re.findall(r"\w+", "\n".join(_sources(*PACKAGES, "tests", "benchmarks", "scripts").values())))
    unused = []
    for path, text in _sources(*PACKAGES).items():
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            decorators = [ast.unparse(d) for d in getattr(node, "decorator_list", [])]
            # Registered by a decorator (CLI commands, scripted policies, validators) or called by Python.
            if (
                node.name.startswith("__")
                or node.name in CALLED_BY_NAME
                or any(d not in ("property", "staticmethod", "classmethod") for d in decorators)
            ):
                continue
            if words[node.name] == 1:  # its own definition only
                unused.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert unused == []


def test_architecture_pointers_land_on_its_sections():
    architecture = ROOT / "ARCHITECTURE.md"
    assert architecture.is_file()
    headings = {
        line.lstrip("#").strip().lower() for line in architecture.read_text().splitlines() if line.startswith("#")
    }
    pointers = [
        (path, section)
        for path, text in _sources(*PACKAGES).items()
        for section in re.findall(r"ARCHITECTURE\.md,\s*\"?([^\"\)]+?)\"?\)", text)
    ]
    assert pointers  # the docstrings that point there
    for path, section in pointers:
        assert any(heading.startswith(section.lower()) for heading in headings), (path, section, headings)


def test_the_code_is_formatted_by_the_one_formatter():
    """`ruff format` (pyproject's [tool.ruff]) is the formatter; nothing opts out of it."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is a dev dependency: pip install -e '.[dev]'"
    done = subprocess.run([ruff, "format", "--check", "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    opt_out = re.compile(r"#\s*fmt:\s*(skip|off)\s*$", re.M)
    skipped = [
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.py")
        if ".venv" not in path.parts and opt_out.search(path.read_text())
    ]
    assert skipped == []
