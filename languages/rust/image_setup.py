"""Run inside an env image build (stdlib only, python3 of the base image): the Rust part of the image.

    python3 image_setup.py install                  # Debian's Rust toolchain
    python3 image_setup.py prepare REPORT [MINIMUM] # fails below Rust MINIMUM; crates fetched, dependencies
                                                    # compiled, the report (JSON)

The toolchain is Debian's: on bookworm `rustc-web`/`cargo-web` from bookworm-security (Rust 1.96 in
2026-12; the plain `rustc` of bookworm is 1.63), elsewhere the distribution's `rustc`/`cargo`. rustup
is not used: its server is not reachable from every network gskill runs in, Debian's mirror is.

The build cache (CARGO_TARGET_DIR, outside /repo) keeps the dependencies' compiled code only: the
workspace's own crates are built once (that compiles every dependency, tests' dev-dependencies
included, in test and in check mode) and then cleaned (`cargo clean -p` per member, the incremental
folder, any file named after a member crate). Compiled snapshot code in the image would survive a
bug patch and could reveal the fix.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib

SECURITY = "deb http://deb.debian.org/debian-security bookworm-security main\n"


def log(message: str) -> None:
    print(f"[gskill-rust] {message}", flush=True)


def run(*args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(list(args), capture_output=True, text=True, env={**os.environ, **(env or {})})
    if check and done.returncode != 0:
        sys.exit(f"gskill: {' '.join(args[:4])} failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return done


def _codename() -> str:
    try:
        text = open("/etc/os-release").read()
    except OSError:
        return ""
    found = re.search(r"^VERSION_CODENAME=\"?(\w+)", text, re.M)
    return found[1] if found else ""


def _version(text: str) -> tuple[int, ...]:
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(part or 0) for part in found.groups()) if found else ()


def install() -> None:
    packages = ["rustc", "cargo"]
    if _codename() == "bookworm":
        packages = ["rustc-web", "cargo-web"]
        sources = "".join(
            open(os.path.join(folder, name), errors="replace").read()
            for folder in ("/etc/apt", "/etc/apt/sources.list.d")
            if os.path.isdir(folder)
            for name in os.listdir(folder)
            if name.endswith((".list", ".sources"))
        )
        if "bookworm-security" not in sources:
            with open("/etc/apt/sources.list.d/gskill-bookworm-security.list", "w") as handle:
                handle.write(SECURITY)
    run("apt-get", "update", "-qq")
    run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages, "ca-certificates")
    shutil.rmtree("/var/lib/apt/lists", ignore_errors=True)
    log(f"installed {run('rustc', '--version').stdout.strip()}; {run('cargo', '--version').stdout.strip()}")


def metadata() -> dict:
    return json.loads(run("cargo", "metadata", "--format-version", "1", "--no-deps", "--offline").stdout)


_LIBRARY_EXTENSIONS = (".rlib", ".rmeta", ".so", ".a")


def _crate_of(name: str) -> set[str]:
    """The crate names an artifact's file name may stand for: `libstats-0123456789abcdef.rlib`,
    `stats-0123456789abcdef.d`, `text-utils-0123456789abcdef` (a fingerprint or build folder),
    `libstats.rlib`, `api` (an uplifted test binary), with `-` read as `_`."""
    base = name
    for extension in (*_LIBRARY_EXTENSIONS, ".d"):
        if base.endswith(extension):
            base = base[: -len(extension)]
            break
    base = re.sub(r"-[0-9a-f]{16}$", "", base).replace("-", "_")
    return {base, base[3:]} if base.startswith("lib") else {base}


def _lock() -> dict:
    try:
        with open("Cargo.lock", "rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def clean_members(meta: dict) -> list[str]:
    """Remove every compiled artifact of the workspace's own packages; the names of leftovers found
    (and removed) after `cargo clean -p`: entries of the profile folders (deps/, .fingerprint/,
    build/, examples/ and the profile folder itself) named after a member's package or one of its
    lib/bin/test targets. Build scripts are all named `build_script_build`: never matched by name."""
    members = [package for package in meta["packages"] if package["id"] in set(meta["workspace_members"])]
    for package in members:
        run("cargo", "clean", "--offline", "-p", package["id"], check=False)
    target = meta["target_directory"]
    crates = {
        target_["name"].replace("-", "_")
        for package in members
        for target_ in package["targets"]
        if "custom-build" not in target_["kind"]
    }
    crates |= {package["name"].replace("-", "_") for package in members}
    # A test file named like a dependency (tests/regex.rs) must not take the dependency's build along.
    crates -= {
        package["name"].replace("-", "_")
        for package in _lock().get("package", [])
        if isinstance(package, dict) and "source" in package
    }
    leftovers = []
    profiles = [os.path.join(target, entry) for entry in os.listdir(target)] if os.path.isdir(target) else []
    for profile in filter(os.path.isdir, profiles):
        shutil.rmtree(os.path.join(profile, "incremental"), ignore_errors=True)
        folders = [profile, *(os.path.join(profile, sub) for sub in ("deps", ".fingerprint", "build", "examples"))]
        for folder in filter(os.path.isdir, folders):
            for name in os.listdir(folder):
                path = os.path.join(folder, name)
                if path in folders or not _crate_of(name) & crates:
                    continue
                leftovers.append(os.path.relpath(path, target))
                shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.remove(path)
    return sorted(leftovers)


def prepare(report_path: str, minimum: str = "") -> None:
    began = time.monotonic()
    found = run("rustc", "--version").stdout.strip()
    if minimum and _version(found) < _version(minimum):
        sys.exit(f"gskill: the repository needs Rust >= {minimum}; the image's toolchain is {found}")
    online = {"CARGO_NET_OFFLINE": "false"}
    if os.environ.get("SSL_CERT_FILE"):  # the host's CA bundle (a TLS-intercepting proxy): cargo's curl
        online["CARGO_HTTP_CAINFO"] = os.environ["SSL_CERT_FILE"]  # reads only its own setting
    if not os.path.exists("Cargo.lock"):
        run("cargo", "generate-lockfile", env=online)
    run("cargo", "fetch", env=online)
    # A lock file cargo wrote or completed is part of the snapshot commit, or every diff an agent or
    # a candidate makes would carry it (and `git clean` would delete an untracked one).
    changed = [line[3:] for line in run("git", "status", "--porcelain", "--", "Cargo.lock").stdout.splitlines()]
    if changed:
        run("git", "add", "--", *changed)
        run("git", "commit", "-q", "--amend", "--no-verify", "--no-edit")
        log(f"completed {', '.join(changed)} (amended into the snapshot commit)")
    meta = metadata()
    listed = run("cargo", "test", "--offline", "--workspace", "--tests", "--", "--list", check=False)
    collected = sum(1 for line in listed.stdout.splitlines() if line.endswith(": test"))
    broken = sorted(set(re.findall(r"could not compile `([^`]+)` \(([^)]*)\)", listed.stderr)))
    if listed.returncode != 0:
        log(f"the workspace's tests do not all build:\n{listed.stderr[-2000:]}")
    # Check-mode artifacts of the dependencies too: the build check before a candidate's run uses them.
    run("cargo", "check", "--offline", "--workspace", "--tests", check=False)
    leftovers = clean_members(meta)
    report = {
        "language": "rust",
        "rustc": run("rustc", "--version").stdout.strip(),
        "members": sorted(package["name"] for package in meta["packages"]),
        "collected": collected,
        "broken_targets": [f"{name} ({kind})" for name, kind in broken],
        "completed_files": changed,
        "removed_after_clean": leftovers,
        "prepare_seconds": round(time.monotonic() - began, 1),
    }
    os.makedirs(os.path.dirname(report_path), exist_ok=True)
    with open(report_path, "w") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
    log(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    {"install": install, "prepare": prepare}[sys.argv[1]](*sys.argv[2:4])
