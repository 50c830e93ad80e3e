"""gskill tasks as a Hugging Face `datasets` DatasetDict: train / validation / test, one parquet file a
split under data/, and a dataset card (README.md) whose YAML header names the splits, so both
`load_dataset("parquet", data_files=...)` and `load_dataset(OUT)` (or the hub, once pushed) read it.

A row is the task's JSON (SWE-bench's keys plus gskill's: image_name, bug_patch, strategy, language,
difficulty, split, ...); `gskill import OUT` turns the rows back into the same tasks.
"""

from __future__ import annotations

from pathlib import Path

from gskill.schema import Task
from interop import ExportContext

# gskill's split -> the name the hub gives it.
SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}


def _card(counts: dict[str, int], repos: list[str], languages: list[str]) -> str:
    configs = "\n".join(f"      - split: {name}\n        path: data/{name}.parquet" for name in counts)
    splits = ", ".join(f"{name}: {count}" for name, count in counts.items())
    return f"""---
configs:
  - config_name: default
    data_files:
{configs}
tags:
  - gskill
  - swe-bench
  - code
---

# gskill tasks: {", ".join(repos)}

Fail-to-pass tasks mined by gskill from the history of {", ".join(repos)} ({", ".join(languages)}).
Splits: {splits}.

Each row is a SWE-bench instance (`instance_id`, `repo`, `base_commit`, `patch` = the gold fix,
`test_patch` = the hidden FAIL_TO_PASS tests, `problem_statement`, `FAIL_TO_PASS`, `PASS_TO_PASS`)
plus gskill's fields: `image_name` (the local env image), `bug_patch` (env snapshot -> bug state),
`strategy` (how the bug was made), `language`, `difficulty`, `split`.

Load: `datasets.load_dataset("parquet", data_files={{"train": "data/train.parquet", ...}})`;
back to gskill: `gskill import THIS_FOLDER --out TASKS`.
"""


def export_hf(tasks: list[Task], out_dir: Path, context: ExportContext) -> str:
    """Write `out_dir/data/<split>.parquet` and `out_dir/README.md` (an `interop.EXPORTERS` exporter).
    Tasks without a split go to train."""
    from datasets import Dataset, DatasetDict

    rows: dict[str, list[dict]] = {}
    for task in tasks:
        rows.setdefault(SPLIT_NAMES[task.split.value if task.split else "train"], []).append(
            task.model_dump(mode="json")
        )
    # Every row carries every key (a task may have extras the others lack): parquet needs one schema.
    keys = sorted({key for split in rows.values() for row in split for key in row})
    ordered = {name: rows[name] for name in SPLIT_NAMES.values() if name in rows}
    dataset = DatasetDict(
        {
            name: Dataset.from_list([{key: row.get(key) for key in keys} for row in split])
            for name, split in ordered.items()
        }
    )
    (out_dir / "data").mkdir(parents=True, exist_ok=True)
    for name, split in dataset.items():
        split.to_parquet(str(out_dir / "data" / f"{name}.parquet"))
    repos = sorted({task.repo for task in tasks})
    languages = sorted({task.language for task in tasks})
    (out_dir / "README.md").write_text(_card({name: len(split) for name, split in ordered.items()}, repos, languages))
    counts = ", ".join(f"{name}: {len(split)}" for name, split in dataset.items())
    return (
        f"wrote {counts} to {out_dir / 'data'} (parquet) with a dataset card; load_dataset('parquet', data_files=...)"
    )
