"""The Node part of an env image, and what a skill draft says about a JS/TS repository's layout.

Node is the version the repository asks for (`engines.node`, else `.nvmrc`, else `.node-version`;
else the default LTS), resolved and unpacked by `image_setup.py` from the npm registry; dependencies
are installed by the client the lock file names, with network at build only. Tests then run offline.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path
from typing import Sequence

from languages.base import ImageRecipe, Reader
from languages.typescript.source import SUFFIXES, is_test_file

SETUP_SCRIPT = Path(__file__).with_name("image_setup.py")
LOCK_FILES = ("package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock")

_TOOLCHAIN = """\
# Node: {why}
COPY gskill/node_setup.py /opt/gskill/node_setup.py
RUN python3 /opt/gskill/node_setup.py install {spec} /usr/local/node
ENV PATH=/usr/local/node/bin:$PATH
"""
_STEPS = """\
# Dependencies by the lock file's client, no lifecycle scripts; nothing built from the snapshot stays.
RUN python3 /opt/gskill/node_setup.py prepare /opt/gskill/env.json {tests}
"""


def package_json(read: Reader) -> dict:
    try:
        data = json.loads(read("package.json") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def node_spec(read: Reader) -> tuple[str, str]:
    """(the Node version range the repository asks for, where it says so); ("", ...) = the default."""
    engines = package_json(read).get("engines")
    if isinstance(engines, dict) and isinstance(engines.get("node"), str) and engines["node"].strip():
        return engines["node"].strip(), "package.json engines.node"
    for name in (".nvmrc", ".node-version"):
        text = (read(name) or "").strip().splitlines()
        if text and text[0].strip():
            return text[0].strip(), name
    return "", "no engines.node, .nvmrc or .node-version"


def _digest(text: str | None) -> str:
    return hashlib.sha256((text or "").encode()).hexdigest()[:16]


def recipe(paths: Sequence[str], read: Reader) -> ImageRecipe:
    spec, source = node_spec(read)
    why = f"{source}: {spec!r}" if spec else f"{source} -> the default LTS"
    lock = next((name for name in LOCK_FILES if name in paths), None)
    # What the image reports as collected: test files by the profile's rule (counting tests would
    # run the suite at build, and a runner's caches would keep the snapshot's transformed code).
    tests = sum(is_test_file(path) and path.endswith(SUFFIXES) for path in paths)
    return ImageRecipe(
        toolchain_steps=_TOOLCHAIN.format(why=why.replace("\n", " "), spec=shlex.quote(spec) if spec else "''"),
        steps=_STEPS.format(tests=tests),
        files={"gskill/node_setup.py": SETUP_SCRIPT.read_bytes()},
        sources=(f"node: {why}", f"dependencies: {lock or 'package.json without a lock file'} -> {client_of(lock)}"),
        key={"node": spec, "package.json": _digest(read("package.json")), "lock": _digest(read(lock) if lock else "")},
    )


def client_of(lock: str | None) -> str:
    return {"pnpm-lock.yaml": "pnpm install", "yarn.lock": "yarn install"}.get(
        lock or "", "npm ci" if lock else "npm install"
    )


def layout_notes(paths: Sequence[str], read: Reader) -> list[str]:
    package = package_json(read)
    scripts = package.get("scripts") if isinstance(package.get("scripts"), dict) else {}
    notes = [f"Node package `{package.get('name', '?')}` (package.json at the root)."]
    lock = next((name for name in LOCK_FILES if name in paths), None)
    notes.append(f"Dependencies: {client_of(lock)}; installed in node_modules/ (offline: no network in the sandbox).")
    if scripts.get("test"):
        notes.append(
            f"Test script: `{scripts['test']}` (run one file with the runner directly, e.g. `npx vitest run FILE`)."
        )
    tests = [
        path for path in paths if is_test_file(path) and path.endswith((".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs"))
    ]
    folders = sorted({path.split("/", 1)[0] for path in paths if "/" in path and not path.startswith(".")})[:20]
    notes.append(f"{len(tests)} test files; top-level folders: {', '.join(f'`{f}/`' for f in folders)}.")
    if "tsconfig.json" in paths:
        notes.append("TypeScript: tsconfig.json at the root (`npx tsc --noEmit` type-checks).")
    return notes
