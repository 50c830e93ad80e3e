"""The run store: one SQLite file that makes a run resumable and keeps every paid call.

- `evaluations`: one row per metric call, written the moment it finishes (keyed by evaluator identity,
  candidate hash, example id, seed), so no identical call is ever paid twice and a crash loses at
  most the calls in flight;
- `executions`: every call actually started, with the session that started it — the evidence that a
  resumed run re-ran nothing it already had;
- `lm_calls`: every reflection reply keyed by (model, prompt hash): a resumed run replays the same
  proposals even from a non-deterministic model;
- `candidates` / `iterations`: what the search did, for reports (rewritten identically on replay).

SQLite in WAL mode, one connection guarded by a lock: calls finish on worker threads.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from gskill.engine.types import Evaluation, LMReply

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evaluations (
    evaluator TEXT NOT NULL, candidate TEXT NOT NULL, example TEXT NOT NULL, seed INTEGER NOT NULL,
    score REAL NOT NULL, side_info TEXT NOT NULL, cost_usd REAL NOT NULL, session TEXT NOT NULL,
    finished_at REAL NOT NULL, PRIMARY KEY (evaluator, candidate, example, seed));
CREATE TABLE IF NOT EXISTS executions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, evaluator TEXT NOT NULL, candidate TEXT NOT NULL, example TEXT NOT NULL,
    seed INTEGER NOT NULL, session TEXT NOT NULL, started_at REAL NOT NULL, finished_at REAL);
CREATE TABLE IF NOT EXISTS lm_calls (
    model TEXT NOT NULL, prompt_hash TEXT NOT NULL, prompt TEXT NOT NULL, text TEXT NOT NULL, cost_usd REAL NOT NULL,
    session TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (model, prompt_hash));
CREATE TABLE IF NOT EXISTS candidates (idx INTEGER PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS iterations (iteration INTEGER PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS texts (candidate TEXT PRIMARY KEY, components TEXT NOT NULL);
"""


def prompt_hash(prompt: str) -> str:
    return hashlib.sha256(prompt.encode()).hexdigest()


class RunStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self.session = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- meta ------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> Any:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value: Any) -> None:
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True)))

    # -- metric calls ----------------------------------------------------------------------------
    def evaluation(self, evaluator: str, candidate: str, example: str, seed: int) -> Evaluation | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT score, side_info, cost_usd FROM evaluations WHERE evaluator=? AND candidate=? AND example=? AND seed=?",
                (evaluator, candidate, example, seed),
            ).fetchone()
        return Evaluation(row[0], json.loads(row[1]), row[2]) if row else None

    def started(self, evaluator: str, candidate: str, example: str, seed: int) -> int:
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO executions (evaluator, candidate, example, seed, session, started_at) VALUES (?,?,?,?,?,?)",
                (evaluator, candidate, example, seed, self.session, time.time()),
            )
            return int(cursor.lastrowid)

    def finished(
        self, execution: int, evaluator: str, candidate: str, example: str, seed: int, result: Evaluation
    ) -> None:
        now = time.time()
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.execute(
                "INSERT OR REPLACE INTO evaluations VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    evaluator,
                    candidate,
                    example,
                    seed,
                    float(result.score),
                    json.dumps(result.side_info, default=str),
                    float(result.cost_usd),
                    self.session,
                    now,
                ),
            )
            self._conn.execute("UPDATE executions SET finished_at = ? WHERE id = ?", (now, execution))
            self._conn.execute("COMMIT")

    def executions(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT evaluator, candidate, example, seed, session, started_at, finished_at FROM executions ORDER BY id"
            ).fetchall()
        keys = ("evaluator", "candidate", "example", "seed", "session", "started_at", "finished_at")
        return [dict(zip(keys, row)) for row in rows]

    def evaluations(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT evaluator, candidate, example, seed, score, cost_usd, session, finished_at FROM evaluations ORDER BY finished_at"
            ).fetchall()
        keys = ("evaluator", "candidate", "example", "seed", "score", "cost_usd", "session", "finished_at")
        return [dict(zip(keys, row)) for row in rows]

    # -- reflection replies ----------------------------------------------------------------------
    def lm_reply(self, model: str, prompt: str) -> LMReply | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT text, cost_usd FROM lm_calls WHERE model=? AND prompt_hash=?", (model, prompt_hash(prompt))
            ).fetchone()
        return LMReply(row[0], row[1]) if row else None

    def save_lm_reply(self, model: str, prompt: str, reply: LMReply) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO lm_calls VALUES (?,?,?,?,?,?,?)",
                (model, prompt_hash(prompt), prompt, reply.text, float(reply.cost_usd), self.session, time.time()),
            )

    def lm_calls(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT model, prompt, text, cost_usd, created_at FROM lm_calls ORDER BY created_at"
            ).fetchall()
        return [dict(zip(("model", "prompt", "text", "cost_usd", "created_at"), row)) for row in rows]

    # -- search record ---------------------------------------------------------------------------
    def save_candidate(self, index: int, record: dict[str, Any]) -> None:
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO candidates VALUES (?, ?)", (index, json.dumps(record)))

    def save_iteration(self, iteration: int, record: dict[str, Any]) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO iterations VALUES (?, ?)", (iteration, json.dumps(record, default=str))
            )

    def save_text(self, candidate: str, components: dict[str, str]) -> None:
        with self._lock:
            self._conn.execute("INSERT OR IGNORE INTO texts VALUES (?, ?)", (candidate, json.dumps(components)))

    def candidates(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute("SELECT record FROM candidates ORDER BY idx").fetchall()
        return [json.loads(row[0]) for row in rows]

    def iterations(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute("SELECT record FROM iterations ORDER BY iteration").fetchall()
        return [json.loads(row[0]) for row in rows]
