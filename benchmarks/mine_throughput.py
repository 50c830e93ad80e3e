"""Mining throughput and validation overhead, measured in one run.

    python benchmarks/mine_throughput.py --repo PATH [--workers 2] [--max-tasks 60] [--out DIR]

Prints validated tasks per minute of wall time, and the validation overhead: the time validation
spent on a sample of candidates divided by the bare host time of the SAME test runs (same test files,
same bug state, same number of runs: 2 for a validated task, 1 for an early `no_f2p` reject).
Target (issue #3): overhead <= 2.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from benchmarks.host import host_env, host_environment  # noqa: E402
from gskill.config import load_settings  # noqa: E402
from harnesses.images.build import resolve_snapshot  # noqa: E402
from swesmith.pipeline import MineOptions, mine  # noqa: E402
from swesmith.validate import PYTEST_QUIET, pytest_command  # noqa: E402

console = Console()


def bare_seconds(tree: Path, env: dict, record: dict, runs: int) -> float:
    subprocess.run(["git", "apply", "-"], input=record["bug_patch"], text=True, cwd=tree, check=True)
    try:
        command = pytest_command(tuple(record["test_files"]), PYTEST_QUIET)  # the command validation runs
        began = time.perf_counter()
        for _ in range(runs):
            subprocess.run(
                ["bash", "-c", command], cwd=tree, env={**env, "PYTHONDONTWRITEBYTECODE": "1"}, capture_output=True
            )
        return time.perf_counter() - began
    finally:
        subprocess.run(["git", "checkout", "-q", "--", "."], cwd=tree, check=True)
        subprocess.run(["git", "clean", "-fdq"], cwd=tree, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", required=True, help="local git repo (e.g. a clone of pallets/click)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-tasks", type=int, default=60)
    parser.add_argument("--sample", type=int, default=20, help="candidates re-timed bare on the host")
    parser.add_argument("--out", type=Path, help="mining output (default: a temporary folder, so nothing is cached)")
    args = parser.parse_args()

    settings = load_settings()
    with tempfile.TemporaryDirectory(prefix="gskill-mine-bench-") as tmp:
        out = args.out or Path(tmp) / "mined"
        began = time.monotonic()
        report = mine(args.repo, MineOptions(out=out, workers=args.workers, max_tasks=args.max_tasks), settings)
        wall = time.monotonic() - began
        db = sqlite3.connect(out / "mining_cache.sqlite")
        rows = [(json.loads(c), json.loads(v)) for c, v in db.execute("SELECT candidate, verdict FROM verdicts")]
        # Candidates validated against the shared baseline (historical ones also run their own fixed state).
        timed = [
            (c, v)
            for c, v in rows
            if v["reason"] in ("ok", "no_f2p") and v["validation_time_s"] > 0 and c["strategy"] != "commit-historical"
        ]
        sample = random.Random(0).sample(timed, min(args.sample, len(timed)))
        snapshot = resolve_snapshot(args.repo, None, settings.cache_dir)
        with console.status("timing the same test runs bare on the host"):
            tree, venv = host_environment(snapshot, Path(tmp))
            env = host_env(venv, Path(tmp))
            sandboxed = bare = 0.0
            for candidate, verdict in sample:
                # ok: two runs (+ a few failing tests again for the statement, counted as validation cost)
                runs = 2 if verdict["reason"] == "ok" else 1
                sandboxed += verdict["validation_time_s"]
                bare += bare_seconds(tree, env, candidate, runs)

    table = Table(title=f"mining throughput — {report.repo}@{report.snapshot[:12]}, {args.workers} workers")
    table.add_column("measure")
    table.add_column("value")
    table.add_row("validated tasks", str(sum(report.validated.values())))
    table.add_row("candidates validated (incl. rejects)", str(len(rows)))
    table.add_row("wall time (s)", f"{wall:.1f}")
    rate = (
        f"{sum(report.validated.values()) / (wall / 60):.1f}"
        if report.cached == 0
        else f"n/a ({report.cached} verdicts came from the cache)"
    )
    table.add_row("validated tasks per minute", rate)
    table.add_row("baseline suite (s)", f"{report.baseline_seconds}")
    overhead = sandboxed / bare if bare else float("nan")
    table.add_row(f"validation overhead (sample of {len(sample)})", f"{overhead:.2f}  (target <= 2)")
    console.print(table)


if __name__ == "__main__":
    main()
