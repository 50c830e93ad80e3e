"""Hide FAIL_TO_PASS Go tests from the agent (the Go side of swesmith/hide.py, same contract).

A test id is `<package import path>::<TestName>[/<subtest>]`; its function is the top-level `func
TestName(` of some `_test.go` file directly in the package's folder (the import path minus go.mod's
module path). Hiding removes that function (a subtest hides its whole parent), with its doc comment,
and then whatever Go would refuse in what is left: imports only the removed code used (an emptied
import block goes too). Helpers stay, even when only hidden tests called them: Go accepts unused
functions, and other test files of the package may share them.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Mapping, Sequence

from tree_sitter import Node

from languages.base import Reader
from languages.golang.source import lines_of, module_path, package_names, parse
from swesmith.hide import VisibleTests, patch_sections
from swesmith.patches import make_patch


def _split(test_id: str) -> tuple[str, str]:
    """(import path, top-level test function name)."""
    package, _, name = test_id.partition("::")
    return package, name.split("/", 1)[0]


def _folder(import_path: str, module: str | None) -> str | None:
    if module is None:
        return None
    if import_path == module:
        return ""
    return import_path[len(module) + 1 :] if import_path.startswith(module + "/") else None


def _test_files(paths: Sequence[str], folder: str) -> list[str]:
    return sorted(path for path in paths if path.endswith("_test.go") and posixpath.dirname(path) == folder)


def _top_functions(root: Node) -> dict[str, list[Node]]:
    found: dict[str, list[Node]] = defaultdict(list)
    for child in root.named_children:
        if child.type == "function_declaration" and (name := child.child_by_field_name("name")) is not None:
            found[name.text.decode()].append(child)
    return found


def _qualifiers(root: Node) -> tuple[set[str], set[str]]:
    """(names used as `name.X`, names used otherwise). A package name is only ever the former; a
    variable (`t.Fatal`) is both, somewhere: it is declared or passed."""
    qualifiers, others, stack = set(), set(), [root]
    while stack:
        node = stack.pop()
        if node.type == "identifier":
            parent = node.parent
            is_operand = parent.type == "selector_expression" and parent.child_by_field_name("operand") == node
            (qualifiers if is_operand else others).add(node.text.decode())
        elif node.type == "package_identifier" and node.parent.type == "qualified_type":
            qualifiers.add(node.text.decode())
        stack.extend(node.named_children)
    return qualifiers, others


def _drop_rows(lines: list[str], spans: list[tuple[int, int]]) -> list[str]:
    """`lines` without the rows of each span (0-based, inclusive); where a removal leaves two blank
    lines meeting, one goes too."""
    doomed: set[int] = set()
    for first, last in spans:
        doomed.update(range(first, last + 1))
        if 0 < first and last + 1 < len(lines) and not lines[first - 1].strip() and not lines[last + 1].strip():
            doomed.add(last + 1)
    return [line for row, line in enumerate(lines) if row not in doomed]


def _with_doc(node: Node) -> int:
    """The first row of a declaration with the comment lines directly above it."""
    first, previous = node.start_point.row, node.prev_sibling
    while previous is not None and previous.type == "comment" and previous.end_point.row == first - 1:
        before = previous.prev_sibling
        if before is not None and before.end_point.row == previous.start_point.row:
            break  # a comment trailing other code: its line is that code's
        first, previous = previous.start_point.row, before
    return first


def _import_specs(declaration: Node) -> list[Node]:
    specs = [node for node in declaration.named_children if node.type == "import_spec"]
    for spec_list in (node for node in declaration.named_children if node.type == "import_spec_list"):
        specs += [node for node in spec_list.named_children if node.type == "import_spec"]
    return specs


def _unused_imports(before: Node, after: Node) -> list[tuple[int, int]]:
    """Rows of the imports `after` no longer uses (that `before` did), whole blocks when all go.

    An import without alias binds the name its package declares, which is not in the path: the
    likely names (`package_names`) are tried first. An import none of whose likely names `before`
    used (`jsoniter` for github.com/json-iterator/go) goes only when no name `before` used as a
    qualifier, and that nothing else explains, is left in `after`."""
    used_before, locals_before = _qualifiers(before)
    used_after = _qualifiers(after)[0]
    declarations = [child for child in after.named_children if child.type == "import_declaration"]
    names: dict[Node, set[str]] = {}
    for spec in (spec for declaration in declarations for spec in _import_specs(declaration)):
        alias = spec.child_by_field_name("name")
        if alias is None:
            names[spec] = package_names(spec.child_by_field_name("path").text.decode().strip('"`'))
        elif alias.type not in ("blank_identifier", "dot"):
            names[spec] = {alias.text.decode()}
    unexplained = used_before - locals_before - set().union(*names.values())
    unknown_unused = bool(unexplained) and not unexplained & used_after
    spans = []
    for declaration in declarations:
        specs = _import_specs(declaration)
        doomed = [
            spec
            for spec in specs
            if spec in names and not names[spec] & used_after and (names[spec] & used_before or unknown_unused)
        ]
        if doomed and len(doomed) == len(specs):
            spans.append((_with_doc(declaration), declaration.end_point.row))
        else:
            spans += [(spec.start_point.row, spec.end_point.row) for spec in doomed]
    return spans


def remove_tests(text: str, names: set[str]) -> str | None:
    """`text` without the top-level functions `names` and the imports only they used; None when the
    file does not parse before or after."""
    tree = parse(text)
    if tree.root_node.has_error:
        return None
    functions = _top_functions(tree.root_node)
    spans = [(_with_doc(node), node.end_point.row) for name in names for node in functions.get(name, ())]
    if not spans:
        return text
    removed = "".join(_drop_rows(lines_of(text), spans))
    after = parse(removed)
    if after.root_node.has_error:
        return None
    spans = _unused_imports(tree.root_node, after.root_node)
    hidden = "".join(_drop_rows(lines_of(removed), spans)) if spans else removed
    return None if parse(hidden).root_node.has_error else hidden


def hidden_test_patch(
    fail_to_pass: list[str],
    read_file: Reader,
    *,
    paths: Sequence[str] = (),
    shown: Reader | None = None,
    base_patch: str = "",
) -> str:
    """The diff from the agent's test files (every F2P test function removed) to the graded ones.
    Raises VisibleTests for tests whose function is in no `_test.go` file of their package's folder."""
    shown = shown or read_file
    module = module_path(read_file("go.mod"))
    per_folder: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    visible: list[str] = []
    for test_id in fail_to_pass:
        package, name = _split(test_id)
        folder = _folder(package, module)
        if folder is None or not name:
            visible.append(test_id)
        else:
            per_folder[folder][name].append(test_id)
    sections = patch_sections(base_patch)
    changes: dict[str, tuple[str | None, str | None]] = {}
    for folder, tests in sorted(per_folder.items()):
        defined: dict[str, set[str]] = {}
        for path in _test_files(paths, folder):
            graded = read_file(path)
            if graded is not None and (found := set(tests) & set(_top_functions(parse(graded).root_node))):
                defined[path] = found
        hidden_names = set().union(*defined.values()) if defined else set()
        visible += [test_id for name, ids in tests.items() if name not in hidden_names for test_id in ids]
        for path, names in sorted(defined.items()):
            before = shown(path)
            if before is None:
                continue  # not in the agent's view at all
            hidden = remove_tests(before, names)
            if hidden is None:
                visible += [test_id for name in sorted(names) for test_id in tests[name]]
            elif hidden != before:
                changes[path] = (hidden, read_file(path))
                sections.pop(path, None)
    if visible:
        raise VisibleTests(visible)
    return "".join(sections.values()) + make_patch(changes)


def test_source(files: Mapping[str, str], test_id: str) -> str | None:
    """The text of the test function `test_id` (its top-level function for a subtest)."""
    package, name = _split(test_id)
    folder = _folder(package, module_path(files.get("go.mod")))
    if folder is None:
        return None
    for path in _test_files(list(files), folder):
        tree = parse(files[path])
        for node in _top_functions(tree.root_node).get(name, ()):
            lines = lines_of(files[path])
            return "".join(lines[node.start_point.row : node.end_point.row + 1])
    return None
