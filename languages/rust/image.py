"""The Rust part of an env image, and what a skill draft says about a Rust repository's layout.

The toolchain is Debian's (languages/rust/image_setup.py says why and which); the Rust version the
repository asks for (`rust-version` in a Cargo.toml, a numbered channel in rust-toolchain(.toml)) is
recorded in the recipe and checked at build: an older toolchain fails the build with one line.
Crates are fetched and the dependencies compiled while the build has network; tests then run with
CARGO_NET_OFFLINE=true. The build cache lives outside /repo (CARGO_TARGET_DIR), so `git clean` keeps
it and no diff sees it.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path
from typing import Sequence

from languages.base import ImageRecipe, Reader

SETUP_SCRIPT = Path(__file__).with_name("image_setup.py")
TARGET_DIR = "/root/.cache/gskill-cargo-target"

_TOOLCHAIN = f"""\
# Rust: Debian's toolchain (bookworm: rustc-web/cargo-web from bookworm-security)
COPY gskill/rust_setup.py /opt/gskill/rust_setup.py
RUN python3 /opt/gskill/rust_setup.py install
ENV CARGO_HOME=/root/.cargo CARGO_TARGET_DIR={TARGET_DIR} CARGO_TERM_COLOR=never
"""
_STEPS = """\
# Crates fetched, the dependencies compiled (never the workspace's own crates). {why}
RUN python3 /opt/gskill/rust_setup.py prepare /opt/gskill/env.json {minimum}
# Tests run with no network: cargo may not touch a registry.
ENV CARGO_NET_OFFLINE=true
"""
_VERSION = re.compile(r"^\d+\.\d+(?:\.\d+)?$")


def _toml(text: str | None) -> dict:
    try:
        return tomllib.loads(text or "")
    except tomllib.TOMLDecodeError:
        return {}


def manifests(paths: Sequence[str]) -> list[str]:
    return sorted(path for path in paths if path == "Cargo.toml" or path.endswith("/Cargo.toml"))


def wanted_rust(paths: Sequence[str], read: Reader) -> tuple[str, list[str]]:
    """(the newest Rust version the repository asks for, "" for none; where each ask comes from)."""
    asks: list[tuple[str, str]] = []
    for path in manifests(paths):
        data = _toml(read(path))
        for table in (data.get("package", {}), data.get("workspace", {}).get("package", {})):
            version = table.get("rust-version")
            if isinstance(version, str) and _VERSION.match(version):
                asks.append((version, f"{path}: rust-version {version}"))
    for name in ("rust-toolchain.toml", "rust-toolchain"):
        text = read(name)
        if text is None:
            continue
        channel = _toml(text).get("toolchain", {}).get("channel") if name.endswith(".toml") else None
        channel = channel or (text.strip() if "\n" not in text.strip() else "")
        if isinstance(channel, str) and _VERSION.match(channel):
            asks.append((channel, f"{name}: channel {channel}"))
        elif channel:
            asks.append(("", f"{name}: channel {channel} (not installable here: Debian's stable toolchain used)"))
    versions = [version for version, _ in asks if version]
    newest = max(versions, key=lambda v: tuple(int(p) for p in v.split(".")), default="")
    return newest, [why for _, why in asks]


def _digest(text: str | None) -> str:
    return hashlib.sha256((text or "").encode()).hexdigest()[:16]


def recipe(paths: Sequence[str], read: Reader) -> ImageRecipe:
    minimum, asks = wanted_rust(paths, read)
    why = "; ".join(asks) if asks else "no Rust version asked for"
    return ImageRecipe(
        toolchain_steps=_TOOLCHAIN,
        steps=_STEPS.format(why=why, minimum=minimum),
        files={"gskill/rust_setup.py": SETUP_SCRIPT.read_bytes()},
        sources=(f"Rust: {why} -> Debian's toolchain",),
        key={
            "rust": minimum,
            "manifests": _digest("".join(read(path) or "" for path in manifests(paths))),
            "Cargo.lock": _digest(read("Cargo.lock")),
        },
    )


def layout_notes(paths: Sequence[str], read: Reader) -> list[str]:
    root = _toml(read("Cargo.toml"))
    members = [path.rsplit("/", 1)[0] for path in manifests(paths) if "/" in path]
    if "workspace" in root:
        notes = [f"Cargo workspace at the root with {len(members) + ('package' in root)} package(s)."]
    else:
        notes = [f"Cargo package `{root.get('package', {}).get('name', '?')}` at the root."]
    if members:
        shown = ", ".join(f"`{m}/`" for m in members[:20])
        notes.append(f"Package folders: {shown}{f' and {len(members) - 20} more' if len(members) > 20 else ''}.")
    minimum, _ = wanted_rust(paths, read)
    notes.append(
        f"Rust toolchain: Debian's stable rustc{f' (the repository asks for >= {minimum})' if minimum else ''};"
        " cargo runs offline (CARGO_NET_OFFLINE=true)."
    )
    inline = sum(1 for path in paths if path.endswith(".rs") and "/tests/" not in f"/{path}")
    tests = sum(1 for path in paths if path.endswith(".rs") and "/tests/" in f"/{path}")
    notes.append(
        f"Unit tests live inside the source files (`#[cfg(test)] mod tests`, {inline} `.rs` source files); "
        f"{tests} files under `tests/` are integration tests."
    )
    notes.append(
        "Run all tests: `cargo test --workspace`; one package: `cargo test -p NAME`; its unit tests: "
        "`cargo test -p NAME --lib`; one integration file: `cargo test -p NAME --test FILE`; one test: "
        "append `-- --exact module::test_name`."
    )
    return notes
