"""interop: gskill's tasks, runs and traces in the formats other tools read (SWE-bench, Harbor,
Hugging Face datasets, OpenTelemetry).

Task exporters are registered by format name in `EXPORTERS` (`gskill export --format NAME`). Contract:
an exporter writes `tasks` under `out_dir` and returns the one line the CLI prints (what was written,
and how to run it); it raises `GskillError` for bad input or a failed image build, and asks
`ExportContext.docker_client()` for Docker only when it needs it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from gskill.schema import Task


@dataclass
class ExportContext:
    docker_client: Callable[[], Any]  # called only by exporters that build images
    advance: Callable[[int, int], None] = lambda done, total: None  # progress: tasks done of total
    org: str = "gskill"  # Harbor: the org part of each task's name


# format -> "module:function"; imported when used (the SWE-bench exporter pulls in Docker, hf `datasets`).
EXPORTERS = {
    "swebench": "interop.swebench:export_swebench",
    "harbor": "interop.harbor:export_harbor",
    "hf": "interop.hf:export_hf",
}


def export_tasks(fmt: str, tasks: list[Task], out_dir: Path, context: ExportContext) -> str:
    module, _, function = EXPORTERS[fmt].partition(":")
    return getattr(importlib.import_module(module), function)(tasks, out_dir, context)
