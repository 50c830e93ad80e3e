"""The `gskill` command line. Each command is thin: parse, call one stage's functions, print.

User errors (bad paths, unknown commits, unreadable config, missing prerequisites) are `GskillError`s:
one line on stderr, exit code 2, no traceback.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from gskill import __version__
from gskill.config import load_settings
from gskill.errors import GskillError
from gskill.schema import Settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Learn repository-specific skills for coding agents.",
)
env_app = typer.Typer(no_args_is_help=True, help="Environment images: the offline base image and per-repo images.")
app.add_typer(env_app, name="env")

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
) -> None:
    """Build (or reuse) the environment image of REPO at a commit; its test suite must collect."""
    from harnesses.images.build import build_env_image, host_ca_bundle, resolve_snapshot
    from harnesses.sandbox import SandboxError, docker_client

    cfg = settings()
    snapshot = resolve_snapshot(repo, commit, cfg.cache_dir)
    try:
        client = docker_client()
    except SandboxError as exc:
        raise GskillError(f"{exc}; env images need Docker (see `gskill doctor`)") from None
    began = time.monotonic()
    with console.status(f"building env image for {snapshot.name}@{snapshot.commit[:12]}") as status:

        def log(line: str) -> None:
            if state.verbose:
                console.print(line, markup=False, highlight=False)
            else:
                status.update(f"building env image for {snapshot.name}: {line.strip()[:100]}")

        env = build_env_image(
            client,
            snapshot,
            base_image=cfg.base_image,
            base_image_fallback=cfg.base_image_fallback,
            cache_dir=cfg.cache_dir,
            ca_bundle=host_ca_bundle(cfg.ca_bundle),
            timeout_s=cfg.env_build_timeout_s,
            rebuild=rebuild,
            log=log,
        )
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
    from harnesses.sandbox import SandboxError, docker_client

    cfg = settings()
    try:
        client = docker_client()
    except SandboxError as exc:
        raise GskillError(str(exc)) from None
    name = tag or f"gskill-base:{cfg.debian_suite}"
    with console.status(f"building {name}"):
        build_base_image(client, name, suite=cfg.debian_suite, mirror=cfg.debian_mirror, force=force, log=console.print)
    out.print(f"base image {name} ready; use it with GSKILL_BASE_IMAGE={name}")


@env_app.command("reap")
def env_reap(
    everything: bool = typer.Option(False, "--all", help="Remove every gskill container, not only orphans."),
) -> None:
    """Remove gskill containers left behind by crashed runs."""
    from harnesses.sandbox import SandboxError, docker_client, reap

    try:
        removed = reap(docker_client(), everything=everything)
    except SandboxError as exc:
        raise GskillError(str(exc)) from None
    out.print(f"removed {len(removed)} container(s)" + (": " + ", ".join(removed) if removed else ""))


def _terminate(signum, frame) -> None:  # SIGTERM → normal exit, so atexit removes our containers
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        # standalone mode: typer prints usage errors itself (exit 2); our errors propagate to here.
        app(args=argv, prog_name="gskill")
    except GskillError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
