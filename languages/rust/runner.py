"""Run inside a sandbox (stdlib only, python3 of the base image): `cargo test` one unit at a time.

    python3 /tmp/gskill-cargotest.py run [UNIT FILTER]...   # FILTER: space-separated test names, "" = all
    python3 /tmp/gskill-cargotest.py list UNIT               # build the unit, list its tests

A unit is `<package>/lib`, `<package>/bin/<name>` or `<package>/test/<name>` (a workspace member's
test target); no pairs = every unit of the workspace (`cargo metadata`). Each unit runs as
`cargo test -p PACKAGE --lib|--bin N|--test N --no-fail-fast -- --exact NAMES`, its output framed by
`--- gskill-unit UNIT` and `--- gskill-unit-end UNIT rc=N`, because libtest's own output names
neither the package nor the target (`Running tests/api.rs`). One `cargo test --no-run` per package
involved first compiles the selected targets (all of them for a whole-suite run) in parallel; its
output is dropped (each unit's run prints its own build errors). Exit status: non-zero if any unit
failed.
"""

import json
import subprocess
import sys

_LIB_KINDS = {"lib", "rlib", "dylib", "cdylib", "staticlib", "proc-macro"}


def workspace_units():
    """{unit: (package, cargo target flags)} of every workspace member target with tests."""
    done = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--offline", "--format-version", "1"], capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.stdout.write(done.stderr)
        sys.exit(101)
    meta = json.loads(done.stdout)
    members = set(meta["workspace_members"])
    units = {}
    for package in meta["packages"]:
        if package["id"] not in members:
            continue
        name = package["name"]
        for target in package["targets"]:
            kinds = set(target["kind"])
            if not target.get("test", True):
                continue
            if "test" in kinds:
                units[f"{name}/test/{target['name']}"] = (name, ["--test", target["name"]])
            elif "bin" in kinds:
                units[f"{name}/bin/{target['name']}"] = (name, ["--bin", target["name"]])
            elif kinds & _LIB_KINDS:
                units[f"{name}/lib"] = (name, ["--lib"])
    return units


def cargo_test(package, flags, tail):
    command = ["cargo", "test", "--offline", "--no-fail-fast", "-p", package, *flags, "--", *tail]
    sys.stdout.flush()
    return subprocess.run(command, stderr=subprocess.STDOUT).returncode


def run(pairs):
    known = workspace_units()
    wanted = list(zip(pairs[::2], pairs[1::2])) if pairs else [(unit, "") for unit in known]
    flags = {}  # package -> the target flags of its units in this run (only those are compiled)
    for unit, _ in wanted:
        if unit in known:
            flags.setdefault(known[unit][0], []).extend(known[unit][1])
    for package, targets in sorted(flags.items()):
        build = ["cargo", "test", "--offline", "--no-run", "-p", package, *(targets if pairs else ["--tests"])]
        subprocess.run(build, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    failed = 0
    for unit, names in wanted:
        if unit not in known:  # a helper under tests/ is no target: nothing to run
            print(f"--- gskill-unit-missing {unit}", flush=True)
            continue
        package, flags = known[unit]
        print(f"\n--- gskill-unit {unit}", flush=True)
        tail = ["--exact", *names.split()] if names.strip() else []
        code = cargo_test(package, flags, tail)
        print(f"\n--- gskill-unit-end {unit} rc={code}", flush=True)
        failed = failed or code
    return 1 if failed else 0


def list_unit(unit):
    known = workspace_units()
    if unit not in known:
        return 0
    package, flags = known[unit]
    return cargo_test(package, flags, ["--list"])


if __name__ == "__main__":
    if sys.argv[1] == "run":
        sys.exit(run(sys.argv[2:]))
    sys.exit(list_unit(sys.argv[2]))
