"""The miner's model access (llm-rewrite's rewrites, `--issue-writer llm`'s statements).

Reads and writes the store's `llm:HASH` meta entries (one per distinct prompt) and appends every call,
request and response, to `OUT/llm_calls.jsonl`.
"""

from __future__ import annotations

import json
from pathlib import Path

from gskill.errors import GskillError
from swesmith.store import MiningStore


class ModelAccess:
    """The miner's model calls: cached in the store (a resumed run never pays twice for one prompt)
    and recorded, request and response, in OUT/llm_calls.jsonl. Keys never pass through here."""

    def __init__(self, model: str, store: MiningStore, log_path: Path, endpoint=None) -> None:
        """`endpoint`: the model's `gskill.schema.ModelEndpoint` (its own server, its price), if any."""
        from harnesses.gateway.models import CallLog

        self.model, self.endpoint = model, endpoint
        self.store = store
        self.log = CallLog(log_path)

    def ask(self, messages: list[dict], attempt: int = 0, purpose: str = "") -> str:
        import hashlib

        from harnesses.gateway.models import complete, text_of

        key = (
            "llm:"
            + hashlib.sha256(json.dumps([self.model, messages, attempt], sort_keys=True).encode()).hexdigest()[:32]
        )
        cached = self.store.get_meta(key)
        if cached is not None:
            return cached
        try:
            reply = text_of(
                complete(
                    self.model,
                    messages,
                    metadata={"attempt": attempt, "purpose": purpose},
                    log=self.log,
                    purpose=purpose,
                    endpoint=self.endpoint,
                )
            )
        except Exception as exc:  # provider errors, bad keys, unknown models: one line, run resumable
            raise GskillError(f"model {self.model!r} failed: {str(exc).splitlines()[0][:300]}") from None
        self.store.set_meta(key, reply)
        return reply
