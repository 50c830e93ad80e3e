"""Model calls through litellm, recorded; `scripted/<name>` models answer from deterministic policies.

Scripted models are a litellm custom provider, so a scripted call takes the same path as a real one
(message normalisation, tool-call objects, usage) and everything above this module cannot tell them
apart. What they answer says nothing about what a real model would do: they exist so that every
LLM path of gskill runs, deterministically, on machines with no model access (all of our tests).

API keys are litellm's business (environment variables of the host process). Nothing here copies
them anywhere: a `ModelCall` record holds the model name, messages, response and usage only. A
self-hosted model (`ModelEndpoint.api_base`) gets its own key variable or a placeholder, never another
provider's key.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gskill.schema import ModelEndpoint

# litellm fetches its model price map from GitHub on import unless told not to: three retries with
# back-off (~15 s) on a machine without that network, for a map it also ships locally.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

SCRIPTED_PREFIX = "scripted/"
# What a self-hosted endpoint with no configured key is sent: litellm's openai provider insists on some
# key, and without one of our own it would send OPENAI_API_KEY (a real key) to whatever server is there.
NO_KEY = "sk-no-key-configured"


@dataclass
class ModelCall:
    """One request and its response, as a trace records it."""

    model: str
    messages: list[dict]
    response: dict
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None  # None when litellm has no price for the model
    seconds: float
    purpose: str = ""
    metadata: dict = field(default_factory=dict)


class CallLog:
    """Appends every ModelCall as one JSON line (thread-safe); `None` path = keep in memory only."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.calls: list[ModelCall] = []
        self._lock = threading.Lock()

    def add(self, call: ModelCall) -> None:
        with self._lock:
            self.calls.append(call)
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a") as handle:
                    handle.write(json.dumps(asdict(call)) + "\n")


_registered = False
_register_lock = threading.Lock()


def _litellm():
    """Import litellm (seconds) only when a model is actually called, with scripted/ registered."""
    global _registered
    import litellm

    with _register_lock:
        if not _registered:
            from harnesses.gateway.scripted import ScriptedProvider

            providers = [entry for entry in (litellm.custom_provider_map or []) if entry.get("provider") != "scripted"]
            litellm.custom_provider_map = [*providers, {"provider": "scripted", "custom_handler": ScriptedProvider()}]
            litellm.suppress_debug_info = True
            _registered = True
    return litellm


def is_scripted(model: str) -> bool:
    return model.startswith(SCRIPTED_PREFIX)


def endpoint_options(endpoint: ModelEndpoint | None) -> dict[str, str]:
    """litellm's `api_base`/`api_key` for a model served at `endpoint.api_base`; {} for a provider's
    own API (litellm then reads the provider's key variables). The key is read here, at call time, and
    goes only to that endpoint; it is never recorded."""
    if endpoint is None or not endpoint.api_base:
        return {}
    key = os.environ.get(endpoint.api_key_env, "") if endpoint.api_key_env else ""
    return {"api_base": endpoint.api_base, "api_key": key or NO_KEY}


def model_problem(model: str, endpoint: ModelEndpoint | None = None) -> str | None:
    """Why a call to `model` cannot work from this host (litellm knows no provider for it, or the
    provider's environment variables are not set), or None. Names variables, never their values.
    Checked before a run starts: otherwise the first call fails and is retried with back-off. A model
    at its own `endpoint.api_base` needs no provider key, only `endpoint.api_key_env` when one is named."""
    if is_scripted(model):
        return None
    litellm = _litellm()
    try:
        _, provider, _, _ = litellm.get_llm_provider(model)
    except Exception:
        return f"litellm knows no provider for model {model!r} (write provider/model, e.g. openai/gpt-5-mini, or scripted/<name>)"
    if endpoint is not None and endpoint.api_base:
        if endpoint.api_key_env and not os.environ.get(endpoint.api_key_env):
            return f"model {model!r} at {endpoint.api_base} needs {endpoint.api_key_env} set in the environment"
        return None
    # litellm counts a variable set to "" as present; for a key it is as good as unset. Checked once at
    # start-up (before any thread runs), so hiding the empty ones for the call is safe.
    empty = {name: value for name, value in os.environ.items() if not value}
    for name in empty:
        del os.environ[name]
    try:
        missing = litellm.validate_environment(model).get("missing_keys") or []
    finally:
        os.environ.update(empty)
    if missing:
        return f"model {model!r} ({provider}) needs {', '.join(missing)} set in the environment"
    return None


def cost_of(response: Any, model: str, endpoint: ModelEndpoint | None = None) -> float | None:
    """USD for one response: free for scripted models, at `endpoint.price` when one is set (it wins
    over litellm's price map), else litellm's price; None when nobody knows the price."""
    if is_scripted(model):
        return 0.0
    if endpoint is not None and endpoint.price is not None:
        usage = getattr(response, "usage", None)
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        return (prompt * endpoint.price[0] + completion * endpoint.price[1]) / 1e6
    try:
        return float(_litellm().completion_cost(completion_response=response))
    except Exception:  # a model litellm has no price for: unknown, not free
        return None


def complete(
    model: str,
    messages: list[dict],
    *,
    tools: list[dict] | None = None,
    metadata: dict | None = None,
    log: CallLog | None = None,
    purpose: str = "",
    endpoint: ModelEndpoint | None = None,
    **kwargs: Any,
):
    """One chat completion (litellm's ModelResponse). `metadata` reaches scripted policies (e.g. the
    task a rollout serves) and is recorded; it is never sent to a real provider's API. `endpoint`: where
    the model is served (`api_base`) and its price; its URL is recorded with the call, never a key."""
    litellm = _litellm()
    began = time.monotonic()
    extra = {**dict(kwargs), **({} if is_scripted(model) else endpoint_options(endpoint))}
    if tools:
        extra["tools"] = tools
    if is_scripted(model):
        extra["metadata"] = metadata or {}
    response = litellm.completion(model=model, messages=messages, **extra)
    seconds = time.monotonic() - began
    usage = getattr(response, "usage", None)
    call = ModelCall(
        model=model,
        messages=messages,
        response=response.model_dump() if hasattr(response, "model_dump") else dict(response),
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        cost_usd=cost_of(response, model, endpoint),
        seconds=round(seconds, 3),
        purpose=purpose,
        metadata={**(metadata or {}), **({"api_base": endpoint.api_base} if endpoint and endpoint.api_base else {})},
    )
    if log is not None:
        log.add(call)
    return response


def text_of(response) -> str:
    return response.choices[0].message.content or ""
