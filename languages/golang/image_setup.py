"""Run inside an env image build (stdlib only, python3 of the base image): the Go part of the image.

    python3 image_setup.py install VERSION GOROOT   # the toolchain zip from the module proxy -> GOROOT
    python3 image_setup.py prepare VERSION REPORT   # modules, a build cache of dependencies, the report (JSON)

The build cache gets the standard library and the dependencies only, never the repository's own
packages: compiled snapshot code in the image would survive a bug patch and could reveal the fix.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile

PROXY = "https://proxy.golang.org"
_TEST_NAME = re.compile(r"^(?:Test|Example|Fuzz)\w*$")


def log(message: str) -> None:
    print(f"[gskill-go] {message}", flush=True)


def install(version: str, goroot: str) -> None:
    url = f"{PROXY}/golang.org/toolchain/@v/v0.0.1-go{version}.linux-amd64.zip"
    root = f"golang.org/toolchain@v0.0.1-go{version}.linux-amd64/"
    with tempfile.TemporaryFile() as archive:
        for attempt in range(3):
            try:
                archive.seek(0)
                archive.truncate()
                with urllib.request.urlopen(url, timeout=120) as response:
                    shutil.copyfileobj(response, archive, 1 << 20)
                break
            except OSError as exc:
                if attempt == 2:
                    sys.exit(f"gskill: cannot download go{version} from {url}: {exc}")
                time.sleep(5 * (attempt + 1))
        archive.seek(0)
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.infolist():
                if not member.filename.startswith(root) or member.is_dir():
                    continue
                target = os.path.join(goroot, member.filename[len(root) :])
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with bundle.open(member) as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink)
                # zipfile drops permissions: they live in the high bits of external_attr.
                mode = (member.external_attr >> 16) & 0o777
                os.chmod(target, mode or 0o644)
    log(f"installed go{version} in {goroot}")


def go(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["go", *args], capture_output=True, text=True, env={**os.environ, **(env or {})})
    if check and done.returncode != 0:
        sys.exit(f"gskill: go {' '.join(args[:3])} failed:\n{done.stderr[-3000:]}")
    return done


def scratch_cache() -> str:
    """A copy of the build cache for a command that reads the repository's own packages (go list keeps
    their file index and generated test mains in the cache); the caller deletes it."""
    scratch = tempfile.mkdtemp(prefix="gskill-gocache-")
    if os.path.isdir(os.environ["GOCACHE"]):
        shutil.copytree(os.environ["GOCACHE"], scratch, dirs_exist_ok=True)
    return scratch


def dependency_packages(module: str) -> list[str]:
    """Every package the module's packages and tests import, the module's own excluded."""
    scratch = scratch_cache()
    try:
        listed = go("list", "-e", "-deps", "-test", "./...", env={"GOCACHE": scratch}).stdout
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    own = (module, module + "/")
    packages = {
        line.strip()
        for line in listed.splitlines()
        # test variants ("p [p.test]") and generated test mains ("p.test") are the module's own
        if line.strip() and " " not in line and not line.strip().endswith(".test")
    }
    return sorted(package for package in packages if package != module and not package.startswith(own))


def count_tests() -> tuple[int, list[str]]:
    """(test functions `go test -list` finds, packages whose tests do not build), compiled against a
    throwaway copy of the cache, so the repository's compiled packages never reach the image."""
    scratch = scratch_cache()
    try:
        done = go("test", "-list", ".", "./...", env={"GOCACHE": scratch}, check=False)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    output = done.stdout + done.stderr
    collected = sum(1 for line in output.splitlines() if _TEST_NAME.match(line.strip()))
    broken = sorted(set(re.findall(r"^FAIL\s+(\S+)\s+\[(?:build|setup) failed\]", output, re.M)))
    return collected, broken


def snapshot_files_changed() -> list[str]:
    done = subprocess.run(["git", "status", "--porcelain", "--", "go.mod", "go.sum"], capture_output=True, text=True)
    return [line[3:] for line in done.stdout.splitlines()]


def prepare(version: str, report_path: str) -> None:
    began = time.monotonic()
    go("mod", "download", env={"GOPROXY": PROXY})
    module = go("list", "-m").stdout.strip().splitlines()[0]
    dependencies = dependency_packages(module)
    if dependencies:
        # -mod=mod lets go list/build add what go.sum lacks; network is only here, at build.
        warmed = go("build", *dependencies, env={"GOPROXY": PROXY}, check=False)
        if warmed.returncode != 0:
            log(f"some dependencies do not build (tests of packages using them will not):\n{warmed.stderr[-2000:]}")
    # -mod=mod may have completed go.mod/go.sum: make that part of the snapshot commit, or every diff an
    # agent or a candidate makes would carry it.
    changed = snapshot_files_changed()
    if changed:
        subprocess.run(["git", "commit", "-q", "--amend", "--no-verify", "--no-edit", "--", *changed], check=True)
        log(f"completed {', '.join(changed)} (amended into the snapshot commit)")
    collected, broken = count_tests()
    report = {
        "language": "go",
        "go_version": version,
        "module": module,
        "collected": collected,
        "dependency_packages": len(dependencies),
        "broken_packages": broken,
        "completed_files": changed,
        "prepare_seconds": round(time.monotonic() - began, 1),
    }
    os.makedirs(os.path.dirname(report_path), exist_ok=True)
    with open(report_path, "w") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
    log(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    {"install": install, "prepare": prepare}[sys.argv[1]](*sys.argv[2:4])
