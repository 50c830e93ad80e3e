"""`gskill refresh REPO`: keep a published skill fresh as the repository moves (nightly jobs).

    1. lock the repository (one refresh at a time), read `.skills/<name>/{SKILL.md, skill.json}`;
    2. no commit since the skill's recorded commit → unchanged;
    3. mine ONLY the commits after the recorded one (commit strategies, `since=`);
    4. stale if a path the skill names no longer exists at HEAD, or if the skill's resolve rate on the
       new tasks falls below the 95% Wilson interval of the rate it was published with;
    5. stale → carry the renames git sees since the recorded commit into the skill, tell reflection which
       paths are gone, re-learn at HEAD from that skill, and publish over the old one (publishing refuses
       a skill that still names a path missing at HEAD).

Exit codes (for cron and CI): 0 unchanged, 10 refreshed, 1 failed; bad input 2.
"""

from __future__ import annotations

import functools

import fcntl
import json
import re
import subprocess
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from gskill.errors import GskillError
from gskill.schema import Settings
from gskill.stats import wilson

EXIT_UNCHANGED, EXIT_REFRESHED, EXIT_FAILED = 0, 10, 1
# Backticked tokens that look like repository paths: `src/pkg/mod.py`, `tests/`, `pyproject.toml`.
_PATH = re.compile(r"`([\w.-]+(?:/[\w.-]+)*/?)`")
_FILE_LIKE = re.compile(r"(/|\.(py|pyi|toml|cfg|ini|txt|md|rst|json|yaml|yml)$)")


@dataclass
class Verdict:
    stale: bool
    reasons: list[str] = field(default_factory=list)
    new_commits: int = 0
    new_tasks: int = 0
    rate: float | None = None  # the current skill on the new tasks
    recorded_interval: tuple[float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        return self.__dict__ | {"recorded_interval": list(self.recorded_interval) if self.recorded_interval else None}


def git_out(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise GskillError(f"git {' '.join(args)} failed in {repo}: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return done.stdout.strip()


def referenced_paths(skill: str) -> list[str]:
    return sorted(
        {token for token in _PATH.findall(skill) if _FILE_LIKE.search(token) and not token.startswith(("http", "-"))}
    )


def missing_paths(repo: Path, skill: str, commit: str = "HEAD") -> list[str]:
    """Paths the skill names that do not exist at `commit` (files or folders). A test unit of the
    repository's language counts as present (a Go package's import path, as `go test` names it)."""
    from languages import detect_language, profile_named

    tree = set(git_out(repo, "ls-tree", "-r", "--name-only", commit).splitlines())
    folders = {str(Path(path).parent) + "/" for path in tree} | {
        "/".join(p.split("/")[:i]) + "/" for p in tree for i in range(1, p.count("/") + 1)
    }
    language = detect_language(sorted(tree))
    units: set[str] = set()
    if language:
        profile = profile_named(language)

        @functools.cache  # every Go file asks for go.mod
        def read(path: str) -> str | None:
            done = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{path}"], capture_output=True, text=True)
            return done.stdout if done.returncode == 0 else None

        units = {profile.test_unit(path, read) for path in tree if path.endswith(profile.suffixes)}
    return [
        path
        for path in referenced_paths(skill)
        if path not in tree and (path if path.endswith("/") else path + "/") not in folders and path not in units
    ]


def renamed_paths(repo: Path, since: str, commit: str = "HEAD") -> dict[str, str]:
    """{old path: new path} for every file git sees renamed between `since` and `commit` (`-M`), and
    for each folder that is gone at `commit` whose renamed files all moved into one new folder."""
    renames: dict[str, str] = {}
    for line in git_out(repo, "diff", "--name-status", "-M", since, commit).splitlines():
        status, *paths = line.split("\t")
        if status.startswith("R") and len(paths) == 2:
            renames[paths[0]] = paths[1]
    present = set(git_out(repo, "ls-tree", "-r", "--name-only", commit).splitlines())
    folders: dict[str, set[str]] = {}
    for old, new in renames.items():
        old_parts, new_parts = old.split("/"), new.split("/")
        # The folder that changed: strip the common tail (`src/shop/x.py` -> `src/store/x.py`: src/shop/ -> src/store/).
        while len(old_parts) > 1 and len(new_parts) > 1 and old_parts[-1] == new_parts[-1]:
            old_parts, new_parts = old_parts[:-1], new_parts[:-1]
            folders.setdefault("/".join(old_parts) + "/", set()).add("/".join(new_parts) + "/")
    for old, targets in folders.items():
        if len(targets) == 1 and not any(path.startswith(old) for path in present):
            renames[old] = next(iter(targets))
    return renames


def carry_renames(skill: str, renames: dict[str, str]) -> tuple[str, dict[str, str]]:
    """(the skill with each renamed path it names replaced by the new one, {old: new} it replaced).
    One pass (a swap a <-> b stays a swap); a path is replaced only whole (`src/a.py` inside
    `src/a.py.bak` or `x/src/a.py` stays), a folder `src/shop/` also where it begins a longer path."""
    if not renames:
        return skill, {}
    # Longest first: `src/shop/stock.py` wins over `src/shop/`.
    alternatives = [
        re.escape(old) + ("" if old.endswith("/") else r"(?![\w/-]|\.\w)")
        for old in sorted(renames, key=len, reverse=True)
    ]
    applied: dict[str, str] = {}

    def replace(match: re.Match) -> str:
        applied[match.group(1)] = renames[match.group(1)]
        return renames[match.group(1)]

    return re.sub(r"(?<![\w./-])(" + "|".join(alternatives) + ")", replace, skill), applied


def gone_paths_note(missing: list[str], renames: dict[str, str]) -> str:
    """What reflection is told about paths the skill named that no longer exist (its Background)."""
    if not missing:
        return ""
    named = ", ".join(
        f"`{path}`" + (f" (now `{renames[path]}`)" if path in renames else " (deleted)") for path in missing
    )
    return (
        f"These paths no longer exist in the repository: {named}. The skill must not name them: name the "
        "new path where there is one, and drop what it said about a deleted one."
    )


@dataclass
class Relearn:
    """What a stale skill's re-learn starts from."""

    seed: str  # the current skill with the renames carried in
    renames: dict[str, str]  # every rename git sees since the skill's commit (publish re-applies them)
    carried: dict[str, str]  # the renames the skill's text named
    background: str  # for reflection: the paths that are gone


def relearn_inputs(repo: Path, since: str, skill: str, missing: list[str], commit: str = "HEAD") -> Relearn:
    renames = renamed_paths(repo, since, commit)
    seed, carried = carry_renames(skill, renames)
    return Relearn(seed, renames, carried, gone_paths_note(missing, renames))


class RepoLock:
    """An exclusive, non-blocking lock per repository (a file lock: released if the process dies).
    It lives in the git directory, so no commit of the work tree can ever pick it up."""

    def __init__(self, repo: Path) -> None:
        git_dir = Path(git_out(repo, "rev-parse", "--git-dir"))
        self.repo = repo
        self.path = (git_dir if git_dir.is_absolute() else repo / git_dir) / "gskill-refresh.lock"

    def __enter__(self) -> "RepoLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = self.path.open("w")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise GskillError(f"another gskill refresh of {self.repo} is running (lock {self.path})") from None
        return self

    def __exit__(self, *exc_info) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def published_skill(repo: Path, name: str = "") -> tuple[Path, dict[str, Any], str]:
    from gskill.skills import read_skill

    folders = (
        sorted(p for p in (repo / ".skills").glob("*") if (p / "skill.json").is_file())
        if (repo / ".skills").is_dir()
        else []
    )
    if name:
        folders = [p for p in folders if p.name == name]
    if not folders:
        raise GskillError(
            f"no published skill in {repo / '.skills'}{' named ' + repr(name) if name else ''}: run gskill learn {repo} first"
        )
    if len(folders) > 1:
        raise GskillError(
            f"{repo / '.skills'} holds several skills ({', '.join(p.name for p in folders)}): choose one with --name"
        )
    folder = folders[0]
    _, body = read_skill(folder)
    return folder, json.loads((folder / "skill.json").read_text()), body


def recorded_interval(meta: dict[str, Any]) -> tuple[float, float] | None:
    test = (meta.get("test") or {}).get("best")
    if not test or not test.get("scored_runs"):
        return None
    return wilson(int(test["resolved"]), int(test["scored_runs"]))


def judge(
    missing: list[str], new_commits: int, new_tasks: int, rate: float | None, interval: tuple[float, float] | None
) -> Verdict:
    reasons = [f"the skill names paths that no longer exist: {', '.join(missing)}"] if missing else []
    if rate is not None and interval is not None and rate < interval[0]:
        reasons.append(
            f"resolve rate on {new_tasks} new task(s) {rate:.0%} is below the published interval {interval[0]:.0%}–{interval[1]:.0%}"
        )
    return Verdict(bool(reasons), reasons, new_commits, new_tasks, rate, interval)


def refresh(
    repo: Path,
    cfg: Settings,
    *,
    name: str = "",
    model: str | None = None,
    reflection_model: str | None = None,
    scripted: dict[str, Any] | None = None,
    sample: int = 20,
    max_metric_calls: int = 150,
    workers: int = 2,
    out_dir: Path | None = None,
    mine: Callable,
    say: Callable[[str], None] = lambda line: None,
    status: Callable[[str], AbstractContextManager] = nullcontext,
) -> int:
    """The whole nightly job (module docstring); returns EXIT_UNCHANGED or EXIT_REFRESHED. `mine(repo,
    MineOptions, cfg)` runs swesmith's mining; `say` prints a line; `status` shows a long step."""
    from gskill.checks import check_models, require_docker
    from gskill.learn import LearnOptions, learn as run_learn, mine_for_learn
    from gskill.schema import read_tasks
    from gskill.skills import publish
    from harnesses.evaluate import evaluate
    from swesmith.pipeline import MineOptions

    repo = repo.resolve()
    if not (repo / ".git").exists():
        raise GskillError(f"{repo} is not a git repository")
    with RepoLock(repo):
        folder, meta, body = published_skill(repo, name)
        head, recorded = git_out(repo, "rev-parse", "HEAD"), meta.get("repo_commit", "")
        if (
            not recorded
            or subprocess.run(["git", "-C", str(repo), "cat-file", "-e", f"{recorded}^{{commit}}"]).returncode
        ):
            raise GskillError(f"{folder / 'skill.json'} records commit {recorded!r}, which {repo} does not have")
        # Commits that only touch .skills/ (publishing the skill itself) are not news.
        new_commits = int(git_out(repo, "rev-list", "--count", f"{recorded}..{head}", "--", ".", ":(exclude).skills"))
        if new_commits == 0:
            say(f"unchanged: no commit since {folder.name} was learned at {recorded[:12]} (besides .skills/)")
            return EXIT_UNCHANGED
        agent_model = model or meta["model"]
        relearn_model = reflection_model or meta.get("reflection_model") or agent_model
        check_models(("--model", agent_model), ("--reflection-model", relearn_model))
        out_dir = out_dir or cfg.runs_dir / f"{repo.name}-refresh-{head[:12]}"
        out_dir.mkdir(parents=True, exist_ok=True)
        say(f"run folder: {out_dir}")
        missing = missing_paths(repo, body)
        require_docker("; gskill refresh mines and evaluates in containers")
        # Only what is new: the commits after the recorded one, mirrored onto HEAD.
        options = MineOptions(
            out=out_dir / "new-tasks",
            strategies=("commit-mirror", "commit-historical"),
            since=recorded,
            exhaust=True,
            workers=workers,
            test_timeout_s=cfg.run.test_timeout_s,
        )
        report = mine(str(repo), options, cfg)
        tasks = (
            read_tasks(out_dir / "new-tasks" / "tasks.jsonl")[:sample]
            if (out_dir / "new-tasks" / "tasks.jsonl").is_file()
            else []
        )
        scripted = scripted or {}
        rate = None
        if tasks:
            config = cfg.run.model_copy(
                update={"agent": meta.get("agent", "mini"), "model": agent_model, "workers": workers}
            )
            summary = evaluate(
                tasks,
                config=config,
                skill=body,
                run_dir=out_dir / "current-skill",
                limits=cfg.limits,
                cache_dir=cfg.cache_dir,
                scripted=scripted or None,
            )
            rate = summary["resolve_rate"] if summary["scored_runs"] else None
        verdict = judge(missing, new_commits, len(tasks), rate, recorded_interval(meta))
        (out_dir / "refresh.json").write_text(
            json.dumps(
                {
                    "skill": folder.name,
                    "from": recorded,
                    "to": head,
                    "mined_commits_after": recorded,
                    "mining": {"candidates": report.candidates, "tasks": report.tasks},
                    **verdict.to_json(),
                },
                indent=2,
            )
        )
        shown = (
            f"{rate:.0%} on {len(tasks)} new task(s)"
            if rate is not None
            else f"no new task among {new_commits} new commit(s)"
        )
        if not verdict.stale:
            say(f"unchanged: {folder.name} is fresh ({shown}; {new_commits} new commit(s), every named path exists)")
            return EXIT_UNCHANGED
        say("stale: " + "; ".join(verdict.reasons))
        start = relearn_inputs(repo, recorded, body, missing, head)
        if start.carried:
            say("carried renames into the skill: " + ", ".join(f"{old} → {new}" for old, new in start.carried.items()))
        tasks_dir = mine_for_learn(str(repo), cfg, workers, 0, mine, say)
        learn_options = LearnOptions(
            agent=meta.get("agent", "mini"),
            model=agent_model,
            reflection_model=relearn_model,
            seed_skill=start.seed,
            max_metric_calls=max_metric_calls,
            workers=workers,
            scripted=scripted,
            background=start.background,
        )
        with status("re-learning from the current skill"):
            packet = run_learn(
                tasks_dir,
                out_dir / "learn",
                learn_options,
                limits=cfg.limits,
                run_config=cfg.run,
                cache_dir=cfg.cache_dir,
            )
        published = publish(out_dir / "learn", repo, name=folder.name, renames=start.renames)
        say(
            f"refreshed: {published} (validation {packet['seed']['val_mean']:.2f} → {packet['best']['val_mean']:.2f}) at {head[:12]}"
        )
    return EXIT_REFRESHED
