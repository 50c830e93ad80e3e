#!/usr/bin/env python3
"""Write the README's agents table from the agent registry (`harnesses.agents.AGENTS`), or with
`--check` exit 1 if it is stale. The table sits between the `<!-- agents:begin -->` and
`<!-- agents:end -->` lines; nothing else in the README is touched."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harnesses.agents import readme_table  # noqa: E402

BLOCK = re.compile(r"(<!-- agents:begin[^\n]*-->\n)(.*?)(<!-- agents:end -->)", re.S)


def updated(text: str) -> str:
    if not BLOCK.search(text):
        raise SystemExit("README.md has no <!-- agents:begin --> ... <!-- agents:end --> block")
    return BLOCK.sub(lambda m: m.group(1) + readme_table() + m.group(3), text, count=1)


def main() -> int:
    readme = ROOT / "README.md"
    text = readme.read_text()
    new = updated(text)
    if "--check" in sys.argv[1:]:
        if new != text:
            print("README.md's agents table is stale: run scripts/readme_agents.py", file=sys.stderr)
            return 1
        return 0
    if new != text:
        readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
