"""Provider rate limits, kept before a request leaves for the provider.

    limiter = RateLimiter([RateLimit(model="openai/*", rpm=500, tpm=200_000)])
    time.sleep(limiter.reserve("openai/gpt-5-mini", tokens=1_200))   # books a start, says how long to wait
    ...call the provider...
    limiter.settle("openai/gpt-5-mini", estimated=1_200, actual=1_950)  # the bucket learns the real size
    limiter.pause("openai/gpt-5-mini", 8.0)                              # the provider answered 429

Each limit is a GCRA bucket (a token bucket written as one "theoretical arrival time"): requests
leave at most `rpm` a minute and `tpm` tokens a minute, with a burst of one second's worth, so 40
agents that start together do not all hit the provider in the same instant. `reserve` books the
earliest start every matching limit allows and returns the wait, so the limiter never blocks a
thread itself: on a Ray cluster it lives in one actor at the driver (`harnesses.ray_executor`) and
every node's gateway books through it, which keeps the limits cluster-wide. A 429 from the provider
pauses that model for everybody (its Retry-After, else a doubling back-off), not just for the one
agent that saw it.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from pydantic import ValidationError

from gskill.schema import RateLimit

MIN_PAUSE_S, MAX_PAUSE_S = 1.0, 60.0


class Limiter(Protocol):
    def reserve(self, model: str, tokens: int) -> float: ...
    def settle(self, model: str, estimated: int, actual: int) -> None: ...
    def pause(self, model: str, seconds: float | None) -> float: ...


@dataclass
class _Bucket:
    interval: float  # seconds per unit (request or token)
    tolerance: float  # seconds of burst allowed ahead of the steady rate
    arrival: float = 0.0  # the theoretical arrival time of the next unit

    def earliest(self, now: float) -> float:
        return max(now, self.arrival - self.tolerance)

    def book(self, start: float, units: float) -> None:
        self.arrival = max(self.arrival, start) + self.interval * units


class RateLimiter:
    """Thread-safe. Models without a matching limit are never delayed, except after a provider 429."""

    def __init__(self, limits: list[RateLimit], clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = list(limits)
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[int, str], _Bucket] = {}
        self._paused_until: dict[str, float] = {}
        self._pauses: dict[str, int] = {}  # 429s in a row per model, for the back-off

    def _buckets_for(self, model: str) -> list[tuple[_Bucket, str]]:
        """(bucket, unit) pairs of every limit matching `model`. A glob's buckets are shared by all the
        models it matches: one account-wide quota."""
        found = []
        for index, limit in enumerate(self.limits):
            if not fnmatch.fnmatchcase(model, limit.model):
                continue
            for unit, per_minute in (("request", limit.rpm), ("token", limit.tpm)):
                if per_minute:
                    if (index, unit) not in self._buckets:
                        interval = 60.0 / per_minute
                        self._buckets[(index, unit)] = _Bucket(interval, interval * max(per_minute / 60.0 - 1, 0.0))
                    found.append((self._buckets[(index, unit)], unit))
        return found

    def reserve(self, model: str, tokens: int = 0) -> float:
        """Books one request of about `tokens` tokens; returns the seconds to wait before sending it."""
        with self._lock:
            now = self.clock()
            buckets = self._buckets_for(model)
            start = max([now, self._paused_until.get(model, 0.0)] + [bucket.earliest(now) for bucket, _ in buckets])
            for bucket, unit in buckets:
                bucket.book(start, 1 if unit == "request" else max(tokens, 0))
            return start - now

    def settle(self, model: str, estimated: int, actual: int) -> None:
        """After the call: charge (or give back) the difference between the estimate and the real size,
        and end the model's back-off streak."""
        with self._lock:
            self._pauses.pop(model, None)
            for bucket, unit in self._buckets_for(model):
                if unit == "token":
                    bucket.arrival += bucket.interval * (actual - estimated)

    def pause(self, model: str, seconds: float | None = None) -> float:
        """The provider refused with 429: nobody calls `model` for `seconds` (its Retry-After), or for
        a back-off that doubles with each 429 in a row. Returns the pause."""
        with self._lock:
            streak = self._pauses.get(model, 0) + 1
            self._pauses[model] = streak
            wait = min(seconds if seconds and seconds > 0 else MIN_PAUSE_S * 2 ** (streak - 1), MAX_PAUSE_S)
            self._paused_until[model] = max(self._paused_until.get(model, 0.0), self.clock() + wait)
            return wait


def parse_rate_limit(text: str) -> RateLimit:
    """`rpm=500,tpm=200000[,model=openai/*]` → RateLimit; ValueError names what is wrong."""
    fields: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in ("rpm", "tpm", "model"):
            raise ValueError(f"rate limit {text!r}: expected rpm=N, tpm=N and optionally model=PATTERN, got {part!r}")
        fields[key.strip()] = value.strip()
    try:
        limit = RateLimit(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"rate limit {text!r}: {first['loc'][0]}: {first['msg']}") from None
    if not (limit.rpm or limit.tpm):
        raise ValueError(f"rate limit {text!r}: give rpm=N and/or tpm=N")
    return limit


def retry_after_s(exc: BaseException) -> float | None:
    """The Retry-After a provider sent with its 429 (seconds), when litellm kept the response."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    for name in ("retry-after", "Retry-After", "x-ratelimit-reset-requests"):
        value = headers.get(name) if hasattr(headers, "get") else None
        if value:
            try:
                return float(str(value).rstrip("s"))
            except ValueError:
                return None
    return None


def is_rate_limited(exc: BaseException) -> bool:
    return getattr(exc, "status_code", None) == 429 or type(exc).__name__ == "RateLimitError"


def estimate_tokens(messages: list[dict], tools: list[dict] | None, params: dict) -> int:
    """A request's size before the call, as providers count it against a token limit: its text at
    ~4 characters a token plus the output it may ask for. `settle` corrects it afterwards."""
    import json

    size = len(json.dumps(messages, default=str)) + (len(json.dumps(tools)) if tools else 0)
    asked = params.get("max_tokens") or params.get("max_completion_tokens") or 0
    return size // 4 + int(asked or 0)


def call_within_limits(
    limiter: Limiter,
    model: str,
    estimate: int,
    call: Callable,
    size: Callable,
    *,
    retries: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple:
    """`call()` once the limiter allows it; a 429 pauses the model for everyone and the call is booked
    again, up to `retries` times. Returns (result, seconds waited); `size(result)` is its real token count."""
    waited = 0.0
    attempt = 0
    while True:
        delay = limiter.reserve(model, estimate)
        if delay > 0:
            sleep(delay)
            waited += delay
        try:
            result = call()
        except Exception as exc:
            if attempt < retries and is_rate_limited(exc):
                attempt += 1
                limiter.pause(model, retry_after_s(exc))
                continue
            raise
        limiter.settle(model, estimate, size(result))
        return result, waited
