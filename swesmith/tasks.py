"""The tasks stage: validated candidates -> `Task`s, with their test patches, statements and logs.

Reads the verdicts (in the order validation knew them), the snapshot's files and git objects (the
tests to hide), and the model (`--issue-writer llm`). Writes each task's deciding test runs to
`OUT/logs/<instance_id>.run<N>.log`, and the report's `validated`, `issue_writer` and mean times;
rejections (a failed verdict, an F2P test that cannot be hidden) are counted into `rejected`.
`write_split_files` writes `OUT/tasks.jsonl` and `OUT/{train,val,test}.jsonl`.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import git

from gskill.schema import Difficulty, Strategy, Task, patch_files, write_jsonl
from languages import profile_named
from languages.base import Profile
from swesmith.candidate import Candidate
from swesmith.difficulty import points_at_bug
from swesmith.hide import VisibleTests
from swesmith.model_access import ModelAccess
from swesmith.patches import patch_size
from swesmith.statements import write_problem_statement
from swesmith.store import write_log
from swesmith.validate import Verdict

if TYPE_CHECKING:
    from swesmith.pipeline import MiningReport, MiningRun

_SHORT = {  # in instance ids
    Strategy.COMMIT_MIRROR: "mirror",
    Strategy.PROCEDURAL: "proc",
    Strategy.COMMIT_HISTORICAL: "hist",
    Strategy.LLM_REWRITE: "llm",
    Strategy.COMPOSITE: "combo",
}


def make_tasks(
    run: MiningRun, results: list[tuple[Candidate, Verdict]], rejected: Counter, report: MiningReport
) -> list[Task]:
    """A task per validated verdict whose F2P tests can be hidden, in the verdicts' order."""
    snapshot, files, options = run.snapshot, run.files, run.options
    validation_times, test_times = [], []
    accepted, test_patches = [], []
    read_at = git_reader(snapshot.path)
    for candidate, verdict in results:
        strategy = candidate.strategy.value
        if verdict.validation_time_s:
            validation_times.append(verdict.validation_time_s)
        if not verdict.ok:
            rejected[f"{strategy}:{verdict.reason}"] += 1
            continue
        try:
            test_patches.append(
                task_test_patch(
                    candidate, verdict, snapshot=snapshot.commit, files=files, read_at=read_at, profile=run.profile
                )
            )
        except VisibleTests:  # the agent could run the very tests that grade it
            rejected[f"{strategy}:f2p_not_hideable"] += 1
            continue
        report.validated[strategy] = report.validated.get(strategy, 0) + 1
        test_times.append(verdict.test_time_s)
        accepted.append((candidate, verdict))
    statements = problem_statements(run, accepted, report)
    tasks = [
        build_task(
            candidate,
            verdict,
            repo=snapshot.name,
            snapshot=snapshot.commit,
            image=run.image,
            test_patch=test_patch,
            statement=statement,
            language=options.language,
            suite_size=report.baseline_tests,
        )
        for (candidate, verdict), test_patch, statement in zip(accepted, test_patches, statements)
    ]
    for task, (_, verdict) in zip(tasks, accepted):  # the runs that decided each task, for recomputing
        for number, output in enumerate(verdict.logs, 1):
            write_log(options.out / "logs" / f"{task.instance_id}.run{number}.log", output)
    report.mean_validation_seconds = (
        round(sum(validation_times) / len(validation_times), 3) if validation_times else 0.0
    )
    report.mean_test_seconds = round(sum(test_times) / len(test_times), 3) if test_times else 0.0
    return tasks


def problem_statements(run: MiningRun, accepted: list[tuple[Candidate, Verdict]], report: MiningReport) -> list[str]:
    """One statement per accepted candidate: the model's (`--issue-writer llm`, in parallel) or offline."""
    repo, options, models = run.snapshot.name, run.options, run.models
    if options.issue_writer != "llm":
        return [
            offline_statement(candidate, verdict, repo, options.language, run.files) for candidate, verdict in accepted
        ]
    assert models is not None
    run.progress("issues", 0, len(accepted))
    with ThreadPoolExecutor(max_workers=max(1, options.workers * 2)) as pool:
        written = list(pool.map(lambda pair: llm_statement(*pair, repo, run.files, models, options.language), accepted))
    report.issue_writer = dict(Counter(source for _, source in written))
    run.progress("issues", len(accepted), len(accepted))
    return [statement for statement, _ in written]


def write_split_files(out: Path, split_tasks: list[Task]) -> dict[str, int]:
    """`tasks.jsonl` (every task) and one file per split; returns the tasks per split."""
    write_jsonl(out / "tasks.jsonl", split_tasks)
    written = {}
    for split in ("train", "val", "test"):
        chosen = [task for task in split_tasks if task.split and task.split.value == split]
        written[split] = write_jsonl(out / f"{split}.jsonl", chosen)
    return written


def offline_statement(candidate: Candidate, verdict: Verdict, repo: str, language: str, files: dict[str, str]) -> str:
    profile = profile_named(language)
    return write_problem_statement(
        repo=repo,
        hint=candidate.hint,
        fail_to_pass=verdict.fail_to_pass,
        failure_output=verdict.failure_output,
        language=language,
        test_sources=[source for test in verdict.fail_to_pass[:20] if (source := profile.test_source(files, test))],
        gold_patch=verdict.gold_patch,
    )


def llm_statement(
    candidate: Candidate, verdict: Verdict, repo: str, files: dict[str, str], models: ModelAccess, language: str
) -> tuple[str, str]:
    """(statement, "llm") — or, when the model's issue quotes a line of the fix, (offline statement,
    "fell_back_offline")."""
    from swesmith.statements import issue_messages, leaked_fix_line

    profile = profile_named(language)
    sources = [source for test in verdict.fail_to_pass[:3] if (source := profile.test_source(files, test))]
    messages = issue_messages(
        repo=repo,
        hint=candidate.hint,
        fail_to_pass=verdict.fail_to_pass,
        failure_output=verdict.failure_output,
        test_sources=sources,
        language=language,
    )
    statement = models.ask(messages, 0, "issue-writer").strip()
    if not statement or leaked_fix_line(statement, verdict.gold_patch):
        return offline_statement(candidate, verdict, repo, language, files), "fell_back_offline"
    return statement + "\n", "llm"


def git_reader(repo_path: Path) -> Callable[[str, str], str | None]:
    """(commit, path) -> the file's text at that commit, None where it does not exist."""
    repository = git.Repo(repo_path)

    def read(commit: str, path: str) -> str | None:
        try:
            blob = repository.commit(commit).tree / path
        except KeyError:
            return None
        return blob.data_stream.read().decode("utf-8", errors="replace") if blob.type == "blob" else None

    return read


def task_test_patch(
    candidate: Candidate, verdict: Verdict, *, snapshot: str, files: dict[str, str], read_at, profile: Profile
) -> str:
    """The test_patch that hides every FAIL_TO_PASS test from the agent (raises VisibleTests).

    Historical: the agent sees the commit's parent's test files, so the commit's own test changes
    are the base, and F2P tests that already existed at the parent are removed from that view too.
    Otherwise the agent sees the snapshot's tests, without the F2P ones."""
    if candidate.strategy is Strategy.COMMIT_HISTORICAL:
        parent, commit, base = (
            candidate.meta["base_commit"],
            candidate.source_commit,
            candidate.meta.get("test_patch", ""),
        )
        changed = set(patch_files(base))
        return profile.hidden_test_patch(
            verdict.fail_to_pass,
            lambda path: read_at(commit if path in changed else parent, path),
            paths=sorted(files),
            shown=lambda path: read_at(parent, path),
            base_patch=base,
        )
    return profile.hidden_test_patch(
        verdict.fail_to_pass,
        lambda path: files[path] if path in files else read_at(snapshot, path),
        paths=sorted(files),
    )


def build_task(
    candidate: Candidate,
    verdict: Verdict,
    *,
    repo: str,
    snapshot: str,
    image: str,
    test_patch: str,
    statement: str,
    language: str,
    suite_size: int = 0,
) -> Task:
    """`suite_size`: the snapshot's passing tests, the denominator of `f2p_share`."""
    size = patch_size(verdict.gold_patch)
    return Task(
        instance_id=f"{repo}.{_SHORT[candidate.strategy]}.{candidate.key[:12]}",
        repo=repo,
        base_commit=snapshot,
        patch=verdict.gold_patch,
        test_patch=test_patch,
        problem_statement=statement,
        FAIL_TO_PASS=verdict.fail_to_pass,
        PASS_TO_PASS=verdict.pass_to_pass,
        version=snapshot[:12],
        environment_setup_commit=snapshot,
        created_at=candidate.created_at,
        image_name=image,
        bug_patch=candidate.bug_patch,
        strategy=candidate.strategy,
        language=language,
        source_commit=candidate.source_commit,
        group=candidate.group,
        difficulty=Difficulty(
            files=size.files,
            hunks=size.hunks,
            lines=size.lines,
            f2p_count=len(verdict.fail_to_pass),
            test_time_s=round(verdict.test_time_s, 3),
            functions=len(candidate.entities),
            f2p_share=round(len(verdict.fail_to_pass) / suite_size, 4) if suite_size else 0.0,
            points_at_bug=points_at_bug(verdict.failure_output, candidate.entities, verdict.fail_to_pass),
        ),
    )
