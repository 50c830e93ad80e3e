"""A small cargo workspace with a bug-fix history, built by tests (no network, no dependencies)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.repo_factory import commit_all, git, write

WORKSPACE = """
    [workspace]
    members = ["crates/stats", "crates/text"]
    resolver = "2"
"""

STATS_MANIFEST = """
    [package]
    name = "stats"
    version = "0.1.0"
    edition = "2021"
"""

# One real dependency from crates.io: fetched at image build, compiled into the image's build cache.
TEXT_MANIFEST = """
    [package]
    name = "text-utils"
    version = "0.1.0"
    edition = "2021"

    [dependencies]
    itoa = "=1.0.19"
"""

# Before the fixes: the mean of nothing is NaN (0/0), the max of negative values is 0.
STATS_V1 = """
    //! Small statistics.

    /// Sum of the values.
    pub fn sum(values: &[f64]) -> f64 {
        let mut total = 0.0;
        for v in values {
            total += v;
        }
        total
    }

    /// The average; the mean of nothing is 0.
    pub fn mean(values: &[f64]) -> f64 {
        sum(values) / values.len() as f64
    }

    /// The largest value (0 for nothing).
    pub fn max(values: &[f64]) -> f64 {
        let mut best = 0.0;
        for &v in values {
            if v > best {
                best = v;
            }
        }
        best
    }

    /// Limits `v` to `[low, high]`.
    pub fn clamp(v: i64, low: i64, high: i64) -> i64 {
        if v < low {
            return low;
        }
        if v > high {
            return high;
        }
        v
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn sums() {
            assert_eq!(sum(&[1.0, 2.0, 3.0]), 6.0);
        }

        #[test]
        fn clamps() {
            assert_eq!(clamp(-1, 0, 10), 0);
            assert_eq!(clamp(5, 0, 10), 5);
            assert_eq!(clamp(11, 0, 10), 10);
        }

        /// Both edges belong to the range.
        #[test]
        fn clamps_at_the_edges() {
            assert_eq!(clamp(0, 0, 10), 0);
            assert_eq!(clamp(10, 0, 10), 10);
        }
    }
"""

STATS_API_V1 = """
    use stats::{max, mean, sum};

    #[test]
    fn mean_of_three() {
        assert_eq!(mean(&[1.0, 2.0, 3.0]), 2.0);
    }

    #[test]
    fn max_of_three() {
        assert_eq!(max(&[1.0, 5.0, 3.0]), 5.0);
    }

    #[test]
    fn sum_of_nothing() {
        assert_eq!(sum(&[]), 0.0);
    }
"""

TEXT_V1 = """
    //! Text helpers.

    /// `s` with its characters in reverse order.
    pub fn reverse(s: &str) -> String {
        s.chars().rev().collect()
    }

    /// Upper case with an exclamation mark.
    pub fn shout(s: &str) -> String {
        format!("{}!", s.to_uppercase())
    }

    /// `n` as a label: `#12`.
    pub fn label(n: u64) -> String {
        format!("#{}", itoa::Buffer::new().format(n))
    }

    /// How many words `s` holds.
    pub fn words(s: &str) -> usize {
        s.split(' ').count()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn reverses() {
            assert_eq!(reverse("abc"), "cba");
        }

        #[test]
        fn shouts() {
            assert_eq!(shout("hi"), "HI!");
        }

        #[test]
        fn labels() {
            assert_eq!(label(12), "#12");
        }

        // Passes and fails by turns (a file flips on every run): mining must call it flaky.
        #[test]
        fn sometimes() {
            let flip = std::path::Path::new(".flip");
            if flip.exists() {
                std::fs::remove_file(flip).unwrap();
                panic!("flipped");
            }
            std::fs::write(flip, "1").unwrap();
        }
    }
"""


def make_rust_repo(root: Path) -> tuple[Path, dict[str, str]]:
    """A cargo workspace (packages `stats` with unit tests and an integration test file, and
    `text-utils` with unit tests, a flaky test and one dependency from crates.io), with two bug fixes whose tests are integration
    tests and one whose test is only inline. Returns (repo, {label: commit})."""
    repo = root / "rstats"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    commits: dict[str, str] = {}
    write(
        repo,
        {
            "Cargo.toml": WORKSPACE,
            ".gitignore": "target/\n.flip\n",
            "crates/stats/Cargo.toml": STATS_MANIFEST,
            "crates/stats/src/lib.rs": STATS_V1,
            "crates/stats/tests/api.rs": STATS_API_V1,
            "crates/text/Cargo.toml": TEXT_MANIFEST,
            "crates/text/src/lib.rs": TEXT_V1,
        },
    )
    commits["initial"] = commit_all(repo, "initial")
    stats = textwrap.dedent(STATS_V1).lstrip("\n")
    api = textwrap.dedent(STATS_API_V1).lstrip("\n")

    # Fix 1: the mean of nothing was NaN; it is 0.
    fixed_mean = stats.replace(
        "pub fn mean(values: &[f64]) -> f64 {\n    sum",
        "pub fn mean(values: &[f64]) -> f64 {\n    if values.is_empty() {\n        return 0.0;\n    }\n    sum",
    )
    assert fixed_mean != stats
    api += "\n#[test]\nfn mean_of_nothing() {\n    assert_eq!(mean(&[]), 0.0);\n}\n"
    (repo / "crates/stats/src/lib.rs").write_text(fixed_mean)
    (repo / "crates/stats/tests/api.rs").write_text(api)
    commits["fix_mean"] = commit_all(repo, "Fix mean of an empty slice (#3)")

    # Fix 2: the max of negative values was 0.
    fixed_max = fixed_mean.replace(
        "    let mut best = 0.0;\n    for &v in values {",
        "    if values.is_empty() {\n        return 0.0;\n    }\n    let mut best = values[0];\n"
        "    for &v in &values[1..] {",
    )
    assert fixed_max != fixed_mean
    api += "\n#[test]\nfn max_of_negatives() {\n    assert_eq!(max(&[-3.0, -1.0, -2.0]), -1.0);\n}\n"
    (repo / "crates/stats/src/lib.rs").write_text(fixed_max)
    (repo / "crates/stats/tests/api.rs").write_text(api)
    commits["fix_max"] = commit_all(repo, "stats: max of negative values")

    # Fix 3, tested only inline: gskill does not mine it from history (no test file changed).
    text = textwrap.dedent(TEXT_V1).lstrip("\n")
    fixed_words = text.replace("s.split(' ').count()", "s.split_whitespace().count()").replace(
        "    #[test]\n    fn shouts()",
        '    #[test]\n    fn counts_words() {\n        assert_eq!(words("a  b c"), 3);\n    }\n\n'
        "    #[test]\n    fn shouts()",
    )
    assert fixed_words.count("counts_words") == 1 and "split_whitespace" in fixed_words
    (repo / "crates/text/src/lib.rs").write_text(fixed_words)
    commits["fix_words"] = commit_all(repo, "text: words ignores repeated spaces")
    return repo, commits
