"""Transfer statistics against known values, matrix parsing, pairing, and installing published skills."""

from __future__ import annotations

import json
import subprocess

import pytest

from gskill.errors import GskillError
from gskill.schema import EvalRecord, ExitStatus, Grade, GradeStatus, Rollout, Usage
from gskill.skills import install, publish, read_skill, skill_name, skill_problems
from gskill.stats import mcnemar_exact, wilson
from gskill.transfer import compare, markdown_table, parse_matrix
from tests.repo_factory import commit_all, write


def test_wilson_interval_known_values():
    # Reference values (Wilson 1927; e.g. R's binom::binom.wilson / statsmodels proportion_confint method="wilson").
    assert wilson(0, 10) == (0.0, pytest.approx(0.27753, abs=1e-5))
    assert wilson(5, 10) == (pytest.approx(0.23659, abs=1e-5), pytest.approx(0.76341, abs=1e-5))
    assert wilson(10, 10) == (pytest.approx(0.72247, abs=1e-5), 1.0)
    assert wilson(0, 0) == (0.0, 1.0)


def test_exact_mcnemar_known_values():
    assert mcnemar_exact(8, 1) == pytest.approx(0.0390625)  # 2 * (C(9,0)+C(9,1)) / 2^9
    assert mcnemar_exact(10, 0) == pytest.approx(2 / 1024)
    assert mcnemar_exact(3, 3) == 1.0 and mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(12, 5) == pytest.approx(2 * 9402 / 2**17)  # sum of C(17, 0..5) = 9402


def test_matrix_cells_and_one_line_errors():
    cells = parse_matrix(
        "mini:openai/gpt-5-mini, claude:anthropic/claude-haiku-4-5@claude-md,mini:scripted/needs-skill#base=0.3&competent=1"
    )
    assert [(c.agent, c.model, c.skill_mode) for c in cells] == [
        ("mini", "openai/gpt-5-mini", ""),
        ("claude", "anthropic/claude-haiku-4-5", "claude-md"),
        ("mini", "scripted/needs-skill", ""),
    ]
    assert (
        cells[2].scripted == {"base": 0.3, "competent": 1.0}
        and cells[2].label == "mini:scripted/needs-skill#base=0.3&competent=1"
    )
    assert len({c.name for c in cells}) == 3
    for bad, message in (
        ("aider:x", "agent one of"),
        ("mini", "agent one of"),
        ("mini:openai/gpt-5#base=1", "scripted/ models only"),
        ("", "names no cell"),
        ("mini:a,mini:a", "same cell twice"),
    ):
        with pytest.raises(GskillError, match=message):
            parse_matrix(bad)


def _record(task: str, run: int, status: GradeStatus | None, seconds: float = 10.0) -> EvalRecord:
    rollout = Rollout(
        instance_id=task,
        agent="mini",
        model="m",
        exit_status=ExitStatus.SUBMITTED,
        wall_time_s=seconds,
        usage=Usage(input_tokens=100, output_tokens=10, cost_usd=0.01),
        infra_error=status is None,
    )
    grade = Grade(instance_id=task, status=status) if status else None
    return EvalRecord(instance_id=task, run_index=run, rollout=rollout, grade=grade)


def test_pairs_flips_and_infra_exclusion():
    R, F = GradeStatus.RESOLVED, GradeStatus.F2P_FAILED
    baseline = {
        ("a", 0): _record("a", 0, F),
        ("b", 0): _record("b", 0, R),
        ("c", 0): _record("c", 0, F),
        ("d", 0): _record("d", 0, None),
        ("e", 0): _record("e", 0, R),
    }
    skilled = {
        ("a", 0): _record("a", 0, R, 5),
        ("b", 0): _record("b", 0, F, 5),
        ("c", 0): _record("c", 0, R, 5),
        ("d", 0): _record("d", 0, R, 5),
        ("e", 0): _record("e", 0, R, 5),
    }
    cell = compare(baseline, skilled)
    assert cell["pairs"] == 4 and cell["excluded_infra_pairs"] == 1
    assert cell["fail_to_pass"] == ["a#0", "c#0"] and cell["pass_to_fail"] == ["b#0"]
    assert cell["baseline"]["resolved"] == 2 and cell["skill"]["resolved"] == 3 and cell["difference"] == 0.25
    assert (
        cell["mcnemar_p"] == 1.0 and cell["skill"]["median_duration_s"] == 5.0 and cell["baseline"]["cost_usd"] == 0.04
    )
    table = markdown_table({"cells": [{"cell": "mini:m", **cell}]})
    assert "| mini:m | 4 | 50% (15%–85%) | 75% (30%–95%) | +25% | 1 | +2/−1 |" in table


def _published(tmp_path, name="shop-skill"):
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    # The paths the published skills name exist at the repository's commit (publish refuses a skill otherwise).
    write(repo, {"src/shop/pricing.py": "", "src/shop/stock.py": ""})
    commit_all(repo, "shop")
    run = tmp_path / "run"
    run.mkdir()
    (run / "best_skill.md").write_text("# Working here\n\n- `src/shop/pricing.py`: prices\n")
    evidence = {
        "agent": "mini",
        "model": "scripted/needs-skill",
        "reflection_model": "scripted/reflector",
        "scripted": True,
        "best": {"val_mean": 0.8, "tokens": 20, "token_budget": 2000},
        "seed": {"val_mean": 0.0},
        "test": {},
    }
    (run / "evidence.json").write_text(json.dumps(evidence))
    return repo, run, publish(run, repo, name=name)


def test_install_writes_valid_skills_and_leaves_agents_md_alone(tmp_path):
    repo, run, folder = _published(tmp_path)
    user_text = "# Agents\n\nAlways run `make lint`.\r\nKeep this line\t exactly.\n"
    (repo / "AGENTS.md").write_text(user_text)
    written = install(repo, ["claude", "codex", "opencode", "agents-md"])
    assert {p.relative_to(repo).as_posix() for p in written} == {
        ".claude/skills/shop-skill/SKILL.md",
        ".agents/skills/shop-skill/SKILL.md",
        ".opencode/skills/shop-skill/SKILL.md",
        "AGENTS.md",
    }
    for path in written[:3]:
        front, body = read_skill(path.parent)
        assert not skill_problems(front, path.parent.name) and "src/shop/pricing.py" in body
    agents = (repo / "AGENTS.md").read_bytes()
    assert agents.startswith(user_text.encode()) and b"<!-- gskill:begin shop-skill -->" in agents
    # Idempotent, and a new version replaces only the marked section.
    install(repo, ["agents-md"])
    assert (repo / "AGENTS.md").read_bytes() == agents
    (run / "best_skill.md").write_text("# Working here\n\n- `src/shop/stock.py`: stock\n")
    publish(run, repo, name="shop-skill")
    install(repo, ["agents-md"])
    updated = (repo / "AGENTS.md").read_bytes().decode()
    assert (
        updated.startswith(user_text)
        and "stock.py" in updated
        and "pricing.py" not in updated
        and updated.count("gskill:begin") == 1
    )


def test_skill_rules_and_install_errors(tmp_path):
    assert skill_name("My Repo__v2!") == "my-repo-v2" and len(skill_name("x" * 100)) == 64
    assert skill_problems({"name": "Bad--Name", "description": ""}, "Bad--Name")[:2] == [
        "name 'Bad--Name' must be 1-64 characters of a-z, 0-9 and single hyphens",
        "description must be 1-1024 characters (has 0)",
    ]
    assert "must equal its folder" in skill_problems({"name": "a", "description": "d"}, "b")[0]
    assert "not in the spec" in skill_problems({"name": "a", "description": "d", "version": 1}, "a")[0]
    repo, _, _ = _published(tmp_path)
    with pytest.raises(GskillError, match="unknown --agent"):
        install(repo, ["cursor"])
    with pytest.raises(GskillError, match="no published skill"):
        install(tmp_path, ["claude"])
