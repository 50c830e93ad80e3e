"""Sandbox overhead, measured in one run: start-to-ready, exec round trip, and in-sandbox test time
relative to the same tests run bare on the host.

    python benchmarks/sandbox_overhead.py                  # a generated repo (300 CPU-bound tests)
    python benchmarks/sandbox_overhead.py --repo PATH      # a real repo (host venv built with the same install script)

Targets (issue #2): docker ready <= 1 s, test-time ratio <= 1.2. Times are wall-clock medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from gskill.config import load_settings  # noqa: E402
from harnesses.images.build import configured_env_image, resolve_snapshot  # noqa: E402
from harnesses.sandbox import DockerSandbox, LocalSandbox, docker_client  # noqa: E402
from benchmarks.host import host_environment  # noqa: E402
from languages import profile_named  # noqa: E402

TEST_COMMAND = "python -m pytest -q -p no:cacheprovider -x"
console = Console()


def generated_repo(root: Path) -> Path:
    """A package with 300 tests that do real work (~1-2 s), so the ratio is not all startup."""
    repo = root / "benchrepo"
    (repo / "src" / "benchpkg").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"
            [project]
            name = "benchpkg"
            version = "0"
            [project.optional-dependencies]
            test = ["pytest"]
            """
        )
    )
    (repo / "src" / "benchpkg" / "__init__.py").write_text(
        "def primes(limit):\n"
        "    sieve = bytearray([1]) * (limit + 1)\n"
        "    sieve[0:2] = b'\\x00\\x00'\n"
        "    for i in range(2, int(limit ** 0.5) + 1):\n"
        "        if sieve[i]:\n"
        "            sieve[i * i :: i] = bytearray(len(sieve[i * i :: i]))\n"
        "    return [i for i, flag in enumerate(sieve) if flag]\n"
    )
    for module in range(10):
        (repo / "tests" / f"test_m{module}.py").write_text(
            "import pytest\nfrom benchpkg import primes\n\n"
            "@pytest.mark.parametrize('n', range(30))\n"
            f"def test_primes(n):\n    assert len(primes(20000 + n * {module + 1})) > 2000\n"
        )
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "bench"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True)
    return repo


def timed(fn, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - began)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, help="a local git repo (default: a generated one)")
    parser.add_argument("--runs", type=int, default=5, help="repetitions of the test-suite timing")
    args = parser.parse_args()

    settings = load_settings()
    client = docker_client()
    with tempfile.TemporaryDirectory(prefix="gskill-bench-") as tmp:
        root = Path(tmp)
        repo = args.repo.resolve() if args.repo else generated_repo(root)
        snapshot = resolve_snapshot(repo, None, settings.cache_dir)
        with console.status("building / reusing the env image"):
            env = configured_env_image(client, snapshot, settings)
        with console.status("installing the repo on the host"):
            host = host_environment(snapshot, profile_named("python"), root)

        def docker_ready() -> None:
            with DockerSandbox.start(env.image) as box:
                box.exec("true")

        def local_ready() -> None:
            with LocalSandbox.start(repo, snapshot.commit) as box:
                box.exec("true")

        with console.status("start-to-ready"):
            docker_ready()  # warm the page cache once
            docker_start = timed(docker_ready, 10)
            local_start = timed(local_ready, 10)

        def host_tests() -> None:
            host.run(TEST_COMMAND, check=True)

        with console.status("exec round trip and test-suite timing"):
            with DockerSandbox.start(env.image) as box:
                exec_rt = timed(lambda: box.exec("true"), 50)
                first = box.exec(TEST_COMMAND, timeout=1800)
                if first.exit_code != 0:
                    sys.exit(f"the tests fail in the sandbox:\n{first.output[-2000:]}")
                docker_tests = timed(lambda: box.exec(TEST_COMMAND, timeout=1800), args.runs)
            with LocalSandbox.start(repo, snapshot.commit) as box:
                local_rt = timed(lambda: box.exec("true"), 50)
            host_tests()  # warm
            host_times = timed(host_tests, args.runs)

    med = statistics.median
    ratio = med(docker_tests) / med(host_times)
    table = Table(
        title=f"sandbox overhead — {snapshot.name}@{snapshot.commit[:12]} ({first.output.strip().splitlines()[-1]})"
    )
    for column in ("measure", "docker", "local", "host", "target", "verdict"):
        table.add_column(column)
    ready = med(docker_start)
    table.add_row(
        "start-to-ready (s)", f"{ready:.3f}", f"{med(local_start):.3f}", "-", "<= 1.0", "ok" if ready <= 1.0 else "MISS"
    )
    table.add_row("exec round trip (ms)", f"{med(exec_rt) * 1e3:.1f}", f"{med(local_rt) * 1e3:.1f}", "-", "-", "-")
    table.add_row("test suite (s)", f"{med(docker_tests):.3f}", "-", f"{med(host_times):.3f}", "-", "-")
    table.add_row(
        "test-time ratio docker/host", f"{ratio:.3f}", "-", "1.000", "<= 1.2", "ok" if ratio <= 1.2 else "MISS"
    )
    console.print(table)
    console.print(f"image {env.image}; runs={args.runs}; medians of wall-clock times measured in this run")


if __name__ == "__main__":
    main()
