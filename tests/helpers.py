"""What many test modules share: the CLI as a subprocess, the one-line-error check, optional clients."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[1]
# Under CI=true nothing a test needs may be missing: a skip there would hide an untested path.
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def optional(module: str) -> ModuleType:
    """Import a client only some tests need (the `dev` extra: anthropic, ray, ...): without it the test
    is skipped here, and fails under CI=true."""
    if IN_CI:
        try:
            return __import__(module, fromlist=["_"])
        except ImportError as exc:
            pytest.fail(f"CI=true requires {module} (pip install -e .[dev]): {exc}", pytrace=False)
    return pytest.importorskip(module, reason=f"{module} is not installed (pip install -e .[dev])")


def gskill(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m gskill ARGS` from the checkout's root (so this checkout's packages are imported)."""
    return subprocess.run(
        [sys.executable, "-m", "gskill", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        cwd=cwd or ROOT,
        timeout=600,
    )


def assert_one_line_error(done: subprocess.CompletedProcess, *fragments: str) -> None:
    assert done.returncode != 0, done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in done.stderr


def mine_fixture(repo: Path, out: Path, base_image: str, *args: str) -> subprocess.CompletedProcess:
    """`gskill mine REPO --out OUT ARGS` with the test base image: it must succeed, and no statement it
    wrote may leak (`assert_statements_clean`)."""
    done = gskill("mine", str(repo), "--out", str(out), *args, env={"GSKILL_BASE_IMAGE": base_image})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert_statements_clean(out)
    return done


def assert_statements_clean(tasks_dir: Path) -> None:
    """No mined task's problem statement quotes a line of its gold patch or names a test file: run
    over every task of each fixture mining run."""
    from gskill.schema import patch_files, read_tasks
    from swesmith.statements import leaked_fix_line

    tasks = read_tasks(tasks_dir / "tasks.jsonl")
    for task in tasks:
        statement = task.problem_statement
        assert leaked_fix_line(statement, task.patch) is None, (task.instance_id, statement)
        test_paths = set(patch_files(task.test_patch)) | {
            test.split("::")[0]
            for test in task.FAIL_TO_PASS + task.PASS_TO_PASS
            if "." in test.split("::")[0].rsplit("/", 1)[-1]
        }
        for path in test_paths:
            assert path not in statement, (task.instance_id, path, statement)


_NOTE_PATCH = """diff --git a/GSKILL_NOTE.md b/GSKILL_NOTE.md
new file mode 100644
--- /dev/null
+++ b/GSKILL_NOTE.md
@@ -0,0 +1 @@
+a patch that changes nothing the tests see
"""


def swebench_verdicts(tasks_dir: Path, work: Path, limit: int | None = None) -> dict[str, set[str]]:
    """Export `tasks_dir` (its first `limit` tasks, one of each strategy first) with `gskill export --format swebench` and run swebench's own harness
    (`python -m swebench.harness.run_evaluation`) on it three times: gold patches, empty patches and a
    patch that changes nothing the tests see. Returns {predictions: resolved instance ids}, plus
    "unresolved:<predictions>" entries with the ids swebench graded and found unresolved."""
    import json

    from gskill.schema import read_tasks, write_jsonl

    exported, chosen_tasks = work / "swebench", read_tasks(tasks_dir / "tasks.jsonl")
    if limit is not None:
        firsts = list({task.strategy: task for task in reversed(chosen_tasks)}.values())
        chosen_tasks = (firsts + [task for task in chosen_tasks if task not in firsts])[:limit]
    write_jsonl(work / "chosen.jsonl", chosen_tasks)
    done = gskill("export", str(work / "chosen.jsonl"), "--format", "swebench", "--out", str(exported))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    instances = [json.loads(line) for line in (exported / "instances.jsonl").read_text().splitlines()]
    ids = [instance["instance_id"] for instance in instances]
    predictions = {
        "gold": "gold",
        "empty": [{"instance_id": i, "model_patch": "", "model_name_or_path": "empty"} for i in ids],
        "note": [{"instance_id": i, "model_patch": _NOTE_PATCH, "model_name_or_path": "note"} for i in ids],
    }
    verdicts: dict[str, set[str]] = {}
    for name, chosen in predictions.items():
        path = "gold"
        if chosen != "gold":
            path = str(work / f"{name}.json")
            Path(path).write_text(json.dumps(chosen))
        run = subprocess.run(
            [sys.executable, "-m", "swebench.harness.run_evaluation", "-d", str(exported / "instances.jsonl")]
            + ["-p", path, "--run_id", f"gskill-{name}", "--max_workers", "2", "--report_dir", str(work)],
            capture_output=True,
            text=True,
            cwd=work,
            timeout=900,
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        report = json.loads((work / f"{name}.gskill-{name}.json").read_text())
        verdicts[name] = set(report["resolved_ids"])
        verdicts[f"unresolved:{name}"] = set(report["unresolved_ids"])
    verdicts["all"] = set(ids)
    return verdicts


def assert_swebench_grades_like_gskill(tasks_dir: Path, work: Path, limit: int | None = None) -> None:
    """swebench's harness on the exported tasks: gold resolves every one, an empty patch none, and an
    irrelevant patch none while its tests did run (every task graded unresolved, none skipped)."""
    verdicts = swebench_verdicts(tasks_dir, work, limit)
    assert verdicts["gold"] == verdicts["all"] and len(verdicts["all"]) == (limit or len(verdicts["all"]))
    assert verdicts["empty"] == set()
    assert verdicts["note"] == set() and verdicts["unresolved:note"] == verdicts["all"]
