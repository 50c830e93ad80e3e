"""`.skills/` in the target repository: gskill's published output, from which agent files are installed.

    REPO/.skills/<name>/SKILL.md    Agent Skills front matter (name = folder, description) + the learned body
    REPO/.skills/<name>/skill.json  where it came from: repo commit, agent, model, scores, date, tokens
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


def publish(run_dir: Path, repo: Path | None, *, name: str = "") -> Path | None:
    evidence_path = run_dir / "evidence.json"
    if not evidence_path.is_file() or not (run_dir / "best_skill.md").is_file():
        raise GskillError(f"{run_dir} holds no finished learn run (evidence.json / best_skill.md missing)")
    if repo is None:
        return None
    packet = json.loads(evidence_path.read_text())
    name = skill_name(name or f"{repo.resolve().name}-skill")
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    folder = repo / ".skills" / name
    folder.mkdir(parents=True, exist_ok=True)
    body = (run_dir / "best_skill.md").read_text().strip()
    (folder / "SKILL.md").write_text(f"---\nname: {name}\ndescription: {json.dumps(DESCRIPTION)}\n---\n\n{body}\n")
    meta = {
        "name": name, "repo_commit": commit, "learned_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "agent": packet["agent"], "model": packet["model"], "reflection_model": packet["reflection_model"],
        "scripted": packet["scripted"], "val_mean": packet["best"]["val_mean"], "seed_val_mean": packet["seed"]["val_mean"],
        "test": packet["test"], "tokens": packet["best"]["tokens"], "token_budget": packet["best"]["token_budget"],
        "run": str(run_dir.resolve()),
    }  # fmt: skip
    (folder / "skill.json").write_text(json.dumps(meta, indent=2) + "\n")
    return folder
