"""Commit mirroring: re-introduce a historical bug into the CURRENT snapshot, one function at a time.

A commit that fixed a bug changed a few functions. Reverse-applying its diff onto a much later
snapshot mostly fails (the lines around it moved), so instead each function the commit modified is
located by qualified name at the snapshot (following file renames, or a move to another module)
and the snapshot's version is replaced by the pre-commit version. The bug state is
`snapshot + bug_patch`; the fixed state is the snapshot itself, and the commit's own test files,
mapped to their snapshot paths, decide later whether the mirrored bug is a real fail-to-pass task.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from gskill.schema import Strategy
from languages import profile_named
from languages.base import Entity
from swesmith.candidate import Candidate
from swesmith.history import BlobReader, CommitChange, git_text, quiet_parsing
from swesmith.patches import make_patch

# Beyond this many file pairs git gives up rename detection; a snapshot diff against an old commit
# can pair many files, and a missed rename means a lost candidate.
RENAME_LIMIT = 5000


class SnapshotIndex:
    """Files of the snapshot commit + rename map from any commit to the snapshot (cached per commit)."""

    def __init__(self, repo: str | Path, snapshot: str, language: str = "python") -> None:
        self.repo = Path(repo)
        self.profile = profile_named(language)
        self.snapshot = git_text(self.repo, "rev-parse", "--verify", f"{snapshot}^{{commit}}").strip()
        # path -> blob id of every file at the snapshot (contents are read on demand).
        self._blobs: dict[str, str] = {}
        for entry in git_text(self.repo, "ls-tree", "-r", "-z", "--full-tree", self.snapshot).split("\0"):
            if entry:
                meta, path = entry.split("\t", 1)
                _mode, kind, oid = meta.split(" ")
                if kind == "blob":
                    self._blobs[path] = oid
        self._texts: dict[str, str | None] = {}
        self._reader: BlobReader | None = None
        self._renames: dict[str, dict[str, str | None]] = {}
        self._definitions: dict[str, list[str]] | None = None
        self._entities: dict[str, dict[str, Entity] | None] = {}
        # Renames recorded in the snapshot's history, oldest first, and per commit the set of
        # commits between it and the snapshot (both only computed when a diff misses a rename).
        self._history_renames: list[tuple[str, dict[str, str]]] | None = None
        self._descendants: dict[str, frozenset[str]] = {}

    # -- files -------------------------------------------------------------------------------

    def paths(self) -> list[str]:
        return sorted(self._blobs)

    def text(self, path: str) -> str | None:
        """The file's text at the snapshot; None when absent or not UTF-8 (never rewritten then)."""
        if path not in self._texts:
            oid = self._blobs.get(path)
            data = self._blob_reader().read(oid) if oid else None
            try:
                self._texts[path] = None if data is None else data.decode("utf-8")
            except UnicodeDecodeError:
                self._texts[path] = None
        return self._texts[path]

    def _blob_reader(self) -> BlobReader:
        if self._reader is None:
            self._reader = BlobReader(self.repo)
        return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> "SnapshotIndex":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- renames -----------------------------------------------------------------------------

    def map_path(self, path_at_commit: str, commit: str) -> str | None:
        """Where `path_at_commit` lives at the snapshot (renames and moves followed); None if gone.

        First `git diff -M commit snapshot`. Across years a module is often renamed AND rewritten,
        which that diff sees as a deletion (under 50% similar); then the renames recorded commit by
        commit in the history since `commit` are chained instead.
        """
        if commit not in self._renames:
            self._renames[commit] = self._rename_map(commit)
        renames = self._renames[commit]
        if path_at_commit not in renames:
            # Not deleted or renamed since the commit: the same path (if the snapshot has it at all).
            if path_at_commit in self._blobs:
                return path_at_commit
        elif renames[path_at_commit] is not None:
            return renames[path_at_commit]
        chained = self._follow_history(path_at_commit, commit)
        return chained if chained != path_at_commit and chained in self._blobs else None

    def _rename_map(self, commit: str) -> dict[str, str | None]:
        # Only deletions and renames matter; git still pairs renames before applying the filter.
        output = _with_renames(
            self.repo,
            "-c",
            "core.quotepath=off",
            "diff",
            "-M",
            f"-l{RENAME_LIMIT}",
            "--name-status",
            "-z",
            "--diff-filter=DR",
            "--no-ext-diff",
            commit,
            self.snapshot,
        )
        tokens = output.split("\0")
        mapping: dict[str, str | None] = {}
        position = 0
        while position < len(tokens):
            status = tokens[position]
            position += 1
            if not status:
                continue
            if status.startswith("R"):
                mapping[tokens[position]] = tokens[position + 1]
                position += 2
            else:  # D
                mapping[tokens[position]] = None
                position += 1
        return mapping

    def _follow_history(self, path: str, commit: str) -> str:
        """`path` carried through every rename recorded after `commit`, oldest first."""
        if self._history_renames is None:
            output = _with_renames(
                self.repo,
                "-c",
                "core.quotepath=off",
                "log",
                "--topo-order",
                "--reverse",
                "-M",
                f"-l{RENAME_LIMIT}",
                "--diff-filter=R",
                "--name-status",
                "-z",
                "--no-ext-diff",
                "--no-show-signature",
                "--format=%x1e%H",
                self.snapshot,
            )
            self._history_renames = []
            for record in output.split("\x1e"):
                sha, *tokens = [token.lstrip("\n") for token in record.split("\0")]
                tokens = [token for token in tokens if token]
                if not sha:
                    continue
                # "-z --name-status" of renames only: triples "R<score>", old path, new path.
                mapping = {
                    tokens[i + 1]: tokens[i + 2] for i in range(0, len(tokens) - 2, 3) if tokens[i].startswith("R")
                }
                self._history_renames.append((sha, mapping))
        if commit not in self._descendants:
            since = git_text(self.repo, "rev-list", f"{commit}..{self.snapshot}").split()
            self._descendants[commit] = frozenset(since)
        after = self._descendants[commit]
        for sha, mapping in self._history_renames:
            if sha in after and path in mapping:
                path = mapping[path]
        return path

    # -- entities ----------------------------------------------------------------------------

    def find_entity(self, qualname: str) -> list[str]:
        """Snapshot source paths defining `qualname` (for functions moved to another module)."""
        if self._definitions is None:
            sources = [path for path in self._blobs if self.profile.is_source_file(path)]
            # One batch read for the whole tree instead of a round trip per file.
            contents = self._blob_reader().read_many([self._blobs[path] for path in sources])
            definitions: dict[str, list[str]] = {}
            for path in sorted(sources):
                data = contents[self._blobs[path]]
                try:
                    text = data.decode("utf-8") if data is not None else None
                except UnicodeDecodeError:
                    text = None
                self._texts.setdefault(path, text)
                for name in self.profile.parse_entities(text or ""):
                    definitions.setdefault(name, []).append(path)
            self._definitions = definitions
        return list(self._definitions.get(qualname, []))

    def entities(self, path: str) -> dict[str, Entity] | None:
        """The functions of a snapshot file (cached: the snapshot never changes); None when the file
        is absent, not UTF-8 or not parsable."""
        if path not in self._entities:
            text = self.text(path)
            parses = text is not None and self.profile.parses(text)
            self._entities[path] = self.profile.parse_entities(text) if parses else None
        return self._entities[path]

    def test_unit(self, path: str) -> str:
        """What runs the tests of the snapshot's test file `path` (the file itself, its package)."""
        return self.profile.test_unit(path, self.text)


def _with_renames(repo: Path, *args: str) -> str:
    """git with similarity rename detection (`-M`); where the repository lacks a blob that similarity
    would read (a partial clone, a mirror without its largest files: git stops with "unable to
    read"), exact renames only (`-M100%` compares object ids, never contents)."""
    try:
        return git_text(repo, *args)
    except subprocess.CalledProcessError:
        return git_text(repo, *("-M100%" if arg == "-M" else arg for arg in args))


def _locate(path: str, qualname: str, change: CommitChange, index: SnapshotIndex) -> tuple[str | None, str]:
    """(snapshot path defining `qualname`, "ok") or (None, reason)."""
    mapped = index.map_path(path, change.sha)
    if mapped is not None:
        entities = index.entities(mapped)
        if entities is None:
            return None, "unparsable"  # present, but not UTF-8 or not Python we can parse
        if qualname in entities:
            return mapped, "ok"
    # The file is gone, or the function left it: a unique definition elsewhere is the moved one.
    # (Several definitions, e.g. a common method name, are ambiguous: refuse rather than guess.)
    found = index.find_entity(qualname)
    if len(found) == 1:
        return found[0], "ok"
    return None, "file_gone" if mapped is None else "entity_gone"


def mirror_candidate(change: CommitChange, index: SnapshotIndex) -> tuple[Candidate | None, str]:
    """(candidate, "ok") or (None, reason): the commit's modified functions reverted at the snapshot.

    Reasons: "file_gone" / "entity_gone" (a modified function cannot be found at the snapshot),
    "unparsable", "no_tests_at_snapshot", "already_reverted" (every function already is the
    pre-commit version at the snapshot). The cheap checks run first: most rejects never parse.
    """
    with quiet_parsing():
        return _mirror(change, index)


def _mirror(change: CommitChange, index: SnapshotIndex) -> tuple[Candidate | None, str]:
    """mirror_candidate without the warning filter."""
    # 1. Every modified function must be found; a partial mirror would not be the commit's bug.
    targets: list[tuple[str, str, str]] = []  # (path at the commit, qualname, snapshot path)
    for path in sorted(change.modified):
        for qualname in change.modified[path]:
            target, reason = _locate(path, qualname, change, index)
            if target is None:
                return None, reason
            targets.append((path, qualname, target))
    if not targets:
        return None, "entity_gone"  # nothing modified to mirror (filter_reason normally stops these)

    # 2. The commit's tests, where they live at the snapshot.
    profile = index.profile
    tests = set()
    for path in change.test_files:
        mapped = index.map_path(path, change.sha)
        if mapped is not None and profile.is_test_file(mapped) and index.text(mapped) is not None:
            tests.add(index.test_unit(mapped))
    if not tests:
        return None, "no_tests_at_snapshot"

    # 3. Put the pre-commit version of each function in place of the snapshot's.
    edited: dict[str, str] = {}  # snapshot path -> text with the pre-commit functions so far
    sides: dict[str, tuple[dict[str, Entity], dict[str, Entity]]] = {}  # path -> (parent, commit) entities
    entities: list[str] = []
    drift = 0
    for path, qualname, target in targets:
        if path not in sides:
            parent_text, commit_text = change.source_files.get(path, (None, None))
            sides[path] = (profile.parse_entities(parent_text or ""), profile.parse_entities(commit_text or ""))
        before, after = sides[path]
        if qualname not in before:
            return None, "unparsable"  # the commit's parent does not parse as `modified` claims
        # Until a file is edited its cached snapshot entities are current; after an edit, re-parse.
        current = (profile.parse_entities(edited[target]) if target in edited else index.entities(target) or {}).get(
            qualname
        )
        if current is None:
            return None, "entity_gone"  # only if an earlier replacement dropped it (defensive)
        if qualname in after and profile.entity_shape(current) != profile.entity_shape(after[qualname]):
            drift += 1  # the snapshot's function moved on since the fix
        old = before[qualname]
        if profile.entity_shape(current) == profile.entity_shape(old):
            continue  # already the pre-commit version: nothing to re-introduce
        if "\ufffd" in old.source:
            return None, "unparsable"  # the parent's bytes were not UTF-8: never write a guess
        replaced = profile.replace_entity(
            edited.get(target) or index.text(target) or "", qualname, old.source, new_indent=old.indent
        )
        if replaced is None:
            return None, "unparsable"
        edited[target] = replaced
        entities.append(f"{target}::{qualname}")
    changes = {path: (index.text(path), text) for path, text in sorted(edited.items()) if text != index.text(path)}
    if not changes:
        return None, "already_reverted"

    candidate = Candidate(
        strategy=Strategy.COMMIT_MIRROR,
        group=change.sha,
        bug_patch=make_patch(changes),
        test_files=tuple(sorted(tests)),
        hint=change.message,
        source_commit=change.sha,
        entities=tuple(sorted(entities)),
        created_at=change.date,
        # renamed: some function was found at another path (a renamed module, or a moved function).
        meta={"drift": drift, "renamed": any(path != target for path, _, target in targets)},
    )
    return candidate, "ok"
