"""Interop: mined tasks in other harnesses' formats (SWE-bench, Harbor, Hugging Face) and back.

The SWE-bench export is checked by swebench's own harness (`run_evaluation`): gold patches resolve
every task, an empty or an irrelevant patch none. Go, TypeScript and Rust run the same check on their
fixture tasks (tests/test_go.py, test_ts.py, test_rust.py).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from gskill.schema import Strategy, Task, read_tasks
from swesmith.patches import reverse_patch
from tests.helpers import assert_one_line_error, assert_swebench_grades_like_gskill, gskill


def test_swebench_harness_resolves_gold_and_nothing_else(mined_tasks, tmp_path):
    assert_swebench_grades_like_gskill(mined_tasks, tmp_path, limit=2)


def test_reverse_patch_undoes_a_patch(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("def f():\n    return 1\n\n\nX = 2\n")
    (repo / "gone.py").write_text("old = True\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "clean"], check=True)
    (repo / "a.py").write_text("def f():\n    return 0\n\n\nX = 2\n")
    (repo / "gone.py").unlink()
    (repo / "new.py").write_text("added = 1\n")
    subprocess.run([*git, "add", "-A"], check=True)
    bug = subprocess.run([*git, "diff", "--cached"], capture_output=True, text=True, check=True).stdout
    subprocess.run([*git, "commit", "-qm", "bug"], check=True)
    (tmp_path / "fix.diff").write_text(reverse_patch(bug))
    subprocess.run([*git, "apply", str(tmp_path / "fix.diff")], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    assert subprocess.run([*git, "diff", "--cached", "HEAD~1", "--stat"], capture_output=True, text=True).stdout == ""


def test_hf_export_round_trips_through_load_dataset_and_import(library_tasks, tmp_path):
    from datasets import load_dataset

    tasks = read_tasks(library_tasks / "tasks.jsonl")
    done = gskill("export", str(library_tasks), "--format", "hf", "--out", str(tmp_path / "hf"))
    assert done.returncode == 0, done.stderr
    files = {name: str(tmp_path / "hf" / "data" / f"{name}.parquet") for name in ("train", "validation", "test")}
    loaded = load_dataset("parquet", data_files=files)
    by_split = {
        split: sum(task.split is not None and task.split.value == split for task in tasks)
        for split in ("train", "val", "test")
    }
    assert {name: len(rows) for name, rows in loaded.items()} == {
        "train": by_split["train"],
        "validation": by_split["val"],
        "test": by_split["test"],
    }
    assert "configs:" in (tmp_path / "hf" / "README.md").read_text()
    done = gskill("import", str(tmp_path / "hf"), "--out", str(tmp_path / "back"))
    assert done.returncode == 0, done.stderr
    back = {task.instance_id: task for task in read_tasks(tmp_path / "back" / "tasks.jsonl")}
    exported = [task for task in tasks if task.split is not None] + [task for task in tasks if task.split is None]
    assert {task.instance_id: task.model_dump() for task in exported} == {i: t.model_dump() for i, t in back.items()}
    for split in ("train", "val", "test"):
        assert len(read_tasks(tmp_path / "back" / f"{split}.jsonl")) == by_split[split]


def test_swebench_export_imports_back_and_foreign_instances_become_gskill_tasks(mined_tasks, tmp_path):
    done = gskill("export", str(mined_tasks), "--format", "swebench", "--out", str(tmp_path / "sb"))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "sb" / "instances.jsonl").read_text().splitlines()]
    done = gskill("import", str(tmp_path / "sb" / "instances.jsonl"), "--out", str(tmp_path / "same"))
    assert done.returncode == 0, done.stderr
    originals = {task.instance_id: task.model_dump() for task in read_tasks(mined_tasks / "tasks.jsonl")}
    assert {task.instance_id: task.model_dump() for task in read_tasks(tmp_path / "same" / "tasks.jsonl")} == originals
    # The same instances with SWE-bench's fields only: a foreign dataset whose images exist locally.
    standard = ("instance_id", "repo", "base_commit", "patch", "test_patch", "problem_statement", "version")
    foreign = [
        {key: row[key] for key in standard}
        | {"FAIL_TO_PASS": json.dumps(row["FAIL_TO_PASS"]), "PASS_TO_PASS": json.dumps(row["PASS_TO_PASS"])}
        | {"image": row["image"], "log_parser": "parse_log_pytest", "eval_type": "pass_and_fail", "hints_text": ""}
        for row in rows
    ]
    (tmp_path / "foreign.jsonl").write_text("".join(json.dumps(row) + "\n" for row in foreign))
    done = gskill("import", str(tmp_path / "foreign.jsonl"), "--out", str(tmp_path / "imported"), "--split", "1,1,0")
    assert done.returncode == 0, done.stderr
    imported = read_tasks(tmp_path / "imported" / "tasks.jsonl")
    assert {task.strategy for task in imported} == {Strategy.IMPORTED}
    assert sorted(task.split.value for task in imported) == ["train", "val"]
    # A SWE-smith instance carries the bug (`patch`) for an image holding the clean tree, tests included.
    original = read_tasks(mined_tasks / "tasks.jsonl")[1]
    smith = {"instance_id": original.instance_id + ".smith", "repo": original.repo, "patch": original.bug_patch}
    smith |= {"FAIL_TO_PASS": original.FAIL_TO_PASS, "PASS_TO_PASS": original.PASS_TO_PASS}
    smith |= {"image_name": original.image_name, "problem_statement": original.problem_statement}
    (tmp_path / "smith.jsonl").write_text(json.dumps(smith) + "\n")
    done = gskill("import", str(tmp_path / "smith.jsonl"), "--out", str(tmp_path / "smith"))
    assert done.returncode == 0, done.stderr
    (smithed,) = read_tasks(tmp_path / "smith" / "tasks.jsonl")
    assert smithed.bug_patch == original.bug_patch and smithed.patch == reverse_patch(original.bug_patch)
    # gskill grades imported tasks the way swebench would: the gold patch resolves them, no patch does not.
    (tmp_path / "both.jsonl").write_text(imported[0].model_dump_json() + "\n" + smithed.model_dump_json() + "\n")
    for model, resolved in (("scripted/oracle", 2), ("scripted/noop", 0)):
        run = tmp_path / model.replace("/", "-")
        done = gskill("eval", "--tasks", str(tmp_path / "both.jsonl"), "--model", model, "--out", str(run))
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        summary = json.loads((run / "summary.json").read_text())
        assert summary["resolved"] == resolved and summary["tasks"] == 2, summary


def test_exported_image_holds_only_the_starting_point(mined_tasks, tmp_path, docker_client):
    """What an agent in the SWE-bench image finds: one commit, the FAIL_TO_PASS tests absent, no patch
    file of gskill's left behind."""
    done = gskill("export", str(mined_tasks), "--format", "swebench", "--out", str(tmp_path / "sb"))
    assert done.returncode == 0, done.stderr
    for line in (tmp_path / "sb" / "instances.jsonl").read_text().splitlines():
        instance = json.loads(line)
        probe = (
            "cd /testbed && git rev-list --count HEAD && git status --porcelain && ls -a /tmp && "
            + " ".join(f"grep -rn {test.split('::')[-1]} tests/ ;" for test in instance["FAIL_TO_PASS"])
            + " true"
        )
        output = docker_client.containers.run(instance["image"], ["bash", "-c", probe], remove=True).decode()
        lines = output.splitlines()
        assert lines[0] == "1", output
        assert ".gskill" not in output and "gskill-" not in output, output
        assert not any(test.split("::")[-1] in output for test in instance["FAIL_TO_PASS"]), output


def test_import_refuses_with_one_line(tmp_path, docker_client):
    (tmp_path / "bad.jsonl").write_text(json.dumps({"instance_id": "x__y-1", "repo": "x/y", "patch": "p"}) + "\n")
    assert_one_line_error(
        gskill("import", str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "o")), "lacks", "base_commit"
    )
    assert_one_line_error(
        gskill("import", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")), "does not exist"
    )
    row = {"instance_id": "a__b-2", "repo": "a/b", "base_commit": "c", "patch": "p", "problem_statement": "s"}
    row |= {"FAIL_TO_PASS": ["t"], "image": "gskill-absent/none:1"}
    (tmp_path / "noimage.jsonl").write_text(json.dumps(row) + "\n")
    assert_one_line_error(
        gskill("import", str(tmp_path / "noimage.jsonl"), "--out", str(tmp_path / "o")), "not present locally"
    )
    assert_one_line_error(gskill("export", str(tmp_path), "--format", "csv", "--out", str(tmp_path / "o")), "--format")
    task = Task(
        instance_id="a.b.1",
        repo="a/b",
        base_commit="c",
        patch="p",
        problem_statement="s",
        FAIL_TO_PASS=["t::x"],
        image_name="gskill-absent/env:1",
        strategy=Strategy.PROCEDURAL,
    )
    (tmp_path / "tasks.jsonl").write_text(task.model_dump_json() + "\n")
    assert_one_line_error(
        gskill("export", str(tmp_path), "--format", "swebench", "--out", str(tmp_path / "o")), "gskill env build"
    )


HARBOR_LOADER = """
import json, sys, typing
typing.override = getattr(typing, "override", lambda function: function)  # Harbor targets 3.12
sys.path[:0] = [sys.argv[1]]
from harbor.models.task.task import Task
loaded = []
for folder in sys.argv[2:]:
    task = Task(folder)
    loaded.append({"name": task.name, "instruction": task.instruction, "metadata": task.config.metadata,
                   "workdir": task.config.environment.workdir, "valid": Task.is_valid_dir(folder)})
print(json.dumps(loaded))
"""


def _harbor_trial(client, folder, solve: bool) -> str:
    """What Harbor's Docker environment does with a task folder, step by step: build environment/, start
    it, copy tests/ (and for the oracle solution/) in, run solve.sh, then tests/test.sh; the reward file."""
    import io
    import tarfile

    image, _ = client.images.build(path=str(folder / "environment"), tag=f"gskill-test-harbor/{folder.name}:t", rm=True)
    container = client.containers.run(image.id, "sleep infinity", detach=True, network_disabled=True)
    try:
        for part in ("tests", "solution"):
            archive = io.BytesIO()
            with tarfile.open(fileobj=archive, mode="w") as tar:
                tar.add(folder / part, arcname=part)
            container.put_archive("/", archive.getvalue())
        if solve:
            assert container.exec_run(["bash", "/solution/solve.sh"], workdir="/testbed").exit_code == 0
        container.exec_run(["bash", "/tests/test.sh"], workdir="/testbed")
        return container.exec_run(["cat", "/logs/verifier/reward.txt"]).output.decode().strip()
    finally:
        container.remove(force=True)


def test_harbor_export_loads_with_harbors_loader_and_its_oracle_earns_the_reward(mined_tasks, tmp_path, docker_client):
    import sys

    from tests.helpers import IN_CI, ROOT

    loader = ROOT / ".venv" / "harbor-0.26.0"
    if not loader.is_dir():
        message = f"Harbor's loader is not unpacked at {loader} (scripts/bootstrap.sh ensure_harbor_loader)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    done = gskill("export", str(mined_tasks), "--format", "harbor", "--out", str(tmp_path / "harbor"))
    assert done.returncode == 0, done.stderr
    folders = sorted((tmp_path / "harbor").iterdir())
    tasks = {task.instance_id: task for task in read_tasks(mined_tasks / "tasks.jsonl")}
    assert len(folders) == len(tasks) == 2
    run = subprocess.run(
        [sys.executable, "-c", HARBOR_LOADER, str(loader), *map(str, folders)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
    for loaded in json.loads(run.stdout):
        task = Task.model_validate_json(loaded["metadata"]["gskill_task"])
        assert loaded["valid"] and loaded["workdir"] == "/testbed"
        assert loaded["name"].startswith("gskill/") and loaded["instruction"].strip() == task.problem_statement.strip()
        assert task == tasks[task.instance_id]
    assert [_harbor_trial(docker_client, folder, solve=True) for folder in folders] == ["1", "1"]
    assert [_harbor_trial(docker_client, folder, solve=False) for folder in folders] == ["0", "0"]
