"""Bounded capture of a command's output: keep the head and the tail, cut the middle.

Agents' commands can print without end (a `cat` of a log, a runaway loop); the head says what ran
and the tail says how it ended, so both survive and memory stays bounded.
"""

from __future__ import annotations

import threading

MAX_OUTPUT_BYTES = 8 * 1024 * 1024


class OutputBuffer:
    def __init__(self, limit: int = MAX_OUTPUT_BYTES) -> None:
        self._half = limit // 2
        self._head = bytearray()
        self._tail = bytearray()
        self._dropped = 0
        self._lock = threading.Lock()

    def add(self, chunk: bytes) -> None:
        with self._lock:
            room = self._half - len(self._head)
            if room > 0:
                self._head += chunk[:room]
                chunk = chunk[room:]
            if not chunk:
                return
            self._tail += chunk
            overflow = len(self._tail) - self._half
            if overflow > 0:
                del self._tail[:overflow]
                self._dropped += overflow

    def text(self) -> str:
        with self._lock:
            middle = f"\n[... {self._dropped} bytes cut by gskill ...]\n".encode() if self._dropped else b""
            return bytes(self._head + middle + self._tail).decode("utf-8", errors="replace")
