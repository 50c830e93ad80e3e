"""SWE-bench 5.x instances out of gskill tasks, and gskill tasks out of SWE-bench / SWE-smith instances.

Export. swebench's harness (`python -m swebench.harness.run_evaluation -d tasks.jsonl -p PREDS`) starts
each instance's `image`, applies the prediction in `/testbed` and runs its `eval_script`; the verdict
comes from `log_parser` over the lines between its markers. So each task gets an image holding the
agent's starting point (`interop.task_scripts.start_image_files`: gskill's `bug_patch` applied, the
FAIL_TO_PASS tests cut out by reversing `test_patch`, one fresh commit) and an eval script that
restores the tests from `test_patch` and prints our parser's outcomes (`grading_lines`). `patch` stays
the gold fix against that state, as in SWE-bench; gskill's own fields ride along unchanged (swebench
ignores keys it does not know), so `gskill import` gets the same tasks back.

Import. An instance that carries gskill's fields is a gskill task already. Any other SWE-bench-style
instance (SWE-bench, SWE-smith) needs its image present locally; a thin image `FROM` it links /repo
(where gskill works) to /testbed, applies `test_patch` (gskill's images hold the tests; its sandboxes
cut them out) and puts SWE-bench's conda env first on PATH. Its tests must be
pytest node ids (gskill runs them with its Python profile); other log parsers are refused by name.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

from gskill.errors import GskillError
from gskill.schema import Strategy, Task
from interop import ExportContext
from interop.task_scripts import SWEBENCH_LOG_PARSER, grading_lines, start_image_files
from swesmith.patches import reverse_patch

# Fields swebench's harness reads from every instance (swebench.harness.utils.make_test_spec).
HARNESS_FIELDS = ("instance_id", "image", "repo", "version", "FAIL_TO_PASS", "PASS_TO_PASS", "log_parser", "eval_type")
REQUIRED_FOR_IMPORT = ("instance_id", "repo", "base_commit", "patch", "problem_statement", "FAIL_TO_PASS")
# Log parsers whose test ids are pytest node ids (`path::name`), which gskill's Python profile runs.
PYTEST_PARSERS = {"", "parse_log_pytest", "parse_log_pytest_options", "parse_log_pytest_v2"}


def image_tag(prefix: str, task_id: str, context: dict[str, bytes]) -> str:
    """A local image name for one task's context: content-addressed, so a changed task is rebuilt."""
    from harnesses.images.build import slugify

    digest = hashlib.sha256(b"".join(name.encode() + data for name, data in sorted(context.items()))).hexdigest()
    return f"{prefix}/{slugify(task_id)}:{digest[:12]}"


def _image_id(client, name: str, missing: str) -> bytes:
    """The local image's id (part of the names of the images built FROM it); GskillError(`missing`) if absent."""
    import docker

    try:
        return client.images.get(name).id.encode()
    except docker.errors.ImageNotFound:
        raise GskillError(missing) from None


def ensure_image(client, context: dict[str, bytes], tag: str, what: str) -> str:
    """Build `context` as `tag` unless an image of that name exists (tags are content-addressed)."""
    import docker

    from harnesses.images.build import build_image, tar_context

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        build_image(client, tar_context(context), tag, what=what, timeout_s=900)
    return tag


def swebench_instance(task: Task, image: str) -> dict[str, Any]:
    """The SWE-bench 5.x instance of `task` whose starting point is `image`."""
    instance = task.to_swebench()
    instance.update(
        image=image,
        eval_script="\n".join(["#!/bin/bash", "set -uxo pipefail", *grading_lines(task)]) + "\n",
        log_parser=SWEBENCH_LOG_PARSER,
        eval_type="pass_and_fail",
    )
    return instance


def export_swebench(tasks: list[Task], out_dir: Path, context: ExportContext) -> str:
    """Build every task's starting-point image and write `OUT/instances.jsonl` (all tasks) plus one file
    per split (an `interop.EXPORTERS` exporter). Images already built for the same content are reused."""
    client, instances = context.docker_client(), []
    for task in tasks:
        files = start_image_files(task)
        missing = f"env image {task.image_name} is not present locally: `gskill env build` its repository first"
        # The env image's id is part of the name: a rebuilt env image gets new instance images.
        env_id = _image_id(client, task.image_name, missing)
        tag = image_tag("gskill-swebench", task.instance_id, files | {"FROM": env_id})
        instances.append(swebench_instance(task, ensure_image(client, files, tag, f"image of {task.instance_id}")))
        context.advance(len(instances), len(tasks))
    out_dir.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list[dict]] = {"instances": instances}
    for instance in instances:
        if instance.get("split"):
            groups.setdefault(instance["split"], []).append(instance)
    for name, rows in groups.items():
        (out_dir / f"{name}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return (
        f"wrote {len(instances)} SWE-bench instances to {out_dir / 'instances.jsonl'} (images gskill-swebench/*); "
        f"python -m swebench.harness.run_evaluation -d {out_dir / 'instances.jsonl'} -p gold --run_id check"
    )


def read_instances(path: Path) -> list[dict]:
    """SWE-bench-style instances from a .jsonl / .json / .parquet file, or a folder of .parquet files
    (as `gskill export --format hf` and the Hugging Face hub write them)."""
    if path.is_dir():
        files = sorted(path.rglob("*.parquet"))
        if not files:
            raise GskillError(f"{path} holds no .parquet files")
        return [row for file in files for row in read_instances(file)]
    if not path.is_file():
        raise GskillError(f"{path} does not exist")
    if path.suffix == ".parquet":
        import pyarrow.parquet as parquet

        return parquet.read_table(path).to_pylist()
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".json":
            rows = json.loads(text)
            return rows if isinstance(rows, list) else [rows]
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise GskillError(f"{path} is not JSON lines: {exc}") from None


def _imported_image(docker_client: Callable[[], Any], instance: dict) -> str:
    """A thin image `FROM` a foreign instance's image that gskill's sandboxes can work in."""
    source = instance.get("image") or instance.get("image_name")
    client = docker_client()
    missing = (
        f"image {source} of {instance['instance_id']} is not present locally: `docker pull` or `docker load` it first"
    )
    source_id = _image_id(client, source, missing)
    # SWE-bench's image holds the tree before the fix with the new tests absent; gskill's images hold the
    # tests (`test_patch` applied), which the agent's sandbox and the grader cut out and put back.
    test_patch = instance.get("test_patch") or ""
    dockerfile = (
        f"FROM {source}\n"
        "RUN [ -e /repo ] || ln -s /testbed /repo\n"
        + (
            "COPY tests.diff /tmp/gskill-tests.diff\nRUN cd /repo && git apply --whitespace=nowarn /tmp/gskill-tests.diff"
            " && rm /tmp/gskill-tests.diff\n"
            if test_patch
            else ""
        )
        # SWE-bench's images install the project into this conda env; gskill runs `python -m pytest`.
        + "ENV PATH=/opt/miniconda3/envs/testbed/bin:$PATH\n"
        "WORKDIR /repo\n"
    )
    context = {"Dockerfile": dockerfile.encode()} | ({"tests.diff": test_patch.encode()} if test_patch else {})
    tag = image_tag("gskill-imported", instance["instance_id"], context | {"FROM": source_id})
    return ensure_image(client, context, tag, f"import of {source}")


def task_from_instance(instance: dict, docker_client: Callable[[], Any]) -> Task:
    """One gskill task from one instance; raises GskillError naming what is missing. `docker_client()` is
    called only for an instance that needs its image checked and a thin image built."""
    identifier = instance.get("instance_id", "<no instance_id>")
    if {"strategy", "image_name", "language"} <= instance.keys():  # gskill's own export
        added = {"image", "eval_script", "log_parser", "eval_type"}  # what the SWE-bench export adds
        # A parquet row holds every column of its file: another task's extra keys come back as None.
        fields = {
            key: value
            for key, value in instance.items()
            if key not in added and (value is not None or key in Task.model_fields)
        }
        return Task.model_validate(fields)
    # SWE-smith's instances carry the bug, not the fix: `patch` turns the image's clean tree into the bug
    # state, no base_commit, no test_patch (https://huggingface.co/datasets/SWE-bench/SWE-smith).
    swe_smith = "base_commit" not in instance and bool(instance.get("image_name")) and not instance.get("test_patch")
    required = [field for field in REQUIRED_FOR_IMPORT if not (swe_smith and field == "base_commit")]
    missing = [field for field in required if instance.get(field) in (None, "")]
    if not (instance.get("image") or instance.get("image_name")):
        missing.append("image")
    if missing:
        raise GskillError(f"instance {identifier} lacks {', '.join(missing)}")
    parser = instance.get("log_parser") or ""
    if parser not in PYTEST_PARSERS:
        raise GskillError(
            f"instance {identifier}: log_parser {parser} names tests gskill cannot run yet "
            f"(supported: pytest node ids, {', '.join(sorted(PYTEST_PARSERS - {''}))})"
        )
    return Task(
        instance_id=identifier,
        repo=instance["repo"],
        base_commit=instance.get("base_commit") or "",
        patch=reverse_patch(instance["patch"]) if swe_smith else instance["patch"],
        bug_patch=instance["patch"] if swe_smith else "",
        test_patch=instance.get("test_patch") or "",
        problem_statement=instance["problem_statement"],
        FAIL_TO_PASS=instance["FAIL_TO_PASS"],
        PASS_TO_PASS=instance.get("PASS_TO_PASS") or [],
        version=str(instance.get("version") or ""),
        created_at=str(instance.get("created_at") or ""),
        image_name=_imported_image(docker_client, instance),
        strategy=Strategy.IMPORTED,
        language="python",
        group=identifier,
    )
