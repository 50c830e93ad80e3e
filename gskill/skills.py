"""`.skills/` in the target repository: gskill's published output, from which agent files are installed.

    REPO/.skills/<name>/SKILL.md    Agent Skills front matter (name = folder, description) + the learned body
    REPO/.skills/<name>/skill.json  where it came from: repo commit, agent, model, scores, date, tokens

A run that learned several surfaces (`gskill learn --surfaces`, `gskill.surfaces`) publishes each where it
belongs (`PUBLISHERS`): the skill as SKILL.md; `agents-md` as a section of REPO/AGENTS.md between
`<!-- gskill:begin <name> agents-md -->` and `<!-- gskill:end <name> agents-md -->` (rewritten in place on
every publish, the rest of the file byte for byte untouched); `system-prompt` as
REPO/.skills/<name>/system-prompt.md (Claude Code: `claude --append-system-prompt "$(cat ...)"`;
mini-SWE-agent: append it to its system template; Codex: `-c developer_instructions=...`).

`install` copies a published skill where each agent looks: `.claude/skills/<name>/SKILL.md` (Claude
Code), `.agents/skills/<name>/SKILL.md` (Codex and other Agent Skills readers), and a section of
`AGENTS.md` between gskill's markers (agents that read only the flat file).
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from gskill.errors import GskillError

DESCRIPTION = (
    "Repository knowledge learned by gskill from this repository's own bug-fix tasks: where code lives, how to "
    "run and read the tests, conventions and pitfalls. Use it before changing code in this repository."
)


def skill_name(raw: str) -> str:
    """An Agent Skills name: lowercase a-z0-9 and single hyphens, 1-64 characters."""
    name = re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", raw.lower())).strip("-")[:64].strip("-")
    if not name:
        raise GskillError(f"cannot make a skill name from {raw!r}")
    return name


def publish(run_dir: Path, repo: Path | None, *, name: str = "", renames: dict[str, str] | None = None) -> Path | None:
    """Write the run's best skill into REPO/.skills/<name>/. Never publishes a skill that names a path
    missing at the repository's HEAD (it would be stale at once): `renames` ({old: new}, from
    `gskill.refresh.renamed_paths`) are carried into the text first, then any path still missing is
    refused with one line."""
    from gskill.refresh import carry_renames, missing_paths

    from gskill.surfaces import best_file

    evidence_path = run_dir / "evidence.json"
    if not evidence_path.is_file() or not (run_dir / "best_skill.md").is_file():
        raise GskillError(f"{run_dir} holds no finished learn run (evidence.json / best_skill.md missing)")
    if repo is None:
        return None
    packet = json.loads(evidence_path.read_text())
    name = skill_name(name or f"{repo.resolve().name}-skill")
    done = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "-q", "HEAD"], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise GskillError(f"{repo} has no commit to publish a skill at")
    commit = done.stdout.strip()
    surfaces = list(packet.get("surfaces") or ["skill"])  # a run from before surfaces learned the skill only
    texts = {}
    for surface in surfaces:
        path = run_dir / best_file(surface)
        if not path.is_file():
            raise GskillError(f"{run_dir} holds no finished learn run ({path.name} missing)")
        texts[surface], _ = carry_renames(path.read_text().strip(), renames or {})
        if missing := missing_paths(repo, texts[surface], commit):
            raise GskillError(
                f"not publishing {path}: it names path(s) missing at {commit[:12]}: {', '.join(missing)} "
                "(edit them out, then `gskill skills publish`)"
            )
    folder = repo / ".skills" / name
    folder.mkdir(parents=True, exist_ok=True)
    published = {surface: str(PUBLISHERS[surface](repo, folder, texts[surface])) for surface in surfaces}
    meta = {
        "name": name,
        "repo_commit": commit,
        "learned_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "agent": packet["agent"],
        "model": packet["model"],
        "reflection_model": packet["reflection_model"],
        "scripted": packet["scripted"],
        "val_mean": packet["best"]["val_mean"],
        "seed_val_mean": packet["seed"]["val_mean"],
        "test": packet["test"],
        "tokens": packet["best"]["tokens"],
        "token_budget": packet["best"]["token_budget"],
        "run": str(run_dir.resolve()),
    }
    if surfaces != ["skill"]:
        meta["surfaces"] = published
    (folder / "skill.json").write_text(json.dumps(meta, indent=2) + "\n")
    return folder


def _publish_skill(repo: Path, folder: Path, body: str) -> Path:
    path = folder / "SKILL.md"
    path.write_text(f"---\nname: {folder.name}\ndescription: {json.dumps(DESCRIPTION)}\n---\n\n{body}\n")
    return path


def _publish_agents_md(repo: Path, folder: Path, body: str) -> Path:
    path = repo / "AGENTS.md"
    # Bytes in, bytes out: text mode would rewrite the user's line endings.
    existing = path.read_bytes().decode("utf-8") if path.is_file() else ""
    path.write_bytes(_marked_section(existing, f"{folder.name} agents-md", body).encode("utf-8"))
    return path


def _publish_system_prompt(repo: Path, folder: Path, body: str) -> Path:
    path = folder / "system-prompt.md"
    path.write_text(body + "\n")
    return path


# Where `publish` writes each surface (gskill.surfaces.SURFACES[...].published says it in words).
PUBLISHERS = {"skill": _publish_skill, "agents-md": _publish_agents_md, "system-prompt": _publish_system_prompt}


# ------------------------------------------------------------------------------------------------
# Installing a published skill where each agent looks for it

_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# `skills install --agent X`: the repository folder each agent reads Agent Skills from (the `repo-skill`
# mode of its adapter, each checked to reach the model in tests), or "agents-md": the marked AGENTS.md section.
SKILL_FOLDERS = {
    "claude": ".claude/skills",
    "codex": ".agents/skills",
    "opencode": ".opencode/skills",
    "gemini": ".agents/skills",
}
TARGETS = (*SKILL_FOLDERS, "agents-md")


def read_skill(folder: Path) -> tuple[dict[str, str], str]:
    """(front matter, body) of a SKILL.md, checked against the Agent Skills rules."""
    path = folder / "SKILL.md"
    if not path.is_file():
        raise GskillError(f"no SKILL.md in {folder}")
    text = path.read_text()
    if not text.startswith("---\n") or text.count("---\n") < 2:
        raise GskillError(f"{path} has no YAML front matter")
    import yaml

    _, front_text, body = text.split("---\n", 2)
    front = yaml.safe_load(front_text) or {}
    problems = skill_problems(front, folder.name)
    if problems:
        raise GskillError(f"{path}: {problems[0]}")
    return front, body.strip()


def skill_problems(front: dict, folder_name: str) -> list[str]:
    """What breaks the Agent Skills spec: name (1-64, a-z0-9 and single hyphens, = folder), description (1-1024)."""
    problems = []
    name, description = str(front.get("name", "")), str(front.get("description", ""))
    if not (1 <= len(name) <= 64 and _NAME.match(name)):
        problems.append(f"name {name!r} must be 1-64 characters of a-z, 0-9 and single hyphens")
    if name != folder_name:
        problems.append(f"name {name!r} must equal its folder's name {folder_name!r}")
    if not 1 <= len(description) <= 1024:
        problems.append(f"description must be 1-1024 characters (has {len(description)})")
    allowed = {"name", "description", "license", "compatibility", "metadata", "allowed-tools"}
    if extra := sorted(set(front) - allowed):
        problems.append(f"front matter keys not in the spec: {', '.join(extra)}")
    return problems


def _marked_section(existing: str, name: str, body: str) -> str:
    begin, end = f"<!-- gskill:begin {name} -->", f"<!-- gskill:end {name} -->"
    block = f"{begin}\n{body}\n{end}"
    if begin in existing and end in existing:
        head, rest = existing.split(begin, 1)
        _, tail = rest.split(end, 1)
        return head + block + tail
    if not existing:
        return block + "\n"
    return existing + ("\n" if existing.endswith("\n") else "\n\n") + block + "\n"


def install(repo: Path, targets: list[str], name: str = "") -> list[Path]:
    """Copy `.skills/<name>` to `.claude/skills/`, `.agents/skills/` and/or a marked AGENTS.md section.
    Idempotent; bytes of AGENTS.md outside gskill's markers are never changed."""
    skills = (
        sorted(p for p in (repo / ".skills").glob("*") if (p / "SKILL.md").is_file())
        if (repo / ".skills").is_dir()
        else []
    )
    if name:
        skills = [p for p in skills if p.name == name]
    if not skills:
        raise GskillError(
            f"no published skill{' ' + repr(name) if name else ''} in {repo / '.skills'} (run gskill learn or gskill skills publish)"
        )
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise GskillError(f"unknown --agent {unknown[0]!r}; choose from {', '.join(TARGETS)} or all")
    written = []
    for folder in skills:
        _, body = read_skill(folder)
        document = (folder / "SKILL.md").read_text()
        for target in targets:
            if target == "agents-md":
                path = repo / "AGENTS.md"
                # Bytes in, bytes out: text mode would rewrite the user's line endings.
                existing = path.read_bytes().decode("utf-8") if path.is_file() else ""
                path.write_bytes(_marked_section(existing, folder.name, body).encode("utf-8"))
            else:
                path = repo / SKILL_FOLDERS[target] / folder.name / "SKILL.md"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(document)
            written.append(path)
    return written
