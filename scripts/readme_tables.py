#!/usr/bin/env python3
"""Write the README's generated tables from their registries, or with `--check` exit 1 if one is
stale: the agents table (`harnesses.agents.AGENTS`) between `<!-- agents:begin -->` and
`<!-- agents:end -->`, the languages table (`languages.PROFILES`) between `<!-- languages:begin -->`
and `<!-- languages:end -->`. Nothing else in the README is touched."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harnesses.agents import readme_table as agents_table  # noqa: E402
from languages import readme_table as languages_table  # noqa: E402

TABLES = {"agents": agents_table, "languages": languages_table}


def updated(text: str) -> str:
    for name, table in TABLES.items():
        block = re.compile(rf"(<!-- {name}:begin[^\n]*-->\n)(.*?)(<!-- {name}:end -->)", re.S)
        if not block.search(text):
            raise SystemExit(f"README.md has no <!-- {name}:begin --> ... <!-- {name}:end --> block")
        text = block.sub(lambda m: m.group(1) + table() + m.group(3), text, count=1)
    return text


def main() -> int:
    readme = ROOT / "README.md"
    text = readme.read_text()
    new = updated(text)
    if "--check" in sys.argv[1:]:
        if new != text:
            print("README.md's generated tables are stale: run scripts/readme_tables.py", file=sys.stderr)
            return 1
        return 0
    if new != text:
        readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
