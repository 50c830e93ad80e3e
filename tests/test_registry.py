"""The agent registry (`harnesses.agents.AGENTS`) is the one list of agents: the adapters, the CLI, the
config schema, transfer and the README all agree with it, and no module spells the list out again."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib.metadata import version

import pytest

from gskill.errors import GskillError
from harnesses.agents import AGENTS, TOOLS, adapter_for, readme_table
from tests.helpers import ROOT, assert_one_line_error, gskill

README = (ROOT / "README.md").read_text()


def test_adapters_take_name_skill_modes_and_binary_from_the_registry():
    for name, spec in AGENTS.items():
        adapter = adapter_for(name)
        assert adapter.name == name and adapter.skill_modes == spec.skill_modes and spec.skill_modes
        assert adapter.tool == spec.tool
        if spec.tool is not None:
            assert spec.version in spec.tool.package and TOOLS[name] == spec.tool
    assert set(TOOLS) == {name for name, spec in AGENTS.items() if spec.npm}


def test_host_agent_version_is_the_pyproject_pin_and_the_installed_one():
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for spec in AGENTS.values():
        if spec.tool is None:
            assert f"{spec.package}=={spec.version}" in pins
            assert version(spec.package) == spec.version


def test_readme_agents_table_is_the_registrys():
    block = re.search(r"<!-- agents:begin[^\n]*-->\n(.*?)<!-- agents:end -->", README, re.S)
    assert block, "README.md lost its <!-- agents:begin --> block"
    assert block.group(1) == readme_table(), "stale: run scripts/readme_tables.py"
    check = subprocess.run(
        [sys.executable, "scripts/readme_tables.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr


def test_readme_prose_and_synopsis_name_the_registrys_agents_and_versions():
    choices = "|".join(AGENTS)
    assert README.count(f"--agent {choices}") == 2  # eval and learn synopses
    assert f"gskill agents install {' '.join(f'[{name}]' for name in TOOLS)}" in README
    for spec in AGENTS.values():
        assert f"`{spec.name}`: {spec.title}" in README  # the agent's paragraph under "Running agents"
        # Any "<title> X.Y.Z" in the prose is the pinned version (a stale one would be a second source).
        assert set(re.findall(rf"{re.escape(spec.title)} (\d+\.\d+\.\d+)", README)) <= {spec.version}


def test_cli_help_and_errors_list_the_registry():
    names = ", ".join(AGENTS)
    assert_one_line_error(
        gskill("eval", "--tasks", str(ROOT), "--agent", "aider", "--model", "m", "--out", str(ROOT / "no")),
        f"unknown agent 'aider'; choose from {names}",
    )
    assert_one_line_error(gskill("agents", "install", "aider"), f"choose from {', '.join(TOOLS)}")
    help_text = " ".join(gskill("eval", "--help").stdout.replace("│", " ").split())
    assert " | ".join(AGENTS) in help_text
    for spec in AGENTS.values():
        assert f"{spec.name}: {' | '.join(spec.skill_modes)}" in help_text


def test_config_and_transfer_accept_exactly_the_registry():
    from gskill.schema import RunConfig
    from gskill.transfer import parse_matrix

    for name in AGENTS:
        assert RunConfig(agent=name).agent == name
        assert parse_matrix(f"{name}:scripted/oracle")[0].agent == name
    with pytest.raises(ValueError, match="unknown agent 'aider'; choose from mini, codex, claude"):
        RunConfig(agent="aider")
    with pytest.raises(GskillError, match="one of mini, codex, claude"):
        parse_matrix("aider:scripted/oracle")


def test_no_module_spells_the_agent_list_out_again():
    # The list written as a tuple or a help string (the five copies there were before the registry).
    pattern = re.compile(
        r"""["']mini["'],\s*["']codex["'],\s*["']claude["']|mini \| codex \| claude|mini, codex or claude"""
    )
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("gskill", "harnesses", "swesmith")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
