"""Procedural mutations: exact texts per kind, what is never touched, and candidate selection."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from gskill.schema import Strategy
from swesmith.entities import parse_entities
from swesmith.procedural import MUTATION_KINDS, Mutation, mutations_of, procedural_candidates
from tests.repo_factory import CALC_FILES, git

CALC = textwrap.dedent(CALC_FILES["src/calc/__init__.py"]).lstrip("\n")
PROJECT = Path(__file__).resolve().parents[1]


def code(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def results(source: str, qualname: str, kind: str) -> list[str]:
    return [mutation.new_source for mutation in mutations_of(source, qualname, kinds=[kind])]


# ------------------------------------------------------------------------------------------------
# One test per kind, asserting whole resulting files


def test_negate_condition_wraps_tests_and_unwraps_not():
    source = code("""
        def f(a, b, items):
            if a < b:  # keep me
                return 'lt'
            while not items:
                items = load()
            return "x" if a else 'y'
    """)
    assert results(source, "f", "negate_condition") == [
        source.replace("if a < b:  # keep me", "if not (a < b):  # keep me"),
        source.replace("while not items:", "while items:"),
        source.replace('"x" if a else', '"x" if not a else'),
    ]


def test_negate_condition_keeps_multiline_tests_in_their_parentheses():
    source = code("""
        def f(a, b):
            if (a and  # first
                    b):
                return 1
            return 2
    """)
    [negated] = results(source, "f", "negate_condition")
    assert negated == source.replace("if (a and  # first\n            b):", "if (not (a and  # first\n            b)):")
    # Unwrapping `not` deletes the keyword only: the operand's parentheses hold its line break.
    assert results(negated, "f", "negate_condition") == [negated.replace("(not (a", "((a")]


def test_swap_comparison_edits_only_the_operator():
    source = code("""
        def f(a, b, c):
            return (a) < b <= c, a is not None, a not in (b,), a == b  # a < b
    """)
    assert results(source, "f", "swap_comparison") == [
        source.replace("(a) < b <=", "(a) <= b <="),
        source.replace("b <= c", "b < c"),
        source.replace("a is not None", "a is None"),
        source.replace("a not in (b,)", "a in (b,)"),
        source.replace("a == b  #", "a != b  #"),
    ]


def test_swap_comparison_ignores_operators_in_comments_between_operands():
    source = code("""
        def f(a, b):
            return (a  # a > b here
                    == b)
    """)
    assert results(source, "f", "swap_comparison") == [source.replace("        == b)", "        != b)")]


def test_swap_boolean_op_flips_every_operator_of_one_node():
    source = code("""
        def f(a, b, c):
            return a and b and c
    """)
    assert results(source, "f", "swap_boolean_op") == [source.replace("a and b and c", "a or b or c")]
    nested = code("""
        def f(a, b, c):
            return a or (b and c)
    """)
    assert results(nested, "f", "swap_boolean_op") == [
        nested.replace("a or (b and c)", "a and (b and c)"),
        nested.replace("a or (b and c)", "a or (b or c)"),
    ]


def test_off_by_one_on_slices_subscripts_ranges_and_comparisons():
    source = code("""
        def f(xs, n):
            for i in range(0, n):
                if len(xs) > 1:
                    return xs[-1] + xs[:2][0]
            return range(len(xs))
    """)
    assert results(source, "f", "off_by_one") == [
        source.replace("range(0, n)", "range(1, n)"),
        source.replace("range(0, n)", "range(0, n + 1)"),
        source.replace("range(0, n)", "range(0, n - 1)"),
        source.replace("len(xs) > 1", "len(xs) > 2"),
        source.replace("len(xs) > 1", "len(xs) > 0"),
        source.replace("xs[-1]", "xs[0]"),
        source.replace("xs[-1]", "xs[-2]"),
        source.replace("xs[:2]", "xs[:3]"),
        source.replace("xs[:2]", "xs[:1]"),
        source.replace("[:2][0]", "[:2][1]"),
        source.replace("range(len(xs))", "range(len(xs) + 1)"),
        source.replace("range(len(xs))", "range(len(xs) - 1)"),
    ]


def test_off_by_one_leaves_other_integers_and_bools_alone():
    source = code("""
        def f(x, flag=True):
            y = x * 2 + 7
            return y if flag is True else foo(3)
    """)
    assert results(source, "f", "off_by_one") == []


def test_drop_statement_removes_whole_lines_of_non_last_simple_statements():
    source = code("""
        def f(items):
            total = 0  # start
            result = compute(
                items,
                total,
            )
            items.sort()
            log.info("sorted %s", items)
            print(items)
            a = 1; b = 2
            total += len(items)
            return result
    """)
    assert results(source, "f", "drop_statement") == [
        source.replace("    total = 0  # start\n", ""),
        source.replace("    result = compute(\n        items,\n        total,\n    )\n", ""),
        source.replace("    items.sort()\n", ""),
        source.replace("    total += len(items)\n", ""),
    ]


def test_drop_statement_never_empties_a_block():
    source = code("""
        def f(x):
            if x:
                x.close()
            x.open()
    """)
    # `x.close()` is its block's only statement, `x.open()` the function's last one.
    assert results(source, "f", "drop_statement") == []


def test_remove_early_return_deletes_the_whole_guard():
    source = code("""
        def f(x):
            if x is None:  # nothing to do
                return (
                    0
                )
            if x < 0:
                return -1
            else:
                x = -x
            y = x * 2
            if y:
                return y
    """)
    assert results(source, "f", "remove_early_return") == [
        source.replace("    if x is None:  # nothing to do\n        return (\n            0\n        )\n", ""),
    ]


def test_change_default_flips_bools_and_bumps_ints_but_never_none():
    source = code("""
        def f(a, b=True, c=None, d=-1, *, e=3, f="s", g=None, h):
            return a
    """)
    assert results(source, "f", "change_default") == [
        source.replace("b=True", "b=False"),
        source.replace("d=-1", "d=0"),
        source.replace("e=3", "e=4"),
    ]


def test_swap_call_args_swaps_the_first_two_positionals_only():
    source = code("""
        def f(a, b, rest):
            g(a,  # first
              b, 3, key=a)
            g(a, a)
            g(*rest, a)
            g(a, *rest)
            return h(b, "a")
    """)
    assert results(source, "f", "swap_call_args") == [
        source.replace("g(a,  # first\n      b, 3", "g(b,  # first\n      a, 3"),
        source.replace('h(b, "a")', 'h("a", b)'),
    ]


def test_remove_raise_inside_if_bodies():
    source = code("""
        def f(x):
            if x < 0:
                raise ValueError(
                    "negative"
                )
            if x > 9:
                log(x)
                raise ValueError("big")  # too big
            elif x == 5:
                pass
            else:
                raise KeyError(x)
            raise RuntimeError
    """)
    assert results(source, "f", "remove_raise") == [
        source.replace('raise ValueError(\n            "negative"\n        )', "pass"),
        source.replace('        raise ValueError("big")  # too big\n', ""),
        source.replace("raise KeyError(x)", "pass"),
    ]


def test_swap_binary_op_plus_minus_only_and_not_on_concatenation():
    source = code("""
        def f(a, b, name):
            a += 1
            b -= a
            label = "x" + name + f"{a}"
            return a * (b - 1) + [a][0]
    """)
    assert results(source, "f", "swap_binary_op") == [
        source.replace("a += 1", "a -= 1"),
        source.replace("b -= a", "b += a"),
        source.replace("(b - 1)", "(b + 1)"),
        source.replace("(b - 1) + [a]", "(b - 1) - [a]"),
    ]


# ------------------------------------------------------------------------------------------------
# What is never mutated


def test_docstring_only_functions_have_no_mutations():
    source = code('''
        def f(x):
            """Return x < 1 and 2 + 3, range(0, 1)."""
    ''')
    assert mutations_of(source, "f") == []
    assert mutations_of(code('def g():\n    "doc"\n    ...\n'), "g") == []


def test_decorators_annotations_guards_and_nested_definitions_are_untouched():
    source = code("""
        @register(1, 2 + 3)
        def f(x: Annotated[int, 1 < 2] = 0) -> list[1 + 2]:
            y: Literal[3] = 4
            if TYPE_CHECKING:
                import os
            if __name__ == "__main__":
                main(1, 2)
            def inner(a, b=True):
                return a < b
            class Local:
                def m(self):
                    return 1 + 1
            return f"{x + 1}"
    """)
    # Only the default `= 0` and the droppable `y: Literal[3] = 4` are the function's own code.
    assert [m.new_source for m in mutations_of(source, "f")] == [
        source.replace("] = 0)", "] = 1)"),
        source.replace("    y: Literal[3] = 4\n", ""),
    ]
    # Nested definitions are mutated when named.
    assert [m.kind for m in mutations_of(source, "f.inner")] == ["change_default", "swap_comparison"]
    assert [m.kind for m in mutations_of(source, "f.Local.m")] == ["swap_binary_op"]


def test_missing_function_or_unparsable_source_gives_nothing():
    assert mutations_of(CALC, "nope") == []
    assert mutations_of("def f(:\n", "f") == []
    with pytest.raises(ValueError):
        mutations_of(CALC, "add", kinds=["no_such_kind"])


# ------------------------------------------------------------------------------------------------
# Invariants over real code


def test_non_ascii_and_crlf_sources_are_edited_at_the_right_columns():
    source = 'def f(s):\r\n    return "é€" + s if s < "ü" else s\r\n'
    assert results(source, "f", "swap_comparison") == [source.replace('s < "ü"', 's <= "ü"')]
    assert results(source, "f", "negate_condition") == [source.replace('if s < "ü"', 'if not (s < "ü")')]


@pytest.mark.parametrize("relative", ["swesmith/entities.py", "swesmith/patches.py", "swesmith/candidate.py"])
def test_every_mutation_of_real_code_parses_differs_and_stays_inside_its_function(relative):
    source = (PROJECT / relative).read_text()
    original = ast.dump(ast.parse(source))
    lines = source.splitlines(keepends=True)
    total = 0
    for qualname, entity in parse_entities(source).items():
        mutations = mutations_of(source, qualname)
        assert len({m.new_source for m in mutations}) == len(mutations)
        for mutation in mutations:
            assert mutation.kind in MUTATION_KINDS
            assert ast.dump(ast.parse(mutation.new_source)) != original
            assert entity.start <= mutation.line <= entity.end
            # Everything before and after the function is byte-for-byte the same.
            assert mutation.new_source.startswith("".join(lines[: entity.start - 1]))
            assert mutation.new_source.endswith("".join(lines[entity.end :]))
        total += len(mutations)
    assert total > 0


def test_mutations_are_deterministic_and_in_source_order():
    first, second = mutations_of(CALC, "clamp"), mutations_of(CALC, "clamp")
    assert first == second
    assert [m.line for m in first] == sorted(m.line for m in first)
    assert all(isinstance(m, Mutation) for m in first)


# ------------------------------------------------------------------------------------------------
# Candidates

MULTI = code("""
    def clamp(value, low, high):
        if value < low:
            return low
        if value > high:
            return high
        return value


    def add(a, b):
        return a + b


    class Box:
        def __repr__(self):
            return "Box(%d)" % (1 + 2)
""")


def test_candidates_have_the_promised_shape_and_an_empty_hint():
    tests = {("src/calc/__init__.py", "clamp"): ("tests/test_calc.py",)}
    found = list(
        procedural_candidates(
            {"src/calc/__init__.py": CALC},
            [("src/calc/__init__.py", "clamp"), ("src/calc/__init__.py", "add")],
            per_function=2,
            test_files_for=lambda path, qualname: tests.get((path, qualname), ()),
        )
    )
    # `add` has a single mutation (`a + b` -> `a - b`).
    assert [c.group for c in found] == ["src/calc/__init__.py::clamp"] * 2 + ["src/calc/__init__.py::add"]
    for candidate in found:
        assert candidate.strategy is Strategy.PROCEDURAL
        assert candidate.hint == ""
        assert candidate.entities == (candidate.group,)
        assert candidate.meta["kind"] in MUTATION_KINDS and isinstance(candidate.meta["line"], int)
        assert candidate.bug_patch.startswith("diff --git a/src/calc/__init__.py b/src/calc/__init__.py\n")
    assert found[0].test_files == ("tests/test_calc.py",) and found[2].test_files == ()


def test_candidates_prefer_distinct_kinds_and_respect_per_function():
    for seed in range(20):
        found = list(procedural_candidates({"m.py": MULTI}, [("m.py", "clamp")], seed=seed, per_function=3))
        kinds = [c.meta["kind"] for c in found]
        assert len(kinds) == 3 and len(set(kinds)) == 3, kinds
        assert len({c.bug_patch for c in found}) == 3
    # `add` has a single mutation: asking for more gives what exists.
    found = list(procedural_candidates({"m.py": MULTI}, [("m.py", "add")], per_function=5))
    assert [c.meta["kind"] for c in found] == ["swap_binary_op"]


def test_candidates_are_deterministic_per_seed():
    def run(seed: int) -> list[str]:
        return [
            c.bug_patch for c in procedural_candidates({"m.py": MULTI}, [("m.py", "clamp"), ("m.py", "add")], seed=seed)
        ]

    assert run(1) == run(1)
    assert len({tuple(run(seed)) for seed in range(10)}) > 1
    # One function's picks do not depend on which other targets are listed.
    alone = [c.bug_patch for c in procedural_candidates({"m.py": MULTI}, [("m.py", "add")], seed=1)]
    assert run(1)[-len(alone) :] == alone


def test_candidates_skip_test_files_missing_paths_cosmetic_functions_and_stop_at_max():
    files = {"m.py": MULTI, "tests/test_m.py": MULTI, "pkg/test_x.py": MULTI}
    targets = [
        ("tests/test_m.py", "clamp"),
        ("pkg/test_x.py", "clamp"),
        ("gone.py", "f"),
        ("m.py", "Box.__repr__"),
        ("m.py", "clamp"),
    ]
    found = list(procedural_candidates(files, targets, per_function=2))
    assert {c.group for c in found} == {"m.py::clamp"} and len(found) == 2
    assert mutations_of(MULTI, "Box.__repr__")  # skipped as cosmetic, not for lack of mutations
    assert (
        len(list(procedural_candidates(files, [("m.py", "clamp"), ("m.py", "add")], per_function=2, max_candidates=3)))
        == 3
    )
    assert list(procedural_candidates(files, [("m.py", "clamp")], max_candidates=0)) == []


def test_bug_patches_apply_to_the_original_file(tmp_path):
    repo = tmp_path / "repo"
    (repo / "src/calc").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "src/calc/__init__.py").write_text(CALC)
    (repo / "m.py").write_text(MULTI)
    files = {"src/calc/__init__.py": CALC, "m.py": MULTI}
    targets = [("src/calc/__init__.py", "clamp"), ("src/calc/__init__.py", "add"), ("m.py", "clamp")]
    found = list(procedural_candidates(files, targets, per_function=10))
    assert len(found) >= 8
    for index, candidate in enumerate(found):
        patch = tmp_path / f"bug{index}.patch"
        patch.write_text(candidate.bug_patch)
        git(repo, "apply", "--check", str(patch))
    # And applying one really yields the mutated text.
    first = found[0]
    git(repo, "apply", str(tmp_path / "bug0.patch"))
    applied = (repo / "src/calc/__init__.py").read_text()
    assert any(
        m.new_source == applied and (m.kind, m.line) == (first.meta["kind"], first.meta["line"])
        for m in mutations_of(CALC, "clamp")
    )
