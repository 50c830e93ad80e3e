"""Mining throughput and validation overhead, measured in one run, for any language profile.

    python benchmarks/mine_throughput.py --repo PATH [--workers 2] [--max-tasks 60] [--sample 20]
                                         [--repeats 3] [--out DIR]

Mines, then re-validates a sample of the verdicts in one sandbox, each candidate followed at once by
the SAME test runs bare on the host (`host.py`): the profile's own `command(selection, "first")`, then
"repeat" for a validated task's second run, on the same bug state. Overhead = sandbox validation time
(upload, apply, build check, runs, gold patch, reset, parsing) / bare test time; one ratio per repeat,
reported as median and range. Both sides are warmed first by one whole-suite run. The figures also go
to OUT/mine_throughput.json. Targets: overhead <= 1.5; 310 tasks of a mid-size repo in <= 15 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from benchmarks.host import Host, host_environment  # noqa: E402
from gskill.config import load_settings  # noqa: E402
from harnesses.images.build import resolve_snapshot  # noqa: E402
from harnesses.sandbox import DockerSandbox  # noqa: E402
from languages import profile_named  # noqa: E402
from swesmith.pipeline import MineOptions, mine  # noqa: E402
from swesmith.store import MiningStore, candidate_from_json  # noqa: E402
from swesmith.validate import Baseline, validate  # noqa: E402

console = Console()


class TimedSandbox:
    """A sandbox that records how long each of its round trips took, by what it did."""

    def __init__(self, box) -> None:
        self.box, self.workdir, self.backend = box, box.workdir, box.backend
        self.calls: list[tuple[str, float]] = []

    def __getattr__(self, name):  # what validation never times (read_file, diff)
        return getattr(self.box, name)

    def exec(self, cmd: str, timeout=None, env=None, workdir=None):
        result = self.box.exec(cmd, timeout=timeout, env=env, workdir=workdir)
        if cmd.startswith(("git checkout", "git diff -R")):
            kind = "exec: reset" if cmd.startswith("git checkout") else "exec: gold patch + reset"
        else:
            steps = ["apply"] * ("git apply" in cmd) + ["test run"] + ["gold patch + reset"] * ("git diff -R" in cmd)
            kind = "exec: " + " + ".join(steps)
        self.calls.append((kind, result.duration_s))
        return result

    def write_files(self, files, mode=0o644) -> None:
        began = time.monotonic()
        self.box.write_files(files, mode)
        self.calls.append(("upload", time.monotonic() - began))

    def write_file(self, path, content, mode=0o644) -> None:
        self.write_files({path: content}, mode)


def bare_runs(host: Host, baseline: Baseline, candidate, runs: int) -> list[float]:
    """Seconds of each of the validation's test runs of `candidate` on the host: "first", then
    "repeat"s, with the test time limit mining gives them (Go then runs prebuilt test binaries)."""
    spec, limit = baseline.spec, baseline.test_limit(candidate.test_files)
    patch = host.tree.parent / "candidate.diff"
    patch.write_text(candidate.bug_patch)
    host.run(f"git apply --whitespace=nowarn {patch}", check=True)
    try:
        return [
            host.run(spec.command(candidate.test_files, "first" if run == 0 else "repeat", limit))
            for run in range(runs)
        ]
    finally:
        host.run("git checkout -q -- . && git clean -fdq", check=True)


def overhead_round(box: TimedSandbox, host: Host, baseline: Baseline, sample, timeout: float) -> dict:
    """One pass over the sample: per candidate, validation in the sandbox then the same runs bare."""
    sandboxed = bare = 0.0
    calls: dict[str, list[float]] = defaultdict(list)
    changed = 0
    for candidate, reason in sample:
        box.calls = []
        began = time.monotonic()
        verdict = validate(box, candidate, baseline, timeout=timeout, limit_s=baseline.test_limit(candidate.test_files))
        elapsed = time.monotonic() - began
        if verdict.reason != reason:  # a flaky test: not the same runs any more
            changed += 1
            continue
        sandboxed += elapsed
        runs = bare_runs(host, baseline, candidate, 2 if reason == "ok" else 1)
        bare += sum(runs)
        for index, seconds in enumerate(runs):
            calls["bare: first run" if index == 0 else "bare: repeat run"].append(seconds)
        for kind, seconds in box.calls:
            calls[kind].append(seconds)
        calls["host side (parsing, bookkeeping)"].append(elapsed - sum(seconds for _, seconds in box.calls))
    count = len(sample) - changed
    return {
        "ratio": sandboxed / bare if bare else float("nan"),
        "sandbox_s_per_candidate": sandboxed / max(count, 1),
        "bare_s_per_candidate": bare / max(count, 1),
        "calls": {
            kind: {"per_candidate": len(times) / max(count, 1), "mean_s": statistics.mean(times)}
            for kind, times in calls.items()
        },
        "verdict_changed": changed,
        "load": os.getloadavg()[0],
    }


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}  [{min(values):.2f} – {max(values):.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", required=True, help="local git repo (e.g. a clone of pallets/jinja)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-tasks", type=int, default=60)
    parser.add_argument("--sample", type=int, default=20, help="candidates re-validated and re-run bare")
    parser.add_argument("--repeats", type=int, default=3, help="passes over the sample (one ratio each)")
    parser.add_argument("--out", type=Path, help="mining output (default: a temporary folder, so nothing is cached)")
    args = parser.parse_args()

    settings = load_settings()
    with tempfile.TemporaryDirectory(prefix="gskill-mine-bench-") as tmp:
        out = args.out or Path(tmp) / "mined"
        load_before = os.getloadavg()[0]
        began = time.monotonic()
        report = mine(args.repo, MineOptions(out=out, workers=args.workers, max_tasks=args.max_tasks), settings)
        wall = time.monotonic() - began
        load_mining = os.getloadavg()[0]

        store = MiningStore(out / "mining_cache.sqlite")
        rows = [
            (json.loads(c), json.loads(v))
            for c, v in sqlite3.connect(out / "mining_cache.sqlite").execute("SELECT candidate, verdict FROM verdicts")
        ]
        # Candidates validated against the shared baseline with a known number of runs (historical
        # ones also run their own fixed state).
        timed = [
            (candidate_from_json(c), v)
            for c, v in rows
            if v["reason"] in ("ok", "no_f2p") and "gold_patch" not in c.get("meta", {})
        ]
        sample = random.Random(0).sample(timed, min(args.sample, len(timed)))
        baseline = Baseline.from_json(store.get_meta(f"baseline:{report.image}:2"))
        profile = profile_named(report.language)
        with console.status("bare host environment"):
            host = host_environment(resolve_snapshot(args.repo, None, settings.cache_dir), profile, Path(tmp))
        with DockerSandbox.start(report.image, limits=settings.limits.offline()) as docker_box:
            box = TimedSandbox(docker_box)
            with console.status("warming the sandbox and the host (one whole-suite run each)"):
                box.exec(profile.test_spec.command((), "baseline"), timeout=1800, env=dict(profile.test_spec.env))
                host.run(profile.test_spec.command((), "baseline"))
            rounds = []
            for index in range(args.repeats):
                with console.status(f"overhead, pass {index + 1}/{args.repeats}"):
                    rounds.append(overhead_round(box, host, baseline, [(c, v["reason"]) for c, v in sample], 600))
        # The same sample's validation times as mining measured them, sandboxes running side by side.
        during_mining = statistics.mean(v["validation_time_s"] for _, v in sample) / statistics.median(
            r["bare_s_per_candidate"] for r in rounds
        )

    validated = sum(report.validated.values())
    figures = {
        "repo": report.repo,
        "snapshot": report.snapshot,
        "language": report.language,
        "workers": args.workers,
        "validated_tasks": validated,
        "validated_per_strategy": report.validated,
        "verdicts": len(rows),
        "cached_verdicts": report.cached,
        "mining_wall_s": round(wall, 1),
        "tasks_per_minute": round(validated / (wall / 60), 2) if report.cached == 0 else None,
        "baseline_suite_s": report.baseline_seconds,
        "load_before_mining": load_before,
        "load_after_mining": load_mining,
        "sample": len(sample),
        "overhead_rounds": rounds,
        "overhead_median": statistics.median(r["ratio"] for r in rounds),
        "overhead_during_mining": round(during_mining, 3),
    }
    (out / "mine_throughput.json").write_text(json.dumps(figures, indent=2))

    table = Table(
        title=f"mining throughput — {report.repo}@{report.snapshot[:12]} ({report.language}), {args.workers} workers"
    )
    table.add_column("measure")
    table.add_column("value")
    table.add_row("validated tasks", f"{validated}  {report.validated}")
    table.add_row("verdicts (incl. rejects)", f"{len(rows)} ({report.cached} from the cache)")
    table.add_row("wall time (s)", f"{wall:.1f}  (load {load_before:.1f} before, {load_mining:.1f} after)")
    table.add_row("validated tasks per minute", str(figures["tasks_per_minute"] or "n/a (cached verdicts)"))
    table.add_row("baseline suite (s)", f"{report.baseline_seconds}")
    table.add_row(
        f"overhead, one sandbox (sample {len(sample)}, {len(rounds)} passes)",
        spread([r["ratio"] for r in rounds]) + "  (target <= 1.5)",
    )
    table.add_row("  sandbox s / candidate", spread([r["sandbox_s_per_candidate"] for r in rounds]))
    table.add_row("  bare s / candidate", spread([r["bare_s_per_candidate"] for r in rounds]))
    for kind in rounds[0]["calls"]:
        per = [r["calls"][kind]["mean_s"] for r in rounds if kind in r["calls"]]
        table.add_row(f"    {kind} ({rounds[0]['calls'][kind]['per_candidate']:.2f} per candidate), s", spread(per))
    table.add_row("  verdicts changed on re-validation", str([r["verdict_changed"] for r in rounds]))
    table.add_row("  load during the passes", str([round(r["load"], 1) for r in rounds]))
    table.add_row("overhead during mining (workers concurrent)", f"{during_mining:.2f}")
    console.print(table)


if __name__ == "__main__":
    main()
