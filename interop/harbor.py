"""gskill tasks as Harbor task folders (https://github.com/laude-institute/harbor): one folder a task,

    task.toml        name, metadata (gskill's fields), verifier/agent timeouts, workdir /testbed
    instruction.md   the problem statement (what the agent reads)
    environment/     a Dockerfile FROM the task's env image that builds the agent's starting point
    tests/test.sh    grades /testbed with the task's tests; writes 1 or 0 to /logs/verifier/reward.txt
    solution/        solve.sh applying the gold patch (Harbor's oracle agent runs it)

The starting point and the grading are the ones SWE-bench's export uses (`interop.task_scripts`), so
the three harnesses grade one task alike. The environment is built from a local image: Harbor's Docker
environment needs no registry for it.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from gskill.schema import Task
from interop import ExportContext
from interop.task_scripts import HARBOR_REWARD, grading_lines, start_image_files

_GOLD_PATCH = "/solution/gold.diff"


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid TOML basic string


def task_toml(task: Task, org: str) -> str:
    from harnesses.images.build import slugify

    metadata = {
        "repo": task.repo,
        "language": task.language,
        "strategy": task.strategy.value,
        "split": task.split.value if task.split else "",
        "fail_to_pass": json.dumps(task.FAIL_TO_PASS),
        "pass_to_pass": json.dumps(task.PASS_TO_PASS),
        "gskill_task": task.model_dump_json(),
    }
    lines = [
        'schema_version = "1.4"',
        "",
        "[task]",
        f"name = {_toml_string(f'{slugify(org)}/{slugify(task.instance_id)}')}",
        f"description = {_toml_string(f'{task.repo}: {task.instance_id} ({task.strategy.value})')}",
        f"keywords = [{', '.join(_toml_string(word) for word in ('gskill', task.language, task.strategy.value))}]",
        "",
        "[metadata]",
        *(f"{key} = {_toml_string(value)}" for key, value in metadata.items()),
        "",
        "[verifier]",
        "timeout_sec = 900.0",
        "",
        "[agent]",
        "timeout_sec = 3600.0",
        "",
        "[environment]",
        "build_timeout_sec = 900.0",
        'workdir = "/testbed"',
        "",
    ]
    return "\n".join(lines)


def export_harbor(tasks: list[Task], out_dir: Path, context: ExportContext) -> str:
    """Write one Harbor task folder per task under `out_dir` (an `interop.EXPORTERS` exporter)."""
    from harnesses.images.build import slugify

    folders = []
    for task in tasks:
        folder = out_dir / slugify(task.instance_id)
        files = {
            "task.toml": task_toml(task, context.org).encode(),
            "instruction.md": task.problem_statement.rstrip("\n").encode() + b"\n",
            "tests/test.sh": "\n".join(
                [
                    "#!/bin/bash",
                    "set -uxo pipefail",
                    f"mkdir -p {Path(HARBOR_REWARD).parent}",
                    f"echo 0 > {HARBOR_REWARD}",
                ]
                + grading_lines(task, expect_into=HARBOR_REWARD)
            ).encode()
            + b"\n",
            "solution/gold.diff": task.patch.encode(),
            "solution/solve.sh": (
                f"#!/bin/bash\nset -euo pipefail\ncd /testbed\ngit apply --whitespace=nowarn {shlex.quote(_GOLD_PATCH)}\n"
            ).encode(),
        }
        files |= {f"environment/{name}": data for name, data in start_image_files(task).items()}
        for name, data in files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            if name.endswith(".sh"):
                path.chmod(0o755)
        folders.append(folder)
    return f"wrote {len(folders)} Harbor task folders to {out_dir} (harbor run --path {out_dir} --agent oracle)"
