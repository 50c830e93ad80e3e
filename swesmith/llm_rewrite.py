"""llm-rewrite: ask a model to reintroduce a plausible bug into one covered function (SWE-smith's
"LM rewrite"), only when `gskill mine --model M` names one.

The model sees one function (dedented, with its path and qualified name) and must answer with the
whole function in a ```python block. The answer replaces the function in the snapshot; a reply that
does not parse, changes nothing, or renames the function is rejected before any test runs.
Validation then decides, exactly as for every other strategy, whether the rewrite is a task.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from typing import Callable, Iterator, Mapping, Sequence

from gskill.schema import Strategy
from swesmith.candidate import Candidate, is_test_file
from swesmith.entities import parse_entities, reindent, replace_entity
from swesmith.patches import make_patch

SYSTEM_PROMPT = """\
You help build a benchmark of realistic software bugs. You are given one function from a Python \
repository. Rewrite it so that it contains ONE subtle, plausible bug of the kind developers really \
make: a wrong or inverted condition, an off-by-one, a missed edge case, a wrong default, a swapped \
argument. Keep the signature, the names and the style. Do not add comments, docstrings or names that \
hint at the bug. Reply with the complete function in a single ```python block and nothing else."""

_CODE_BLOCK = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.S)

# (messages, attempt) -> the model's reply text; the pipeline's version caches and records calls.
Ask = Callable[[list[dict], int], str]


def rewrite_messages(path: str, qualname: str, function_source: str) -> list[dict]:
    user = f"Repository file: {path}\nFunction: {qualname}\n\n```python\n{function_source.rstrip()}\n```\n"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def rewritten_function(reply: str, qualname: str) -> tuple[str | None, str]:
    """(the function's new source, "ok") or (None, why the reply is unusable)."""
    blocks = _CODE_BLOCK.findall(reply)
    if not blocks:
        return None, "no_code_block"
    code = blocks[-1]
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None, "does_not_parse"
    functions = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if len(functions) != 1 or functions[0].name != qualname.rsplit(".", 1)[-1]:
        return None, "not_the_function"
    return code, "ok"


def rewrite_candidates(
    files: Mapping[str, str],
    targets: Sequence[tuple[str, str]],
    *,
    ask: Ask,
    attempts: int,
    rejected: Counter,
    test_files_for: Callable[[str, str], tuple[str, ...]],
) -> Iterator[Candidate]:
    """Lazily, `attempts` rewrites per target function (targets best first): the model is called only
    as fast as validation consumes candidates, so `--max-tasks` bounds the spend."""
    for path, qualname in targets:
        source = files.get(path)
        if source is None or is_test_file(path):
            continue
        entity = parse_entities(source).get(qualname)
        if entity is None:
            continue
        original = reindent(entity.source, entity.indent, 0)
        seen: set[str] = set()
        for attempt in range(attempts):
            code, why = rewritten_function(ask(rewrite_messages(path, qualname, original), attempt), qualname)
            new_source = replace_entity(source, qualname, code, new_indent=0) if code else None
            if code and new_source is None:
                why = "does_not_parse"
            elif new_source is not None and ast.dump(ast.parse(new_source)) == ast.dump(ast.parse(source)):
                why, new_source = "unchanged", None
            elif new_source in seen:
                why, new_source = "duplicate", None
            if new_source is None:
                rejected[f"llm-rewrite:{why}"] += 1
                continue
            seen.add(new_source)
            name = f"{path}::{qualname}"
            yield Candidate(
                strategy=Strategy.LLM_REWRITE,
                group=name,  # the same group as procedural bugs in this function: one split
                bug_patch=make_patch({path: (source, new_source)}),
                test_files=tuple(test_files_for(path, qualname)),
                hint="",
                entities=(name,),
                meta={"attempt": attempt},
            )
