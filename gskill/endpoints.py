"""Self-hosted model endpoints and prices: `--api-base`, `--reflection-api-base`, `--price` and the
config file's `models:` mapping, merged into one `ModelEndpoint` per model name.

    models:
      openai/qwen2.5-coder:                  # a vLLM / llama.cpp / Ollama OpenAI-compatible server
        api_base: http://127.0.0.1:8000/v1
        price: [0.10, 0.40]                  # USD per million input, output tokens

The gateway (agent calls) and the reflection LM send a model's calls to its `api_base` and price them
at its `price`. Nothing here reads or writes a key: `api_key_env` is a variable's name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from gskill.errors import GskillError
from gskill.schema import ModelEndpoint, write_atomic

ENDPOINTS_FILE = "endpoints.json"
PROBE_TIMEOUT_S = 3.0


def parse_price(text: str) -> tuple[str, tuple[float, float]]:
    """`MODEL=IN,OUT` (USD per million input, output tokens) → (model, (in, out))."""
    model, sep, numbers = text.rpartition("=")
    parts = numbers.split(",")
    try:
        price = (float(parts[0]), float(parts[1])) if sep and model and len(parts) == 2 else None
    except ValueError:
        price = None
    if price is None or min(price) < 0:
        raise GskillError(f"--price takes MODEL=IN,OUT (USD per million input, output tokens), not {text!r}")
    return model.strip(), price


def run_endpoints(
    configured: dict[str, ModelEndpoint],
    api_bases: list[tuple[str, str | None, str]],
    prices: list[str],
) -> dict[str, ModelEndpoint]:
    """The endpoints of a run: `configured` (the config file's `models:`), then each (model, URL, flag)
    of `api_bases` whose URL is given, then each `--price MODEL=IN,OUT`. A flag wins over the file for
    the field it sets; one model has one endpoint, so two flags giving one model two URLs are an error."""
    endpoints = dict(configured)
    given: dict[str, tuple[str, str]] = {}
    for model, url, flag in api_bases:
        if not url:
            continue
        if model in given and given[model][0] != url:
            raise GskillError(f"{given[model][1]} and {flag} give model {model} two api bases; it has one endpoint")
        given[model] = (url, flag)
        endpoints[model] = _updated(endpoints.get(model), flag, api_base=url)
    for text in prices:
        model, price = parse_price(text)
        endpoints[model] = _updated(endpoints.get(model), "--price", price=price)
    return endpoints


def _updated(endpoint: ModelEndpoint | None, flag: str, **fields) -> ModelEndpoint:
    data = {**(endpoint.model_dump() if endpoint else {}), **fields}
    try:
        return ModelEndpoint(**data)
    except ValueError as exc:  # pydantic's ValidationError: the URL or the numbers
        message = str(exc.errors()[0]["msg"]) if hasattr(exc, "errors") else str(exc)
        raise GskillError(f"{flag}: {message.removeprefix('Value error, ')}") from None


def litellm_price_known(model: str) -> bool:
    """Whether litellm's price map holds `model`'s input and output prices."""
    from harnesses.gateway.models import _litellm

    try:
        info = _litellm().get_model_info(model)
    except Exception:  # litellm raises for a model it does not know
        return False
    return info.get("input_cost_per_token") is not None and info.get("output_cost_per_token") is not None


def check_priced(models: list[str], endpoints: dict[str, ModelEndpoint], cap_flag: str = "--max-cost") -> None:
    """Under a dollar cap every model must have a price (`--price`, the config's `models:`, or litellm's
    map): an unpriced call counts as $0, so the cap would never stop the run. Scripted models are free."""
    from harnesses.gateway.models import is_scripted

    for model in dict.fromkeys(models):
        endpoint = endpoints.get(model)
        if is_scripted(model) or (endpoint is not None and endpoint.price is not None) or litellm_price_known(model):
            continue
        raise GskillError(
            f"no price for model {model}: pass --price {model}=IN,OUT (USD per million tokens) or drop {cap_flag}"
        )


def record_endpoints(run_dir: Path, models: list[str], endpoints: dict[str, ModelEndpoint]) -> None:
    """RUNDIR/endpoints.json: the api base and price each of the run's models was called with (for
    reports and re-runs). URLs, prices and key variable names only; never a key."""
    used = {model: endpoints[model].model_dump(mode="json") for model in dict.fromkeys(models) if model in endpoints}
    if used:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(run_dir / ENDPOINTS_FILE, json.dumps(used, indent=2) + "\n")


@dataclass
class Probe:
    """What GET {api_base}/models said: `served` model ids when it answered, else `problem`."""

    api_base: str
    served: list[str]
    problem: str = ""


def probe_endpoint(endpoint: ModelEndpoint, timeout: float = PROBE_TIMEOUT_S) -> Probe:
    """GET `{api_base}/models` (the OpenAI-compatible list of served models), within `timeout` seconds.
    Sends the endpoint's own key (`api_key_env`) if it names one; never reports it."""
    import os
    import urllib.error
    import urllib.request

    request = urllib.request.Request(endpoint.api_base + "/models")
    key = os.environ.get(endpoint.api_key_env, "") if endpoint.api_key_env else ""
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return Probe(endpoint.api_base, [], f"answered HTTP {exc.code} to GET /models")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Probe(endpoint.api_base, [], f"not answering ({reason})")
    except ValueError:
        return Probe(endpoint.api_base, [], "answered GET /models with something that is not JSON")
    entries = body.get("data") if isinstance(body, dict) else None
    served = [str(entry.get("id")) for entry in entries or [] if isinstance(entry, dict) and entry.get("id")]
    return Probe(endpoint.api_base, served)


def endpoint_checks(models: dict[str, ModelEndpoint], run_model: str) -> list[tuple[str, bool, str, bool]]:
    """`gskill doctor`'s rows for the configured api bases: (name, ok, detail, required). An endpoint
    that does not answer is required only when the run's model (`run.model`) is served there."""
    by_base: dict[str, list[str]] = {}
    for model, endpoint in models.items():
        if endpoint.api_base:
            by_base.setdefault(endpoint.api_base, []).append(model)
    rows = []
    for api_base, names in by_base.items():
        probe = probe_endpoint(models[names[0]])
        users = ", ".join(names)
        if probe.problem:
            detail = f"{api_base} (for {users}): {probe.problem}"
        else:
            detail = f"{api_base} (for {users}) serves: {', '.join(probe.served) or 'no models listed'}"
            absent = [name for name in names if probe.served and name.split("/", 1)[-1] not in probe.served]
            if absent:  # litellm sends the name after the provider prefix: it must be a served one
                detail += f"; not among them: {', '.join(absent)}"
        rows.append((f"endpoint {api_base}", not probe.problem, detail, run_model in names))
    return rows
