"""The `gskill` command line. Each command is thin: parse, call one stage's functions, print.

User errors (bad paths, unknown commits, unreadable config, missing prerequisites) are `GskillError`s:
one line on stderr, exit code 2, no traceback.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Callable, Iterator, Optional

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from gskill import __version__
from gskill.checks import (
    DEFAULT_TOKEN_BUDGET,
    check_models,
    check_skill_mode,
    default_model,
    executor_options,
    read_skill,
    require_docker,
    scripted_params,
)
from gskill.config import load_settings
from gskill.endpoints import check_priced, record_endpoints, run_endpoints
from gskill.errors import GskillError
from gskill.schema import Settings
from harnesses.agents import AGENTS, TOOLS

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Learn repository-specific skills for coding agents.",
)
env_app = typer.Typer(no_args_is_help=True, help="Environment images: the offline base image and per-repo images.")
app.add_typer(env_app, name="env")
skills_app = typer.Typer(no_args_is_help=True, help="Published skills: .skills/ in a repository, installed per agent.")
app.add_typer(skills_app, name="skills")
agents_app = typer.Typer(
    help=f"Agent binaries ({', '.join(AGENTS[name].title for name in TOOLS)}) in the tool cache.", no_args_is_help=True
)
app.add_typer(agents_app, name="agents")


class _DefaultCommandGroup(TyperGroup):
    """A group whose sub-commands are reserved words; any other first argument (or none) goes to its
    `repo` command: `gskill mine REPO ...` mines, `gskill mine verify DIR` re-checks."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands or args[0] == "repo":  # `gskill mine repo` mines ./repo
            args = ["repo", *args]  # `gskill mine --help` too: the mining options are what users look for
        return super().parse_args(ctx, args)


class _GroupPathContext(typer.Context):
    @property
    def command_path(self) -> str:  # the default command's usage reads `gskill mine [OPTIONS] REPO`
        return self.parent.command_path if self.parent else super().command_path


class _DefaultCommand(TyperCommand):
    context_class = _GroupPathContext


mine_app = typer.Typer(
    cls=_DefaultCommandGroup,
    help="Mine validated fail-to-pass tasks from REPO's history; `gskill mine verify DIR` re-checks them.",
)
app.add_typer(mine_app, name="mine")
traces_app = typer.Typer(no_args_is_help=True, help="A run's recorded model calls, in formats other tools read.")
app.add_typer(traces_app, name="traces")

console = Console(stderr=True)
out = Console()


class State:
    settings: Settings | None = None
    config_file: Path | None = None
    verbose: bool = False


state = State()


def settings() -> Settings:
    if state.settings is None:
        state.settings = load_settings(state.config_file)
    return state.settings


@contextmanager
def progress_bars() -> Iterator[Callable[..., None]]:
    """One rich progress display for a long step. Yields `update(label, done=None, total=None, note="")`:
    the first update of a label adds its bar; `note` replaces the text shown for it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if not console.is_terminal:  # a log file (nightly job, CI): a plain line per bar every so often
        yield _progress_lines()
        return
    columns = (TextColumn("{task.description:>12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        handles: dict[str, int] = {}

        def update(label: str, done: int | None = None, total: int | None = None, note: str = "") -> None:
            if label not in handles:
                handles[label] = bar.add_task(label, total=total)
            bar.update(handles[label], completed=done, total=total, description=note or None)

        yield update


def _progress_lines(every_s: float = 30.0) -> Callable[..., None]:
    """`progress_bars`' update for an output that is not a terminal: a bar's first update, its last
    (done == total) and at most one line per `every_s` seconds between them."""
    started = time.monotonic()
    shown: dict[str, float] = {}
    last: dict[str, tuple] = {}

    def update(label: str, done: int | None = None, total: int | None = None, note: str = "") -> None:
        now = time.monotonic()
        complete = done is not None and total is not None and done >= total
        due = complete or now - shown.get(label, -every_s) >= every_s
        if not due or last.get(label) == (done, total, note):
            return
        shown[label], last[label] = now, (done, total, note)
        count = f"{done if done is not None else '?'}/{total if total is not None else '?'}"
        console.print(f"[{now - started:7.0f}s] {label:>12} {count} {note}".rstrip(), highlight=False)

    return update


def say(line: str) -> None:
    out.print(line)


def _version(value: bool) -> None:
    if value:
        out.print(f"gskill {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    config: Optional[Path] = typer.Option(None, "--config", help="YAML config file (GSKILL_* env vars override it)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show full build and command output."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    state.config_file = config
    state.verbose = verbose
    state.settings = None
    settings()  # validate the config up front: a bad file fails every command the same way


@app.command()
def doctor() -> None:
    """Check the Docker engine, base image, disk space and which model API keys are set."""
    from gskill.doctor import run_checks

    checks = run_checks(settings())
    table = Table(show_header=True, header_style="bold")
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for check in checks:
        mark = "[green]ok[/]" if check.ok else ("[red]MISSING[/]" if check.required else "[yellow]note[/]")
        table.add_row(check.name, mark, check.detail)
    out.print(table)
    missing = [check for check in checks if check.required and not check.ok]
    if missing:
        raise GskillError("not ready: " + "; ".join(f"{check.name}: {check.detail}" for check in missing))
    out.print("ready")


@env_app.command("build")
def env_build(
    repo: str = typer.Argument(..., help="Path to a local git repository, or a git URL."),
    commit: Optional[str] = typer.Option(None, "--commit", help="Commit, tag or branch (default HEAD)."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Build even if an identical image exists."),
    language: Optional[str] = typer.Option(
        None,
        "--language",
        help="Language profile (python, go, rust, typescript); default: detected from the repository.",
    ),
) -> None:
    """Build (or reuse) the environment image of REPO at a commit; its test suite must collect."""
    from harnesses.images.build import configured_env_image, resolve_snapshot

    cfg = settings()
    snapshot = resolve_snapshot(repo, commit, cfg.cache_dir)
    client = require_docker("; env images need Docker (see `gskill doctor`)")
    began = time.monotonic()
    with console.status(f"building env image for {snapshot.name}@{snapshot.commit[:12]}") as status:

        def log(line: str) -> None:
            if state.verbose:
                console.print(line, markup=False, highlight=False)
            else:
                status.update(f"building env image for {snapshot.name}: {line.strip()[:100]}")

        env = configured_env_image(client, snapshot, cfg, language=language, rebuild=rebuild, log=log)
    elapsed = time.monotonic() - began
    if env.reused:
        out.print(f"reusing existing image {env.image} ({elapsed:.2f}s)")
    else:
        out.print(f"built image {env.image} in {elapsed:.0f}s")
    installed = [name for rnd in env.report.get("rounds", []) for name in rnd.get("installed", [])]
    if installed:
        out.print(f"repair loop installed: {', '.join(installed)}")
    if not env.collects:
        tail = (env.report.get("tail") or "").strip().splitlines()[-1:] or ["no output"]
        raise GskillError(f"image {env.image} built, but the test suite does not collect: {tail[0][:200]}")
    out.print(f"test suite collects {env.collected} tests")


@env_app.command("base")
def env_base(
    tag: Optional[str] = typer.Option(None, "--tag", help="Image tag (default gskill-base:<suite>)."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if the tag exists."),
) -> None:
    """Build a base image with no registry: debootstrap + docker import (needs root and debootstrap)."""
    from harnesses.images.base import build_base_image

    cfg = settings()
    client = require_docker()
    name = tag or f"gskill-base:{cfg.debian_suite}"
    with console.status(f"building {name}"):
        build_base_image(client, name, suite=cfg.debian_suite, mirror=cfg.debian_mirror, force=force, log=console.print)
    out.print(f"base image {name} ready; use it with GSKILL_BASE_IMAGE={name}")


@env_app.command("reap")
def env_reap(
    everything: bool = typer.Option(
        False, "--all", help="Also containers whose owner this host cannot judge (other hosts'); never a live run's."
    ),
    force: bool = typer.Option(
        False, "--force", help="With --all: remove live runs' containers too (stops those runs)."
    ),
) -> None:
    """Remove gskill containers left behind by crashed runs."""
    from harnesses.sandbox import reap
    from harnesses.sandbox.docker_backend import LABEL_MANAGED, owner_is_alive

    if force and not everything:
        raise GskillError("--force goes with --all (`gskill env reap --all --force`)")
    client = require_docker()
    removed = reap(client, everything=everything, force=force)
    out.print(f"removed {len(removed)} container(s)" + (": " + ", ".join(removed) if removed else ""))
    if everything and not force:
        ours = client.containers.list(all=True, filters={"label": f"{LABEL_MANAGED}=1"}, ignore_removed=True)
        live = [container for container in ours if owner_is_alive(container.labels or {})]
        if live:
            out.print(f"kept {len(live)} container(s) of runs still going on this host; --all --force removes them too")


@mine_app.command("repo", cls=_DefaultCommand)
def mine(
    repo: str = typer.Argument(..., help="Local path or git URL of the repository."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Output folder (tasks.jsonl, splits, report, cache)."),
    snapshot: Optional[str] = typer.Option(
        None, "--snapshot", help="Commit the tasks are mirrored onto (default HEAD)."
    ),
    workers: int = typer.Option(2, "--workers", min=1, help="Parallel validation sandboxes."),
    max_tasks: Optional[int] = typer.Option(
        None,
        "--max-tasks",
        min=1,
        help="Tasks to keep (default: the split sizes' sum); with --calibrate, a surplus is validated to choose from.",
    ),
    exhaust: bool = typer.Option(
        False, "--all", help="Validate every candidate instead of stopping at the split sizes."
    ),
    strategies: Optional[str] = typer.Option(
        None,
        "--strategies",
        help="Comma-separated: commit-mirror, commit-historical, procedural, llm-rewrite, composite "
        "(default: all but llm-rewrite, which is added when --model is given).",
    ),
    model: Optional[str] = typer.Option(
        None, "--model", help="litellm model (or scripted/<name>) for llm-rewrite and --issue-writer llm."
    ),
    issue_writer: str = typer.Option("offline", "--issue-writer", help="offline | llm (needs --model)."),
    llm_attempts: int = typer.Option(1, "--llm-attempts", min=1, help="llm-rewrite: rewrites asked per function."),
    split: str = typer.Option("200,50,60", "--split", help="train,val,test sizes."),
    seed: int = typer.Option(0, "--seed"),
    sandbox: str = typer.Option(
        "docker", "--sandbox", help="docker | local (local: your Python env must hold the test deps)."
    ),
    max_commits: Optional[int] = typer.Option(None, "--max-commits", min=1, help="Only the newest N commits."),
    language: Optional[str] = typer.Option(
        None,
        "--language",
        help="Language profile (python, go, rust, typescript); default: detected from the repository.",
    ),
    calibrate: bool = typer.Option(
        True,
        "--calibrate/--no-calibrate",
        help="Keep tasks whose difficulty matches the configured target (config `difficulty:`), "
        "validating a surplus to choose from; --no-calibrate keeps the first tasks validated.",
    ),
) -> None:
    """Mine validated fail-to-pass tasks from REPO's history; `gskill mine verify DIR` re-checks them."""
    from swesmith.pipeline import DEFAULT_STRATEGIES, MineOptions
    from swesmith.split import parse_sizes

    cfg = settings()
    if out_dir is None:
        raise GskillError("--out DIR is required")
    if sandbox not in ("docker", "local"):
        raise GskillError(f"--sandbox must be docker or local, not {sandbox!r}")
    try:
        sizes = parse_sizes(split)
    except ValueError as exc:
        raise GskillError(str(exc)) from None
    if model:
        check_models(("--model", model), endpoints=cfg.run.endpoints)
    if strategies is None:
        chosen = DEFAULT_STRATEGIES + (("llm-rewrite",) if model else ())
    else:
        chosen = tuple(part.strip() for part in strategies.split(",") if part.strip())
    options = MineOptions(
        out=out_dir,
        snapshot=snapshot,
        workers=workers,
        max_tasks=max_tasks,
        exhaust=exhaust,
        seed=seed,
        sandbox=sandbox,
        sizes=sizes,
        strategies=chosen,
        max_commits=max_commits,
        test_timeout_s=cfg.run.test_timeout_s,
        model=model,
        issue_writer=issue_writer,
        llm_attempts=llm_attempts,
        language=language,
        calibrate=calibrate,
    )
    report = mine_with_progress(repo, options, cfg)
    table = Table(title=f"mining {report.repo}@{report.snapshot[:12]} ({report.language})")
    for column in ("strategy", "candidates", "validated", "rejected (top reasons)"):
        table.add_column(column)
    for strategy in sorted(set(report.candidates) | set(report.validated)):
        reasons = report.rejected.get(strategy, {})
        top = ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1])[:4])
        table.add_row(strategy, str(report.candidates.get(strategy, 0)), str(report.validated.get(strategy, 0)), top)
    for stage in ("history", "mirror", "historical"):
        if stage in report.rejected:
            top = ", ".join(f"{r} {c}" for r, c in sorted(report.rejected[stage].items(), key=lambda kv: -kv[1])[:5])
            table.add_row(f"({stage} filter)", "", "", top)
    out.print(table)
    out.print(
        f"{report.tasks} tasks (train {report.splits.get('train', 0)} / val {report.splits.get('val', 0)} / "
        f"test {report.splits.get('test', 0)}), {report.duplicates} duplicates dropped, {report.cached} verdicts from cache; "
        f"baseline {report.baseline_tests} tests in {report.baseline_seconds}s; "
        f"{report.mean_validation_seconds}s per validation; wall {report.wall_seconds}s → {out_dir}"
    )
    if report.difficulty:
        validated, kept = report.difficulty["validated"], report.difficulty["kept"]
        out.print(
            "FAIL_TO_PASS tests per task (validated → kept): "
            + ", ".join(f"{name}: {count} → {kept['f2p_bins'][name]}" for name, count in validated["f2p_bins"].items())
            + f"; failure names the bug's function: {validated['points_at_bug']} → {kept['points_at_bug']}"
        )
    if report.llm_calls or report.issue_writer:
        written = ", ".join(f"{source} {count}" for source, count in sorted(report.issue_writer.items()))
        out.print(
            f"{report.llm_calls} model calls (recorded in {out_dir / 'llm_calls.jsonl'})"
            + (f"; issues: {written}" if written else "")
        )


@mine_app.command("verify")
def mine_verify(
    target: Path = typer.Argument(..., help="The mining output folder."),
    sample: int = typer.Option(30, "--sample", min=1, help="How many tasks to re-check."),
    workers: int = typer.Option(2, "--workers", min=1, help="Parallel validation sandboxes."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Re-validate a sample of mined tasks in fresh containers."""
    from swesmith.verify import verify_tasks

    cfg = settings()
    if not (target / "tasks.jsonl").is_file():
        raise GskillError(f"no tasks.jsonl in {target}")
    with progress_bars() as update:
        update("verify")
        result = verify_tasks(
            target,
            cfg,
            sample=sample,
            workers=workers,
            seed=seed,
            progress=lambda done, total: update("verify", done, total),
        )
    out.print_json(data=result)
    if result["mismatches"]:
        raise GskillError(f"{len(result['mismatches'])} of {result['checked']} tasks did not re-validate")


def mine_with_progress(repo: str, options, cfg: Settings):
    """swesmith's mining with one progress bar per stage."""
    from swesmith.pipeline import mine as run_mine

    with progress_bars() as update:
        return run_mine(repo, options, cfg, progress=update)


@agents_app.command("install")
def agents_install(names: list[str] = typer.Argument(None, help=f"Any of {', '.join(TOOLS)} (default: all).")) -> None:
    """Fetch the pinned native binaries from the npm registry (checksummed) into the tool cache."""
    from harnesses.agents.tools import install

    chosen = names or list(TOOLS)
    unknown = [name for name in chosen if name not in TOOLS]
    if unknown:
        raise GskillError(f"unknown agent {unknown[0]!r}; choose from {', '.join(TOOLS)}")
    for name in chosen:
        with console.status(f"fetching {TOOLS[name].package}"):
            folder = install(TOOLS[name], settings().cache_dir)
        out.print(f"{name}: {TOOLS[name].package} → {folder}")


ExecutorFlag = Annotated[str, typer.Option("--executor", help="local | ray (rollouts as Ray tasks on a cluster).")]
RayAddressFlag = Annotated[Optional[str], typer.Option("--ray-address", help="Ray cluster address (default: auto).")]
PerNodeFlag = Annotated[int, typer.Option("--per-node", min=1, help="With --executor ray: rollouts at once per node.")]
ApiBaseFlag = Annotated[
    Optional[str],
    typer.Option(
        "--api-base",
        help="The agent model's OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 with --model "
        "openai/<served name> (vLLM, llama.cpp, Ollama); overrides the config's models: entry.",
    ),
]
ReflectionApiBaseFlag = Annotated[
    Optional[str],
    typer.Option("--reflection-api-base", help="The reflection model's OpenAI-compatible server (as --api-base)."),
]
PriceFlag = Annotated[
    list[str],
    typer.Option(
        "--price",
        help="MODEL=IN,OUT: USD per million input, output tokens, for a model litellm cannot price (repeatable; "
        "config: models: {MODEL: {price: [IN, OUT]}}).",
    ),
]
TokenBudgetFlag = Annotated[
    int, typer.Option("--token-budget", min=50, help="Hard limit on the skill's tokens (tiktoken).")
]
RateLimitFlag = Annotated[
    list[str],
    typer.Option(
        "--rate-limit",
        help="Provider limit kept before each model call, e.g. rpm=500,tpm=200000[,model=openai/*] (repeatable; "
        "adds to the config's rate_limits). On Ray, one limit for the whole cluster.",
    ),
]
TrackFlag = Annotated[
    list[str],
    typer.Option(
        "--track",
        help="Track the run: mlflow[=URI] (default a SQLite store in the run folder) | wandb[=PROJECT] (offline "
        "without WANDB_API_KEY); repeatable. A resumed run continues its tracked run (RUN/tracking.json).",
    ),
]


@app.command("eval")
def eval_command(
    tasks_dir: Path = typer.Option(
        ..., "--tasks", help="Mining output folder (tasks.jsonl / train|val|test.jsonl) or a .jsonl file."
    ),
    split: Optional[str] = typer.Option(None, "--split", help="train | val | test (default: all tasks)."),
    agent: str = typer.Option("mini", "--agent", help=" | ".join(AGENTS) + "."),
    model: str = typer.Option(..., "--model", help="litellm model name, or scripted/oracle|noop|needs-skill."),
    skill_file: Optional[Path] = typer.Option(None, "--skill", help="Skill document injected into the agent's prompt."),
    token_budget: TokenBudgetFlag = DEFAULT_TOKEN_BUDGET,
    skill_mode: str = typer.Option(
        "",
        "--skill-mode",
        help="How the skill is injected. "
        + "; ".join(f"{s.name}: {' | '.join(s.skill_modes)}" for s in AGENTS.values())
        + " (default: the first).",
    ),
    runs: int = typer.Option(1, "--runs", min=1, help="Runs per task."),
    workers: int = typer.Option(2, "--workers", min=1, help="Rollouts in parallel."),
    max_tasks: Optional[int] = typer.Option(None, "--max-tasks", min=1, help="Only the first N tasks."),
    out_dir: Path = typer.Option(
        ..., "--out", help="Run folder: rollouts.jsonl, traces/, summary.json (re-run to resume)."
    ),
    executor: ExecutorFlag = "local",
    ray_address: RayAddressFlag = None,
    per_node: PerNodeFlag = 4,
    rate_limits: RateLimitFlag = [],  # noqa: B006 - typer reads the default; it is never mutated
    scripted: list[str] = typer.Option(
        [], "--scripted", help="KEY=VALUE for scripted/ models, e.g. throttle=3 (repeatable)."
    ),
    api_base: ApiBaseFlag = None,
    prices: PriceFlag = [],  # noqa: B006 - typer reads the default; it is never mutated
    track: TrackFlag = [],  # noqa: B006 - typer reads the default; it is never mutated
) -> None:
    """Run an agent on mined tasks with a skill and grade every patch in a fresh container."""
    from gskill.schema import read_tasks
    from gskill.tracking import endpoint_params, numbers, open_tracking, parse_track
    from harnesses.evaluate import claim_run_folder, evaluate

    cfg = settings()
    parse_track(track)
    check_skill_mode(agent, skill_mode)
    if tasks_dir.is_file():
        source = tasks_dir
    else:
        source = tasks_dir / (f"{split}.jsonl" if split else "tasks.jsonl")
        if split and split not in ("train", "val", "test"):
            raise GskillError(f"--split must be train, val or test, not {split!r}")
    if not source.is_file():
        raise GskillError(f"no task file {source}")
    try:
        tasks = read_tasks(source)
    except Exception as exc:
        raise GskillError(f"{source} is not a task file: {str(exc).splitlines()[0]}") from None
    if max_tasks:
        tasks = tasks[:max_tasks]
    if not tasks:
        raise GskillError(f"{source} holds no tasks")
    skill = read_skill(skill_file, token_budget) if skill_file is not None else ""
    endpoints = run_endpoints(cfg.run.endpoints, [(model, api_base, "--api-base")], prices)
    check_models(("--model", model), endpoints=endpoints)
    where = executor_options(cfg, executor, ray_address, per_node, workers, rate_limits, "gskill eval")
    params = scripted_params(scripted)
    config = cfg.run.model_copy(
        update={"agent": agent, "model": model, "runs": runs, "workers": workers, "endpoints": endpoints}
    )
    claim_run_folder(out_dir, config, skill, skill_mode)
    record_endpoints(out_dir, [model], endpoints)
    with open_tracking(track, out_dir, "eval") as tracking, progress_bars() as update:
        tracking.params(
            {
                "agent": agent,
                "model": model,
                "skill_mode": skill_mode,
                "skill": str(skill_file or ""),
                "tasks": str(source),
                "task_count": len(tasks),
                "runs": runs,
                "workers": workers,
                "executor": executor,
                "scripted": params,
                **endpoint_params(endpoints),
            }
        )
        update("rollouts")
        summary = evaluate(
            tasks,
            config=config,
            skill=skill,
            run_dir=out_dir,
            limits=cfg.limits,
            skill_mode=skill_mode,
            cache_dir=cfg.cache_dir,
            progress=lambda done, total: update("rollouts", done, total),
            executor_options=where,
            scripted=params or None,
        )
        tracking.metrics(numbers(summary))
        tracking.artifact(out_dir / "summary.json")
    out.print_json(data=summary)
    if summary["scripted_model"]:
        out.print("note: a scripted model's results say nothing about real models.")


def _fresh_learn_options(
    *,
    repo: str | None,
    tasks_dir: Path | None,
    agent: str,
    model: str | None,
    reflection_model: str | None,
    skill_mode: str,
    seed_skill: Path | None,
    draft_seed: bool,
    max_metric_calls: int | None,
    max_cost: float | None,
    token_budget: int,
    minibatch: int,
    workers: int,
    seed: int,
    mix: str,
    parent: str,
    validation: str,
    validate_every: int,
    feedback: str,
    no_test: bool,
    scripted: list[str],
    executor: str,
    ray_address: str | None,
    per_node: int,
    out_dir: Path | None,
    surfaces: str = "skill",
    freeze: list[str] = (),
    seed_surface: list[str] = (),
    surface_choice: str = "round-robin",
    **_: object,
):
    """A new learn run's options from its flags, every one checked (the one-line errors of `gskill learn`)."""
    from gskill.engine.core import VALIDATION_MODES
    from gskill.engine.frontier import PARENT_SELECTION
    from gskill.learn import LearnOptions
    from gskill.surfaces import is_default as is_default_surfaces

    check_skill_mode(agent, skill_mode)
    if feedback not in ("files", "diff", "none"):
        raise GskillError(f"--feedback must be files, diff or none, not {feedback!r}")
    if parent not in PARENT_SELECTION:
        raise GskillError(f"--parent must be {' or '.join(PARENT_SELECTION)}, not {parent!r}")
    if validation not in VALIDATION_MODES:
        raise GskillError(f"--validation must be {' or '.join(VALIDATION_MODES)}, not {validation!r}")
    try:
        weights = [float(part) for part in mix.split(",")]
        assert len(weights) == 3 and all(w >= 0 for w in weights) and sum(weights) > 0
    except (ValueError, AssertionError):
        raise GskillError(f"--mix takes three non-negative numbers refine,combine,simplify, not {mix!r}") from None
    if (repo is None) == (tasks_dir is None):
        raise GskillError("give either a REPO to mine and learn from, or --tasks DIR")
    if repo is None and out_dir is None:
        raise GskillError("--out RUNDIR is required with --tasks")
    agent_model = default_model(model, "--model")
    if draft_seed and seed_skill is not None:
        raise GskillError("give --seed-skill or --draft-seed, not both")
    if seed_skill is not None and not seed_skill.is_file():
        raise GskillError(f"no seed skill file {seed_skill}")
    chosen, frozen, seeds = _surface_flags(surfaces, freeze, seed_surface, surface_choice, token_budget)
    if not is_default_surfaces(chosen):  # every surface must reach the agent: its adapter declares where
        from harnesses.agents import adapter_for

        places = getattr(adapter_for(agent), "surface_places", {})
        if missing := [name for name in chosen if name != "skill" and name not in places]:
            raise GskillError(
                f"--agent {agent} has no place for the {missing[0]} surface (it reads: skill, {', '.join(places)})"
            )
    if "skill" in seeds:
        if seed_skill is not None or draft_seed:
            raise GskillError("give the skill's seed once: --seed-skill, --draft-seed or --seed-surface skill=FILE")
        seed_skill = seeds.pop("skill")
    return LearnOptions(
        surfaces=chosen,
        frozen=frozen,
        seed_surfaces=seeds,
        surface_choice=surface_choice,
        agent=agent,
        model=agent_model,
        reflection_model=reflection_model or agent_model,
        skill_mode=skill_mode,
        seed_skill=read_skill(seed_skill, token_budget, "--seed-skill") if seed_skill else "",
        max_metric_calls=max_metric_calls if max_metric_calls is not None else (None if max_cost else 150),
        max_cost_usd=max_cost,
        token_budget=token_budget,
        minibatch=minibatch,
        workers=workers,
        seed=seed,
        operator_mix=dict(zip(("refine", "combine", "simplify"), weights)),
        parent_selection=parent,
        validation=validation,
        validate_every=validate_every,
        feedback_gold=feedback,
        test_eval=not no_test,
        scripted=scripted_params(scripted),
        executor=executor,
        ray_address=ray_address,
        per_node=per_node,
    )


def _surface_flags(
    surfaces: str, freeze: list[str], seed_surface: list[str], choice: str, token_budget: int
) -> tuple[list[str], list[str], dict]:
    """--surfaces, --freeze, --seed-surface SURFACE=FILE and --surface-choice, checked: (surfaces, frozen,
    {surface: seed text}, the skill's seed as the file's path under "skill")."""
    from gskill.surfaces import SURFACE_CHOICES, SURFACES, parse_surfaces

    chosen = parse_surfaces(surfaces)
    if choice not in SURFACE_CHOICES:
        raise GskillError(f"--surface-choice must be {' or '.join(SURFACE_CHOICES)}, not {choice!r}")
    for name in freeze:
        if name not in chosen:
            raise GskillError(f"--freeze {name}: not one of the --surfaces ({', '.join(chosen)})")
    if set(freeze) >= set(chosen):
        raise GskillError("--freeze leaves no surface to learn")
    seeds: dict = {}
    for item in seed_surface:
        name, sep, file = item.partition("=")
        if not sep or not file or name not in chosen:
            raise GskillError(
                f"--seed-surface takes SURFACE=FILE with SURFACE one of {', '.join(chosen)}, not {item!r}"
            )
        if name in seeds:
            raise GskillError(f"--seed-surface {name} given twice")
        # The skill's seed is read as --seed-skill's is (its budget is --token-budget).
        seeds[name] = Path(file) if name == "skill" else read_skill(Path(file), SURFACES[name].token_budget, item)
    return chosen, sorted(freeze, key=chosen.index), seeds


def _print_learn_result(packet: dict, out_dir: Path) -> None:
    table = Table(title=f"gskill learn → {out_dir}")
    for column in ("skill", "val mean", "test resolved", "tokens"):
        table.add_column(column)
    for label in ("seed", "best"):
        test = packet["test"].get(label)
        shown = f"{test['resolved']}/{test['scored_runs']} ({test['resolve_rate']:.0%})" if test else "-"
        table.add_row(label, f"{packet[label]['val_mean']:.2f}", shown, str(packet[label]["tokens"]))
    out.print(table)
    spend = packet["spend"]
    out.print(
        f"{packet['candidates']} candidates over {packet['iterations']} iterations ({packet['stop_reason']}); "
        f"{spend['metric_calls']} rollouts paid, {spend['cache_hits']} from cache, ${spend['cost_usd']:.2f}"
    )
    out.print(f"best skill: {out_dir / 'best_skill.md'}; evidence: {out_dir / 'evidence.json'}")
    others = {name: s for name, s in packet.get("surfaces", {}).items() if name != "skill"}
    for name, surface in others.items():
        state = "frozen" if surface["frozen"] else f"{surface['tokens']}/{surface['token_budget']} tokens"
        out.print(f"best {name}: {out_dir / surface['file']} ({state})")


def _search_display(update: Callable[..., None]) -> Callable[[str, dict], None]:
    """The engine's events as a progress bar and one line per accepted candidate."""

    def on_event(kind: str, data: dict) -> None:
        spend = data.get("spend", {})
        if kind == "candidate":
            record = data["candidate"]
            scored = f"val {record.val_mean:.2f}" if record.val_scores else "validation deferred"
            console.print(
                f"candidate {record.index} ({record.operator}) {scored}, {record.tokens} tokens · "
                f"best val {data['best_val']:.2f} · frontier {data['frontier']} candidate(s) best on {data['covered']} task(s) · "
                f"{spend.get('metric_calls', 0)} rollouts, ${spend.get('cost_usd', 0):.2f}",
                highlight=False,
            )
        if kind == "iteration":
            outcome = data.get("outcome", "")
            note = f"#{data['iteration']} {data['operator']}: {outcome}" + (
                f" ({data.get('reason')})" if data.get("reason") else ""
            )
            update("search", note=f"search {note[:70]} · ${spend.get('cost_usd', 0):.2f}")
        if spend:
            update("search", spend.get("metric_calls", 0))

    return on_event


# `learn --resume RUN` continues the search RUN/learn.json defines; only these flags may come with it.
RESUME_FLAGS = (
    "resume",
    "max_metric_calls",
    "max_cost",
    "workers",
    "executor",
    "ray_address",
    "per_node",
    "rate_limits",
    "repo_path",
    "skill_name",
    "no_test",
    "api_base",  # where the models are served is no part of the search: a moved server resumes
    "reflection_api_base",
    "prices",
    "track",  # tracking is no part of the search; the resumed run continues the tracked run
)


def _refuse_search_flags(ctx: typer.Context, resume: Path) -> None:
    """A flag given with --resume that the resumed run would silently ignore is an error instead."""
    fixed = [
        param.opts[0] if param.param_type_name == "option" else param.human_readable_name
        for param in ctx.command.params
        if param.name not in RESUME_FLAGS and ctx.get_parameter_source(param.name).name == "COMMANDLINE"
    ]
    if fixed:
        raise GskillError(
            f"--resume continues the run as {resume / 'learn.json'} defines it: {', '.join(fixed)} cannot change"
        )


@app.command()
def learn(
    ctx: typer.Context,
    repo: Optional[str] = typer.Argument(
        None, help="Repository (path or git URL): mine it, learn, publish .skills/ into it."
    ),
    tasks_dir: Optional[Path] = typer.Option(None, "--tasks", help="Mining output folder with train/val/test.jsonl."),
    agent: str = typer.Option("mini", "--agent", help=" | ".join(AGENTS) + "."),
    model: Optional[str] = typer.Option(None, "--model", help="The agent's model (litellm name or scripted/...)."),
    reflection_model: Optional[str] = typer.Option(
        None, "--reflection-model", help="The model that proposes skills (default: --model's)."
    ),
    skill_mode: str = typer.Option("", "--skill-mode", help="How the skill reaches the agent (see gskill eval)."),
    seed_skill: Optional[Path] = typer.Option(
        None, "--seed-skill", help="Start from this skill file (default: empty)."
    ),
    draft_seed: bool = typer.Option(
        False, "--draft-seed", help="Draft the seed from the repo's README, layout and test config (reflection model)."
    ),
    repo_path: Optional[Path] = typer.Option(
        None, "--repo", help="With --tasks: the repository to publish .skills/ into (and to draft from)."
    ),
    max_metric_calls: Optional[int] = typer.Option(
        None, "--max-metric-calls", min=1, help="Rollouts the search may pay for (default 150)."
    ),
    max_cost: Optional[float] = typer.Option(
        None, "--max-cost", min=0, help="Dollars the search may spend (rollouts + reflection)."
    ),
    token_budget: TokenBudgetFlag = DEFAULT_TOKEN_BUDGET,
    minibatch: int = typer.Option(3, "--minibatch", min=1, help="Training tasks per iteration."),
    workers: int = typer.Option(2, "--workers", min=1, help="Rollouts in parallel."),
    seed: int = typer.Option(0, "--seed", help="Seeds the search (parent choice, minibatches, operators)."),
    mix: str = typer.Option("60,20,20", "--mix", help="refine,combine,simplify weights."),
    parent: str = typer.Option(
        "guarded",
        "--parent",
        help="Parent choice: guarded (the newest candidate unless it clearly trails the best) | pareto (gepa) | thompson.",
    ),
    validation: str = typer.Option(
        "full",
        "--validation",
        help="full (every child on all of val, as gepa) | race (stop a child that trails its parent).",
    ),
    validate_every: int = typer.Option(
        5,
        "--validate-every",
        min=1,
        help="Validate one kept child in N; the others are refined further unvalidated (1 = every one, as gepa).",
    ),
    feedback: str = typer.Option(
        "files", "--feedback", help="What reflection learns of a failed training task's fix: files | diff | none."
    ),
    no_test: bool = typer.Option(False, "--no-test", help="Skip scoring seed and best on the test split."),
    skill_name: str = typer.Option("", "--skill-name", help="Published skill name (default: <repo>-skill)."),
    scripted: list[str] = typer.Option(
        [], "--scripted", help="KEY=VALUE for scripted/ agent models, e.g. base=0 competent=0.9 (repeatable)."
    ),
    resume: Optional[Path] = typer.Option(
        None, "--resume", help="Continue the run in this folder (budget flags may be raised)."
    ),
    executor: ExecutorFlag = "local",
    ray_address: RayAddressFlag = None,
    per_node: PerNodeFlag = 4,
    rate_limits: RateLimitFlag = [],  # noqa: B006 - typer reads the default; it is never mutated
    out_dir: Optional[Path] = typer.Option(
        None, "--out", help="Run folder (default with REPO: <runs_dir>/<repo>, ~/.local/share/gskill/runs/)."
    ),
    api_base: ApiBaseFlag = None,
    reflection_api_base: ReflectionApiBaseFlag = None,
    prices: PriceFlag = [],  # noqa: B006 - typer reads the default; it is never mutated
    track: TrackFlag = [],  # noqa: B006 - typer reads the default; it is never mutated
    surfaces: str = typer.Option(
        "skill",
        "--surfaces",
        help="Instruction texts to learn together: skill, agents-md, system-prompt (comma-separated).",
    ),
    freeze: list[str] = typer.Option(
        [], "--freeze", help="Keep this surface at its seed text in every candidate (repeatable)."
    ),
    seed_surface: list[str] = typer.Option(
        [], "--seed-surface", help="SURFACE=FILE: a surface's seed text (repeatable; default: empty)."
    ),
    surface_choice: str = typer.Option(
        "round-robin",
        "--surface-choice",
        help="Which surface a step edits: round-robin | implicated (the one the failures' traces point at).",
    ),
) -> None:
    """Evolve a skill (and with --surfaces, AGENTS.md and system-prompt texts) that raises an agent's resolve rate (GEPA)."""
    from gskill.learn import learn as run_learn, load_split, mine_for_learn, resume_options
    from gskill.tracking import learn_params, log_learn_outputs, open_tracking, parse_track, search_events

    cfg = settings()
    parse_track(track)
    if repo_path is not None and not (repo_path / ".git").exists():
        raise GskillError(f"--repo {repo_path} is not a git repository")
    if resume is not None:
        _refuse_search_flags(ctx, resume)
        tasks_dir, options = resume_options(
            resume,
            {
                "workers": workers,
                "executor": executor,
                "ray_address": ray_address,
                "per_node": per_node,
                "max_metric_calls": max_metric_calls,
                "max_cost_usd": max_cost,
                "publish_to": str(repo_path.resolve()) if repo_path else None,
                "skill_name": skill_name,
            },
        )
        out_dir = resume
        if options.publish_to:  # a resumed run publishes where the first run would have
            repo_path, skill_name = Path(options.publish_to), options.skill_name
    else:
        options = _fresh_learn_options(**ctx.params)
    endpoints = run_endpoints(
        cfg.run.endpoints,
        [
            (options.model, api_base, "--api-base"),
            (options.reflection_model, reflection_api_base, "--reflection-api-base"),
        ],
        prices,
    )
    if options.max_cost_usd is not None:
        check_priced([options.model, options.reflection_model], endpoints)
    check_models(("--model", options.model), ("--reflection-model", options.reflection_model), endpoints=endpoints)
    run_config = cfg.run.model_copy(update={"endpoints": endpoints})
    where = executor_options(cfg, executor, ray_address, per_node, workers, rate_limits, "gskill learn")
    options.rate_limits = [limit.model_dump() for limit in where.rate_limits]
    if resume is None:
        if repo is not None:
            require_docker("; gskill learn runs every rollout in a container")
            tasks_dir = mine_for_learn(repo, cfg, workers, seed, mine_with_progress, say)
            if Path(repo).is_dir():
                repo_path = Path(repo)
            out_dir = out_dir or cfg.runs_dir / Path(repo.rstrip("/")).name.removesuffix(".git")
        if draft_seed:
            from gskill.learn import LitellmReflection, draft_seed as draft

            if repo_path is None:
                raise GskillError("--draft-seed needs the repository: give REPO as a path, or --repo PATH")
            out_dir.mkdir(parents=True, exist_ok=True)
            reflection = LitellmReflection(
                options.reflection_model,
                log_path=out_dir / "reflection_calls.jsonl",
                seed=seed,
                endpoint=endpoints.get(options.reflection_model),
            )
            options.seed_skill = draft(repo_path, reflection, token_budget)
            out.print(f"drafted a seed skill ({len(options.seed_skill.splitlines())} lines) from {repo_path}")
        options.publish_to, options.skill_name = str(repo_path.resolve()) if repo_path else "", skill_name
    if no_test:
        options.test_eval = False
    for split in ("train", "val"):  # bad input fails before any progress display
        load_split(tasks_dir, split)
    say(f"run folder: {out_dir}")
    record_endpoints(out_dir, [options.model, options.reflection_model], endpoints)
    with open_tracking(track, out_dir, "learn") as tracking, progress_bars() as update:
        tracking.params(learn_params(options.to_json(), tasks_dir, endpoints))
        update("search", 0, options.max_metric_calls)
        packet = run_learn(
            tasks_dir,
            out_dir,
            options,
            limits=cfg.limits,
            run_config=run_config,
            cache_dir=cfg.cache_dir,
            on_event=search_events(tracking, _search_display(update)),
            on_test_progress=lambda done, total: update("test split", done, total),
        )
        log_learn_outputs(tracking, out_dir)
    _print_learn_result(packet, out_dir)
    if repo_path is not None:
        from gskill.skills import publish

        folder = publish(out_dir, repo_path, name=skill_name)
        if folder is not None:
            out.print(f"published {folder}")
    if packet["scripted"]:
        out.print("note: a scripted model's results say nothing about real models.")


@skills_app.command("publish")
def skills_publish(
    run_dir: Path = typer.Argument(..., help="A finished `gskill learn` run folder."),
    repo: Path = typer.Option(..., "--repo", help="The repository to write .skills/<name>/ into."),
    name: str = typer.Option("", "--name", help="Skill name (default: <repo>-skill)."),
) -> None:
    """Write a learn run's best skill into REPO/.skills/<name>/ (SKILL.md + skill.json)."""
    from gskill.skills import publish

    if not (repo / ".git").exists():
        raise GskillError(f"--repo {repo} is not a git repository")
    out.print(f"published {publish(run_dir, repo, name=name)}")


@skills_app.command("install")
def skills_install(
    repo: Path = typer.Option(Path("."), "--repo", help="Repository holding .skills/."),
    agent: str = typer.Option(
        "all", "--agent", help="claude | codex | opencode | gemini | agents-md | all (comma-separated allowed)."
    ),
    name: str = typer.Option("", "--name", help="Only this published skill."),
) -> None:
    """Install published skills where agents read them (.claude/skills, .agents/skills, .opencode/skills, AGENTS.md section)."""
    from gskill.skills import TARGETS, install

    targets = list(TARGETS) if agent == "all" else [part.strip() for part in agent.split(",") if part.strip()]
    for path in install(repo, targets, name):
        out.print(f"wrote {path}")


@app.command()
def transfer(
    skill_file: Path = typer.Option(..., "--skill", help="The skill to test (e.g. RUN/best_skill.md)."),
    token_budget: TokenBudgetFlag = DEFAULT_TOKEN_BUDGET,
    tasks_dir: Path = typer.Option(..., "--tasks", help="Mining output folder."),
    split: str = typer.Option("test", "--split", help="train | val | test."),
    matrix: str = typer.Option(..., "--matrix", help="agent:model[@skill-mode][#k=v&...], comma-separated."),
    runs: int = typer.Option(3, "--runs", min=1, help="Seeds per task (paired across the two arms)."),
    workers: int = typer.Option(2, "--workers", min=1),
    max_tasks: Optional[int] = typer.Option(None, "--max-tasks", min=1),
    out_dir: Path = typer.Option(..., "--out", help="Output folder (re-run to resume)."),
    executor: ExecutorFlag = "local",
    ray_address: RayAddressFlag = None,
    per_node: PerNodeFlag = 4,
    rate_limits: RateLimitFlag = [],  # noqa: B006 - typer reads the default; it is never mutated
    prices: PriceFlag = [],  # noqa: B006 - typer reads the default; it is never mutated
    track: TrackFlag = [],  # noqa: B006 - typer reads the default; it is never mutated
) -> None:
    """Baseline vs with-skill for every agent × model: resolve rates with 95% intervals, McNemar p, flips.
    A self-hosted model's api_base comes from the config file's models: mapping."""
    from gskill.learn import load_split
    from gskill.tracking import endpoint_params, numbers, open_tracking, parse_track
    from gskill.transfer import parse_matrix, transfer as run_transfer

    cfg = settings()
    parse_track(track)
    cells = parse_matrix(matrix)
    if split not in ("train", "val", "test"):
        raise GskillError(f"--split must be train, val or test, not {split!r}")
    skill = read_skill(skill_file, token_budget)
    tasks = load_split(tasks_dir, split)[: max_tasks or None]
    if not tasks:
        raise GskillError(f"the {split} split of {tasks_dir} holds no tasks")
    endpoints = run_endpoints(cfg.run.endpoints, [], prices)
    check_models(*((f"--matrix cell {cell.label}", cell.model) for cell in cells), endpoints=endpoints)
    where = executor_options(cfg, executor, ray_address, per_node, workers, rate_limits, "gskill transfer")
    record_endpoints(out_dir, [cell.model for cell in cells], endpoints)
    with open_tracking(track, out_dir, "transfer") as tracking, progress_bars() as update:
        tracking.params(
            {
                "skill": str(skill_file),
                "tasks": str(tasks_dir),
                "split": split,
                "task_count": len(tasks),
                "matrix": matrix,
                "runs": runs,
                "workers": workers,
                "executor": executor,
                **endpoint_params(endpoints),
            }
        )
        result = run_transfer(
            skill,
            tasks,
            cells,
            runs=runs,
            workers=workers,
            out_dir=out_dir,
            run_config=cfg.run.model_copy(update={"endpoints": endpoints}),
            limits=cfg.limits,
            cache_dir=cfg.cache_dir,
            progress=update,
            executor_options=where,
        )
        tracking.metrics(numbers({**result, "cells": {cell["folder"]: cell for cell in result["cells"]}}))
        for name in ("transfer.json", "transfer.md"):
            tracking.artifact(out_dir / name)
    out.print((out_dir / "transfer.md").read_text(), markup=False, highlight=False)
    out.print(f"{result['tasks']} tasks × {runs} run(s) per cell → {out_dir / 'transfer.json'}")
    if any(cell["scripted"] for cell in result["cells"]):
        out.print("note: a scripted model's results say nothing about real models.")


def _read_task_folder(tasks_dir: Path) -> list:
    from gskill.schema import read_tasks

    source = tasks_dir if tasks_dir.is_file() else tasks_dir / "tasks.jsonl"
    if not source.is_file():
        raise GskillError(f"no task file {source} (a mining output folder or a .jsonl file)")
    try:
        tasks = read_tasks(source)
    except Exception as exc:
        raise GskillError(f"{source} is not a task file: {str(exc).splitlines()[0]}") from None
    if not tasks:
        raise GskillError(f"{source} holds no tasks")
    return tasks


@app.command("export")
def export_command(
    tasks_dir: Path = typer.Argument(..., help="Mining output folder (tasks.jsonl) or a .jsonl task file."),
    fmt: str = typer.Option(..., "--format", help="swebench | harbor | hf."),
    out_dir: Path = typer.Option(..., "--out", help="Folder to write the export to."),
    org: str = typer.Option("gskill", "--org", help="harbor: the org part of each task's name (org/name)."),
) -> None:
    """Write mined tasks in another harness's format: SWE-bench instances (with their images built
    locally), Harbor task folders, or a Hugging Face dataset (parquet + card)."""
    from interop import EXPORTERS, ExportContext, export_tasks

    if fmt not in EXPORTERS:
        raise GskillError(f"--format must be one of {', '.join(EXPORTERS)}, not {fmt!r}")
    tasks = _read_task_folder(tasks_dir)
    with progress_bars() as update:
        context = ExportContext(
            docker_client=lambda: require_docker(f"; the {fmt} export builds each task's image"),
            advance=lambda done, total: update("tasks", done, total),
            org=org,
        )
        line = export_tasks(fmt, tasks, out_dir, context)
    out.print(line)


@app.command("import")
def import_command(
    source: Path = typer.Argument(
        ..., help="SWE-bench / SWE-smith instances (.jsonl, .json, .parquet) or a folder of parquet files."
    ),
    out_dir: Path = typer.Option(..., "--out", help="Task folder to write (tasks.jsonl, train|val|test.jsonl)."),
    split_sizes: Optional[str] = typer.Option(
        None, "--split", help="TRAIN,VAL,TEST: assign splits to tasks that have none (default: keep them unsplit)."
    ),
) -> None:
    """Turn instances of another dataset into gskill tasks that `gskill eval` and `gskill learn` accept;
    their images must be present locally."""
    from interop.swebench import read_instances, task_from_instance
    from swesmith.split import assign_splits, parse_sizes
    from swesmith.tasks import write_split_files

    instances = read_instances(source)
    if not instances:
        raise GskillError(f"{source} holds no instances")
    sizes = parse_sizes(split_sizes) if split_sizes else None
    clients = []

    def docker_client():
        if not clients:
            clients.append(require_docker("; importing other datasets' instances needs their images"))
        return clients[0]

    tasks = [task_from_instance(instance, docker_client) for instance in instances]
    if sizes:
        unsplit = assign_splits([task for task in tasks if task.split is None], sizes)
        tasks = [task for task in tasks if task.split is not None] + unsplit
    counts = write_split_files(out_dir, tasks)
    out.print(f"imported {len(tasks)} tasks into {out_dir} ({', '.join(f'{k}: {v}' for k, v in counts.items())})")


@app.command()
def report(
    run_dir: Path = typer.Argument(
        ..., help="A gskill learn run folder (finished or still running), or a gskill mine output folder."
    ),
    transfer_dir: Optional[Path] = typer.Option(
        None, "--transfer", help="A gskill transfer output folder (default RUN/transfer)."
    ),
) -> None:
    """Write RUN/report.html: scores, frontier coverage, lineage, spend, best skill and its diff, transfer,
    task difficulty (for a mine output folder: tasks per strategy, rejections, difficulty)."""
    from gskill.report import render

    out.print(f"wrote {render(run_dir, transfer_dir)}")


@app.command()
def refresh(
    repo: Path = typer.Argument(..., help="The repository holding a published skill in .skills/."),
    name: str = typer.Option("", "--name", help="Which published skill (when .skills/ holds several)."),
    model: Optional[str] = typer.Option(
        None, "--model", help="Agent model (default: the one the skill was learned with)."
    ),
    reflection_model: Optional[str] = typer.Option(
        None, "--reflection-model", help="Reflection model (default: as recorded)."
    ),
    scripted: list[str] = typer.Option([], "--scripted", help="KEY=VALUE for scripted/ agent models (repeatable)."),
    sample: int = typer.Option(20, "--sample", min=1, help="New tasks the current skill is re-evaluated on."),
    max_metric_calls: int = typer.Option(150, "--max-metric-calls", min=1, help="Budget of a re-learn."),
    workers: int = typer.Option(2, "--workers", min=1),
    out_dir: Optional[Path] = typer.Option(
        None,
        "--out",
        help="Where the check and any re-learn go (default <runs_dir>/<repo>-refresh-<commit>, ~/.local/share/gskill/runs/).",
    ),
) -> None:
    """Nightly: mine only new commits, re-check the skill, re-learn from it when stale. Exit 0 unchanged, 10 refreshed."""
    from gskill.refresh import refresh as run_refresh

    code = run_refresh(
        repo,
        settings(),
        name=name,
        model=model,
        reflection_model=reflection_model,
        scripted=scripted_params(scripted),
        sample=sample,
        max_metric_calls=max_metric_calls,
        workers=workers,
        out_dir=out_dir,
        mine=mine_with_progress,
        say=say,
        status=console.status,
    )
    raise typer.Exit(code=code)


@traces_app.command("export")
def traces_export(
    run_dir: Path = typer.Argument(..., help="An eval run folder (gskill eval --out) or a learn run folder."),
    fmt: str = typer.Option("otel", "--format", help="otel: OpenTelemetry spans (GenAI semantic conventions)."),
    out_file: Optional[Path] = typer.Option(
        None, "--out", help="Write OTLP/JSON (one ExportTraceServiceRequest, as a Collector's file exporter) to FILE."
    ),
    endpoint: Optional[str] = typer.Option(
        None,
        "--endpoint",
        help="Send over OTLP/HTTP to URL (e.g. http://localhost:4318, or a full .../v1/traces URL); auth headers "
        "from OTEL_EXPORTER_OTLP_HEADERS.",
    ),
    content: bool = typer.Option(
        False, "--content", help="Add each call's prompt and reply as a span event (large: off by default)."
    ),
) -> None:
    """Export a run's model calls as spans: one per call (`chat MODEL`), under one span per rollout."""
    if fmt != "otel":
        raise GskillError(f"--format must be otel, not {fmt!r}")
    if (out_file is None) == (endpoint is None):
        raise GskillError("give one of --out FILE or --endpoint URL")
    if out_file is not None and out_file.is_dir():
        raise GskillError(f"--out {out_file} is a folder: give a file name (e.g. spans.json)")
    try:
        from interop import otel
    except ImportError as exc:
        if not (exc.name or "").startswith(("opentelemetry", "google")):
            raise
        raise GskillError(f"--format otel needs the otel extra (pip install 'gskill[otel]'): {exc}") from None
    exporter = otel.JsonFileExporter(out_file) if out_file is not None else otel.http_exporter(endpoint)
    done = otel.export_run(run_dir, exporter, content=content)
    parts = [f"{done.calls} agent calls in {done.rollouts} rollouts"] if done.rollouts else []
    parts += [f"{done.reflection_calls} reflection calls"] if done.reflection_calls else []
    out.print(
        f"exported {done.spans} spans ({', '.join(parts)}; {done.input_tokens} input + {done.output_tokens} output "
        f"tokens, ${done.cost_usd:.4f}) to {out_file or endpoint}",
        highlight=False,
        soft_wrap=True,
    )


# After a stop signal, how long the process may take to wind down (executors close, containers go)
# before it exits regardless: a worker thread waiting out a model's back-off cannot be interrupted.
STOP_GRACE_S = 5.0
_stopping = threading.Event()


def _terminate(signum, frame) -> None:
    """SIGTERM or SIGINT: stop the run. No container starts from here on and ours are removed NOW
    (worker threads blocked in one fail at once instead of running to their timeout); no queued
    rollout starts (`run_all`); the main thread unwinds (executors close; every finished record is
    already written, so a re-run resumes) and the process exits 128 + signum, at the latest after
    `STOP_GRACE_S`. A second signal exits at once."""
    code = 128 + signum
    if _stopping.is_set():
        _exit_now(code)
    _stopping.set()
    threading.Thread(target=_exit_after, args=(code, STOP_GRACE_S), name="gskill-stop", daemon=True).start()
    try:
        from harnesses.sandbox.docker_backend import shut_down_sandboxes

        shut_down_sandboxes()
    finally:
        raise SystemExit(code)


def _exit_after(code: int, seconds: float) -> None:
    time.sleep(seconds)
    _exit_now(code)


def _exit_now(code: int) -> None:
    """Exit without waiting for worker threads (and without atexit hooks: the containers go first)."""
    try:
        from harnesses.sandbox.docker_backend import shut_down_sandboxes

        shut_down_sandboxes()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    try:
        # standalone mode: typer prints usage errors itself (exit 2); our errors propagate to here.
        app(args=argv, prog_name="gskill")
    except GskillError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
