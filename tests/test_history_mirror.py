"""Commit history → filtered bug fixes → mirrored onto the snapshot, on small real git repositories.

One fixture history exercises every path: a fix mirrored exactly, a module renamed after the fix,
a method, docs-only / untested / add-only / deleting commits, a fix reverted later, functions moved
to another module or deleted, and a merge. The speed on a real repository is an opt-in report.
"""

from __future__ import annotations

import subprocess
import warnings
from dataclasses import replace
from pathlib import Path

import pytest

from gskill.schema import Strategy
from swesmith.entities import changed_entities, entity_changes, parse_entities
from swesmith.history import BlobReader, CommitChange, filter_reason, walk_commits
from swesmith.mirror import SnapshotIndex, mirror_candidate
from tests.repo_factory import commit_all, git, make_history_repo, write

CORE = '''
    def clamp(value, low, high):
        if value < low:
            return low
        return value


    def scale(x, factor):
        """Scale x."""
        return x * abs(factor)


    class Box:
        def __init__(self, items):
            self.items = list(items)

        def total(self):
            return sum(self.items)

        def first(self):
            return self.items[1]
'''

UTIL = """
    def slugify(text):
        return text.lower()


    def shout(text):
        return text.upper()


    def legacy(text):
        return text
"""

OLD = """
    def ancient(x):
        return x
"""


def edit(repo: Path, path: str, old: str, new: str) -> None:
    """Replace one exact snippet (fails loudly if the fixture drifted)."""
    target = repo / path
    text = target.read_text()
    assert text.count(old) == 1, (path, old)
    target.write_text(text.replace(old, new))


def append(repo: Path, path: str, text: str) -> None:
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a") as handle:
        handle.write(text)


def clone_at(repo: Path, commit: str, where: Path) -> Path:
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(repo), str(where)], check=True, capture_output=True)
    subprocess.run(["git", "checkout", "-q", commit], cwd=where, check=True, capture_output=True)
    return where


def apply(tree: Path, patch: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "apply", *extra, "-"], cwd=tree, input=patch, text=True, capture_output=True)


# ------------------------------------------------------------------------------------------------
# The fixture history


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    repo = tmp_path_factory.mktemp("history") / "pkg"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shas: dict[str, str] = {}
    write(
        repo,
        {
            "src/pkg/__init__.py": "",
            "src/pkg/core.py": CORE,
            "src/pkg/util.py": UTIL,
            "src/pkg/old.py": OLD,
            "tests/test_core.py": "from pkg.core import clamp\n\n\ndef test_clamp_low():\n    assert clamp(-1, 0, 5) == 0\n",
            "tests/test_util.py": "from pkg.util import slugify\n\n\ndef test_slugify():\n    assert slugify('A') == 'a'\n",
            "tests/test_old.py": "from pkg.old import ancient\n\n\ndef test_ancient():\n    assert ancient(1) == 1\n",
            "README.md": "pkg\n",
        },
    )
    shas["initial"] = commit_all(repo, "initial")

    edit(
        repo,
        "src/pkg/core.py",
        "        return low\n    return value",
        "        return low\n    if value > high:\n        return high\n    return value",
    )
    append(repo, "tests/test_core.py", "\n\ndef test_clamp_high():\n    assert clamp(9, 0, 5) == 5\n")
    shas["fix_clamp"] = commit_all(repo, "Fix clamp upper bound\n\nValues above `high` came back unchanged.")

    edit(
        repo, "src/pkg/core.py", "return sum(self.items)", "return sum(item for item in self.items if item is not None)"
    )
    append(
        repo,
        "tests/test_core.py",
        "\n\ndef test_total_skips_none():\n    from pkg.core import Box\n    assert Box([1, None]).total() == 1\n",
    )
    shas["fix_total"] = commit_all(repo, "Box.total ignores None")

    edit(repo, "src/pkg/core.py", "return self.items[1]", "return self.items[0]")
    append(
        repo,
        "tests/test_core.py",
        "\n\ndef test_first():\n    from pkg.core import Box\n    assert Box([1, 2]).first() == 1\n",
    )
    shas["fix_first"] = commit_all(repo, "Box.first returns the first item")

    edit(repo, "src/pkg/old.py", "return x", "return x + 0  # normalise")
    append(repo, "tests/test_old.py", "\n\ndef test_ancient_zero():\n    assert ancient(0) == 0\n")
    shas["fix_ancient"] = commit_all(repo, "ancient normalises")

    edit(repo, "src/pkg/core.py", '"""Scale x."""', '"""Scale x by the size of factor."""  # a comment too')
    append(repo, "tests/test_core.py", "\n# more tests soon\n")
    shas["docs"] = commit_all(repo, "Document scale")

    edit(repo, "src/pkg/util.py", "return text.lower()", "return text.lower().strip()")
    shas["untested"] = commit_all(repo, "slugify strips")

    append(repo, "src/pkg/core.py", "\n\ndef double(x):\n    return 2 * x\n")
    append(
        repo,
        "tests/test_core.py",
        "\n\ndef test_double():\n    from pkg.core import double\n    assert double(2) == 4\n",
    )
    shas["add_only"] = commit_all(repo, "Add double")

    edit(repo, "src/pkg/util.py", "\n\ndef legacy(text):\n    return text\n", "")
    edit(repo, "src/pkg/util.py", "return text.lower().strip()", "return text.lower().strip().replace(' ', '-')")
    append(repo, "tests/test_util.py", "\n\ndef test_slugify_dash():\n    assert slugify('a b') == 'a-b'\n")
    shas["removes"] = commit_all(repo, "Drop legacy; slugify dashes")

    edit(repo, "src/pkg/core.py", "return x * abs(factor)", "return x * factor")
    append(
        repo,
        "tests/test_core.py",
        "\n\ndef test_scale_negative():\n    from pkg.core import scale\n    assert scale(2, -1) == -2\n",
    )
    shas["fix_scale"] = commit_all(repo, "scale keeps the sign")

    edit(repo, "src/pkg/core.py", "return x * factor", "return x * abs(factor)")
    shas["revert_scale"] = commit_all(repo, "Revert: scale keeps the sign")

    # A side branch merged with a merge commit.
    git(repo, "checkout", "-q", "-b", "feature")
    edit(repo, "src/pkg/util.py", "return text.upper()", "return text.upper() + '!'")
    append(
        repo,
        "tests/test_util.py",
        "\n\ndef test_shout():\n    from pkg.util import shout\n    assert shout('a') == 'A!'\n",
    )
    shas["fix_shout"] = commit_all(repo, "shout exclaims")
    git(repo, "checkout", "-q", "main")
    write(repo, {"README.md": "pkg, merged\n"})
    commit_all(repo, "readme")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
    shas["merge"] = git(repo, "rev-parse", "HEAD")

    # The module the fixes touched is renamed; tests follow.
    git(repo, "mv", "src/pkg/core.py", "src/pkg/calc.py")
    (repo / "tests/test_core.py").write_text((repo / "tests/test_core.py").read_text().replace("pkg.core", "pkg.calc"))
    shas["rename"] = commit_all(repo, "Rename core to calc")

    # util.py is dissolved into calc.py (no rename for git to see: calc.py is not a new file);
    # old.py goes away; Box.first is dropped.
    util_text = (repo / "src/pkg/util.py").read_text()
    git(repo, "rm", "-q", "src/pkg/util.py", "src/pkg/old.py", "tests/test_old.py")
    append(repo, "src/pkg/calc.py", "\n\n" + util_text)
    edit(repo, "src/pkg/calc.py", "\n\n    def first(self):\n        return self.items[0]\n", "")
    (repo / "tests/test_util.py").write_text((repo / "tests/test_util.py").read_text().replace("pkg.util", "pkg.calc"))
    shas["move"] = commit_all(repo, "Fold util into calc; drop old")
    shas["snapshot"] = shas["move"]
    return repo, shas


@pytest.fixture(scope="module")
def walked(history) -> dict[str, CommitChange]:
    repo, _ = history
    return {change.sha: change for change in walk_commits(repo, "HEAD")}


@pytest.fixture(scope="module")
def mirrored(history, walked) -> dict[str, tuple]:
    repo, _ = history
    with SnapshotIndex(repo, "HEAD") as index:
        return {sha: mirror_candidate(change, index) for sha, change in walked.items()}


# ------------------------------------------------------------------------------------------------
# walk_commits


def test_walk_lists_non_merge_python_commits_newest_first(history, walked):
    repo, shas = history
    expected = git(repo, "rev-list", "--no-merges", "--full-history", "HEAD", "--", "*.py").split()
    assert list(walked) == expected
    assert shas["merge"] not in walked  # merges are skipped ...
    assert shas["fix_shout"] in walked  # ... but the branch's own commits are not
    assert all(change.test_files or change.source_files for change in walked.values())


def test_commit_change_describes_the_fix(history, walked):
    _, shas = history
    change = walked[shas["fix_clamp"]]
    assert change.parent == shas["initial"]
    assert change.message == "Fix clamp upper bound\n\nValues above `high` came back unchanged."
    assert change.date.startswith("2026-01-01T00:00:00")  # ISO 8601 author date
    assert list(change.source_files) == ["src/pkg/core.py"]
    before, after = change.source_files["src/pkg/core.py"]
    assert "if value > high" not in before and "if value > high" in after
    assert change.test_files == ("tests/test_core.py",)
    assert change.modified == {"src/pkg/core.py": ("clamp",)}
    assert change.added == {} and change.removed == {}
    assert change.lines_changed == 2

    removes = walked[shas["removes"]]
    assert removes.removed == {"src/pkg/util.py": ("legacy",)}
    assert removes.modified == {"src/pkg/util.py": ("slugify",)}
    # Renamed files are keyed by their new path, with the old text on the parent side.
    renamed = walked[shas["rename"]]
    assert renamed.source_files["src/pkg/calc.py"][0] == renamed.source_files["src/pkg/calc.py"][1]
    # Deleted files have no text at the commit.
    moved = walked[shas["move"]]
    assert moved.source_files["src/pkg/old.py"][1] is None
    assert "tests/test_old.py" not in moved.test_files  # deleted tests are not the commit's tests


def test_since_and_max_commits(history, walked):
    repo, shas = history
    newer = [change.sha for change in walk_commits(repo, "HEAD", since=shas["removes"])]
    order = list(walked)
    assert newer == order[: order.index(shas["removes"])]
    assert shas["removes"] not in newer and shas["initial"] not in newer
    assert [change.sha for change in walk_commits(repo, "HEAD", max_commits=3)] == order[:3]
    # The snapshot bounds the walk: nothing newer than it is listed.
    assert [change.sha for change in walk_commits(repo, shas["fix_total"])] == [
        shas["fix_total"],
        shas["fix_clamp"],
        shas["initial"],
    ]


def test_entity_changes_equals_changed_entities(history, walked):
    """The walk's fast path must give changed_entities' exact answer."""
    for change in walked.values():
        for path, (old, new) in change.source_files.items():
            expected = changed_entities(old or "", new or "")
            assert entity_changes(parse_entities(old or ""), parse_entities(new or "")) == expected
            got = (
                list(change.modified.get(path, ())),
                list(change.added.get(path, ())),
                list(change.removed.get(path, ())),
            )
            assert got == (expected if old != new else ([], [], []))


def test_blob_reader_reads_in_batch_and_reports_missing(history):
    repo, shas = history
    with BlobReader(repo) as reader:
        found = reader.read_many([f"{shas['initial']}:README.md", "0" * 40, "f" * 40, f"{shas['initial']}:nope.py"])
    assert found[f"{shas['initial']}:README.md"] == b"pkg\n"
    assert list(found.values())[1:] == [None, None, None]


# ------------------------------------------------------------------------------------------------
# filter_reason


@pytest.mark.parametrize(
    "name,reason",
    [
        ("fix_clamp", None),
        ("fix_total", None),
        ("fix_scale", None),
        ("fix_shout", None),
        ("docs", "docs_only"),
        ("untested", "no_tests"),
        ("add_only", "no_modified_entity"),
        ("removes", "removes_entity"),
        ("revert_scale", "no_tests"),
        ("initial", "no_modified_entity"),
    ],
)
def test_filter_reason(history, walked, name, reason):
    _, shas = history
    assert filter_reason(walked[shas[name]]) == reason


def test_filter_reason_size_limits(history, walked):
    _, shas = history
    change = walked[shas["fix_clamp"]]
    tests_only = replace(change, source_files={}, modified={})
    assert filter_reason(tests_only) == "no_source"
    assert filter_reason(change, max_source_files=0) == "too_many_files"
    assert filter_reason(change, max_source_lines=1) == "too_many_lines"
    assert filter_reason(change, max_entities=0) == "too_many_entities"
    assert (
        filter_reason(replace(change, modified={"a.py": ("f", "g"), "b.py": ("h",)}), max_entities=2)
        == "too_many_entities"
    )


# ------------------------------------------------------------------------------------------------
# mirror_candidate


def test_fix_is_mirrored_through_the_module_rename(history, mirrored, tmp_path):
    repo, shas = history
    candidate, reason = mirrored[shas["fix_clamp"]]
    assert reason == "ok"
    assert candidate.strategy is Strategy.COMMIT_MIRROR
    assert candidate.group == candidate.source_commit == shas["fix_clamp"]
    assert candidate.entities == ("src/pkg/calc.py::clamp",)
    assert candidate.test_files == ("tests/test_core.py",)
    assert candidate.hint == "Fix clamp upper bound\n\nValues above `high` came back unchanged."
    assert candidate.created_at.startswith("2026-01-01")
    assert candidate.meta == {"drift": 0, "renamed": True}
    assert candidate.bug_patch.startswith("diff --git a/src/pkg/calc.py b/src/pkg/calc.py\n")
    removed = [line for line in candidate.bug_patch.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line for line in candidate.bug_patch.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert removed == ["-    if value > high:", "-        return high"] and added == []

    tree = clone_at(repo, shas["snapshot"], tmp_path / "tree")
    assert apply(tree, candidate.bug_patch, "--check").returncode == 0
    assert apply(tree, candidate.bug_patch).returncode == 0
    bugged = parse_entities((tree / "src/pkg/calc.py").read_text())
    parent = parse_entities(git(repo, "show", f"{shas['initial']}:src/pkg/core.py") + "\n")
    assert bugged["clamp"].source == parent["clamp"].source


def test_method_in_a_class_is_mirrored(history, mirrored, tmp_path):
    repo, shas = history
    candidate, reason = mirrored[shas["fix_total"]]
    assert reason == "ok" and candidate.entities == ("src/pkg/calc.py::Box.total",)
    assert (
        "-        return sum(item for item in self.items if item is not None)\n+        return sum(self.items)\n"
        in candidate.bug_patch
    )
    tree = clone_at(repo, shas["snapshot"], tmp_path / "tree")
    assert apply(tree, candidate.bug_patch, "--check").returncode == 0


def test_function_moved_to_another_module_is_found(history, mirrored, tmp_path):
    repo, shas = history
    with SnapshotIndex(repo, "HEAD") as index:
        assert index.map_path("src/pkg/util.py", shas["fix_shout"]) is None  # dissolved, not renamed
        assert index.map_path("src/pkg/core.py", shas["fix_shout"]) == "src/pkg/calc.py"
        assert index.map_path("tests/test_core.py", shas["fix_shout"]) == "tests/test_core.py"
        assert index.find_entity("shout") == ["src/pkg/calc.py"]
        assert index.find_entity("Box.total") == ["src/pkg/calc.py"]
        assert index.find_entity("nowhere") == []
    candidate, reason = mirrored[shas["fix_shout"]]
    assert reason == "ok"
    assert candidate.entities == ("src/pkg/calc.py::shout",)
    assert candidate.test_files == ("tests/test_util.py",)
    assert candidate.meta["renamed"] is True
    tree = clone_at(repo, shas["snapshot"], tmp_path / "tree")
    assert apply(tree, candidate.bug_patch, "--check").returncode == 0


def test_reverted_fix_is_not_mirrored(history, mirrored):
    _, shas = history
    assert mirrored[shas["fix_scale"]] == (None, "already_reverted")


def test_gone_functions_are_reported(history, mirrored):
    _, shas = history
    assert mirrored[shas["fix_ancient"]] == (None, "file_gone")
    assert mirrored[shas["fix_first"]] == (None, "entity_gone")


def test_mirror_is_deterministic(history, walked, mirrored):
    repo, _ = history
    with SnapshotIndex(repo, "HEAD") as index:
        again = {sha: mirror_candidate(change, index) for sha, change in walked.items()}
    assert again == mirrored
    # Candidate equality ignores meta; compare it (and the cache key) explicitly.
    assert {sha: (c.key, c.meta) for sha, (c, _) in again.items() if c} == {
        sha: (c.key, c.meta) for sha, (c, _) in mirrored.items() if c
    }
    # The same inputs through a fresh walk give the same changes.
    assert [change for change in walk_commits(repo, "HEAD")] == list(walked.values())


def tiny_fix_repo(tmp_path, name: str, fixed: str = "return -x", test: str = "test_neg"):
    """pkg/mod.py's `f` returns x; one commit changes it to `fixed` and adds a test. -> (repo, fix sha)."""
    repo = tmp_path / name
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, {"pkg/mod.py": "def f(x):\n    return x\n", "tests/test_mod.py": "def test_f():\n    pass\n"})
    commit_all(repo, "initial")
    edit(repo, "pkg/mod.py", "return x", fixed)
    append(repo, "tests/test_mod.py", f"\n\ndef {test}():\n    pass\n")
    return repo, commit_all(repo, "fix")


def test_drift_counts_functions_changed_since_the_fix(tmp_path):
    repo, fix = tiny_fix_repo(tmp_path, "drift", fixed="return abs(x)", test="test_f_negative")
    edit(
        repo, "pkg/mod.py", "def f(x):\n    return abs(x)", "def f(x):\n    # refactored\n    y = abs(x)\n    return y"
    )
    commit_all(repo, "refactor f")
    change = next(change for change in walk_commits(repo, "HEAD") if change.sha == fix)
    with SnapshotIndex(repo, "HEAD") as index:
        candidate, reason = mirror_candidate(change, index)
    assert reason == "ok" and candidate.meta == {"drift": 1, "renamed": False}
    # The whole function becomes the pre-commit one, the later refactoring included.
    assert "-    # refactored\n-    y = abs(x)\n-    return y\n+    return x\n" in candidate.bug_patch


def test_rename_then_rewrite_is_followed_through_history(tmp_path):
    """Renamed, then mostly rewritten: the end-to-end diff sees a deletion, the history a rename."""
    repo, fix = tiny_fix_repo(tmp_path, "rewrite")
    git(repo, "mv", "pkg/mod.py", "pkg/newmod.py")
    commit_all(repo, "rename")
    append(repo, "pkg/newmod.py", "".join(f"\n\ndef g{i}(y):\n    return y * {i}\n" for i in range(30)))
    # A second `f` elsewhere: find_entity cannot rescue this one, only the rename chain can.
    write(repo, {"pkg/other.py": "def f(x):\n    return x\n"})
    commit_all(repo, "grow")
    assert "D\tpkg/mod.py" in git(repo, "diff", "-M", "--name-status", fix, "HEAD")
    change = next(change for change in walk_commits(repo, "HEAD") if change.sha == fix)
    with SnapshotIndex(repo, "HEAD") as index:
        assert index.map_path("pkg/mod.py", fix) == "pkg/newmod.py"
        assert index.map_path("pkg/gone.py", fix) is None
        candidate, reason = mirror_candidate(change, index)
    assert reason == "ok" and candidate.entities == ("pkg/newmod.py::f",) and candidate.meta["renamed"] is True


def test_untested_at_snapshot(tmp_path):
    repo, fix = tiny_fix_repo(tmp_path, "notests")
    git(repo, "rm", "-q", "tests/test_mod.py")
    commit_all(repo, "drop tests")
    change = next(change for change in walk_commits(repo, "HEAD") if change.sha == fix)
    with SnapshotIndex(repo, "HEAD") as index:
        assert mirror_candidate(change, index) == (None, "no_tests_at_snapshot")


def test_unparsable_snapshot_module(tmp_path):
    repo = tmp_path / "broken"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, {"pkg/mod.py": "def f(x):\n    return x\n", "tests/test_mod.py": "def test_f():\n    pass\n"})
    commit_all(repo, "initial")
    edit(repo, "pkg/mod.py", "return x", "return -x")
    append(repo, "tests/test_mod.py", "\n\ndef test_neg():\n    pass\n")
    fix = commit_all(repo, "negate")
    append(repo, "pkg/mod.py", "\ndef broken(:\n")
    commit_all(repo, "oops")
    change = next(change for change in walk_commits(repo, "HEAD") if change.sha == fix)
    with SnapshotIndex(repo, "HEAD") as index:
        assert mirror_candidate(change, index) == (None, "unparsable")


def test_walk_errors_and_early_stop(history):
    repo, _ = history
    with pytest.raises(RuntimeError, match="git log failed"):
        list(walk_commits(repo, "no-such-ref"))
    walk = walk_commits(repo, "HEAD")
    first = next(walk)
    walk.close()  # stops git log and cat-file without draining them
    assert first.sha == git(repo, "rev-list", "-n1", "--no-merges", "HEAD", "--", "*.py")


def test_old_escape_sequences_parse_quietly(tmp_path):
    """Historical sources with `"\\d"`-style escapes must not flood mining logs with warnings."""
    repo = tmp_path / "escapes"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(
        repo,
        {
            "pkg/mod.py": 'import re\n\n\ndef f(x):\n    return re.match("\\d+", x)\n',
            "tests/test_mod.py": "def test_f():\n    pass\n",
        },
    )
    commit_all(repo, "initial")
    edit(repo, "pkg/mod.py", 're.match("', 're.fullmatch("')
    append(repo, "tests/test_mod.py", "\n\ndef test_full():\n    pass\n")
    commit_all(repo, "fullmatch")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        changes = list(walk_commits(repo, "HEAD"))
        assert filter_reason(changes[0]) is None
        with SnapshotIndex(repo, changes[0].sha) as index:
            assert mirror_candidate(changes[0], index)[1] == "ok"


def test_mirror_at_the_fix_itself_is_gits_reverse_diff(tmp_path):
    """Mirrored onto the fix commit, the bug patch is exactly `git diff fix parent` of the source."""
    repo = tmp_path / "exact"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(
        repo,
        {
            "src/m.py": "import math\n\n\nclass Shape:\n    def area(self, r):\n        return 3 * r * r\n\n\ndef keep():\n    return 1\n",
            "tests/test_m.py": "def test_keep():\n    pass\n",
        },
    )
    parent = commit_all(repo, "initial")
    edit(repo, "src/m.py", "return 3 * r * r", "return math.pi * r * r")
    append(repo, "tests/test_m.py", "\n\ndef test_area():\n    pass\n")
    fix = commit_all(repo, "use pi")
    (change,) = [change for change in walk_commits(repo, "HEAD") if change.sha == fix]
    with SnapshotIndex(repo, fix) as index:
        candidate, reason = mirror_candidate(change, index)
    assert reason == "ok"
    assert candidate.bug_patch == git(repo, "diff", fix, parent, "--", "src") + "\n"
    assert "\n-        return math.pi * r * r\n+        return 3 * r * r\n" in candidate.bug_patch
    assert apply(repo, candidate.bug_patch, "--check").returncode == 0


def test_renames_are_still_found_when_the_repository_lacks_a_blob(tmp_path):
    """A mirror without its largest files (or a partial clone): similarity rename detection stops
    with "unable to read"; exact renames (object ids only) are still followed."""
    import os
    import subprocess

    from swesmith.mirror import SnapshotIndex

    repo, commits = make_history_repo(tmp_path)
    write(repo, {"data/corpus.txt": "".join(f"line {n}\n" for n in range(200))})
    commit_all(repo, "add a corpus")
    old_blob = subprocess.run(
        ["git", "rev-parse", "HEAD:data/corpus.txt"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    (repo / "data/corpus.txt").unlink()
    write(repo, {"data/corpus2.txt": "".join(f"line {n}\n" for n in range(199)) + "changed\n"})
    moved = commit_all(repo, "edit and move the corpus (an inexact rename)")
    os.remove(repo / ".git" / "objects" / old_blob[:2] / old_blob[2:])
    with SnapshotIndex(repo, moved) as index:
        # src/shapes/geometry.py became src/shapes/core.py by an exact rename, after the fixes.
        assert index._follow_history("src/shapes/geometry.py", commits["fix_area"]) == "src/shapes/core.py"
