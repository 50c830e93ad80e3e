"""Real mined tasks through SWE-bench's own harness: `gskill export --format swebench`, then
`python -m swebench.harness.run_evaluation` with gold patches, and with a patch that changes nothing
the tests see. Every task should resolve with gold and none with the irrelevant patch (its tests ran
and FAIL_TO_PASS failed); anything else is a task gskill and swebench grade differently.

    .venv/bin/python benchmarks/swebench_export.py RUN_FOLDER [RUN_FOLDER ...] [--tasks 10]

RUN_FOLDER is a `gskill mine --out` folder whose env image is present locally. The first `--tasks`
tasks of its test split are taken (one of each strategy first). Prints a row per folder: tasks,
resolved with gold, resolved with the irrelevant patch, the export's and each evaluation's wall time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gskill.schema import read_tasks, write_jsonl  # noqa: E402
from tests.helpers import swebench_verdicts  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--tasks", type=int, default=10, help="Tasks per folder (default 10).")
    args = parser.parse_args()
    print("| repo | language | tasks (strategies) | gold resolved | irrelevant patch resolved | wall s |")
    print("|---|---|---|---|---|---|")
    for folder in args.folders:
        tasks = read_tasks(folder / "test.jsonl") or read_tasks(folder / "tasks.jsonl")
        with tempfile.TemporaryDirectory() as scratch:
            work = Path(scratch)
            write_jsonl(work / "source" / "tasks.jsonl", tasks)
            began = time.monotonic()
            verdicts = swebench_verdicts(work / "source", work / "out", limit=args.tasks)
            elapsed = time.monotonic() - began
            chosen = read_tasks(work / "out" / "chosen.jsonl")
        strategies = ", ".join(f"{name} {count}" for name, count in Counter(t.strategy.value for t in chosen).items())
        print(
            f"| {chosen[0].repo} | {chosen[0].language} | {len(chosen)} ({strategies}) "
            f"| {len(verdicts['gold'])}/{len(verdicts['all'])} | {len(verdicts['note'])} "
            f"(graded unresolved: {len(verdicts['unresolved:note'])}) | {elapsed:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
