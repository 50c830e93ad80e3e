"""Small real git repositories built by tests (no network, no fetched code)."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "fixture",
    "GIT_AUTHOR_EMAIL": "fixture@example.com",
    "GIT_COMMITTER_NAME": "fixture",
    "GIT_COMMITTER_EMAIL": "fixture@example.com",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


def git(repo: Path, *args: str) -> str:
    import os

    done = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, env={**os.environ, **GIT_ENV}, check=True
    )
    return done.stdout.strip()


def write(repo: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        target = repo / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"))


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


CALC_FILES = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "calc"
        version = "0.1.0"

        [project.optional-dependencies]
        test = ["pytest"]

        [tool.setuptools.packages.find]
        where = ["src"]
    """,
    "src/calc/__init__.py": """
        def add(a, b):
            return a + b


        def clamp(value, low, high):
            if value < low:
                return low
            if value > high:
                return high
            return value
    """,
    "tests/test_calc.py": """
        import pytest

        from calc import add, clamp


        @pytest.mark.parametrize("a,b,total", [(1, 2, 3), (0, 0, 0), (-1, 1, 0), (10, 5, 15)])
        def test_add(a, b, total):
            assert add(a, b) == total


        def test_clamp_low():
            assert clamp(-5, 0, 10) == 0


        def test_clamp_high():
            assert clamp(50, 0, 10) == 10


        def test_clamp_inside():
            assert clamp(5, 0, 10) == 5
    """,
    ".gitignore": "__pycache__/\n",
}


def make_calc_repo(root: Path, extra_files: dict[str, str] | None = None) -> Path:
    """A tiny installable package with 7 passing pytest tests, two commits of history."""
    repo = root / "calc"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    write(repo, {"README.md": "calc\n"})
    commit_all(repo, "initial")
    write(repo, {**CALC_FILES, **(extra_files or {})})
    commit_all(repo, "add calc")
    return repo


GEOMETRY_V1 = """
def area(width, height):
    return width * height


def perimeter(width, height):
    return width + height


def describe(width, height):
    return "%sx%s" % (width, height)
"""

TESTS_V1 = """
from shapes.geometry import area, describe, perimeter


def test_area():
    assert area(2, 3) == 6


def test_describe():
    assert describe(2, 3) == "2x3"
"""

FLAKY_TEST = """
import os

FLIP = os.path.join(os.path.dirname(__file__), ".flip")


def test_sometimes():
    # Fails on every other run: a flaky test the miner must never use.
    if os.path.exists(FLIP):
        os.remove(FLIP)
        assert False, "flaky"
    open(FLIP, "w").close()
"""


def make_history_repo(root: Path) -> tuple[Path, dict[str, str]]:
    """A repo whose history holds the cases mining must handle. Returns (repo, {label: commit})."""
    repo = root / "shapes"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    commits: dict[str, str] = {}
    pyproject = CALC_FILES["pyproject.toml"].replace('name = "calc"', 'name = "shapes"')
    write(
        repo,
        {
            "pyproject.toml": pyproject,
            ".gitignore": "__pycache__/\n.flip\n",
            "src/shapes/__init__.py": "",
            "src/shapes/geometry.py": GEOMETRY_V1,
            "tests/test_geometry.py": TESTS_V1,
        },
    )
    commits["initial"] = commit_all(repo, "initial")

    # A bug fix with its test: perimeter forgot the factor 2.
    text = textwrap.dedent(GEOMETRY_V1).lstrip("\n").replace("return width + height", "return 2 * (width + height)")
    write(repo, {"src/shapes/geometry.py": text})
    tests = textwrap.dedent(TESTS_V1).lstrip("\n") + "\n\ndef test_perimeter():\n    assert perimeter(2, 3) == 10\n"
    (repo / "tests/test_geometry.py").write_text(tests)
    commits["fix_perimeter"] = commit_all(repo, "Fix perimeter of rectangles (#7)")

    # A second fix: negative sizes must raise.
    text = text.replace(
        "def area(width, height):\n    return width * height",
        'def area(width, height):\n    if width < 0 or height < 0:\n        raise ValueError("negative size")\n    return width * height',
    )
    (repo / "src/shapes/geometry.py").write_text(text)
    tests += (
        "\n\ndef test_area_negative():\n    import pytest\n\n    with pytest.raises(ValueError):\n        area(-1, 2)\n"
    )
    (repo / "tests/test_geometry.py").write_text(tests)
    commits["fix_area"] = commit_all(repo, "area: reject negative sizes")

    # A refactor whose test passes before and after: no fail-to-pass.
    text = text.replace('return "%sx%s" % (width, height)', 'return f"{width}x{height}"')
    (repo / "src/shapes/geometry.py").write_text(text)
    tests += '\n\ndef test_describe_large():\n    assert describe(100, 200) == "100x200"\n'
    (repo / "tests/test_geometry.py").write_text(tests)
    commits["refactor"] = commit_all(repo, "Use an f-string in describe")

    # Docstring-only change.
    (repo / "src/shapes/geometry.py").write_text(
        text.replace("def describe(width, height):\n", 'def describe(width, height):\n    """Like 2x3."""\n')
    )
    commits["docs"] = commit_all(repo, "Document describe")

    # The module and its tests are renamed after the fixes.
    git(repo, "mv", "src/shapes/geometry.py", "src/shapes/core.py")
    git(repo, "mv", "tests/test_geometry.py", "tests/test_core.py")
    (repo / "tests/test_core.py").write_text(
        (repo / "tests/test_core.py").read_text().replace("shapes.geometry", "shapes.core")
    )
    commits["rename"] = commit_all(repo, "Rename geometry to core")

    write(repo, {"tests/test_flaky.py": FLAKY_TEST})
    commits["flaky"] = commit_all(repo, "Add a flaky test")
    return repo, commits


LIBRARY_MODULES = {
    "pricing": """
        def subtotal(prices, quantities):
            total = 0
            for price, quantity in zip(prices, quantities):
                total += price * quantity
            return total


        def discount(amount, percent):
            if percent < 0 or percent > 100:
                raise ValueError("percent out of range")
            return amount - amount * percent / 100


        def tax(amount, rate=0.2):
            return round(amount * rate, 2)
    """,
    "stock": """
        def available(on_hand, reserved):
            if reserved > on_hand:
                return 0
            return on_hand - reserved


        def needs_reorder(level, threshold):
            return level <= threshold


        def restock(level, batch, capacity):
            return min(level + batch, capacity)
    """,
    "units": """
        def grams(kilos):
            return kilos * 1000


        def pack_count(items, per_pack):
            if per_pack <= 0:
                raise ValueError("per_pack must be positive")
            return (items + per_pack - 1) // per_pack


        def volume(width, height, depth):
            return width * height * depth
    """,
    "labels": """
        def sku(category, number):
            return f"{category.upper()}-{number:04d}"


        def title(name):
            words = name.split()
            return " ".join(word.capitalize() for word in words)


        def shorten(text, limit):
            if len(text) <= limit:
                return text
            return text[: limit - 1] + "~"
    """,
}

LIBRARY_TESTS = {
    "pricing": """
        import pytest
        from shop.pricing import discount, subtotal, tax


        def test_subtotal():
            assert subtotal([2, 3], [1, 4]) == 14


        def test_discount():
            assert discount(200, 25) == 150


        def test_discount_range():
            with pytest.raises(ValueError):
                discount(10, 120)


        def test_tax():
            assert tax(10) == 2.0
            assert tax(10, rate=0.1) == 1.0
    """,
    "stock": """
        from shop.stock import available, needs_reorder, restock


        def test_available():
            assert available(10, 3) == 7
            assert available(2, 5) == 0


        def test_needs_reorder():
            assert needs_reorder(5, 5)
            assert not needs_reorder(6, 5)


        def test_restock():
            assert restock(3, 4, 10) == 7
            assert restock(8, 4, 10) == 10
    """,
    "units": """
        import pytest
        from shop.units import grams, pack_count, volume


        def test_grams():
            assert grams(2) == 2000


        def test_pack_count():
            assert pack_count(10, 3) == 4
            assert pack_count(9, 3) == 3
            with pytest.raises(ValueError):
                pack_count(1, 0)


        def test_volume():
            assert volume(2, 3, 4) == 24
    """,
    "labels": """
        from shop.labels import shorten, sku, title


        def test_sku():
            assert sku("ab", 7) == "AB-0007"


        def test_title():
            assert title("red apple box") == "Red Apple Box"


        def test_shorten():
            assert shorten("hello", 10) == "hello"
            assert shorten("hello world", 6) == "hello~"
    """,
}


def make_library_repo(root: Path) -> Path:
    """A small package with four modules and their tests: tasks mined from it need different files,
    so what a skill says about where code lives decides whether a skill-sensitive agent finds them."""
    repo = root / "shop"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    pyproject = CALC_FILES["pyproject.toml"].replace('name = "calc"', 'name = "shop"')
    files = {
        "pyproject.toml": pyproject,
        ".gitignore": "__pycache__/\n",
        "src/shop/__init__.py": "",
        "README.md": "# shop\n\nPrices, stock levels, units and labels for a small shop.\n",
    }
    files.update({f"src/shop/{name}.py": text for name, text in LIBRARY_MODULES.items()})
    files.update({f"tests/test_{name}.py": text for name, text in LIBRARY_TESTS.items()})
    write(repo, files)
    commit_all(repo, "shop: pricing, stock, units, labels")
    return repo


TEMPLATE_ENGINE = '''
import os
import re

_FIELD = re.compile(r"\\{(\\w+)\\}")
_GENERATED = os.path.join(os.path.dirname(__file__), "_generated")


def escape(value):
    text = str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def generate(text):
    """Python source of a render function for `text`."""
    pieces = []
    last = 0
    for match in _FIELD.finditer(text):
        pieces.append(repr(text[last : match.start()]))
        pieces.append("escape(context[%r])" % match.group(1))
        last = match.end()
    pieces.append(repr(text[last:]))
    return "def render(context):\\n    return " + " + ".join(pieces) + "\\n"


def compile_template(text, name="page"):
    # As template engines do: the generated module is compiled under a file name not on disk.
    namespace = {"escape": escape}
    exec(compile(generate(text), os.path.join(_GENERATED, name + ".py"), "exec"), namespace)
    return namespace["render"]


def render(text, **context):
    return compile_template(text)(context)
'''

TEMPLATE_TESTS = """
from tmpl import escape, generate, render


def test_escape():
    assert escape("<a & b>") == "&lt;a &amp; b&gt;"


def test_render_fields():
    assert render("Hello {name}!", name="Ann") == "Hello Ann!"


def test_render_escapes():
    assert render("<p>{body}</p>", body="1 < 2") == "<p>1 &lt; 2</p>"


def test_render_plain_text():
    assert render("no fields") == "no fields"


def test_generate_defines_render():
    assert generate("x").startswith("def render(context):")
"""

# A suite that leaves at once when run under coverage: no test runs, so `coverage json` has "No data
# to report" however tolerant it is; plain pytest runs are unaffected.
HARD_EXIT_CONFTEST = """
import os
import sys


def pytest_sessionstart(session):
    if "coverage" in sys.modules:
        os._exit(0)
"""


def make_template_repo(root: Path) -> tuple[Path, dict[str, str]]:
    """A tiny template engine whose tests run code compiled at run time from a file that does not
    exist ("No source for code" for `coverage json`). Commits: "engine", then "hard_exit" (a conftest
    that makes the coverage step fail for good)."""
    repo = root / "tmpl"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    pyproject = CALC_FILES["pyproject.toml"].replace('name = "calc"', 'name = "tmpl"')
    write(
        repo,
        {
            "pyproject.toml": pyproject,
            ".gitignore": "__pycache__/\n",
            "src/tmpl/__init__.py": TEMPLATE_ENGINE,
            "tests/test_tmpl.py": TEMPLATE_TESTS,
        },
    )
    commits = {"engine": commit_all(repo, "tmpl: a template engine")}
    write(repo, {"tests/conftest.py": HARD_EXIT_CONFTEST})
    commits["hard_exit"] = commit_all(repo, "tests: leave hard")
    return repo, commits


TALLY_V1 = """
def double(x):
    return x + x


def triple(x):
    return x + x


def halve(x):
    return x / 2
"""

TALLY_TESTS_V1 = '''
from tally import double, halve, triple


class Checks:
    """Shared checks: collected through each Test class that inherits them."""

    def test_double(self):
        assert double(2) == 4


class TestTally(Checks):
    pass


def test_halve():
    assert halve(4) == 2
'''


def make_tally_repo(root: Path) -> tuple[Path, dict[str, str]]:
    """Fixes whose F2P tests are hard to hide: `triple`'s test is added to a mixin, so its id
    (`TestTally::test_triple`) names a class that does not define it; `halve`'s fix changes a test
    that already existed before the fix (visible at a commit-historical task's parent)."""
    repo = root / "tally"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    pyproject = CALC_FILES["pyproject.toml"].replace('name = "calc"', 'name = "tally"')
    write(
        repo,
        {
            "pyproject.toml": pyproject,
            ".gitignore": "__pycache__/\n",
            "README.md": "# tally\n",
            "src/tally/__init__.py": TALLY_V1,
            "tests/test_tally.py": TALLY_TESTS_V1,
        },
    )
    commits = {"initial": commit_all(repo, "initial")}
    source, tests = (repo / "src/tally/__init__.py").read_text(), (repo / "tests/test_tally.py").read_text()
    source = source.replace("def triple(x):\n    return x + x", "def triple(x):\n    return 3 * x")
    tests = tests.replace(
        "        assert double(2) == 4\n",
        "        assert double(2) == 4\n\n    def test_triple(self):\n        assert triple(2) == 6\n",
    )
    write(repo, {"src/tally/__init__.py": source, "tests/test_tally.py": tests})
    commits["fix_triple"] = commit_all(repo, "Fix triple (#3)")
    source = source.replace("return x / 2", "return x // 2")
    tests = tests.replace("    assert halve(4) == 2\n", "    assert halve(4) == 2\n    assert halve(5) == 2\n")
    write(repo, {"src/tally/__init__.py": source, "tests/test_tally.py": tests})
    commits["fix_halve"] = commit_all(repo, "halve: floor division")
    # A later change without tests: the fixes' historical bug states now differ from their mirrors.
    write(repo, {"src/tally/__init__.py": source + "\n\ndef quarter(x):\n    return x // 4\n"})
    commits["quarter"] = commit_all(repo, "Add quarter")
    return repo, commits


# ------------------------------------------------------------------------------------------------
# Go

GO_STATS_V1 = """
    package stats

    // Sum adds the values.
    func Sum(values []float64) float64 {
    	total := 0.0
    	for _, v := range values {
    		total += v
    	}
    	return total
    }

    // Mean is the average; the mean of nothing is 0.
    func Mean(values []float64) float64 {
    	return Sum(values) / float64(len(values))
    }

    // Max is the largest value.
    func Max(values []float64) float64 {
    	best := 0.0
    	for _, v := range values {
    		if v > best {
    			best = v
    		}
    	}
    	return best
    }

    // Clamp limits v to [low, high].
    func Clamp(v, low, high float64) float64 {
    	if v < low {
    		return low
    	}
    	if v > high {
    		return high
    	}
    	return v
    }
"""

GO_STATS_TESTS_V1 = """
    package stats

    import "testing"

    func TestSum(t *testing.T) {
    	approx(t, Sum([]float64{1, 2, 3}), 6)
    }

    func TestMean(t *testing.T) {
    	approx(t, Mean([]float64{1, 2, 3}), 2)
    }

    func TestMax(t *testing.T) {
    	approx(t, Max([]float64{1, 5, 3}), 5)
    }

    func TestClamp(t *testing.T) {
    	cases := []struct{ v, want float64 }{{-1, 0}, {0.5, 0.5}, {2, 1}}
    	for _, c := range cases {
    		t.Run("case", func(t *testing.T) { approx(t, Clamp(c.v, 0, 1), c.want) })
    	}
    }
"""

# A helper shared by the package's test files: hiding a test must keep it.
GO_STATS_HELPERS = """
    package stats

    import (
    	"math"
    	"testing"
    )

    func approx(t *testing.T, got, want float64) {
    	t.Helper()
    	if math.IsNaN(got) || math.Abs(got-want) > 1e-9 {
    		t.Fatalf("got %v, want %v", got, want)
    	}
    }
"""

GO_TEXT = """
    package text

    import "strings"

    // Reverse reverses the runes of s.
    func Reverse(s string) string {
    	runes := []rune(s)
    	for i, j := 0, len(runes)-1; i < j; i, j = i+1, j-1 {
    		runes[i], runes[j] = runes[j], runes[i]
    	}
    	return string(runes)
    }

    // Shout upper-cases s and adds an exclamation mark.
    func Shout(s string) string {
    	return strings.ToUpper(s) + "!"
    }

    // Words counts the words of s.
    func Words(s string) int {
    	return len(strings.Fields(s))
    }
"""

GO_TEXT_TESTS = """
    package text

    import (
    	"os"
    	"testing"
    )

    func TestReverse(t *testing.T) {
    	if got := Reverse("abc"); got != "cba" {
    		t.Errorf("Reverse(abc) = %q, want cba", got)
    	}
    }

    func TestShout(t *testing.T) {
    	if got := Shout("hi"); got != "HI!" {
    		t.Errorf("Shout(hi) = %q, want HI!", got)
    	}
    }

    func TestWords(t *testing.T) {
    	if got := Words("a b  c"); got != 3 {
    		t.Errorf("Words = %d, want 3", got)
    	}
    }

    // Passes and fails by turns (a file flips on every run): mining must call it flaky.
    func TestSometimes(t *testing.T) {
    	_, err := os.Stat(".flip")
    	if err == nil {
    		os.Remove(".flip")
    		t.Fatal("flipped")
    	}
    	os.WriteFile(".flip", []byte("1"), 0o644)
    }
"""


def make_go_repo(root: Path) -> tuple[Path, dict[str, str]]:
    """A Go module `example.com/gostats` with two packages (stats, text), a test helper shared by
    the stats tests, a flaky test, and a history of two bug fixes with their tests. Returns (repo,
    {label: commit})."""
    repo = root / "gostats"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    commits: dict[str, str] = {}
    write(
        repo,
        {
            "go.mod": "module example.com/gostats\n\ngo 1.22\n",
            ".gitignore": ".flip\n",
            "stats/stats.go": GO_STATS_V1,
            "stats/stats_test.go": GO_STATS_TESTS_V1,
            "stats/helpers_test.go": GO_STATS_HELPERS,
            "text/text.go": GO_TEXT,
            "text/text_test.go": GO_TEXT_TESTS,
        },
    )
    commits["initial"] = commit_all(repo, "initial")

    # Fix 1: the mean of nothing was NaN (0/0); it is 0.
    stats = textwrap.dedent(GO_STATS_V1).lstrip("\n")
    fixed_mean = stats.replace(
        "func Mean(values []float64) float64 {\n\treturn",
        "func Mean(values []float64) float64 {\n\tif len(values) == 0 {\n\t\treturn 0\n\t}\n\treturn",
    )
    assert fixed_mean != stats
    tests = textwrap.dedent(GO_STATS_TESTS_V1).lstrip("\n")
    tests += "\nfunc TestMeanOfNothing(t *testing.T) {\n\tapprox(t, Mean(nil), 0)\n}\n"
    (repo / "stats/stats.go").write_text(fixed_mean)
    (repo / "stats/stats_test.go").write_text(tests)
    commits["fix_mean"] = commit_all(repo, "Fix Mean of an empty slice (#3)")

    # Fix 2: Max of negative numbers was 0.
    fixed_max = fixed_mean.replace(
        "\tbest := 0.0\n\tfor _, v := range values {",
        "\tif len(values) == 0 {\n\t\treturn 0\n\t}\n\tbest := values[0]\n\tfor _, v := range values[1:] {",
    )
    assert fixed_max != fixed_mean
    tests += "\nfunc TestMaxNegative(t *testing.T) {\n\tapprox(t, Max([]float64{-3, -1, -2}), -1)\n}\n"
    (repo / "stats/stats.go").write_text(fixed_max)
    (repo / "stats/stats_test.go").write_text(tests)
    commits["fix_max"] = commit_all(repo, "stats: Max of negative values")
    return repo, commits


TS_PACKAGE = """
    {
      "name": "tsstats",
      "version": "1.0.0",
      "private": true,
      "type": "module",
      "engines": {"node": ">=20"},
      "scripts": {"test": "tsc --noEmit && vitest run"},
      "devDependencies": {"typescript": "5.9.3", "vitest": "3.2.7"}
    }
"""

# Type-checks the sources only: the tests' vitest types cost tsc 2 more seconds on every candidate.
TS_CONFIG = """
    {
      "compilerOptions": {
        "target": "ES2022",
        "module": "ESNext",
        "moduleResolution": "Bundler",
        "strict": true,
        "noEmit": true,
        "skipLibCheck": true,
        "types": []
      },
      "include": ["src"]
    }
"""

TS_STATS_V1 = """
    /** Sum of the values. */
    export function sum(values: number[]): number {
      let total = 0;
      for (const v of values) {
        total += v;
      }
      return total;
    }

    export function mean(values: number[]): number {
      return sum(values) / values.length;
    }

    export const max = (values: number[]): number => {
      let best = 0;
      for (const v of values) {
        if (v > best) {
          best = v;
        }
      }
      return best;
    };

    export class Range {
      constructor(readonly low: number, readonly high: number) {}

      clamp(v: number): number {
        if (v < this.low) {
          return this.low;
        }
        if (v > this.high) {
          return this.high;
        }
        return v;
      }
    }
"""

TS_STATS_TESTS_V1 = """
    import { describe, it, expect } from "vitest";
    import { sum, mean, max, Range } from "../src/stats";
    import { approx } from "./helpers";

    describe("stats", () => {
      it("sums", () => {
        approx(sum([1, 2, 3]), 6);
      });

      it("averages", () => {
        approx(mean([1, 2, 3]), 2);
      });

      describe("max", () => {
        it("finds the largest", () => {
          expect(max([1, 5, 3])).toBe(5);
        });
      });

      it("clamps", () => {
        const range = new Range(0, 1);
        expect([-1, 0.5, 2].map((v) => range.clamp(v))).toEqual([0, 0.5, 1]);
      });
    });
"""

# A helper shared by the test files: hiding a test must keep it.
TS_HELPERS = """
    import { expect } from "vitest";

    export function approx(got: number, want: number): void {
      expect(Number.isNaN(got)).toBe(false);
      expect(Math.abs(got - want)).toBeLessThan(1e-9);
    }
"""

TS_TEXT = """
    export function reverse(s: string): string {
      return [...s].reverse().join("");
    }

    export const shout = (s: string): string => s.toUpperCase() + "!";

    export function words(s: string): number {
      return s.split(/\\s+/).filter((w) => w.length > 0).length;
    }
"""

TS_TEXT_TESTS = """
    import { describe, it, expect } from "vitest";
    import { reverse, shout, words } from "../src/text";

    describe("text", () => {
      it("reverses", () => {
        expect(reverse("abc")).toBe("cba");
      });

      it("shouts", () => {
        expect(shout("hi")).toBe("HI!");
      });

      it("counts words", () => {
        expect(words("a b  c")).toBe(3);
      });
    });
"""

# Plain JavaScript beside the TypeScript. Passes and fails by
# turns (a file flips on every run): mining must call it flaky.
TS_FLAKY_TEST = """
    import { existsSync, rmSync, writeFileSync } from "node:fs";
    import { test } from "vitest";

    test("sometimes", () => {
      if (existsSync(".flip")) {
        rmSync(".flip");
        throw new Error("flipped");
      }
      writeFileSync(".flip", "1");
    });
"""


def make_ts_repo(root: Path) -> tuple[Path, dict[str, str]]:
    """A TypeScript package `tsstats` (vitest, a `tsc --noEmit` test script) with two modules, a test
    helper shared by the stats tests, a flaky test, and a history of two bug fixes with their tests.
    No lock file: the image resolves the pinned devDependencies with `npm install`. Returns (repo,
    {label: commit})."""
    repo = root / "tsstats"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    commits: dict[str, str] = {}
    write(
        repo,
        {
            "package.json": TS_PACKAGE,
            "tsconfig.json": TS_CONFIG,
            ".gitignore": "node_modules/\n.flip\ndist/\n",
            "src/stats.ts": TS_STATS_V1,
            "src/text.ts": TS_TEXT,
            "test/stats.test.ts": TS_STATS_TESTS_V1,
            "test/helpers.ts": TS_HELPERS,
            "test/text.test.ts": TS_TEXT_TESTS,
            "test/flaky.test.js": TS_FLAKY_TEST,
        },
    )
    commits["initial"] = commit_all(repo, "initial")

    # Fix 1: the mean of nothing was NaN (0/0); it is 0.
    stats = textwrap.dedent(TS_STATS_V1).lstrip("\n")
    fixed_mean = stats.replace(
        "export function mean(values: number[]): number {\n  return",
        "export function mean(values: number[]): number {\n  if (values.length === 0) {\n    return 0;\n  }\n  return",
    )
    assert fixed_mean != stats
    tests = textwrap.dedent(TS_STATS_TESTS_V1).lstrip("\n")
    tests = tests.replace(
        '  describe("max", () => {',
        '  it("averages nothing to zero", () => {\n    approx(mean([]), 0);\n  });\n\n  describe("max", () => {',
    )
    (repo / "src/stats.ts").write_text(fixed_mean)
    (repo / "test/stats.test.ts").write_text(tests)
    commits["fix_mean"] = commit_all(repo, "Fix mean of an empty list (#3)")

    # Fix 2: max of negative numbers was 0.
    fixed_max = fixed_mean.replace(
        "  let best = 0;\n  for (const v of values) {",
        "  if (values.length === 0) {\n    return 0;\n  }\n  let best = values[0];\n  for (const v of values.slice(1)) {",
    )
    assert fixed_max != fixed_mean
    tests = tests.replace(
        "      expect(max([1, 5, 3])).toBe(5);\n    });\n",
        '      expect(max([1, 5, 3])).toBe(5);\n    });\n\n    it("handles negatives", () => {\n      expect(max([-3, -1, -2])).toBe(-1);\n    });\n',
    )
    assert "handles negatives" in tests
    (repo / "src/stats.ts").write_text(fixed_max)
    (repo / "test/stats.test.ts").write_text(tests)
    commits["fix_max"] = commit_all(repo, "stats: max of negative values")
    return repo, commits
