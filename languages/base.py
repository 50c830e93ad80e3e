"""What gskill needs to know about a programming language, in one contract: the `Profile`.

A profile is a table of a language's answers, one module per language, registered by name (as
swebench's `PARSER_REGISTRY` or mini-swe-agent's class tables): code never asks `if language == ...`,
it asks `profile_named(task.language)`. Mining (`swesmith/`), the env images (`harnesses/images/`) and
grading (`harnesses/grading.py`) read the same profile, so a language is added in one place.

Contract for implementers:
- Everything here is pure, or runs commands only through the `Sandbox` it is handed; a profile never
  imports Docker and never touches the host's network.
- A test id is `<unit>::<name>`, where the unit is what the test runner is handed to run a group of
  tests (a test file for pytest, a package import path for Go). `Baseline` and the validation costs
  group tests by unit, so the unit must be the id's text before its first `::`.
- `TestSpec.parse` reads a saved log and nothing else: a verdict must be recomputable from stored logs.
- Never raise for one candidate's or one file's failure (a file that does not parse has no entities,
  a mutation that cannot be made is not proposed); reserve exceptions for systemic failures (the
  toolchain is missing, the coverage step cannot run: `CoverageError`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, ClassVar, Iterator, Mapping, Sequence

if TYPE_CHECKING:  # type names only: profiles never import a sandbox backend
    from harnesses.sandbox import Sandbox
    from swesmith.candidate import Candidate

# Outcomes, as swebench's TestStatus values spell them.
PASSED, FAILED, SKIPPED, ERROR, XFAIL = "PASSED", "FAILED", "SKIPPED", "ERROR", "XFAIL"
PASSING = frozenset({PASSED, XFAIL})
FAILING = frozenset({FAILED, ERROR})

Reader = Callable[[str], "str | None"]  # path -> text, None when the file is absent


@dataclass(frozen=True)
class Entity:
    """A function or method of a source file, by qualified name, with its exact source span."""

    qualname: str
    start: int  # first line (1-based), decorators included
    end: int  # last line (inclusive)
    indent: int  # column of the definition's first keyword
    source: str  # exact text of lines start..end (with their newlines)


class CoverageError(Exception):
    """The coverage step could not produce a map; the message says why (for the mining report)."""


@dataclass(frozen=True)
class TestRunLog:
    """What one test command left behind: enough to recompute every outcome later."""

    output: str
    exit_code: int
    timed_out: bool = False


@dataclass(frozen=True)
class TestSpec:
    """How a language's tests are run and read.

    `command(selection, purpose, limit_s)` is the shell command that runs `selection` (units and/or
    test ids; empty = the whole suite) in the repository's root. `limit_s`, when not None, is how
    long the tests themselves may run (their build excluded): a runner that can stop a stalled test
    on its own (`go test -timeout`) is given it, so a bug that hangs a test is rejected within
    seconds and not at the run's outer timeout, and says so through `stalled`. `purpose` is one of:
    - "baseline": the snapshot's suite, with per-unit durations where the runner gives them;
    - "first": the first run of a bug state (failure messages kept for the problem statement);
    - "repeat": a repeat run, only outcomes needed;
    - "grade": grading an agent's patch.
    """

    name: str
    command: Callable[[tuple[str, ...], str, float | None], str]
    parse: Callable[[str], dict[str, str]]  # log -> {test id: outcome}
    ran: Callable[[TestRunLog], bool]  # the suite actually ran (not a usage error, not a crash)
    # The runner stopped a test at `limit_s` (the output shows it): the run counts as timed out.
    stalled: Callable[[str], bool] = lambda output: False
    env: Mapping[str, str] = field(default_factory=dict)
    # Units that failed before any test could run: a module that does not import, a package that
    # does not build. Where `broken_unit_fails_tests`, their tests count as failed (pytest: a module
    # that no longer imports, as swebench grades it); otherwise the run is an environment error.
    broken_units: Callable[[str], tuple[str, ...]] = lambda output: ()
    broken_unit_fails_tests: bool = True
    unit_seconds: Callable[[str], dict[str, float]] = lambda output: {}  # from a "baseline" log
    # The command that loads one unit without running it (what a run costs before its tests), or None.
    collect_command: Callable[[str], str] | None = None
    # Shell run on a candidate's patched tree before its second test run (its only one when runs=1):
    # non-zero = the tree does not build or type-check (rejected as "does_not_build"). A candidate
    # that breaks no test is rejected after one run without it; a tree that does not compile fails
    # its first run's build, which the runner reports as broken units. "" = no check.
    build_check: str = ""
    # Seconds a changed tree may cost before its tests start (compiling what depends on the change),
    # added to a validation run's timeout; an interpreted language has none.
    rebuild_s: float = 0.0
    # Files the commands expect in the sandbox ({path: text}), written once per sandbox under /tmp.
    support_files: Mapping[str, str] = field(default_factory=dict)


def unit_of(test_id: str) -> str:
    return test_id.split("::", 1)[0]


@dataclass(frozen=True)
class ImageRecipe:
    """The language's part of an env image: Dockerfile lines run after the snapshot is at /repo (a
    fresh one-commit git repo, the working directory), files for the build context (under gskill/,
    copied to /opt/gskill/), and a description of what was detected (for `gskill env build`)."""

    steps: str
    files: Mapping[str, bytes] = field(default_factory=dict)
    # Lines that do not depend on the repository (installing a toolchain), placed before the snapshot
    # is added so Docker's layer cache shares them between images; they may COPY their own files
    # from the context's gskill/ folder.
    toolchain_steps: str = ""
    sources: tuple[str, ...] = ()
    key: Mapping[str, object] = field(default_factory=dict)  # what makes two images differ


class Profile:
    """One language. Subclasses set the class attributes and implement the methods.

    Registration: decorate the subclass with `@register`; `profile_named(name)` returns the instance.
    """

    name: ClassVar[str]
    title: ClassVar[str]  # as people write it: "Python", "Go"
    # File suffixes of source files this profile mines (history is walked for these only).
    suffixes: ClassVar[tuple[str, ...]]
    # Files at the repository root that make a repository this language's (first match wins, in
    # registration order).
    markers: ClassVar[tuple[str, ...]]
    # Files that say how the project is built and tested (shown to a skill's seed draft).
    config_files: ClassVar[tuple[str, ...]] = ()
    # How a person runs the tests (`go test ./...`), for a skill's seed draft.
    test_command_hint: ClassVar[str] = ""
    # What `gskill` needs on the host/in the image, what it mines, what it cannot do yet (README table).
    needs: ClassVar[str] = ""
    strategies: ClassVar[tuple[str, ...]] = ("commit-mirror", "commit-historical", "procedural", "composite")
    limits: ClassVar[str] = ""

    test_spec: TestSpec

    # --- files --------------------------------------------------------------------------------
    def is_test_file(self, path: str) -> bool:
        raise NotImplementedError

    def is_source_file(self, path: str) -> bool:
        return path.endswith(self.suffixes) and not self.is_test_file(path)

    def test_unit(self, path: str, read: Reader) -> str:
        """The unit that runs the tests of test file `path` (default: the file itself)."""
        return path

    # --- source analysis ------------------------------------------------------------------------
    def parse_entities(self, source: str) -> dict[str, Entity]:
        """Functions and methods by qualified name; {} when the file does not parse."""
        raise NotImplementedError

    def parses(self, source: str) -> bool:
        raise NotImplementedError

    def entity_changes(self, old: dict[str, Entity], new: dict[str, Entity]) -> tuple[list[str], list[str], list[str]]:
        """(modified, added, removed) qualnames; comment- and whitespace-only edits are not changes."""
        raise NotImplementedError

    def entity_shape(self, entity: Entity) -> str:
        """The entity's syntax without comments, formatting and indentation (equal shape = same code)."""
        raise NotImplementedError

    def replace_entity(self, source: str, qualname: str, new_text: str, new_indent: int | None = None) -> str | None:
        """`source` with the entity replaced by `new_text`; None if absent or if the result does not parse."""
        raise NotImplementedError

    def strip_docs(self, source: str) -> str:
        """The file's code without documentation (docstrings, comments): tells code edits from doc edits."""
        raise NotImplementedError

    # --- mining ---------------------------------------------------------------------------------
    def procedural_candidates(
        self,
        files: Mapping[str, str],
        targets: Sequence[tuple[str, str]],
        *,
        seed: int,
        per_function: int,
        test_files_for: Callable[[str, str], tuple[str, ...]],
    ) -> Iterator["Candidate"]:
        """Small mutations of the covered functions `targets` (best first), lazily."""
        raise NotImplementedError

    def measure_coverage(self, sandbox: "Sandbox", units: set[str], timeout: float) -> dict[str, dict[int, set[str]]]:
        """{source path: {line: {selection entries (test ids or units) that execute it}}}.
        Raises CoverageError saying why when no map can be made."""
        raise NotImplementedError

    def hidden_test_patch(
        self,
        fail_to_pass: list[str],
        read_file: Reader,
        *,
        paths: Sequence[str] = (),
        shown: Reader | None = None,
        base_patch: str = "",
    ) -> str:
        """The diff from the agent's test files (every F2P test removed) to the graded ones; raises
        swesmith.hide.VisibleTests when some F2P test cannot be hidden. `read_file(path)`: a file as
        grading runs it; `shown(path)`: as the agent would see it before hiding (default: the same);
        `paths`: every file of the snapshot (where a test's unit is a folder); `base_patch`: test
        changes the task already carries (commit-historical)."""
        raise NotImplementedError

    def test_source(self, files: Mapping[str, str], test_id: str) -> str | None:
        """The source of the test `test_id` (for an issue writer), None if not found."""
        return None

    def failure_messages(self, output: str, limit: int = 6) -> list[str]:
        """What a user would see of the failure: assertion and error messages, never file:line frames."""
        raise NotImplementedError

    # --- environment ----------------------------------------------------------------------------
    def image_recipe(self, paths: Sequence[str], read: Reader) -> ImageRecipe:
        raise NotImplementedError

    def layout_notes(self, paths: Sequence[str], read: Reader) -> list[str]:
        """Facts about the repository's layout and how its tests run, for a skill's seed draft."""
        return []


PROFILES: dict[str, Profile] = {}


def register(cls: type[Profile]) -> type[Profile]:
    PROFILES[cls.name] = cls()
    return cls


def profile_named(name: str) -> Profile:
    from languages import load_profiles

    load_profiles()
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown language {name!r}; gskill knows {', '.join(sorted(PROFILES))}") from None


def detect_language(paths: Sequence[str]) -> str | None:
    """The profile whose marker files (go.mod, pyproject.toml, ...) the repository's root holds, in
    registration order; else the profile with the most source files; None if no profile has any."""
    from languages import load_profiles

    load_profiles()
    root = {path for path in paths if "/" not in path}
    for name, profile in PROFILES.items():
        if any(marker in root for marker in profile.markers):
            return name
    counts = {name: sum(path.endswith(profile.suffixes) for path in paths) for name, profile in PROFILES.items()}
    best = max(counts, key=lambda name: counts[name], default=None)
    return best if best is not None and counts[best] else None
