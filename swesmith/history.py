"""A repository's history as a stream of `CommitChange`s, and the R2E-Gym filters that pick bug fixes.

A commit is a mining source when it looks like a bug fix: it changes a few functions of the source
and adds or edits tests that pin the new behaviour. `walk_commits` reads the history once
(`git log --raw --numstat` for the paths, blob ids and line counts of every commit; one long-lived
`git cat-file --batch` for the file texts) and describes each commit at function granularity;
`filter_reason` applies R2E-Gym's commit filters (see ARCHITECTURE.md, "Validation details").
"""

from __future__ import annotations

import codecs
import subprocess
import tempfile
import threading
import warnings
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from languages import profile_named
from languages.base import Entity, Profile

NULL_OID = "0" * 40
# Record delimiters of our `git log` format: ASCII record / unit / group separators, which no
# sane commit message or path contains (NUL is taken: `-z` uses it inside the diff part).
_RECORD, _UNIT, _HEADER_END = "\x1e", "\x1f", "\x1d"
_LOG_FORMAT = "%x1e%H%x1f%P%x1f%aI%x1f%B%x1d"


@dataclass(frozen=True)
class CommitChange:
    """One non-merge commit, reduced to what mining needs: source texts on both sides, test paths,
    and the functions it modified / added / removed."""

    sha: str
    parent: str  # first parent ("" for a root commit)
    message: str
    date: str  # ISO 8601 author date
    # Non-test .py files changed: path at the commit (the new path of a rename) ->
    # (text at the parent or None, text at the commit or None).
    source_files: dict[str, tuple[str | None, str | None]]
    # .py test files added or modified by the commit (paths at the commit).
    test_files: tuple[str, ...]
    # Per source path: qualified names modified / added / removed (AST-level, see entities.entity_changes).
    modified: dict[str, tuple[str, ...]]
    added: dict[str, tuple[str, ...]]
    removed: dict[str, tuple[str, ...]]
    lines_changed: int  # added + removed lines in non-test .py files


# ------------------------------------------------------------------------------------------------
# Blob reading


class BlobReader:
    """Object contents through ONE `git cat-file --batch` process (a subprocess per file would cost
    more than the whole walk). Accepts anything cat-file does: blob ids or `rev:path` names."""

    # Requests are written in chunks this small so that cat-file never blocks on a full stdout pipe
    # while we are still blocked writing its stdin (41-byte lines stay far below a 64 KiB pipe).
    _CHUNK = 256

    def __init__(self, repo: str | Path) -> None:
        self._process = subprocess.Popen(
            ["git", "cat-file", "--batch"],
            cwd=repo,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._lock = threading.Lock()
        # Ends the process even when the owner forgets close() (e.g. an abandoned generator).
        self._finalizer = weakref.finalize(self, _stop_process, self._process)

    def read(self, name: str) -> bytes | None:
        return self.read_many([name])[name]

    def read_many(self, names: Iterable[str]) -> dict[str, bytes | None]:
        """{name: content}; None for a missing object (and for the all-zero id of an absent side)."""
        found: dict[str, bytes | None] = dict.fromkeys(names)  # request order, duplicates once
        pending = [name for name in found if name != NULL_OID]
        assert self._process.stdin is not None and self._process.stdout is not None
        with self._lock:
            for begin in range(0, len(pending), self._CHUNK):
                chunk = pending[begin : begin + self._CHUNK]
                self._process.stdin.write("".join(f"{name}\n" for name in chunk).encode())
                self._process.stdin.flush()
                for name in chunk:
                    header = self._process.stdout.readline().split()
                    # "<oid> <type> <size>", else "<name> missing" / "<name> ambiguous": stays None.
                    if len(header) != 3 or not header[2].isdigit():
                        continue
                    size = int(header[2])
                    found[name] = self._process.stdout.read(size)
                    self._process.stdout.read(1)  # the newline after each object
        return found

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> "BlobReader":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _stop_process(process: subprocess.Popen) -> None:
    if process.stdin:
        process.stdin.close()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout:
        process.stdout.close()


def decode(data: bytes | None) -> str | None:
    # Lenient, so that a stray Latin-1 byte does not hide a file's functions; mirror.py refuses to
    # write replacement characters into a snapshot, so they never reach a patch.
    return None if data is None else data.decode("utf-8", errors="replace")


@contextmanager
def quiet_parsing() -> Iterator[None]:
    """Old sources are full of `"\\s"`-style escapes: parsing thousands of historical versions would
    print a DeprecationWarning/SyntaxWarning for each. They say nothing about the mined bug."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def git_text(repo: str | Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, check=True)
    return done.stdout.decode("utf-8", errors="surrogateescape")


# ------------------------------------------------------------------------------------------------
# The walk


@dataclass
class _FileDelta:
    status: str  # A M D R C T (a rename's or copy's score is split off into `score`)
    score: int  # similarity of a rename/copy, 100 otherwise
    old_path: str
    path: str
    old_oid: str
    new_oid: str


@dataclass
class _RawCommit:
    sha: str
    parent: str
    date: str
    message: str
    files: list[_FileDelta]
    lines: dict[str, int]  # path at the commit -> added + removed lines


def _parse_record(record: str) -> _RawCommit | None:
    """One `git log -z --raw --numstat` record (the text between two record separators)."""
    header, sep, body = record.rpartition(_HEADER_END)
    if not sep:
        return None
    sha, parents, date, message = header.split(_UNIT, 3)
    tokens = body.split("\0")
    files: list[_FileDelta] = []
    lines: dict[str, int] = {}
    position = 0
    while position < len(tokens):
        token = tokens[position].lstrip("\n")
        position += 1
        if not token:
            continue
        if token.startswith(":"):  # ":oldmode newmode oldoid newoid STATUS" then 1 or 2 paths
            _, _, old_oid, new_oid, status = token[1:].split(" ")
            letter, score = status[0], int(status[1:] or 100)
            if letter in "RC":
                old_path, path = tokens[position], tokens[position + 1]
                position += 2
            else:
                old_path = path = tokens[position]
                position += 1
            files.append(_FileDelta(letter, score, old_path, path, old_oid, new_oid))
        else:  # numstat: "added\tremoved\tpath", or "added\tremoved\t" then old and new path
            added, removed, path = token.split("\t", 2)
            if not path:
                path = tokens[position + 1]
                position += 2
            # Binary files show "-": they have no lines to count.
            lines[path] = (int(added) if added != "-" else 0) + (int(removed) if removed != "-" else 0)
    # Paths keep their exact bytes (surrogate escapes); a message is prose: replace undecodable bytes.
    message = message.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace").rstrip("\n")
    return _RawCommit(sha, parents.split()[0] if parents.strip() else "", date, message, files, lines)


def _log_records(
    repo: str | Path, revisions: list[str], max_commits: int | None, suffixes: tuple[str, ...]
) -> Iterator[_RawCommit]:
    """Stream `git log` records (parsing as they arrive keeps memory flat on long histories)."""
    command = [
        "git",
        "-c",
        "core.quotepath=off",
        "-c",
        "log.showRoot=true",
        "log",
        "--no-merges",
        "--full-history",
        "-M",
        "--raw",
        "--numstat",
        "--no-abbrev",
        "-z",
        "--no-color",
        "--no-ext-diff",
        "--no-show-signature",
        f"--format={_LOG_FORMAT}",
    ]
    if max_commits is not None:
        command.append(f"--max-count={max_commits}")
    # `--full-history`: every non-merge commit reachable from the snapshot, not only those on the
    # simplified path git would pick to explain the final tree. The pathspec keeps only commits that
    # touch the language's source files.
    command += [*revisions, "--", *(f"*{suffix}" for suffix in suffixes)]
    # stderr goes to a file: a pipe nobody drains could fill up and stall git.
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, cwd=repo, stdout=subprocess.PIPE, stderr=errors)
        assert process.stdout is not None
        # Incremental: a multi-byte character may straddle two reads.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        try:
            pending: list[str] = []  # pieces of the record being read (a huge commit spans many reads)
            while chunk := process.stdout.read(1 << 16):
                text = decoder.decode(chunk)
                if _RECORD not in text:
                    pending.append(text)
                    continue
                first, *rest = text.split(_RECORD)
                for record in ["".join(pending) + first, *rest[:-1]]:
                    if (parsed := _parse_record(record)) is not None:
                        yield parsed
                pending = [rest[-1]]
            if (parsed := _parse_record("".join(pending) + decoder.decode(b"", final=True))) is not None:
                yield parsed
            if process.wait() != 0:
                errors.seek(0)
                raise RuntimeError(f"git log failed: {errors.read().decode(errors='replace').strip()[:300]}")
        finally:
            if process.poll() is None:  # the consumer stopped early
                process.kill()
                process.wait()
            process.stdout.close()


def _is_test_change(delta: _FileDelta, profile: Profile) -> bool:
    """A test file whose content the commit wrote: added, edited, or renamed/copied with edits."""
    if not (delta.path.endswith(profile.suffixes) and profile.is_test_file(delta.path)):
        return False
    return delta.status in "AMT" or (delta.status in "RC" and delta.score < 100)


class _EntityCache:
    """parse_entities per blob id, least-recently-used. Walking newest first, a file's parent-side
    blob is the commit-side blob of the next older commit touching it: half the parses are saved."""

    def __init__(self, parse: Callable[[str], dict[str, Entity]], size: int = 256) -> None:
        self._parse = parse
        self._size = size
        self._entries: OrderedDict[str, dict[str, Entity]] = OrderedDict()

    def get(self, oid: str, text: str | None) -> dict[str, Entity]:
        if text is None:
            return {}
        if oid in self._entries:
            self._entries.move_to_end(oid)
            return self._entries[oid]
        entities = self._entries[oid] = self._parse(text)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return entities


def _build_change(raw: _RawCommit, blobs: BlobReader, cache: _EntityCache, profile: Profile) -> CommitChange:
    sources = [delta for delta in raw.files if profile.is_source_file(delta.path)]
    texts = blobs.read_many([oid for delta in sources for oid in (delta.old_oid, delta.new_oid)])
    source_files: dict[str, tuple[str | None, str | None]] = {}
    modified: dict[str, tuple[str, ...]] = {}
    added: dict[str, tuple[str, ...]] = {}
    removed: dict[str, tuple[str, ...]] = {}
    for delta in sources:
        old, new = decode(texts[delta.old_oid]), decode(texts[delta.new_oid])
        source_files[delta.path] = (old, new)
        if old == new:  # a pure rename or a mode change: nothing to parse
            continue
        changes = profile.entity_changes(cache.get(delta.old_oid, old), cache.get(delta.new_oid, new))
        for target, names in zip((modified, added, removed), changes):
            if names:
                target[delta.path] = tuple(names)
    tests = sorted({delta.path for delta in raw.files if _is_test_change(delta, profile)})
    lines = sum(count for path, count in raw.lines.items() if profile.is_source_file(path))
    return CommitChange(
        sha=raw.sha,
        parent=raw.parent,
        message=raw.message,
        date=raw.date,
        source_files=source_files,
        test_files=tuple(tests),
        modified=modified,
        added=added,
        removed=removed,
        lines_changed=lines,
    )


def walk_commits(
    repo: str | Path,
    snapshot: str,
    *,
    max_commits: int | None = None,
    since: str | None = None,
    language: str = "python",
) -> Iterator[CommitChange]:
    """Non-merge commits reachable from `snapshot` that touch a source file of `language`, newest first.

    `since` excludes that commit and its ancestors (an incremental refresh walks only what is new).
    `max_commits` caps the number of commits yielded.
    """
    profile = profile_named(language)
    revisions = [snapshot] + ([f"^{since}"] if since else [])
    blobs, cache = BlobReader(repo), _EntityCache(profile.parse_entities)
    records = _log_records(repo, revisions, max_commits, profile.suffixes)
    try:
        for raw in records:
            with quiet_parsing():  # not around the yield: the consumer's own warnings stay visible
                change = _build_change(raw, blobs, cache, profile)
            yield change
    finally:
        records.close()  # stops `git log` now, not whenever the generator is collected
        blobs.close()


# ------------------------------------------------------------------------------------------------
# R2E-Gym's commit filters


def filter_reason(
    change: CommitChange,
    *,
    max_source_files: int = 5,
    max_source_lines: int = 200,
    max_entities: int = 4,
    language: str = "python",
) -> str | None:
    """None when the commit is a usable bug fix, else a short machine-friendly reason."""
    if not change.test_files:
        return "no_tests"
    if not change.source_files:
        return "no_source"
    if len(change.source_files) > max_source_files:
        return "too_many_files"
    if change.lines_changed > max_source_lines:
        return "too_many_lines"
    # strip_docs compares syntax trees, so comment and formatting edits vanish along with the docs.
    strip_docs = profile_named(language).strip_docs
    with quiet_parsing():
        docs_only = all(strip_docs(old or "") == strip_docs(new or "") for old, new in change.source_files.values())
    if docs_only:
        return "docs_only"
    # Checked before "no_modified_entity": a commit that only deletes code is a removal, and R2E
    # rejects any commit that deletes a function, whatever else it does.
    if any(change.removed.values()):
        return "removes_entity"
    count = sum(len(names) for names in change.modified.values())
    if count == 0:
        return "no_modified_entity"
    if count > max_entities:
        return "too_many_entities"
    return None
