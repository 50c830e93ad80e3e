"""`gskill doctor`: is this machine ready to mine, run agents and learn? Never prints secrets."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from gskill.schema import Settings

# Provider keys litellm reads from the environment. We report only whether each is set.
MODEL_KEY_VARS = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "AZURE_API_KEY",
    "OPENROUTER_API_KEY",
    "MISTRAL_API_KEY",
    "DEEPSEEK_API_KEY",
    "GROQ_API_KEY",
    "TOGETHERAI_API_KEY",
    "AWS_ACCESS_KEY_ID",
    "XAI_API_KEY",
)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True  # a failed required check makes doctor exit non-zero


def _docker_checks(settings: Settings) -> tuple[list[Check], object | None]:
    from harnesses.sandbox import SandboxError, docker_client

    try:
        client = docker_client(timeout=10)
    except SandboxError as exc:
        return [
            Check("docker engine", False, f"{exc} — install docker.io and start dockerd, or use --sandbox local")
        ], None
    version = client.version()
    checks = [
        Check("docker engine", True, f"Docker {version.get('Version', '?')} (API {version.get('ApiVersion', '?')})")
    ]
    checks.append(_base_image_check(client, settings))
    from harnesses.sandbox.docker_backend import LABEL_MANAGED, owner_is_gone

    ours = client.containers.list(all=True, filters={"label": f"{LABEL_MANAGED}=1"})
    orphans = [c for c in ours if owner_is_gone(c.labels or {})]
    detail = f"{len(ours)} running" + (f", {len(orphans)} orphaned (run `gskill env reap`)" if orphans else "")
    checks.append(Check("gskill containers", True, detail, required=False))
    return checks, client


def _base_image_check(client, settings: Settings) -> Check:
    # Presence only: doctor never pulls (that is `gskill env build`'s job).
    for name, note in (
        (settings.base_image, ""),
        (settings.base_image_fallback, " (fallback: the configured image is absent)"),
    ):
        if not name:
            continue
        try:
            image = client.images.get(name)
        except Exception:
            continue
        return Check("base image", True, f"{name} ({image.attrs.get('Size', 0) / 1e6:.0f} MB){note}")
    return Check(
        "base image",
        False,
        f"{settings.base_image} is not present — pull it, or build one offline with `gskill env base`",
    )


def _disk_check(settings: Settings, docker_root: str | None) -> list[Check]:
    checks = []
    places = {"cache": settings.cache_dir}
    if docker_root:
        places["docker"] = Path(docker_root)
    for label, place in places.items():
        probe = place
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free_gb = shutil.disk_usage(probe).free / 1e9
        ok = free_gb >= settings.min_free_disk_gb
        detail = f"{free_gb:.1f} GB free at {probe}" + ("" if ok else f" (need >= {settings.min_free_disk_gb:g} GB)")
        checks.append(Check(f"disk ({label})", ok, detail))
    return checks


def network_check(settings: Settings) -> Check:
    if not settings.limits.network:
        return Check(
            "task network",
            True,
            "off: task containers have no network; agents in them reach only the gateway",
            required=False,
        )
    return Check(
        "task network",
        False,
        "ON (limits.network: true): agents reach the internet and the host's ports from task "
        "containers, so they can download the released project and diff it against the bug state",
        required=False,
    )


def run_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    docker_root = None
    docker_checks, client = _docker_checks(settings)
    checks += docker_checks
    if client is not None:
        try:
            docker_root = client.info().get("DockerRootDir")
        except Exception:
            docker_root = None
    checks += _disk_check(settings, docker_root)
    checks.append(
        Check(
            "local sandbox",
            shutil.which("git") is not None,
            "available; weaker isolation: commands run as you on this host (no container, shared network)",
            required=False,
        )
    )
    from importlib.metadata import PackageNotFoundError, version

    from harnesses.agents import AGENTS
    from harnesses.agents.tools import installed

    for spec in AGENTS.values():
        if spec.tool is None:  # runs on the host from a Python package
            try:
                found = version(spec.package)
            except PackageNotFoundError:
                found = ""
            detail = (
                f"{spec.package} {found} (Python package, runs on the host)"
                if found
                else f"{spec.package} is not installed"
            )
            if found and found != spec.version:
                detail += f" — gskill pins {spec.version}"
            checks.append(Check(f"agent {spec.name}", found == spec.version, detail, required=False))
            continue
        folder = installed(spec.tool, settings.cache_dir)
        checks.append(
            Check(
                f"agent {spec.name}",
                folder is not None,
                f"{spec.tool.package} ready in {folder}"
                if folder
                else f"not installed — `gskill agents install {spec.name}` (needs the npm registry)",
                required=False,
            )
        )
    checks.append(network_check(settings))
    from gskill.endpoints import endpoint_checks

    checks += [Check(*row) for row in endpoint_checks(settings.models, settings.run.model)]
    keys = [var for var in MODEL_KEY_VARS if os.environ.get(var)]
    checks.append(
        Check(
            "model API keys",
            bool(keys),
            ("set: " + ", ".join(keys)) if keys else "none set (scripted/* models still work; real models need a key)",
            required=False,
        )
    )
    return checks
