"""Where a cargo workspace keeps its packages and targets, read from the files (no cargo needed).

A unit is `<package>/lib`, `<package>/bin/<name>` or `<package>/test/<name>` (see cargotest.py). The
target files follow cargo's conventions (src/lib.rs, src/main.rs, src/bin/N.rs or src/bin/N/main.rs,
tests/N.rs or tests/N/main.rs) and a `path` given for a `[lib]`, `[[bin]]` or `[[test]]` target.
"""

from __future__ import annotations

import posixpath
import re
import tomllib
from typing import Sequence

from languages.base import Reader


def manifest(text: str | None) -> dict:
    try:
        return tomllib.loads(text or "")
    except tomllib.TOMLDecodeError:
        return {}


def package_of_file(path: str, read: Reader) -> tuple[str, str] | None:
    """(package name, package folder) of the innermost Cargo.toml with a [package] above `path`."""
    folder = posixpath.dirname(path)
    while True:
        name = manifest(read(posixpath.join(folder, "Cargo.toml"))).get("package", {}).get("name")
        if isinstance(name, str):
            return name, folder
        if not folder:
            return None
        folder = posixpath.dirname(folder)


def unit_of_file(path: str, read: Reader) -> str:
    """The unit whose tests a file's code is compiled into: a file under tests/ -> that integration
    test (tests/N.rs, tests/N/..., or the declared `[[test]]` whose root declares the file's module,
    as ripgrep's tests/tests.rs with `mod feature;`); src/bin/N -> that binary; other source -> the
    library, or else the package's binary (its one declared `[[bin]]`, or the one whose root folder
    holds the file). A file outside any package is its own unit."""
    found = package_of_file(path, read)
    if found is None:
        return path
    package, folder = found
    relative = path[len(folder) + 1 :] if folder else path
    parts = relative.split("/")
    data = manifest(read(posixpath.join(folder, "Cargo.toml")))
    declared = {kind: _declared(data, kind) for kind in ("test", "bin")}
    if parts[0] == "tests" and len(parts) > 1:
        return f"{package}/test/{_test_target(relative, declared['test'], data, folder, read)}"
    bins = dict(declared["bin"])
    if data.get("package", {}).get("autobins", True) is not False and read(posixpath.join(folder, "src/main.rs")):
        bins.setdefault("src/main.rs", package)
    if (name := bins.get(relative)) is not None:
        return f"{package}/bin/{name}"
    if parts[:2] == ["src", "bin"] and len(parts) > 2:
        return f"{package}/bin/{parts[2].removesuffix('.rs')}"
    lib_path = data.get("lib", {}).get("path", "src/lib.rs")
    if read(posixpath.join(folder, lib_path)) is not None:
        return f"{package}/lib"
    holders = [(posixpath.dirname(root), name) for root, name in bins.items()]
    holders = [(home, name) for home, name in holders if not home or relative.startswith(home + "/")]
    if holders:
        return f"{package}/bin/{max(holders, key=lambda holder: (len(holder[0]), holder[1] == package))[1]}"
    return f"{package}/bin/{package}"


def _declared(data: dict, kind: str) -> dict[str, str]:
    """{root file: target name} of the `[[test]]` or `[[bin]]` targets a manifest names with a path."""
    targets = data.get(kind, [])
    return {
        posixpath.normpath(target["path"]): target["name"]
        for target in (targets if isinstance(targets, list) else [])
        if isinstance(target, dict) and isinstance(target.get("path"), str) and isinstance(target.get("name"), str)
    }


def _test_target(relative: str, declared: dict[str, str], data: dict, folder: str, read: Reader) -> str:
    """The integration test a file under tests/ is compiled into."""
    if relative in declared:
        return declared[relative]
    parts = relative.split("/")
    module = parts[1].removesuffix(".rs")
    automatic = data.get("package", {}).get("autotests", True) is not False
    if not automatic:
        for root, name in declared.items():
            text = read(posixpath.join(folder, root)) or ""
            if re.search(rf"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+{re.escape(module)}\s*;", text, re.M):
                return name
        if len(declared) == 1:
            return next(iter(declared.values()))
    return module


def package_folders(paths: Sequence[str], read: Reader) -> dict[str, str]:
    """{package name: its folder ("" = the root)} of every Cargo.toml with a [package] in a folder
    holding one of `paths` or above one (the paths may be the source files alone)."""
    folders: set[str] = set()
    for path in paths:
        folder = posixpath.dirname(path)
        while folder not in folders:
            folders.add(folder)
            if not folder:
                break
            folder = posixpath.dirname(folder)
    found = {}
    for folder in sorted(folders):
        name = manifest(read(posixpath.join(folder, "Cargo.toml"))).get("package", {}).get("name")
        if isinstance(name, str):
            found.setdefault(name, folder)
    return found


def unit_root_file(unit: str, paths: Sequence[str], read: Reader) -> str | None:
    """The crate root file of a unit (src/lib.rs for `pkg/lib`), None when it cannot be found."""
    package, _, target = unit.partition("/")
    folder = package_folders(paths, read).get(package)
    if folder is None:
        return None
    data = manifest(read(posixpath.join(folder, "Cargo.toml")))
    kind, _, name = target.partition("/")
    if kind == "lib":
        candidates = [data.get("lib", {}).get("path", "src/lib.rs")]
    else:
        table = {"bin": "bin", "test": "test"}.get(kind)
        if table is None:
            return None
        declared = [t.get("path") for t in data.get(table, []) if isinstance(t, dict) and t.get("name") == name]
        if kind == "bin":
            candidates = [*declared, f"src/bin/{name}.rs", f"src/bin/{name}/main.rs"]
            candidates += ["src/main.rs"] if name == package else []
        else:
            candidates = [*declared, f"tests/{name}.rs", f"tests/{name}/main.rs"]
    existing = set(paths)
    for candidate in candidates:
        if isinstance(candidate, str) and posixpath.normpath(posixpath.join(folder, candidate)) in existing:
            return posixpath.normpath(posixpath.join(folder, candidate))
    return None
