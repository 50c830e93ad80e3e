"""One task as files another harness can run with nothing of gskill installed: an image holding the
agent's starting point, and a shell script that grades whatever is in /testbed.

- `start_image_files(task)`: a Docker build context `FROM` the task's env image that runs the agent's
  setup (`harnesses.taskenv.agent_start_script`: bug state, F2P tests hidden, a fresh one-commit history)
  and links `/testbed` (where SWE-bench and Harbor work) to `/repo` (where gskill's images keep the tree).
- `grading_lines(task)`: shell lines that do what `harnesses.grading.grade` does after the agent's
  patch is applied: test files the task restores go back to the starting point, `test_patch` goes on
  top, the task's units run with its language's `TestSpec`, and the outcomes are printed between
  SWE-bench's markers as `--- PASS: <test id> (0s)` lines, which swebench's `parse_log_gotest` reads
  back into exactly our test ids (its pattern takes any name, spaces included). The outcomes come from
  the language profile's own parser, shipped into the container as a zip of its stdlib-only modules
  (`status_program`), so an exported task is graded by the same code as in gskill.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import io
import json
import shlex
import zipfile
from pathlib import Path

from gskill.schema import Task, patch_files
from harnesses.taskenv import agent_start_script
from languages import profile_named
from languages.verdict import test_units

# What swebench's harness reads our status lines with (swebench.harness.log_parsers.PARSER_REGISTRY).
SWEBENCH_LOG_PARSER = "parse_log_gotest"
START_MARKER, END_MARKER = ">>>>> Start Test Output", ">>>>> End Test Output"  # swebench's constants
TEST_OUTPUT = "/tmp/gskill-test-output.log"
STATUS_PROGRAM = "/tmp/gskill-status"
# Harbor's verifier reads the reward from this file (harbor.models.task.paths).
HARBOR_REWARD = "/logs/verifier/reward.txt"

# Printed per test by the status program; `parse_log_gotest` matches `^--- (PASS|FAIL|SKIP): (.+) \((.+)\)$`.
_STATUS_WORD = {"PASSED": "PASS", "XFAIL": "PASS", "SKIPPED": "SKIP", "FAILED": "FAIL", "ERROR": "FAIL"}

_STATUS_MAIN = """\
import json, sys
from {module} import {function} as parse

words = {words}
status = parse(open(sys.argv[1], encoding="utf-8", errors="replace").read())
for test_id in sorted(status):
    print(f"--- {{words.get(status[test_id], 'FAIL')}}: {{test_id}} (0s)")
if len(sys.argv) > 2:  # --expect FILE: every FAIL_TO_PASS and PASS_TO_PASS test must pass (reward 1, else 0)
    expected = json.load(open(sys.argv[3]))
    ok = all(words.get(status.get(test), "FAIL") == "PASS" for test in expected)
    print(1 if ok else 0, file=open(sys.argv[4], "w"))
"""


def _module_file(name: str) -> Path:
    return Path(importlib.import_module(name).__file__)


def status_program(language: str) -> bytes:
    """A zip (run as `python3 FOLDER` once extracted) printing a test log's outcomes as status lines, made of the language profile's parse
    module, `languages.base` and the stdlib-only part of swebench its parser may import; every package
    `__init__` is left empty so nothing else (tree-sitter, Docker) is imported in the container."""
    parse = profile_named(language).test_spec.parse
    modules = ["languages.base", parse.__module__, "swebench.types", "swebench.harness.constants"]
    modules.append("swebench.harness.log_parsers.python")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        packages = set()
        for module in modules:
            source = _module_file(module)
            is_package = source.name == "__init__.py"
            path = module.replace(".", "/") + ("/__init__.py" if is_package else ".py")
            archive.writestr(path, source.read_text(encoding="utf-8"))
            parts = module.split(".")
            packages.update(".".join(parts[:i]) for i in range(1, len(parts)))
        # The parse module may read a file beside it at import (Rust's runner.py, jstest.cjs): its
        # folder's other files come along (never its __init__, which would import the whole profile).
        parse_file = _module_file(parse.__module__)
        folder = parse.__module__.rsplit(".", 1)[0].replace(".", "/")
        for sibling in sorted(parse_file.parent.iterdir()):
            path = f"{folder}/{sibling.name}"
            if sibling.is_file() and sibling.name != "__init__.py" and path not in archive.namelist():
                archive.writestr(path, sibling.read_bytes())
        for package in sorted(packages - set(modules)):
            archive.writestr(package.replace(".", "/") + "/__init__.py", "")
        main = _STATUS_MAIN.format(module=parse.__module__, function=parse.__name__, words=json.dumps(_STATUS_WORD))
        archive.writestr("__main__.py", main)
    return buffer.getvalue()


def _heredoc(path: str, text: str) -> str:
    tag = "GSKILL_" + hashlib.sha256(text.encode()).hexdigest()[:12].upper()
    return f"mkdir -p {shlex.quote(str(Path(path).parent))}\ncat > {shlex.quote(path)} <<'{tag}'\n{text}\n{tag}"


def grading_lines(task: Task, *, expect_into: str | None = None) -> list[str]:
    """Shell lines grading /testbed's tree (the agent's starting point plus its patch); written for
    `set -uxo pipefail` without -e, as swebench runs them. With `expect_into`, the status program also
    writes 1 (every FAIL_TO_PASS and PASS_TO_PASS test passed) or 0 there: Harbor's reward."""
    profile = profile_named(task.language)
    spec = profile.test_spec
    lines = ["cd /testbed"]
    if task.test_patch:
        # As in gskill's grader: the test files the task restores go back to the starting point first
        # (an agent may not grade itself by editing them); a source file that holds tests (Rust's
        # inline `mod tests`) keeps the agent's change and gets the tests back on top.
        reset = [path for path in patch_files(task.test_patch) if profile.is_test_file(path)]
        if reset:
            lines.append(
                f"for f in {' '.join(shlex.quote(p) for p in reset)}; do "
                'if git cat-file -e "HEAD:$f" 2>/dev/null; then git checkout HEAD -- "$f"; else rm -f "$f"; fi; done'
            )
        lines.append(_heredoc("/tmp/gskill-tests.diff", task.test_patch.rstrip("\n")))
        lines.append("git apply --whitespace=nowarn /tmp/gskill-tests.diff && rm -f /tmp/gskill-tests.diff")
    for path, text in spec.support_files.items():
        lines.append(_heredoc(path, text.rstrip("\n")))
    program = base64.encodebytes(status_program(task.language)).decode().strip()
    lines.append(f"base64 -d > {STATUS_PROGRAM}.zip <<'GSKILL_STATUS_PROGRAM'\n{program}\nGSKILL_STATUS_PROGRAM")
    lines.append(f"rm -rf {STATUS_PROGRAM} && python3 -m zipfile -e {STATUS_PROGRAM}.zip {STATUS_PROGRAM}")
    exports = "".join(f"export {key}={shlex.quote(value)}; " for key, value in spec.env.items())
    command = spec.command(test_units(task), "grade", None)
    # Our commands are written for plain bash: no -u, no trace in the test log.
    lines.append(f"( set +ux; {exports}\n{command}\n) > {TEST_OUTPUT} 2>&1")
    lines.append(f"cat {TEST_OUTPUT}")
    status = f"python3 {STATUS_PROGRAM} {TEST_OUTPUT}"
    if expect_into:
        expected = json.dumps(sorted(set(task.FAIL_TO_PASS) | set(task.PASS_TO_PASS)))
        lines.append(_heredoc("/tmp/gskill-expected.json", expected))
        status += f" --expect /tmp/gskill-expected.json {shlex.quote(expect_into)}"
    lines += [f"echo '{START_MARKER}'", status, f"echo '{END_MARKER}'"]
    return lines


def start_image_files(task: Task) -> dict[str, bytes]:
    """The build context of the image holding `task`'s starting point at /repo and /testbed."""
    uploads, script = agent_start_script(task)
    copies = "".join(f"COPY {Path(path).name} {path}\n" for path in uploads)
    dockerfile = (
        f"FROM {task.image_name}\n{copies}COPY start.sh /tmp/gskill-start.sh\n"
        "WORKDIR /repo\n"
        "RUN bash /tmp/gskill-start.sh && rm -f /tmp/gskill-start.sh && ln -sfn /repo /testbed\n"
        "WORKDIR /testbed\n"
    )
    files = {Path(path).name: text.encode() for path, text in uploads.items()}
    files |= {"Dockerfile": dockerfile.encode(), "start.sh": script.encode()}
    return files
