"""Harness overhead per rollout, outside the model's own time, with the scripted oracle.

    python benchmarks/harness_overhead.py                       # fixture tasks mined on the fly
    python benchmarks/harness_overhead.py --tasks DIR [--n 10]  # tasks from `gskill mine`

For each task, one rollout is timed phase by phase: task container ready (bug state, hidden tests,
fresh git), the agent loop minus the model's time (the gateway records each call's seconds),
patch extraction, and grading minus the task's own test time (the pytest run inside the grader).
    overhead = wall − model time − test time.
Target (issue #4): overhead <= 3 s per task. Medians over tasks; all figures from this one run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from gskill.schema import read_tasks  # noqa: E402
from harnesses.gateway.server import Gateway  # noqa: E402
from harnesses.grading import PYTEST, grade, test_files_of  # noqa: E402
from harnesses.agents.mini import run_mini  # noqa: E402
from harnesses.rollout import scripted_metadata  # noqa: E402
from harnesses.sandbox import DockerSandbox  # noqa: E402
from harnesses.taskenv import open_task_sandbox  # noqa: E402

console = Console()


def fixture_tasks(root: Path) -> Path:
    from tests.repo_factory import make_history_repo
    from tests.helpers import gskill

    repo, _ = make_history_repo(root / "history")
    out = root / "mined"
    done = gskill("mine", str(repo), "--out", str(out), "--strategies", "commit-mirror,procedural", "--max-tasks", "6")
    if done.returncode != 0:
        sys.exit(done.stderr[-2000:])
    return out


def test_seconds(task) -> float:
    """The task's own test time: the grader's pytest command on the fixed state, in a container."""
    import shlex

    with DockerSandbox.start(task.image_name) as box:
        if task.bug_patch:
            box.write_file("/tmp/b.diff", task.bug_patch)
            box.exec("git apply /tmp/b.diff && rm /tmp/b.diff", timeout=60)
        box.write_file("/tmp/p.diff", task.patch)
        box.exec("git apply /tmp/p.diff && rm /tmp/p.diff", timeout=60)
        command = " ".join([PYTEST, *(shlex.quote(path) for path in test_files_of(task))])
        return box.exec(command, timeout=300).duration_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=Path, help="mining output folder (default: fixture tasks mined now)")
    parser.add_argument("--n", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gskill-harness-bench-") as tmp:
        folder = args.tasks or fixture_tasks(Path(tmp))
        tasks = read_tasks(folder / "tasks.jsonl")[: args.n]
        rows = []
        with Gateway() as gateway:
            for task in tasks:
                trace = Path(tmp) / f"{task.instance_id}.jsonl"
                session = gateway.open_session(
                    model="scripted/oracle", trace_path=trace, metadata=scripted_metadata(task, seed=0, attempt=1)
                )
                began = time.perf_counter()
                box = open_task_sandbox(task)
                ready = time.perf_counter()
                outcome = run_mini(
                    box,
                    problem_statement=task.problem_statement,
                    skill="",
                    base_url=session.base_url,
                    token=session.token,
                    model_label="oracle",
                    step_limit=50,
                    cost_limit=3.0,
                    wall_time_limit_s=600,
                    command_timeout_s=120,
                )
                agent_done = time.perf_counter()
                patch = box.diff()
                box.stop()
                extracted = time.perf_counter()
                verdict = grade(task, patch)
                graded = time.perf_counter()
                gateway.close_session(session)
                model_s = sum(json.loads(line)["seconds"] for line in trace.read_text().splitlines())
                tests_s = test_seconds(task)
                wall = graded - began
                rows.append(
                    {
                        "task": task.instance_id,
                        "status": verdict.status.value,
                        "exit": outcome.exit_status,
                        "ready": ready - began,
                        "agent_minus_model": agent_done - ready - model_s,
                        "model": model_s,
                        "patch_and_stop": extracted - agent_done,
                        "grade_minus_tests": graded - extracted - tests_s,
                        "tests": tests_s,
                        "wall": wall,
                        "overhead": wall - model_s - tests_s,
                    }
                )
    table = Table(title="harness overhead per rollout (scripted oracle), seconds")
    columns = [
        "ready",
        "agent_minus_model",
        "model",
        "patch_and_stop",
        "grade_minus_tests",
        "tests",
        "wall",
        "overhead",
    ]
    table.add_column("task")
    table.add_column("status")
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(row["task"][-24:], row["status"], *(f"{row[c]:.2f}" for c in columns))
    table.add_row("median", "", *(f"{statistics.median(r[c] for r in rows):.2f}" for c in columns))
    console.print(table)
    median = statistics.median(r["overhead"] for r in rows)
    console.print(
        f"median overhead {median:.2f} s per task (target <= 3 s); resolved {sum(r['status'] == 'resolved' for r in rows)}/{len(rows)}"
    )


if __name__ == "__main__":
    main()
