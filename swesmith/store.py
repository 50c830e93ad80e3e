"""The mining store: `OUT/mining_cache.sqlite`, one SQLite file next to the outputs, so a re-run resumes.

Table `verdicts`: every validated candidate (as `candidate_to_json`) and its `Verdict`, by candidate key,
written as each verdict arrives; a candidate found there is never run again. Table `meta`: each stage's
costly results by key (`baseline:IMAGE:RUNS`, `collect-seconds:IMAGE`, `history:...`,
`coverage-nodes:IMAGE`, `llm:HASH`), so a resumed run skips them.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
import time
import zlib
from dataclasses import asdict
from pathlib import Path

from gskill.schema import Strategy
from swesmith.candidate import Candidate
from swesmith.validate import Verdict


class MiningStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, strategy TEXT, candidate TEXT, verdict TEXT, at REAL)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self._lock = threading.Lock()

    def verdict(self, key: str) -> Verdict | None:
        with self._lock:
            row = self._db.execute("SELECT verdict FROM verdicts WHERE key = ?", (key,)).fetchone()
        if not row:
            return None
        fields = json.loads(row[0])
        if "logs_z" in fields:
            fields["logs"] = json.loads(zlib.decompress(base64.b64decode(fields.pop("logs_z"))))
        return Verdict(**fields)

    def put(self, candidate: Candidate, verdict: Verdict) -> None:
        record, fields = candidate_to_json(candidate), asdict(verdict)
        # Test logs (go test -json above all) are large and repetitive: compressed, they cost a tenth.
        if fields["logs"]:
            fields["logs_z"] = base64.b64encode(zlib.compress(json.dumps(fields.pop("logs")).encode())).decode()
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?)",
                (candidate.key, candidate.strategy.value, json.dumps(record), json.dumps(fields), time.time()),
            )

    def get_meta(self, key: str):
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))


def candidate_to_json(candidate: Candidate) -> dict:
    return {**asdict(candidate), "strategy": candidate.strategy.value}


def candidate_from_json(record: dict) -> Candidate:
    fields = dict(record)
    fields["strategy"] = Strategy(fields["strategy"])
    fields["test_files"] = tuple(fields.get("test_files", ()))
    fields["entities"] = tuple(fields.get("entities", ()))
    return Candidate(**fields)


def write_log(path: Path, text: str) -> None:
    """A test run's full output under OUT/logs/, so its verdict can be recomputed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
