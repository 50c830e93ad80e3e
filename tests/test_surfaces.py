"""`gskill learn --surfaces`: several instruction texts (the skill, an AGENTS.md section, a system prompt) learned
together. The learn loop, engine, store, CLI and the `scripted/reflector` are real; rollouts are scored by the
container-free rule of `scripted/needs-two-facts` (tests/surfaces_driver.py): a task resolves only when the
skill names the file of its fix AND the AGENTS.md surface names its failing test's file. One Docker test runs
the real mini-SWE-agent with the real `scripted/needs-two-facts` policy."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gskill.engine import candidate_hash
from gskill.schema import patch_files, read_tasks
from tests.helpers import ROOT, assert_one_line_error, gskill
from tests.tracking_driver import write_toy_tasks

LEARN = [
    "--model",
    "scripted/needs-two-facts",
    "--reflection-model",
    "scripted/reflector",
    "--scripted",
    "base=0",
    "--workers",
    "2",
    "--minibatch",
    "2",
    "--validate-every",
    "1",
    "--no-test",
]
TWO = ["--surfaces", "skill,agents-md"]


def driver(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "tests.surfaces_driver", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"COLUMNS": "200", **__import__("os").environ},
    )
    return done


def learned(tasks: Path, out: Path, *args: str) -> Path:
    done = driver("learn", "--tasks", str(tasks), *LEARN, *args, "--out", str(out))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return out


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def facts(tasks_dir: Path) -> dict[str, tuple[str, str]]:
    """Task id -> (the file its fix changes, its failing test's file)."""
    tasks = [task for split in ("train", "val") for task in read_tasks(tasks_dir / f"{split}.jsonl")]
    return {t.instance_id: (patch_files(t.patch)[0], t.FAIL_TO_PASS[0].split("::")[0]) for t in tasks}


@pytest.fixture(scope="module")
def toy_tasks(tmp_path_factory) -> Path:
    return write_toy_tasks(tmp_path_factory.mktemp("surfaces") / "tasks", {"train": 8, "val": 4})


@pytest.fixture(scope="module")
def two_surface_run(toy_tasks, tmp_path_factory) -> Path:
    return learned(toy_tasks, tmp_path_factory.mktemp("two") / "run", *TWO, "--max-metric-calls", "80")


def test_validation_rises_only_once_both_surfaces_hold_their_fact(two_surface_run, toy_tasks):
    run, known = two_surface_run, facts(toy_tasks)
    candidates = read_jsonl(run / "candidates.jsonl")
    iterations = read_jsonl(run / "iterations.jsonl")
    seed, best = candidates[0], json.loads((run / "evidence.json").read_text())["best"]
    assert seed["components"] == {"skill": "", "agents-md": ""} and seed["val_mean"] == 0.0
    # Every scored call of the search, with the texts it ran on: a task resolved only when the skill named
    # its fix's file AND the AGENTS.md surface its test file; both facts are needed (base=0).
    with sqlite3.connect(run / "store.sqlite") as db:
        texts = {h: json.loads(c) for h, c in db.execute("SELECT candidate, components FROM texts")}
        scored = list(db.execute("SELECT candidate, example, score FROM evaluations"))
    one_fact_only = 0
    for chash, example, score in scored:
        source, test = known[example]
        where, tests = source in texts[chash]["skill"], test in texts[chash]["agents-md"]
        if score:
            assert where and tests, (chash, example)
        one_fact_only += where != tests
    assert one_fact_only >= 3  # one-fact texts were tried and scored 0
    for candidate in candidates:
        for example, score in candidate["val_scores"].items():
            source, test = known[example]
            if score > 0:
                assert source in candidate["components"]["skill"] and test in candidate["components"]["agents-md"]
    # The best holds both facts for the validation tasks it solves, and validation rose.
    assert best["val_mean"] >= 0.5 > seed["val_mean"]
    best_record = candidates[best["index"]]
    solved = [e for e, s in best_record["val_scores"].items() if s]
    assert solved and all(
        known[e][0] in best_record["components"]["skill"] and known[e][1] in best_record["components"]["agents-md"]
        for e in solved
    )
    # Each reflection step edited one surface, told which; a tie on one surface went on to the other.
    assert {it["component"] for it in iterations} == {"skill", "agents-md"}
    assert any(link["component"] != it["component"] for it in iterations for link in it.get("chain", []))
    with sqlite3.connect(run / "store.sqlite") as db:
        prompts = [row[0] for row in db.execute("SELECT prompt FROM lm_calls")]
    on_agents_md = [p for p in prompts if "\n## Surface: agents-md\nYou edit the AGENTS.md section" in p]
    assert on_agents_md and all("Hard limit: 1000 tokens" in p for p in on_agents_md)  # its own budget
    assert all("Hard limit: 2000 tokens" in p for p in prompts if "\n## Surface: skill\n" in p)
    # Outputs: each surface's best text, and its diff from the seed in the evidence.
    assert (run / "best_agents-md.md").read_text() == best_record["components"]["agents-md"]
    evidence = json.loads((run / "evidence.json").read_text())
    assert set(evidence["surfaces"]) == {"skill", "agents-md"}
    assert evidence["surfaces"]["agents-md"]["diff_vs_seed"].startswith("--- seed")


def test_a_frozen_surface_stays_byte_identical_and_validation_cannot_rise(toy_tasks, tmp_path):
    seed_text = tmp_path / "agents.md"
    seed_text.write_bytes(b"# Project rules\r\n\r\nKeep diffs small.  \r\n")
    run = learned(
        toy_tasks,
        tmp_path / "run",
        *TWO,
        "--freeze",
        "agents-md",
        "--seed-surface",
        f"agents-md={seed_text}",
        "--max-metric-calls",
        "60",
    )
    candidates = read_jsonl(run / "candidates.jsonl")
    assert all(c["components"]["agents-md"] == seed_text.read_text() for c in candidates)
    with sqlite3.connect(run / "store.sqlite") as db:
        texts = [json.loads(c) for (c,) in db.execute("SELECT components FROM texts")]
        scores = [s for (s,) in db.execute("SELECT score FROM evaluations")]
    assert len(texts) > 3 and {t["agents-md"] for t in texts} == {seed_text.read_text()}
    assert any("src/shop/" in t["skill"] for t in texts)  # the skill did learn its fact...
    assert set(scores) == {0.0}  # ...and without the AGENTS.md fact nothing resolves
    iterations = read_jsonl(run / "iterations.jsonl")
    assert iterations and {it["component"] for it in iterations} == {"skill"}
    assert json.loads((run / "evidence.json").read_text())["best"]["val_mean"] == 0.0


def test_a_multi_surface_run_resumes_to_where_an_uninterrupted_run_ends(two_surface_run, toy_tasks, tmp_path):
    run = learned(toy_tasks, tmp_path / "run", *TWO, "--max-metric-calls", "30")
    assert len(read_jsonl(run / "candidates.jsonl")) < len(read_jsonl(two_surface_run / "candidates.jsonl"))
    done = driver("learn", "--resume", str(run), "--max-metric-calls", "80")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    keys = ("hash", "operator", "parents", "val_scores", "components")
    assert [{k: c[k] for k in keys} for c in read_jsonl(run / "candidates.jsonl")] == [
        {k: c[k] for k in keys} for c in read_jsonl(two_surface_run / "candidates.jsonl")
    ]
    assert (run / "best_agents-md.md").read_text() == (two_surface_run / "best_agents-md.md").read_text()
    assert_one_line_error(driver("learn", "--resume", str(run), "--surfaces", "skill"), "--surfaces cannot change")


def test_a_single_surface_store_from_before_surfaces_still_resumes(toy_tasks, tmp_path):
    reference = learned(toy_tasks, tmp_path / "reference", "--max-metric-calls", "50")
    run = learned(toy_tasks, tmp_path / "old", "--max-metric-calls", "20")
    # The default search is the one gskill always ran: seed {"skill": ""}, prompts without a surface
    # section, iteration records without surface fields.
    assert read_jsonl(run / "candidates.jsonl")[0]["hash"] == candidate_hash({"skill": ""})
    assert all(not ({"chain", "implicated"} & set(it)) for it in read_jsonl(run / "iterations.jsonl"))
    # Make it a run written before surfaces existed: no surface settings in learn.json nor in the store.
    settings = json.loads((run / "learn.json").read_text())
    for key in ("surfaces", "frozen", "seed_surfaces", "surface_choice"):
        del settings["options"][key]
    (run / "learn.json").write_text(json.dumps(settings, indent=2))
    with sqlite3.connect(run / "store.sqlite") as db:
        search = json.loads(db.execute("SELECT value FROM meta WHERE key = 'search'").fetchone()[0])
        for key in ("component_budgets", "component_descriptions", "component_choice", "component_cues"):
            del search["config"][key]
        db.execute("UPDATE meta SET value = ? WHERE key = 'search'", (json.dumps(search),))
        prompts = [row[0] for row in db.execute("SELECT prompt FROM lm_calls")]
    assert prompts and not any("## Surface" in p for p in prompts)
    done = driver("learn", "--resume", str(run), "--max-metric-calls", "50")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    keys = ("hash", "operator", "parents", "val_scores", "components")
    assert [{k: c[k] for k in keys} for c in read_jsonl(run / "candidates.jsonl")] == [
        {k: c[k] for k in keys} for c in read_jsonl(reference / "candidates.jsonl")
    ]
    assert not (run / "best_agents-md.md").exists()


def _repo_with_the_toy_files(path: Path) -> Path:
    from tests.toy_problem import MODULES

    for module in MODULES:
        (path / "src" / "shop").mkdir(parents=True, exist_ok=True)
        (path / "tests").mkdir(exist_ok=True)
        (path / "src" / "shop" / f"{module}.py").write_text("x = 1\n")
        (path / "tests" / f"test_{module}.py").write_text("def test_x():\n    pass\n")
    (path / "AGENTS.md").write_bytes(b"# Our rules\r\n\r\nBe kind to reviewers.\r\n")
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"]):
        subprocess.run(["git", "-C", str(path), *command], check=True)
    return path


def test_publish_writes_each_surface_to_its_place_idempotently(two_surface_run, tmp_path):
    repo = _repo_with_the_toy_files(tmp_path / "repo")
    done = gskill("skills", "publish", str(two_surface_run), "--repo", str(repo), "--name", "shop")
    assert done.returncode == 0, done.stderr[-2000:]
    agents = (repo / "AGENTS.md").read_bytes()
    best = (two_surface_run / "best_agents-md.md").read_text().strip()
    assert agents.startswith(b"# Our rules\r\n\r\nBe kind to reviewers.\r\n")  # the user's bytes, untouched
    section = agents.decode().split("<!-- gskill:begin shop agents-md -->\n", 1)[1]
    assert section == best + "\n<!-- gskill:end shop agents-md -->\n"
    skill = (repo / ".skills" / "shop" / "SKILL.md").read_text()
    assert skill.split("---\n", 2)[2].strip() == (two_surface_run / "best_skill.md").read_text().strip()
    meta = json.loads((repo / ".skills" / "shop" / "skill.json").read_text())
    assert meta["surfaces"] == {
        "skill": str(repo / ".skills" / "shop" / "SKILL.md"),
        "agents-md": str(repo / "AGENTS.md"),
    }
    again = gskill("skills", "publish", str(two_surface_run), "--repo", str(repo), "--name", "shop")
    assert again.returncode == 0 and (repo / "AGENTS.md").read_bytes() == agents  # idempotent
    assert agents.count(b"gskill:begin") == 1


def test_publish_writes_the_system_prompt_file(toy_tasks, tmp_path):
    run = learned(toy_tasks, tmp_path / "run", "--surfaces", "skill,system-prompt", "--max-metric-calls", "30")
    repo = _repo_with_the_toy_files(tmp_path / "repo")
    done = gskill("skills", "publish", str(run), "--repo", str(repo), "--name", "shop")
    assert done.returncode == 0, done.stderr[-2000:]
    written = (repo / ".skills" / "shop" / "system-prompt.md").read_text()
    assert written == (run / "best_system-prompt.md").read_text().strip() + "\n"
    assert (repo / "AGENTS.md").read_bytes() == b"# Our rules\r\n\r\nBe kind to reviewers.\r\n"


def test_report_shows_each_surface_and_its_diff(two_surface_run):
    done = gskill("report", str(two_surface_run))
    assert done.returncode == 0, done.stderr[-2000:]
    page = (two_surface_run / "report.html").read_text()
    skill_part, agents_part = page.split('<h3 id="surface-agents-md">Surface: agents-md</h3>')
    assert "Diff from the seed" in skill_part and "Diff from the seed" in agents_part
    first_test_line = (two_surface_run / "best_agents-md.md").read_text().splitlines()[-1]
    import html

    assert f'<span class="add">+{html.escape(first_test_line)}</span>' in agents_part.split("</section>")[0]


def test_implicated_choice_edits_the_surface_the_failures_point_at(toy_tasks, tmp_path):
    # The seed skill knows where every fix goes: the failures only say "how to run the tests" (AGENTS.md).
    skill = tmp_path / "skill.md"
    skill.write_text("\n".join(f"- `{source}`" for source, _ in sorted(set(facts(toy_tasks).values()))) + "\n")
    args = (*TWO, "--seed-surface", f"skill={skill}", "--max-metric-calls", "40")
    run = learned(toy_tasks, tmp_path / "run", *args, "--surface-choice", "implicated")
    iterations = [it for it in read_jsonl(run / "iterations.jsonl") if it.get("outcome") != "skipped"]
    assert iterations and iterations[0]["implicated"]["skill"] == 0 < iterations[0]["implicated"]["agents-md"]
    for entry in iterations:
        mentions = entry["implicated"]
        top = max(mentions.values())
        if top and list(mentions.values()).count(top) == 1:
            assert entry["component"] == max(mentions, key=mentions.get), entry
    assert iterations[0]["component"] == "agents-md" and iterations[0]["outcome"] == "accepted"
    assert read_jsonl(run / "candidates.jsonl")[0]["components"]["skill"] == skill.read_text()
    # Round robin starts with the skill, which has nothing left to learn: its first step is wasted.
    robin = read_jsonl(learned(toy_tasks, tmp_path / "robin", *args) / "iterations.jsonl")
    assert robin[0]["component"] == "skill" and "implicated" not in robin[0]
    assert json.loads((run / "evidence.json").read_text())["best"]["val_mean"] > 0


def test_surface_flags_are_checked_with_one_line_errors(toy_tasks, tmp_path):
    base = ["learn", "--tasks", str(toy_tasks), *LEARN, "--out", str(tmp_path / "r")]
    assert_one_line_error(driver(*base, "--surfaces", "skill,readme"), "--surfaces", "readme")
    assert_one_line_error(driver(*base, "--surfaces", "skill", "--freeze", "agents-md"), "--freeze agents-md")
    assert_one_line_error(driver(*base, *TWO, "--freeze", "skill", "--freeze", "agents-md"), "no surface to learn")
    assert_one_line_error(driver(*base, *TWO, "--seed-surface", "agents-md"), "SURFACE=FILE")
    assert_one_line_error(driver(*base, *TWO, "--seed-surface", f"agents-md={tmp_path / 'none'}"), "no skill file")
    assert_one_line_error(driver(*base, *TWO, "--surface-choice", "random"), "--surface-choice")
    assert not (tmp_path / "r").exists()


def test_mini_reads_each_surface_where_needs_two_facts_looks(library_tasks, tmp_path):
    """The real mini-SWE-agent in task containers, `scripted/needs-two-facts` behind the gateway: a task
    resolves only with the file in the skill AND the test file in the AGENTS.md surface."""
    from gskill.schema import RunConfig
    from harnesses.evaluate import evaluate

    tasks = read_tasks(library_tasks / "val.jsonl")[:2]
    sources = "\n".join(f"- `{path}`" for t in tasks for path in patch_files(t.patch))
    tests = "\n".join(f"- `{test.split('::')[0]}`" for t in tasks for test in t.FAIL_TO_PASS)
    config = RunConfig(agent="mini", model="scripted/needs-two-facts", workers=2, step_limit=10)
    arms = {
        "both": (sources, {"agents-md": tests}),
        "skill only": (sources, {"agents-md": "Be careful."}),
        "agents-md only": ("", {"agents-md": tests}),
        "swapped": (tests, {"agents-md": sources}),
    }
    resolved = {}
    for label, (skill, surfaces) in arms.items():
        folder = tmp_path / label.replace(" ", "-")
        summary = evaluate(tasks, config=config, skill=skill, surfaces=surfaces, scripted={"base": 0}, run_dir=folder)
        assert summary["infra_errors"] == 0
        resolved[label] = summary["resolved"]
        request = json.dumps(json.loads(next((folder / "traces").glob("*.gateway.jsonl")).read_text().splitlines()[0]))
        assert '<gskill-surface name=\\"agents-md\\">' in request and "</gskill-surface>" in request
    assert resolved["both"] >= 1 and resolved["skill only"] == resolved["agents-md only"] == resolved["swapped"] == 0


@pytest.mark.parametrize("agent", ["codex", "claude", "opencode", "gemini"])
def test_container_agents_receive_every_surface_they_have_a_place_for(agent, library_tasks, tmp_path):
    """The real binaries in a task container: the AGENTS.md surface reaches Codex through $CODEX_HOME/AGENTS.md,
    Claude Code through its CLAUDE.md, OpenCode through its user-level AGENTS.md and Gemini CLI through its
    GEMINI.md; the system-prompt surface through `-c developer_instructions`, `--append-system-prompt` and
    OpenCode's `instructions` file (Gemini CLI has no place for it). The model's first request holds every
    text, each in its tag."""
    from gskill.config import load_settings
    from gskill.errors import GskillError
    from gskill.schema import RunConfig
    from harnesses.agents import TOOLS, adapter_for
    from harnesses.agents.tools import install
    from harnesses.evaluate import evaluate
    from tests.helpers import IN_CI

    cache = load_settings().cache_dir
    try:
        install(TOOLS[agent], cache)
    except GskillError as exc:
        if IN_CI:
            pytest.fail(f"CI must run the real agent binaries: {exc}")
        pytest.skip(f"agent binaries unavailable: {exc}")
    surfaces = {"agents-md": "Run the tests. Marker AGENTS-7d2e.", "system-prompt": "Work slowly. Marker SYSTEM-93af."}
    surfaces = {name: text for name, text in surfaces.items() if name in adapter_for(agent).surface_places}
    assert "agents-md" in surfaces
    config = RunConfig(agent=agent, model="scripted/noop", workers=1, step_limit=10, wall_time_limit_s=300)
    tasks = read_tasks(library_tasks / "val.jsonl")[:1]
    summary = evaluate(tasks, config=config, skill="", surfaces=surfaces, run_dir=tmp_path, cache_dir=cache)
    assert summary["infra_errors"] == 0, summary
    request = json.dumps(json.loads(next((tmp_path / "traces").glob("*.gateway.jsonl")).read_text().splitlines()[0]))
    for name, text in surfaces.items():
        assert f'<gskill-surface name=\\"{name}\\">\\n{text}\\n</gskill-surface>' in request, name


def test_an_adapter_without_a_place_for_a_surface_refuses_it():
    from harnesses.agents.base import RunRequest, SurfacePlace, surface_texts

    request = RunRequest("fix it", "", "", "http://gw", "t", "m", 1, 1.0, 1.0, 1.0, surfaces={"agents-md": "x"})
    with pytest.raises(ValueError, match="no place for the 'agents-md' surface"):
        surface_texts(request, {"system-prompt": SurfacePlace(flag="--x")}, "newagent")
    place = SurfacePlace(file="{home}/AGENTS.md")
    assert surface_texts(request, {"agents-md": place}, "newagent") == {
        place: '<gskill-surface name="agents-md">\nx\n</gskill-surface>'
    }
