"""A run's recorded model calls as OpenTelemetry spans, named and attributed per the GenAI semantic
conventions, so that any OTLP backend (Jaeger, Phoenix, Langfuse, an OTel Collector) shows them.

    gskill traces export RUN --format otel --out spans.json       # OTLP JSON (an ExportTraceServiceRequest)
    gskill traces export RUN --format otel --endpoint URL         # OTLP/HTTP (protobuf)

What is read. Every `traces/*.gateway.jsonl` under RUN (an eval run; a learn run's `rollouts/<candidate>/`
and `test/<label>/` folders; a transfer run's cells) — one line per request the gateway answered
(`harnesses.gateway.server.Gateway._serve`: `t`, `seconds`, `model`, `api`, `request`, `response`,
`usage`, `cost_usd`, `status`, or `error` for a refused or failed one) — with the `rollouts.jsonl`
beside it, and a learn run's `reflection_calls.jsonl` (`harnesses.gateway.models.ModelCall` lines).
A trace file is named after its rollout, `<instance id>.run<N>.attempt<A>`; a rollout that was run
again under the same name (a resumed run, a re-evaluated candidate) appends to the same file, so its
calls are split between the records by the records' time windows.

What is written. One CLIENT span `chat {model}` per recorded call (start = when the gateway got the
request, duration = its recorded seconds), under one INTERNAL span `gskill.rollout` per rollout; each
rollout is its own trace (a learn run holds thousands of rollouts over hours: one trace per run would
be too large for a trace view, and a rollout is the unit one reads). Reflection calls are traces of
their own. Token counts go on the call spans only (`gen_ai.usage.*`); the rollout span's totals are
`gskill.usage.*`, so a backend that sums `gen_ai.usage` counts each token once. Prompts and replies
are left out (a rollout's last request holds its whole conversation) unless `content=True`, which adds
them to each call span as a `gen_ai.client.inference.operation.details` event. No request header is
ever recorded by the gateway, so no key can reach a span. Span and trace ids are derived from the
run's files, so exporting the same run twice gives the same ids.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from google.protobuf import json_format
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import SpanKind, Status, StatusCode

from gskill import __version__
from gskill.errors import GskillError
from gskill.schema import EvalRecord, write_atomic
from harnesses.evaluate import read_records
from harnesses.rollout import skill_hash
from harnesses.traces import conversation, reply

SCOPE = "gskill.interop.otel"
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
EXPORT_BATCH = 512  # spans per OTLP request
# litellm's provider prefix -> (gen_ai.provider.name, the older gen_ai.system); any other prefix is its own name.
PROVIDERS = {
    "openai": ("openai", "openai"),
    "text-completion-openai": ("openai", "openai"),
    "anthropic": ("anthropic", "anthropic"),
    "azure": ("azure.ai.openai", "az.ai.openai"),
    "azure_ai": ("azure.ai.inference", "az.ai.inference"),
    "bedrock": ("aws.bedrock", "aws.bedrock"),
    "vertex_ai": ("gcp.vertex_ai", "vertex_ai"),
    "gemini": ("gcp.gemini", "gemini"),
    "cohere": ("cohere", "cohere"),
    "cohere_chat": ("cohere", "cohere"),
    "mistral": ("mistral_ai", "mistral_ai"),
    "groq": ("groq", "groq"),
    "deepseek": ("deepseek", "deepseek"),
    "xai": ("x_ai", "xai"),
    "perplexity": ("perplexity", "perplexity"),
    "watsonx": ("ibm.watsonx.ai", "ibm.watsonx.ai"),
}
_STEM = re.compile(r"^(?P<task>.+)\.run(?P<run>\d+)\.attempt(?P<attempt>\d+)$")


@dataclass
class Rollout:
    """The calls of one rollout (one agent session), and its record in rollouts.jsonl when it has one."""

    folder: str  # the eval folder, relative to RUN ("." for an eval run)
    stem: str  # `<instance id>.run<N>.attempt<A>`
    calls: list[dict]
    record: EvalRecord | None = None
    candidate: str = ""  # a learn run's candidate hash
    skill_hash: str = ""
    agent: str = ""


@dataclass
class Export:
    """What `export_run` sent: span counts and the token totals of the call spans."""

    spans: int = 0
    calls: int = 0  # agent calls (gateway lines), refused and failed ones included
    rollouts: int = 0
    reflection_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    kind: str = "eval"  # eval | learn


# ------------------------------------------------------------------------------------------------
# Reading a run


def _lines(path: Path) -> list[dict]:
    """A JSONL file's objects; a line cut short by a crash is skipped."""
    entries = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def _stem_of(record: EvalRecord) -> str:
    return Path(record.rollout.trace_path).name.split(".agent.")[0]


def _ran(record: EvalRecord) -> tuple[float, float] | None:
    """When the record's rollout began and ended (Unix seconds), if it says."""
    if not record.rollout.started_at:
        return None
    began = datetime.fromisoformat(record.rollout.started_at).timestamp()
    return began, began + record.rollout.wall_time_s


def _covers(record: EvalRecord, call: dict) -> bool:
    """Whether `call` was made during the record's rollout (`started_at` is cut to the second, hence
    the slack). A record that does not say when it ran covers every call."""
    ran = _ran(record)
    return ran is None or ran[0] - 1.0 <= call["t"] <= ran[1] + 2.0


def _candidates(run: Path) -> dict[str, str]:
    """A learn run's skill hashes (of the skill text) -> candidate hashes (of the candidate)."""
    path = run / "candidates.jsonl"
    if not path.is_file():
        return {}
    return {skill_hash(entry.get("components", {}).get("skill", "")): entry.get("hash", "") for entry in _lines(path)}


def _is_learn(run: Path) -> bool:
    return (run / "learn.json").is_file() or (run / "candidates.jsonl").is_file()


def read_rollouts(run: Path) -> list[Rollout]:
    """Every rollout under `run` that recorded a call, in the order they started."""
    learn = _is_learn(run)
    candidates = _candidates(run) if learn else {}
    rollouts: list[Rollout] = []
    folders = sorted({path.parent.parent for path in run.rglob("*.gateway.jsonl") if path.parent.name == "traces"})
    for folder in folders:
        relative = folder.relative_to(run)
        identity = json.loads((folder / "run.json").read_text()) if (folder / "run.json").is_file() else {}
        folder_skill = identity.get("skill_hash", "")
        candidate = ""
        if learn and relative.parts[:1] == ("rollouts",) and len(relative.parts) == 2:
            candidate = relative.parts[1]
        elif learn:
            candidate = candidates.get(folder_skill, "")
        by_stem: dict[str, list[EvalRecord]] = {}
        for record in read_records(folder / "rollouts.jsonl"):
            by_stem.setdefault(_stem_of(record), []).append(record)
        for path in sorted((folder / "traces").glob("*.gateway.jsonl")):
            stem = path.name.removesuffix(".gateway.jsonl")
            left = [call for call in _lines(path) if isinstance(call.get("t"), (int, float))]
            found: list[tuple[EvalRecord | None, list[dict]]] = []
            for record in by_stem.get(stem, []):
                found.append((record, [call for call in left if _covers(record, call)]))
                left = [call for call in left if not _covers(record, call)]
            found.append((None, left))  # calls no record covers (a killed run's, a superseded attempt's)
            for record, calls in found:
                if calls:
                    rollout = record.rollout if record else None
                    rollouts.append(
                        Rollout(
                            folder=str(relative),
                            stem=stem,
                            calls=calls,
                            record=record,
                            candidate=candidate,
                            skill_hash=(rollout.skill_hash if rollout else "") or folder_skill,
                            agent=(rollout.agent if rollout else "") or identity.get("agent", ""),
                        )
                    )
    return sorted(rollouts, key=lambda rollout: (rollout.calls[0]["t"], rollout.folder, rollout.stem))


def read_reflection_calls(run: Path) -> list[dict]:
    """A learn run's reflection calls in the gateway's line shape. A `ModelCall` line has no start time:
    its response's `created` (whole seconds, about when the reply was made) less its duration stands in."""
    path = run / "reflection_calls.jsonl"
    calls = []
    for entry in _lines(path) if path.is_file() else []:
        response = entry.get("response") or {}
        seconds = float(entry.get("seconds") or 0.0)
        calls.append(
            {
                "t": float(response.get("created") or 0) - seconds,
                "seconds": seconds,
                "api": "chat",
                "model": entry.get("model", ""),
                "request": {"messages": entry.get("messages") or []},
                "response": response,
                "response_model": response.get("model") or "",
                "usage": {
                    "input_tokens": entry.get("prompt_tokens", 0),
                    "output_tokens": entry.get("completion_tokens", 0),
                },
                "cost_usd": entry.get("cost_usd"),
                "status": 200,
                "purpose": entry.get("purpose") or "reflection",
            }
        )
    return calls


# ------------------------------------------------------------------------------------------------
# Spans


class _SeededIds(IdGenerator):
    """Trace and span ids from a seed: the same run exports with the same ids (backends de-duplicate)."""

    def __init__(self, seed: bytes) -> None:
        self._random = random.Random(seed)

    def generate_span_id(self) -> int:
        return self._random.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._random.getrandbits(128) or 1


def _ns(seconds: float) -> int:
    """Seconds as nanoseconds, to the microsecond (a float holds no finer Unix time)."""
    return round(seconds * 1e6) * 1000


def _span_times(call: dict) -> tuple[int, int]:
    """A call's start and end (ns): when the gateway got the request, and its recorded seconds later."""
    began = _ns(float(call["t"]))
    return began, began + _ns(float(call.get("seconds") or 0.0))


@functools.lru_cache(maxsize=None)
def _provider_of(model: str) -> tuple[str, str, str]:
    """(gen_ai.provider.name, gen_ai.system, the model's name at its provider) for a litellm model name."""
    prefix, _, name = model.partition("/")
    if not name:  # litellm guesses the provider of a bare name (gpt-4o, claude-...)
        try:
            import litellm

            prefix = litellm.get_llm_provider(model)[1]
        except Exception:
            return "unknown", "unknown", model
        name = model
    provider, system = PROVIDERS.get(prefix, (prefix, prefix))
    return provider, system, name


def _finish_reasons(response: dict) -> list[str]:
    if "choices" in response:  # Chat Completions
        return [str(choice["finish_reason"]) for choice in response["choices"] if choice.get("finish_reason")]
    if response.get("stop_reason"):  # Messages
        return [str(response["stop_reason"])]
    return []


def _request_attributes(request: dict) -> dict[str, Any]:
    wanted = {
        "gen_ai.request.temperature": request.get("temperature"),
        "gen_ai.request.top_p": request.get("top_p"),
        "gen_ai.request.max_tokens": request.get("max_tokens")
        or request.get("max_completion_tokens")
        or request.get("max_output_tokens"),
        "gen_ai.request.seed": request.get("seed"),
    }
    return {
        key: value for key, value in wanted.items() if isinstance(value, (int, float)) and not isinstance(value, bool)
    }


def _messages(request: dict, response: dict, finish: list[str]) -> dict[str, str]:
    """The GenAI conventions' content attributes (JSON text): system instructions, input and output
    messages, each message's text as one part (tool calls and results in `[name] ...` form)."""
    system, inputs = [], []
    for role, text in conversation(request):
        if role in ("system", "developer"):
            system.append({"type": "text", "content": text})
            continue
        role = {"function_call": "assistant", "function_call_output": "tool"}.get(role, role)
        inputs.append({"role": role, "parts": [{"type": "text", "content": text}]})
    output = {"role": "assistant", "parts": [{"type": "text", "content": reply(response)}]}
    if finish:
        output["finish_reason"] = finish[0]
    details = {"gen_ai.input.messages": json.dumps(inputs), "gen_ai.output.messages": json.dumps([output])}
    if system:
        details["gen_ai.system_instructions"] = json.dumps(system)
    return details


def _call_span(tracer, parent: Context, call: dict, common: dict[str, Any], content: bool, totals: Export) -> None:
    """One CLIENT span for one recorded call; its tokens and cost added to `totals`."""
    model = call.get("model") or common.get("gskill.model", "")
    provider, system, name = _provider_of(model)
    request, response = call.get("request") or {}, call.get("response") or {}
    status = int(call.get("status") or 0)
    attributes: dict[str, Any] = {
        **common,
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.system": system,
        "gen_ai.request.model": name,
        "gskill.model": model,
        "gskill.api": call.get("api", ""),
        "gskill.purpose": call.get("purpose") or common.get("gskill.purpose", "agent"),
        **_request_attributes(request if isinstance(request, dict) else {}),
    }
    if "stream" in call:
        attributes["gen_ai.request.stream"] = bool(call["stream"])
    if call.get("requested_model") and call["requested_model"] != model:
        attributes["gskill.requested_model"] = str(call["requested_model"])
    if call.get("api_base"):  # a self-hosted model's server (its URL only, never a key)
        where = urlsplit(str(call["api_base"]))
        if where.hostname:
            attributes["server.address"] = where.hostname
            attributes["server.port"] = where.port or (443 if where.scheme == "https" else 80)
    if call.get("rate_wait_s"):
        attributes["gskill.rate_wait_s"] = float(call["rate_wait_s"])
    finish: list[str] = []
    if status == 200:
        usage = call.get("usage") or {}
        tokens = (int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0))
        attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"] = tokens
        totals.input_tokens += tokens[0]
        totals.output_tokens += tokens[1]
        if call.get("cost_usd") is not None:
            attributes["gskill.cost_usd"] = float(call["cost_usd"])
            totals.cost_usd += float(call["cost_usd"])
        if call.get("response_model"):  # what the provider said; the gateway's replies name the session's model
            attributes["gen_ai.response.model"] = call["response_model"]
        if isinstance(response, dict) and response.get("id"):
            attributes["gen_ai.response.id"] = str(response["id"])
        finish = _finish_reasons(response) if isinstance(response, dict) else []
        if finish:
            attributes["gen_ai.response.finish_reasons"] = finish
    else:
        attributes["error.type"] = str(status or "error")
    began, ended = _span_times(call)
    span = tracer.start_span(
        f"chat {name}", context=parent, kind=SpanKind.CLIENT, attributes=attributes, start_time=began
    )
    if status != 200:
        span.set_status(Status(StatusCode.ERROR, str(call.get("error") or f"status {status}")[:500]))
    if content and status == 200:
        span.add_event(
            DETAILS_EVENT,
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": provider,
                "gen_ai.request.model": name,
                **_messages(request, response, finish),
            },
            timestamp=ended,
        )
    span.end(end_time=ended)


def _rollout_span(tracer, rollout: Rollout, run: str, content: bool, totals: Export) -> None:
    record = rollout.record
    match = _STEM.match(rollout.stem)
    task = record.instance_id if record else (match["task"] if match else rollout.stem)
    run_index = record.run_index if record else (int(match["run"]) if match else 0)
    attempt = record.rollout.attempt if record else (int(match["attempt"]) if match else 1)
    model = record.rollout.model if record else next((c["model"] for c in rollout.calls if c.get("model")), "")
    common: dict[str, Any] = {  # on the rollout span and each of its calls
        "gskill.task": task,
        "gskill.rollout": rollout.stem,
        "gskill.purpose": "agent",
        "gskill.run": run,
        "gskill.run.folder": rollout.folder,
        "gskill.model": model,
    }
    if rollout.candidate:
        common["gskill.candidate"] = rollout.candidate
    if rollout.skill_hash:
        common["gskill.skill_hash"] = rollout.skill_hash
    attributes: dict[str, Any] = {
        **common,
        "gskill.run_index": run_index,
        "gskill.attempt": attempt,
        "gskill.recorded": record is not None,
        "gskill.calls": len(rollout.calls),
    }
    if rollout.agent:
        attributes["gen_ai.agent.name"] = rollout.agent
    times = [_span_times(call) for call in rollout.calls]
    starts, ends = [start for start, _ in times], [end for _, end in times]
    if record:
        attributes.update(
            {
                "gskill.exit_status": record.rollout.exit_status.value,
                "gskill.grade": record.grade.status.value if record.grade else "infra_error",
                "gskill.resolved": record.resolved,
                "gskill.infra_error": record.infra_error,
                "gskill.seed": record.rollout.seed,
                "gskill.steps": record.rollout.steps,
                "gskill.wall_time_s": record.rollout.wall_time_s,
                "gskill.usage.input_tokens": record.rollout.usage.input_tokens,
                "gskill.usage.output_tokens": record.rollout.usage.output_tokens,
                "gskill.usage.cost_usd": record.rollout.usage.cost_usd,
            }
        )
        ran = _ran(record)
        if ran:  # the rollout began before its first call (the container started) and ended after its last
            starts.append(_ns(ran[0]))
            ends.append(_ns(ran[1]))
    span = tracer.start_span(
        "gskill.rollout", context=Context(), kind=SpanKind.INTERNAL, attributes=attributes, start_time=min(starts)
    )
    if record and record.infra_error:
        span.set_status(Status(StatusCode.ERROR, (record.rollout.error or "infrastructure failure")[:500]))
    parent = trace.set_span_in_context(span)
    for call in rollout.calls:
        _call_span(tracer, parent, call, common, content, totals)
    span.end(end_time=max(ends))
    totals.calls += len(rollout.calls)
    totals.rollouts += 1


def build_spans(run: Path, *, content: bool = False) -> tuple[list[ReadableSpan], Export]:
    """The spans of `run`'s recorded calls, built with the OpenTelemetry SDK (explicit start and end
    times), and what they hold. Raises GskillError when `run` holds no recorded call."""
    if not run.is_dir():
        raise GskillError(f"{run} is not a run folder")
    rollouts, reflections = read_rollouts(run), read_reflection_calls(run)
    if not rollouts and not reflections:
        raise GskillError(
            f"{run} holds no recorded model calls (no traces/*.gateway.jsonl, no reflection_calls.jsonl): "
            "give an eval or learn run folder"
        )
    kind = "learn" if _is_learn(run) else "eval"
    seed = hashlib.sha256()
    for path in sorted(run.rglob("*.gateway.jsonl")) + sorted(run.glob("reflection_calls.jsonl")):
        seed.update(f"{path.relative_to(run)}:{path.stat().st_size}\n".encode())
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        sampler=ALWAYS_ON,
        resource=Resource.create(
            {"service.name": "gskill", "service.version": __version__, "gskill.run": run.name, "gskill.run.kind": kind}
        ),
        id_generator=_SeededIds(seed.digest()),
        shutdown_on_exit=False,
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer(SCOPE, __version__)
    totals = Export(kind=kind)
    for rollout in rollouts:
        _rollout_span(tracer, rollout, run.name, content, totals)
    for call in reflections:
        common = {"gskill.run": run.name, "gskill.purpose": call["purpose"]}
        _call_span(tracer, Context(), call, common, content, totals)
        totals.reflection_calls += 1
    provider.shutdown()
    spans = list(memory.get_finished_spans())
    totals.spans = totals.rollouts + totals.calls + totals.reflection_calls
    if len(spans) != totals.spans:
        raise GskillError(f"the OpenTelemetry SDK kept {len(spans)} of {totals.spans} spans (OTEL_SDK_DISABLED set?)")
    return spans, totals


def export_run(run: Path, exporter: SpanExporter, *, content: bool = False) -> Export:
    """`run`'s recorded calls as spans, handed to `exporter` (OTLP/HTTP, `JsonFileExporter`, the SDK's
    in-memory one, ...) in batches, then the exporter shut down. Raises GskillError on bad input or a
    refused batch; nothing is exported when `run` cannot be read."""
    spans, totals = build_spans(run, content=content)
    failures: list[str] = []
    handler = _Remember(failures)
    logger = logging.getLogger("opentelemetry")
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False  # the exporter's retries are ours to report
    try:
        for first in range(0, len(spans), EXPORT_BATCH):
            if exporter.export(spans[first : first + EXPORT_BATCH]) is not SpanExportResult.SUCCESS:
                why = ": " + "; ".join(dict.fromkeys([failures[0], failures[-1]])) if failures else ""
                raise GskillError(
                    f"the exporter refused spans {first + 1}-{min(first + EXPORT_BATCH, len(spans))} of {len(spans)}{why}"
                )
    finally:
        exporter.shutdown()
        logger.removeHandler(handler)
        logger.propagate = propagate
    return totals


class _Remember(logging.Handler):
    """Keeps what the SDK's exporters warn of (the first line of each), for one error line."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().splitlines()[0][:300])


# ------------------------------------------------------------------------------------------------
# Exporters


class JsonFileExporter(SpanExporter):
    """Writes every span it is given, on shutdown, to `path` as one OTLP/JSON ExportTraceServiceRequest
    (one line: the shape of the OTel Collector's file exporter and `otlpjsonfile` receiver). Encoded with
    the OTLP exporter's own protobuf encoder; OTLP/JSON differs from protobuf's JSON mapping in ids
    (hex, not base64) and enums (integers), which is done here."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self._spans.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        if not self._spans:
            return
        document = json_format.MessageToDict(encode_spans(self._spans), use_integers_for_enums=True)
        for resource in document.get("resourceSpans", []):
            for scope in resource.get("scopeSpans", []):
                for span in scope.get("spans", []):
                    _hex_ids(span)
                    for link in span.get("links", []):
                        _hex_ids(link)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, json.dumps(document, separators=(",", ":")) + "\n")
        self._spans = []


def _hex_ids(item: dict) -> None:
    for key in ("traceId", "spanId", "parentSpanId"):
        if item.get(key):
            item[key] = base64.b64decode(item[key]).hex()


def http_exporter(endpoint: str) -> SpanExporter:
    """The SDK's OTLP/HTTP (protobuf) exporter for `endpoint`: a collector's base URL gets the traces
    path (`/v1/traces`); a URL with a path is used as given (Langfuse: .../api/public/otel/v1/traces).
    Headers (an Authorization for a hosted backend) come from OTEL_EXPORTER_OTLP_HEADERS or
    OTEL_EXPORTER_OTLP_TRACES_HEADERS, read by the exporter; gskill never prints or stores them."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise GskillError(f"--endpoint must be an http(s) URL, e.g. http://localhost:4318/v1/traces, not {endpoint!r}")
    if parts.path in ("", "/"):
        endpoint = endpoint.rstrip("/") + "/v1/traces"
    return OTLPSpanExporter(endpoint=endpoint)
