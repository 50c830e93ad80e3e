"""Provider rate limits (harnesses.gateway.limits): the buckets on a fake clock, the 429 back-off, the
flag's grammar, and a gateway whose provider answers 429 until its Retry-After has passed."""

from __future__ import annotations

import json

import openai
import pytest

from gskill.schema import RateLimit
from harnesses.gateway import models  # noqa: F401 - before litellm: no fetch of its price map
from harnesses.gateway.limits import MAX_PAUSE_S, RateLimiter, call_within_limits, parse_rate_limit
from harnesses.gateway.server import Gateway


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_requests_are_spaced_to_the_rpm_after_a_one_second_burst():
    clock = Clock()
    limiter = RateLimiter([RateLimit(rpm=60)], clock=clock)
    assert [limiter.reserve("m") for _ in range(5)] == [0.0, 1.0, 2.0, 3.0, 4.0]  # 1 a second, no burst
    clock.now += 10  # idle time refills the bucket, but only up to its burst
    assert limiter.reserve("m") == 0.0 and limiter.reserve("m") == 1.0

    burst = RateLimiter([RateLimit(rpm=600)], clock=Clock())  # 10 a second: a burst of 10, then every 0.1 s
    delays = [burst.reserve("m") for _ in range(14)]
    assert delays[:10] == [0.0] * 10 and delays[10:] == pytest.approx([0.1, 0.2, 0.3, 0.4])


def test_tokens_are_booked_on_the_estimate_and_settled_on_the_real_size():
    clock = Clock()
    limiter = RateLimiter([RateLimit(tpm=6000)], clock=clock)  # 100 tokens a second, burst ~1 s
    assert limiter.reserve("m", 500) == 0.0
    assert limiter.reserve("m", 500) == pytest.approx(5.0 - 0.99)  # the first 500 take 5 s of quota
    limiter.settle("m", estimated=500, actual=100)  # the second was smaller than feared: 4 s given back
    assert limiter.reserve("m", 100) == pytest.approx(6.0 - 0.99)  # without the settle: 10.0 - 0.99


def test_a_glob_is_one_quota_shared_by_its_models_and_other_models_pass():
    limiter = RateLimiter([RateLimit(model="openai/*", rpm=60)], clock=Clock())
    assert [limiter.reserve("openai/a"), limiter.reserve("openai/b"), limiter.reserve("openai/a")] == [0.0, 1.0, 2.0]
    assert limiter.reserve("anthropic/c") == 0.0  # no limit matches
    both = RateLimiter([RateLimit(rpm=60), RateLimit(model="x", rpm=30)], clock=Clock())  # every matching limit holds
    assert [both.reserve("x"), both.reserve("x"), both.reserve("y")] == [0.0, 2.0, 3.0]  # y waits for x's use of "*"


def test_a_429_pauses_the_model_for_everyone_with_retry_after_or_a_doubling_back_off():
    clock = Clock()
    limiter = RateLimiter([], clock=clock)
    assert limiter.pause("m", 7.5) == 7.5
    assert limiter.reserve("m") == 7.5 and limiter.reserve("other") == 0.0
    clock.now += 10
    assert [limiter.pause("n", None) for _ in range(3)] == [1.0, 2.0, 4.0]  # no Retry-After: 1, 2, 4 s
    limiter.settle("n", 0, 0)  # a call got through: the streak ends
    assert limiter.pause("n", None) == 1.0
    assert limiter.pause("n", 10_000) == MAX_PAUSE_S


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rpm=500", RateLimit(rpm=500)),
        ("rpm=500, tpm=200000,model=openai/*", RateLimit(model="openai/*", rpm=500, tpm=200_000)),
    ],
)
def test_the_rate_limit_flag(text, expected):
    assert parse_rate_limit(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("rpm", "expected rpm=N"),
        ("rps=3", "expected rpm=N"),
        ("rpm=-1", "greater than or equal"),
        ("model=x", "give rpm=N"),
        ("rpm=many", "valid integer"),
    ],
)
def test_bad_rate_limits_name_the_problem(text, says):
    with pytest.raises(ValueError, match=says):
        parse_rate_limit(text)


def _rate_limited(times: int):
    import httpx
    import litellm

    calls = []

    def call():
        calls.append(1)
        if len(calls) <= times:
            response = httpx.Response(
                429, headers={"retry-after": "3"}, request=httpx.Request("POST", "http://provider.invalid")
            )
            raise litellm.RateLimitError("slow down", llm_provider="openai", model="m", response=response)
        return "answer"

    return calls, call


def test_call_within_limits_waits_out_the_providers_retry_after_and_gives_up_after_its_retries():
    clock, slept = Clock(), []
    limiter = RateLimiter([], clock=clock)

    def sleep(seconds):
        slept.append(seconds)
        clock.now += seconds

    calls, call = _rate_limited(2)
    assert call_within_limits(limiter, "m", 10, call, lambda result: 10, sleep=sleep) == ("answer", 6.0)
    assert len(calls) == 3 and slept == [3.0, 3.0]  # the provider's Retry-After, twice
    calls, call = _rate_limited(10)
    with pytest.raises(Exception, match="slow down"):
        call_within_limits(limiter, "m", 10, call, lambda result: 10, retries=2, sleep=sleep)
    assert len(calls) == 3


def test_the_gateway_rides_out_a_providers_429s_and_records_the_wait(tmp_path):
    """The scripted provider refuses the first two calls (Retry-After 1 s): the agent never sees a 429,
    the trace holds one answered call with its wait, and the rollout's usage counts the wait."""
    with Gateway() as gateway:
        session = gateway.open_session(
            model="scripted/noop",
            trace_path=tmp_path / "t.jsonl",
            metadata={"throttle": 2, "instance_id": "rate-limited", "seed": 0, "attempt": 1},
        )
        client = openai.OpenAI(base_url=session.base_url + "/v1", api_key=session.token, max_retries=0)
        reply = client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message is not None
        usage = gateway.close_session(session)
    entries = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert [entry["status"] for entry in entries] == [200]
    assert entries[0]["rate_wait_s"] >= 1.9 and entries[0]["sent"] >= entries[0]["t"] + 1.9
    assert usage.calls == 1 and usage.rate_wait_s >= 1.9
