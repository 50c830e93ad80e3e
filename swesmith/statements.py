"""Offline problem statements: what a user would report, never how to fix it.

Built from the source commit's subject (commit strategies) and from the failing tests' observable
behaviour: test names turned into words and the assertion / exception lines of the failure. Never
included: the bug or gold diff, test file paths, the test command (SWE-smith's issue prompt forbids
the same), and traceback frames (they point at the buggy line).
"""

from __future__ import annotations

import re

from languages import profile_named

_ISSUE_REF = re.compile(r"\s*\((?:fixes|closes|fix|close|see)?\s*#\d+\)|\s*(?:fixes|closes)\s+#\d+|\s*#\d+", re.I)
# Longest alternatives first: "fix" would otherwise match the start of "fixed".
_CONVENTIONAL = re.compile(r"^(?:bugfix|fixes|fixed|fix|bug)\b(?:\([^)]*\))?\s*[:!-]?\s*", re.I)
_MAX_EXAMPLES = 3


def _words(test_id: str) -> str:
    """`tests/test_x.py::test_parse_dates[a]` -> "parse dates"; `pkg::TestParseDates/empty` ->
    "parse dates / empty" (pytest snake case and Go camel case alike)."""
    name = test_id.split("::")[-1]
    name = re.sub(r"\[.*\]$", "", name).removeprefix("test_").removeprefix("test")
    if "_" not in name.split("/")[0]:  # CamelCase (Go's TestParseDates): words by capitals
        name = re.sub(r"^Test", "", name)
        name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name).lower().replace("/", " / ")
    return " ".join(name.replace("_", " ").split()) or name


def commit_subject(message: str) -> str:
    subject = message.strip().splitlines()[0] if message.strip() else ""
    subject = _ISSUE_REF.sub("", subject)
    return _CONVENTIONAL.sub("", subject).strip().rstrip(".")


def write_problem_statement(
    *, repo: str, hint: str, fail_to_pass: list[str], failure_output: str, language: str = "python"
) -> str:
    behaviours = sorted({_words(test) for test in fail_to_pass})
    subject = commit_subject(hint) if hint else ""
    title = subject or (f"Unexpected behaviour: {behaviours[0]}" if behaviours else "Unexpected behaviour")
    lines = [f"# {title}", ""]
    lines.append(f"Something in `{repo}` no longer behaves as expected. The following behaviours are affected:")
    lines += [f"- {behaviour}" for behaviour in behaviours[:8]]
    if len(behaviours) > 8:
        lines.append(f"- ... and {len(behaviours) - 8} more")
    messages = profile_named(language).failure_messages(failure_output)
    if messages:
        lines += ["", "What I observe:", "", "```"]
        lines += messages[: _MAX_EXAMPLES * 2]
        lines += ["```"]
    lines += ["", "The expected behaviour is the documented one; please fix the library code."]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------
# `--issue-writer llm`: a model writes the issue from the same evidence, never from a diff

ISSUE_SYSTEM_PROMPT = """\
You write GitHub issues for a {language} library, as a user who hit a bug would. You are given the \
behaviours that broke, the error messages observed and, when available, the test code that shows \
the expected behaviour. Write a concise issue: a title line starting with '# ', what you did, what \
you expected, what happened (quote the error). You may include a short reproduction snippet in your \
own words. Never mention test file names, test function names or test commands, and never say where \
in the code the fix belongs or how to fix it."""


def issue_messages(
    *,
    repo: str,
    hint: str,
    fail_to_pass: list[str],
    failure_output: str,
    test_sources: list[str],
    language: str = "python",
) -> list[dict]:
    behaviours = sorted({_words(test) for test in fail_to_pass})
    lines = [f"Repository: {repo}"]
    subject = commit_subject(hint) if hint else ""
    if subject:
        lines.append(f"Title hint: {subject}")
    lines += ["", "## Evidence", "", "Affected behaviours:"]
    lines += [f"- {behaviour}" for behaviour in behaviours[:8]]
    messages = profile_named(language).failure_messages(failure_output)
    if messages:
        lines += ["", "Observed errors:", "```", *messages, "```"]
    if test_sources:
        lines += [
            "",
            "Code showing the expected behaviour:",
            f"```{language}",
            *(source.rstrip() for source in test_sources[:3]),
            "```",
        ]
    system = ISSUE_SYSTEM_PROMPT.format(language=profile_named(language).title)
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines) + "\n"}]


def leaked_fix_line(statement: str, gold_patch: str, min_length: int = 12) -> str | None:
    """A changed line of the gold patch quoted in the statement (the issue would give the fix away)."""
    for line in gold_patch.splitlines():
        if line.startswith(("+++", "---")) or not line.startswith(("+", "-")):
            continue
        code = line[1:].strip()
        if len(code) >= min_length and code in statement:
            return code
    return None
