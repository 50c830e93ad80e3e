"""How many Go mutations still compile: random functions of a Go module, one mutation per kind each,
type-checked with the package's tests by `go vet` with the analyzers `go test` runs (a mutation that
fails them fails `go test` too). The tree is never written: each mutated file goes in a `-overlay`.

    python benchmarks/go_mutation_compile_rate.py /tmp/copy-of-a-go-module [--functions 200]

Run `go mod download` in the module first (vet runs with the module cache as it is).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from languages.golang.mutate import mutations_of
from languages.golang.source import is_source_file, parse_entities

GO_TEST_VET = ["-atomic", "-bools", "-buildtag", "-directive", "-errorsas", "-ifaceassert", "-nilfunc", "-printf"]
GO_TEST_VET += ["-stringintconv", "-tests"]


def compiles(repo: Path, path: str, new_text: str) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory(prefix="gomut-") as tmp:
        mutated, overlay = Path(tmp, "mutated.go"), Path(tmp, "overlay.json")
        mutated.write_text(new_text)
        overlay.write_text(json.dumps({"Replace": {str(repo / path): str(mutated)}}))
        package = "./" + str(Path(path).parent)
        done = subprocess.run(
            ["go", "vet", f"-overlay={overlay}", *GO_TEST_VET, package],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
        )
    errors = [line for line in done.stderr.splitlines() if not line.startswith("#")]
    return done.returncode == 0, (errors or [""])[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("repo", type=Path)
    parser.add_argument("--functions", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    repo = args.repo.resolve()
    listed = subprocess.run(
        ["git", "ls-files", "*.go", "*/go.mod"], cwd=repo, capture_output=True, text=True, check=True
    )
    files = {path: (repo / path).read_text() for path in listed.stdout.split() if is_source_file(path)}
    # Files behind build constraints may not be compiled on this host at all (they would pass
    # trivially); nested modules are not the root module's packages.
    nested = [str(Path(path).parent) + "/" for path in listed.stdout.split() if path.endswith("/go.mod")]
    files = {
        path: text
        for path, text in files.items()
        if "//go:build" not in text and not any(path.startswith(folder) for folder in nested)
    }
    functions = sorted((path, name) for path, text in files.items() for name in parse_entities(text))
    rng = random.Random(args.seed)
    jobs = []
    for path, name in rng.sample(functions, min(args.functions, len(functions))):
        by_kind: dict[str, list] = {}
        for mutation in mutations_of(files[path], name):
            by_kind.setdefault(mutation.kind, []).append(mutation)
        jobs += [(path, name, rng.choice(mutations)) for mutations in by_kind.values()]
    with ThreadPoolExecutor(args.workers) as pool:
        results = list(pool.map(lambda job: compiles(repo, job[0], job[2].new_source), jobs))
    total, passed = Counter(), Counter()
    for (path, name, mutation), (ok, error) in zip(jobs, results):
        total[mutation.kind] += 1
        passed[mutation.kind] += ok
        if not ok:
            print(f"FAIL {mutation.kind} {path}:{mutation.line} {name}: {error}")
    for kind in sorted(total):
        print(f"{kind:22} {passed[kind]:4}/{total[kind]:<4} {passed[kind] / total[kind]:6.1%}")
    print(
        f"{'all':22} {sum(passed.values()):4}/{sum(total.values()):<4} {sum(passed.values()) / sum(total.values()):6.1%}"
    )


if __name__ == "__main__":
    main()
