"""The Python part of an env image: a venv with the repo installed editable plus its test dependencies,
gskill's coverage tool beside it, and the repair loop that installs what pytest's collection lacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

from harnesses.images.deps import detect_dependencies
from languages.base import ImageRecipe

# Tools of gskill's own (coverage), installed with --target apart from the project's environment.
COVERAGE_TOOLS = "/opt/gskill-tools"
REPAIR_SCRIPT = Path(__file__).with_name("repair.py")

STEPS = f"""\
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore PIP_NO_INPUT=1
# A normal public Python image may lack a C compiler (C extensions) or venv; the offline base has both.
RUN (command -v gcc && python3 -c "import venv, ensurepip") >/dev/null 2>&1 \\
    || (apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \\
        $(python3 -c "import venv, ensurepip" 2>/dev/null || echo python3-venv) && rm -rf /var/lib/apt/lists/*)
RUN python3 -m venv /opt/gskill-venv
ENV PATH=/opt/gskill-venv/bin:$PATH VIRTUAL_ENV=/opt/gskill-venv
RUN PYTHONDONTWRITEBYTECODE=1 bash /opt/gskill/install.sh
# Coverage for procedural mining, beside the project's venv (not in it): mining containers have no
# network, so it cannot be fetched later. Without it, mining says so and skips procedural bugs.
RUN python -m pip install -q --target {COVERAGE_TOOLS} coverage || echo "gskill: coverage not installed" >&2
# No __pycache__ of the snapshot's code stays in the image: bytecode of the fixed code would survive a
# bug patch.
RUN PYTHONDONTWRITEBYTECODE=1 python /opt/gskill/repair.py --repo /repo --report /opt/gskill/env.json; \\
    find /repo -name __pycache__ -prune -exec rm -rf {{}} + ; rm -rf /repo/.pytest_cache; \\
    git status --porcelain --untracked-files=all | sed -n 's/^?? //p' >> .git/info/exclude; true
"""


def python_recipe(paths: Sequence[str], read: Callable[[str], str | None]) -> ImageRecipe:
    spec = detect_dependencies(paths, read)
    return ImageRecipe(
        steps=STEPS,
        files={
            "gskill/install.sh": spec.install_script().encode(),
            "gskill/repair.py": REPAIR_SCRIPT.read_bytes(),
            "gskill/deps.json": json.dumps(spec.to_json(), indent=2, sort_keys=True).encode(),
        },
        sources=spec.sources or ("no dependency files found: installing the repo and pytest only",),
        key=spec.to_json(),
    )
