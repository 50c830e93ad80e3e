"""Per-repo environment images: the repo at one commit with its install + test dependencies.

An env image is shared by every task mined from that snapshot (one image per repo snapshot, thin
per-task state on top), so disk grows with snapshots, not with tasks. Its name is a pure function of
(repo, commit, language recipe, base image id, builder version): an identical request reuses it.

Inside the image:
- `/repo` is a FRESH git repository whose only commit is the snapshot (no upstream history);
- the language profile's recipe (`languages.base.ImageRecipe`) installs the toolchain and the
  dependencies, with network at build time only (Python: `harnesses/images/python_recipe.py`; Go:
  `languages/golang/image.py`);
- `/opt/gskill/env.json` is the recipe's report (tests collected, what it had to install).
Hygiene that matters for not leaking answers later is the recipe's: nothing compiled from the
snapshot's own code stays in the image (bytecode, build caches), and package managers keep no cache.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import docker
import git

from gskill.errors import GskillError
from languages import detect_language, profile_named
from languages.base import ImageRecipe

if TYPE_CHECKING:
    from gskill.schema import Settings

BUILDER_VERSION = "1"
_CA_CANDIDATES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem")

_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the builder colours a step's stderr


@dataclass(frozen=True)
class RepoSnapshot:
    """A local git repository and one resolved commit of it."""

    path: Path
    name: str  # docker-safe slug, e.g. "markupsafe"
    commit: str  # full sha


@dataclass
class EnvImage:
    image: str
    repo: str
    commit: str
    reused: bool
    build_seconds: float
    collected: int
    report: dict = field(default_factory=dict)

    @property
    def collects(self) -> bool:
        return self.collected > 0


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._")
    return slug[:60] or "repo"


def resolve_snapshot(repo: str | Path, ref: str | None, cache_dir: Path) -> RepoSnapshot:
    """A local path or a git URL plus a ref → RepoSnapshot. Bad input raises a one-line GskillError."""
    text = str(repo)
    if re.match(r"^(https?|ssh|git|file)://|^[\w.-]+@[\w.-]+:", text):
        path = _clone_or_fetch(text, cache_dir)
        name = slugify(Path(text.rstrip("/")).name.removesuffix(".git"))
    else:
        path = Path(text).expanduser().resolve()
        if not path.exists():
            raise GskillError(f"repository path does not exist: {text}")
        if not path.is_dir():
            raise GskillError(f"repository path is not a directory: {text}")
        name = slugify(path.name)
    try:
        repository = git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GskillError(f"not a git repository: {text}") from None
    wanted = ref or "HEAD"
    try:
        # rev-parse --verify: GitPython's repo.commit() accepts any 40-hex string without checking.
        commit = repository.git.rev_parse("--verify", "--quiet", f"{wanted}^{{commit}}")
    except git.GitCommandError:
        raise GskillError(f"unknown commit {wanted!r} in {text}") from None
    # git.Repo(path) accepts only a repository's root (or a bare repository), so `path` is it.
    return RepoSnapshot(path=path, name=name, commit=commit)


def _clone_or_fetch(url: str, cache_dir: Path) -> Path:
    target = (
        cache_dir
        / "repos"
        / f"{slugify(Path(url.rstrip('/')).name)}-{hashlib.sha256(url.encode()).hexdigest()[:8]}.git"
    )
    try:
        if target.exists():
            git.Repo(target).git.fetch("--quiet", "origin", "+refs/heads/*:refs/heads/*", "--tags")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            git.Repo.clone_from(url, target, bare=True)
    except git.GitCommandError as exc:
        raise GskillError(f"cannot clone {url}: {exc.stderr.strip().splitlines()[-1] if exc.stderr else exc}") from None
    return target


def snapshot_reader(snapshot: RepoSnapshot) -> tuple[list[str], Callable[[str], str | None]]:
    """(every file path, path -> text) of the tree AT the commit (not the working tree, which may differ)."""
    tree = git.Repo(snapshot.path).commit(snapshot.commit).tree
    blobs = {item.path: item for item in tree.traverse() if item.type == "blob"}

    def read(path: str) -> str | None:
        blob = blobs.get(path)
        if blob is None:
            return None
        return blob.data_stream.read().decode("utf-8", errors="replace")

    return sorted(blobs), read


def snapshot_language(snapshot: RepoSnapshot, language: str | None = None) -> str:
    """The language profile that builds and mines `snapshot`: `language` if given, else detected."""
    return _language_of(snapshot_reader(snapshot)[0], snapshot, language)


def _language_of(paths: list[str], snapshot: RepoSnapshot, language: str | None) -> str:
    if language:
        profile_named(language)  # an unknown name is one clear line
        return language
    detected = detect_language(paths)
    if detected is None:
        raise GskillError(f"{snapshot.name}: no language profile recognises this repository (pass --language)")
    return detected


def env_recipe(snapshot: RepoSnapshot, language: str | None = None) -> ImageRecipe:
    """The language's image recipe for `snapshot` (dependencies detected from the files at the commit)."""
    paths, read = snapshot_reader(snapshot)
    return profile_named(_language_of(paths, snapshot, language)).image_recipe(paths, read)


def host_ca_bundle(configured: Path | None = None) -> Path | None:
    """The host's CA bundle, so builds work behind a TLS-intercepting proxy."""
    candidates = [str(configured)] if configured else [os.environ.get("SSL_CERT_FILE", ""), *_CA_CANDIDATES]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    if configured:
        raise GskillError(f"CA bundle not found: {configured}")
    return None


def ensure_base_image(client: docker.DockerClient, base_image: str, fallback: str = "") -> tuple[str, str]:
    """(name, id) of the base image to build on: `base_image` (pulled if absent), else `fallback`."""
    try:
        return base_image, client.images.get(base_image).id
    except docker.errors.ImageNotFound:
        pass
    try:
        return base_image, client.images.pull(base_image).id
    except docker.errors.APIError as exc:
        reason = str(exc).splitlines()[0][:160]
    if fallback and fallback != base_image:
        try:
            return fallback, client.images.get(fallback).id
        except docker.errors.ImageNotFound:
            pass
    raise GskillError(
        f"base image {base_image} is not present and cannot be pulled ({reason}); "
        "build one offline with `gskill env base` (or set GSKILL_BASE_IMAGE)"
    )


def image_name(snapshot: RepoSnapshot, recipe: ImageRecipe, base_image_id: str) -> str:
    # The recipe (Dockerfile, its scripts) is part of the key, so changing how images are built never
    # silently reuses an image built the old way.
    text = dockerfile("BASE", snapshot, recipe, True) + "".join(
        f"{path}\0{data.hex()}" for path, data in sorted(recipe.files.items())
    )
    key = json.dumps(
        {
            "commit": snapshot.commit,
            "deps": recipe.key,
            "base": base_image_id,
            "builder": BUILDER_VERSION,
            "recipe": hashlib.sha256(text.encode()).hexdigest(),
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return f"gskill-env/{snapshot.name}:{snapshot.commit[:12]}-{digest}"


def dockerfile(base_image: str, snapshot: RepoSnapshot, recipe: ImageRecipe, with_ca: bool) -> str:
    ca_env = ""
    if with_ca:
        bundle = "/opt/gskill/host-ca.crt"
        ca_env = "ENV " + " ".join(
            f"{var}={bundle}"
            for var in (
                "SSL_CERT_FILE",
                "PIP_CERT",
                "REQUESTS_CA_BUNDLE",
                "CURL_CA_BUNDLE",
                "GIT_SSL_CAINFO",
                "NODE_EXTRA_CA_CERTS",
            )
        )
    # Layers that do not depend on the repository come first (the CA bundle, git, a toolchain), so
    # Docker's build cache shares them between snapshots and repositories; labels come last.
    ca_file = "COPY gskill/host-ca.crt /opt/gskill/host-ca.crt" if with_ca else ""
    return f"""\
FROM {base_image}
ENV LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive
{ca_file}
{ca_env}
RUN command -v git >/dev/null 2>&1 || (apt-get update && apt-get install -y --no-install-recommends git \\
    && rm -rf /var/lib/apt/lists/*)
{recipe.toolchain_steps}
COPY gskill/ /opt/gskill/
ADD repo.tar /repo/
WORKDIR /repo
# A fresh history: the snapshot is the only commit; nothing upstream is reachable from the image.
RUN git init -q && git add -A && git -c user.name=gskill -c user.email=gskill@localhost commit -q --no-verify -m "snapshot" \\
    && git config --global user.name gskill && git config --global user.email gskill@localhost
{recipe.steps}
LABEL gskill.env="1" gskill.repo="{snapshot.name}" gskill.commit="{snapshot.commit}" gskill.builder="{BUILDER_VERSION}"
"""


def _build_context(snapshot: RepoSnapshot, recipe: ImageRecipe, base_image: str, ca_bundle: Path | None) -> bytes:
    repository = git.Repo(snapshot.path)
    repo_tar = io.BytesIO()
    repository.archive(repo_tar, treeish=snapshot.commit, format="tar")
    files: dict[str, bytes] = {
        "Dockerfile": dockerfile(base_image, snapshot, recipe, ca_bundle is not None).encode(),
        "repo.tar": repo_tar.getvalue(),
        **recipe.files,
    }
    if ca_bundle is not None:
        files["gskill/host-ca.crt"] = ca_bundle.read_bytes()
    return tar_context(files)


def tar_context(files: dict[str, bytes]) -> bytes:
    """A Docker build context (an uncompressed tar) holding `files` ({path: bytes})."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return context.getvalue()


def build_image(
    client: docker.DockerClient,
    context: bytes,
    tag: str,
    *,
    what: str,
    timeout_s: float = 1800,
    log: Callable[[str], None] = lambda line: None,
) -> None:
    """Build `context` (tar_context) as `tag`, offline (never pulls). `log` gets the build output line by
    line; a failed build raises GskillError naming `what` and the reason: a setup script that refuses
    says why in a line of its own ("gskill: ..."), docker's error only says which step returned
    non-zero."""
    tail: list[str] = []
    try:
        events = client.api.build(
            fileobj=io.BytesIO(context),
            custom_context=True,
            tag=tag,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
            timeout=int(timeout_s),
        )
        for event in events:
            if "stream" in event:
                for line in event["stream"].splitlines():
                    if line.strip():
                        tail = (tail + [line])[-20:]
                        log(line)
            if "error" in event:
                said = [line for line in (_ANSI.sub("", line).strip() for line in tail) if line.startswith("gskill: ")]
                detail = event["error"].strip().splitlines()[-1] if event["error"].strip() else "unknown error"
                detail = said[-1].removeprefix("gskill: ").rstrip(":") if said else detail
                raise GskillError(f"{what} failed: {detail}")
    except docker.errors.APIError as exc:
        raise GskillError(f"{what} failed: {str(exc).splitlines()[0][:200]}") from None


def read_env_report(client: docker.DockerClient, image: str) -> dict:
    container = client.containers.create(image, entrypoint=["true"])
    try:
        stream, _ = container.get_archive("/opt/gskill/env.json")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            handle = tar.extractfile(member) if member else None
            return json.loads(handle.read()) if handle else {}
    except docker.errors.NotFound:
        return {}
    finally:
        container.remove(force=True)


def build_env_image(
    client: docker.DockerClient,
    snapshot: RepoSnapshot,
    *,
    base_image: str,
    base_image_fallback: str = "",
    cache_dir: Path,
    ca_bundle: Path | None = None,
    timeout_s: float = 1800,
    rebuild: bool = False,
    language: str | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> EnvImage:
    """Build (or reuse) the env image of `snapshot` with its language's recipe (`language`, else
    detected). `log` receives build output line by line."""
    began = time.monotonic()
    recipe = env_recipe(snapshot, language)
    base_image, base_id = ensure_base_image(client, base_image, base_image_fallback)
    name = image_name(snapshot, recipe, base_id)
    record_path = cache_dir / "envs" / (name.replace("/", "_").replace(":", "_") + ".json")

    if not rebuild:
        try:
            client.images.get(name)
        except docker.errors.ImageNotFound:
            pass
        else:
            report = json.loads(record_path.read_text()) if record_path.is_file() else read_env_report(client, name)
            return EnvImage(
                name, snapshot.name, snapshot.commit, True, time.monotonic() - began, report.get("collected", 0), report
            )

    for line in recipe.sources:
        log(f"[gskill] dependencies: {line}")
    context = _build_context(snapshot, recipe, base_image, ca_bundle)
    build_image(
        client,
        context,
        name,
        what=f"env image build for {snapshot.name}@{snapshot.commit[:12]}",
        timeout_s=timeout_s,
        log=log,
    )
    report = read_env_report(client, name)
    report["dependencies"] = dict(recipe.key)
    report["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    record_path.parent.mkdir(parents=True, exist_ok=True)
    record_path.write_text(json.dumps(report, indent=2, sort_keys=True))
    return EnvImage(
        name, snapshot.name, snapshot.commit, False, time.monotonic() - began, report.get("collected", 0), report
    )


def configured_env_image(
    client: docker.DockerClient,
    snapshot: RepoSnapshot,
    settings: "Settings",
    *,
    language: str | None = None,
    rebuild: bool = False,
    log: Callable[[str], None] = lambda line: None,
) -> EnvImage:
    """`build_env_image` with what `Settings` configures: base image (and fallback), cache, CA bundle,
    build timeout. The one call mining, `gskill env build` and the benchmarks make."""
    return build_env_image(
        client,
        snapshot,
        base_image=settings.base_image,
        base_image_fallback=settings.base_image_fallback,
        cache_dir=settings.cache_dir,
        ca_bundle=host_ca_bundle(settings.ca_bundle),
        timeout_s=settings.env_build_timeout_s,
        rebuild=rebuild,
        language=language,
        log=log,
    )
