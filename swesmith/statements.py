"""Offline problem statements: what a user would report, never how to fix it.

Built from the source commit's subject (commit strategies) and from the failing tests' observable
behaviour: test names turned into words and the assertion / exception lines of the failure. Never
included: the bug or gold diff, test file paths, the test command (SWE-smith's issue prompt forbids
the same), and traceback frames (they point at the buggy line).
"""

from __future__ import annotations

import re
import textwrap
from itertools import zip_longest

from languages import profile_named

_ISSUE_REF = re.compile(r"\s*\((?:fixes|closes|fix|close|see)?\s*#\d+\)|\s*(?:fixes|closes)\s+#\d+|\s*#\d+", re.I)
# Longest alternatives first: "fix" would otherwise match the start of "fixed".
_CONVENTIONAL = re.compile(r"^(?:bugfix|fixes|fixed|fix|bug)\b(?:\([^)]*\))?\s*[:!-]?\s*", re.I)
_MAX_EXAMPLES = 3
_MAX_BEHAVIOURS = 3


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
    *,
    repo: str,
    hint: str,
    fail_to_pass: list[str],
    failure_output: str,
    language: str = "python",
    test_sources: list[str] | None = None,
    gold_patch: str = "",
) -> str:
    """An issue as a user would file it: the commit's subject (and its body where it describes the
    symptom), the few most specific behaviours that broke (not every failing test), what was
    observed, and a reproduction cut from the shortest failing test's code. A part that would quote
    a line of `gold_patch` is left out."""
    behaviours = most_specific(sorted({_words(test) for test in fail_to_pass}))
    subject = commit_subject(hint) if hint else ""
    title = subject or (f"Unexpected behaviour: {behaviours[0]}" if behaviours else "Unexpected behaviour")
    lines = [f"# {title}", ""]
    if (symptom := symptom_paragraph(hint)) and not leaked_fix_line(symptom, gold_patch):
        lines += [symptom, ""]
    lines.append(f"Something in `{repo}` no longer behaves as expected. For example:")
    lines += [f"- {behaviour}" for behaviour in behaviours[:_MAX_BEHAVIOURS]]
    if len(behaviours) > _MAX_BEHAVIOURS:
        lines.append("- and related behaviours")
    # A runner that prints the source line at the throw site (node, rustc's panics) may print a line
    # the fix changes: such a message stays out.
    messages = [
        message
        for message in profile_named(language).failure_messages(failure_output)
        if not leaked_fix_line(message, gold_patch)
    ]
    if messages:
        lines += ["", "What I observe:", "", "```"]
        lines += messages[: _MAX_EXAMPLES * 2]
        lines += ["```"]
    names = [part for test in fail_to_pass for part in (test.split("::")[-1].split("/")[0], test.split("::")[0])]
    if (code := reproduction(test_sources or [], names)) and not leaked_fix_line(code, gold_patch):
        lines += ["", "To reproduce:", "", f"```{language}", code, "```"]
    lines += ["", "The expected behaviour is the documented one; please fix the library code."]
    return "\n".join(lines) + "\n"


def most_specific(behaviours: list[str]) -> list[str]:
    """Behaviours no other one refines (`parse` goes when `parse / empty input` is there), one per
    top-level test in turn, the most detailed of each first: a few that say the most, from
    different places."""
    specific = [b for b in behaviours if not any(other != b and other.startswith(b + " /") for other in behaviours)]
    families: dict[str, list[str]] = {}
    for behaviour in sorted(specific, key=lambda b: (-len(b.split()), b)):
        families.setdefault(behaviour.split(" / ")[0], []).append(behaviour)
    ordered = sorted(families.values(), key=lambda members: (-len(members), members[0]))
    return [member for turn in zip_longest(*ordered) for member in turn if member is not None]


# Words of a commit body that describe what a user saw, and verbs that start a description of the fix.
_SYMPTOM = re.compile(
    r"\b(?:error|errors|fail|fails|failed|failing|crash|crashes|raise[sd]?|panic|panics|wrong|incorrect|"
    r"instead of|expected|unexpected|broken|regression|exception|hang|hangs|returned|returns)\b",
    re.IGNORECASE,
)
_FIX_VERB = re.compile(
    r"^(?:use|add|remove|change|replace|move|refactor|bump|call|make|set|switch|rename|update|fix|handle|check|avoid)\b",
    re.IGNORECASE,
)
_TRAILER = re.compile(r"^[A-Za-z-]+: ", re.MULTILINE)


def symptom_paragraph(message: str, limit: int = 500) -> str:
    """The first paragraph of a commit message's body that tells what went wrong, not how it was
    fixed; "" when none does. Paragraphs naming files, quoting code blocks or made of trailers
    (`Signed-off-by:`) are skipped."""
    paragraphs = [p.strip() for p in message.strip().split("\n\n")[1:] if p.strip()]
    for paragraph in paragraphs:
        text = " ".join(paragraph.split())
        if (
            len(text) <= limit
            and _SYMPTOM.search(text)
            and not _FIX_VERB.match(text)
            and not _TRAILER.match(paragraph)
            and "```" not in paragraph
            and not re.search(r"[\w/]+\.(?:py|go|rs|ts|js|tsx|jsx)\b", text)
        ):
            return _ISSUE_REF.sub("", text).strip()
    return ""


def reproduction(sources: list[str], names: list[str], max_lines: int = 25) -> str:
    """The shortest failing test's body, without its signature (the test's name), dedented: the
    calls and the expected values a user would show. "" when none is short enough or the body
    names a test file or test."""
    bodies = []
    for source in sources:
        lines = source.rstrip().splitlines()
        start = next(
            (
                i
                for i, line in enumerate(lines)
                if re.match(r"\s*(?:async\s+)?(?:def|func|fn|function|it|test)\b", line)
            ),
            0,
        )
        end = start
        while end < len(lines) and not lines[end].rstrip().endswith((":", "{", "=>")):
            end += 1  # a signature over several lines
        body = lines[end + 1 :]
        if body and body[-1].strip() in ("}", "})", "});"):
            body = body[:-1]
        body = [line for line in body if line.strip()]
        if not body or len(body) > max_lines:
            continue
        text = textwrap.dedent("\n".join(body))
        if any(name and name in text for name in names) or re.search(r"\btests?/", text):
            continue
        bodies.append(text)
    return min(bodies, key=len, default="")


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
