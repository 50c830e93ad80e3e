"""`gskill traces export --format otel`: a run's recorded model calls as OpenTelemetry spans (GenAI
semantic conventions), to an OTLP/JSON file, an OTLP/HTTP endpoint, or any SDK exporter."""

from __future__ import annotations

import base64
import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gskill.schema import EvalRecord, ExitStatus, Grade, GradeStatus, Rollout, Usage
from tests.helpers import assert_one_line_error, gskill, optional

GEN_AI = ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model")


def _otel():
    optional("opentelemetry.sdk")
    from interop import otel

    return otel


def _attributes(span: dict) -> dict:
    """An OTLP/JSON span's attributes as a plain dict."""
    values = {}
    for item in span.get("attributes", []):
        value = item["value"]
        if "arrayValue" in value:
            values[item["key"]] = [next(iter(v.values())) for v in value["arrayValue"].get("values", [])]
        else:
            kind, raw = next(iter(value.items()))
            values[item["key"]] = int(raw) if kind == "intValue" else raw
    return values


def _file_spans(path: Path) -> list[dict]:
    document = json.loads(path.read_text())
    assert path.read_text().count("\n") == 1  # one request, one line: a Collector's file-exporter line
    (resource,) = document["resourceSpans"]
    service = {item["key"]: item["value"] for item in resource["resource"]["attributes"]}
    assert service["service.name"] == {"stringValue": "gskill"}
    return [span for scope in resource["scopeSpans"] for span in scope["spans"]]


def _check_structure(spans: list[dict]) -> tuple[list[dict], list[dict]]:
    """Rollout spans are roots, one trace each; every call span is a CLIENT child of one of them, inside
    its time. Returns (rollouts, calls)."""
    rollouts = [span for span in spans if span["name"] == "gskill.rollout"]
    calls = [span for span in spans if span["name"] != "gskill.rollout"]
    by_id = {span["spanId"]: span for span in rollouts}
    assert all(not span.get("parentSpanId") for span in rollouts)
    assert len({span["traceId"] for span in rollouts}) == len(rollouts)  # a trace per rollout
    for call in calls:
        parent = by_id[call["parentSpanId"]]
        assert call["traceId"] == parent["traceId"] and call["kind"] == 3  # SPAN_KIND_CLIENT
        assert int(parent["startTimeUnixNano"]) <= int(call["startTimeUnixNano"]) <= int(call["endTimeUnixNano"])
        assert int(call["endTimeUnixNano"]) <= int(parent["endTimeUnixNano"])
        assert len(call["traceId"]) == 32 and len(call["spanId"]) == 16  # OTLP/JSON ids are hex
    return rollouts, calls


# ------------------------------------------------------------------------------------------------
# A hand-written run (fast, no Docker)


def _record(task: str, started: float, wall: float, usage: Usage, *, skill_hash: str = "", resolved=True) -> str:
    rollout = Rollout(
        instance_id=task,
        agent="mini",
        model="openai/gpt-5-mini",
        skill_hash=skill_hash,
        exit_status=ExitStatus.SUBMITTED,
        usage=usage,
        wall_time_s=wall,
        trace_path=f"traces/{task}.run0.attempt1.agent.json",
        started_at=datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
    )
    status = GradeStatus.RESOLVED if resolved else GradeStatus.F2P_FAILED
    return EvalRecord(instance_id=task, rollout=rollout, grade=Grade(instance_id=task, status=status)).model_dump_json()


def _call(t: float, input_tokens: int, output_tokens: int, text: str = "done") -> dict:
    return {
        "t": t,
        "api": "chat",
        "model": "openai/gpt-5-mini",
        "requested_model": "gpt-5-mini",
        "request": {
            "model": "gpt-5-mini",
            "temperature": 0.0,
            "messages": [{"role": "system", "content": "You fix bugs."}, {"role": "user", "content": "Fix calc."}],
        },
        "response": {
            "id": "chatcmpl-1",
            "model": "openai/gpt-5-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        },
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        "cost_usd": 0.001,
        "seconds": 1.5,
        "stream": False,
        "status": 200,
        "sent": t,
    }


def _write_lines(path: Path, entries: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in entries))


def _eval_run(folder: Path, skill_hash: str = "") -> Path:
    """Task a: a killed first rollout (one call), then the recorded one (two calls and a refused one);
    task b: a superseded attempt with no record. Plus a line cut short by a crash."""
    start = 1_700_000_000.0
    (folder / "traces").mkdir(parents=True)
    (folder / "run.json").write_text(
        json.dumps({"agent": "mini", "model": "openai/gpt-5-mini", "skill_hash": skill_hash})
    )
    killed = _call(start - 600, 7, 3)
    refused = {"t": start + 9, "api": "chat", "request": {}, "error": "call cap 2 reached", "status": 429}
    _write_lines(
        folder / "traces" / "a.run0.attempt1.gateway.jsonl",
        [killed, _call(start + 2, 100, 10), _call(start + 5, 200, 20, "patched"), refused, '{"t": 17000'],
    )
    _write_lines(folder / "traces" / "b.run0.attempt1.gateway.jsonl", [_call(start + 20, 50, 5)])
    usage = Usage(calls=2, input_tokens=300, output_tokens=30, cost_usd=0.002)
    _write_lines(folder / "rollouts.jsonl", [_record("a", start, 12.0, usage, skill_hash=skill_hash)])
    return folder


def test_a_hand_written_eval_run_exports_a_span_per_recorded_call(tmp_path):
    otel = _otel()
    run = _eval_run(tmp_path / "run")
    out = tmp_path / "spans.json"
    done = otel.export_run(run, otel.JsonFileExporter(out))
    assert (done.rollouts, done.calls, done.spans) == (3, 5, 8)
    assert (done.input_tokens, done.output_tokens) == (357, 38)

    rollouts, calls = _check_structure(_file_spans(out))
    by_rollout = {}
    for span in rollouts:
        attributes = _attributes(span)
        by_rollout[(attributes["gskill.task"], attributes["gskill.recorded"])] = (span, attributes)
    recorded, recorded_attributes = by_rollout[("a", True)]
    assert recorded_attributes["gskill.grade"] == "resolved" and recorded_attributes["gskill.resolved"] is True
    assert (
        recorded_attributes["gskill.usage.input_tokens"] == 300 and recorded_attributes["gen_ai.agent.name"] == "mini"
    )
    assert "gen_ai.usage.input_tokens" not in recorded_attributes  # the tokens are counted on the calls only
    assert {("a", False), ("b", False)} <= set(by_rollout)  # the killed rollout's call, the unrecorded attempt

    children = [span for span in calls if span["parentSpanId"] == recorded["spanId"]]
    assert len(children) == 3
    served = [span for span in children if "status" not in span or span["status"].get("code") != 2]
    (failed,) = [span for span in children if span.get("status", {}).get("code") == 2]  # STATUS_CODE_ERROR
    assert _attributes(failed)["error.type"] == "429" and "call cap" in failed["status"]["message"]
    assert sum(_attributes(span)["gen_ai.usage.input_tokens"] for span in served) == 300
    first = _attributes(served[0])
    assert served[0]["name"] == "chat gpt-5-mini"
    assert {key: first[key] for key in GEN_AI} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-5-mini",
    }
    assert first["gen_ai.response.finish_reasons"] == ["stop"] and first["gen_ai.request.temperature"] == 0.0
    assert first["gskill.task"] == "a" and first["gskill.rollout"] == "a.run0.attempt1"
    assert first["gskill.purpose"] == "agent" and first["gskill.cost_usd"] == 0.001
    assert "gen_ai.response.model" not in first  # the gateway's reply names the session's model, not the provider's
    assert int(served[0]["endTimeUnixNano"]) - int(served[0]["startTimeUnixNano"]) == 1_500_000_000
    assert "events" not in served[0] and "Fix calc" not in out.read_text()  # no content unless asked

    # The file is an ExportTraceServiceRequest in OTLP/JSON: protobuf's JSON mapping but for hex ids.
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    document = json.loads(out.read_text())
    for span in document["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for key in ("traceId", "spanId", "parentSpanId"):
            if key in span:
                span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    request = json_format.ParseDict(document, ExportTraceServiceRequest())
    assert len(request.resource_spans[0].scope_spans[0].spans) == 8

    # The same run exports with the same ids; --content adds the conversation as one event per call.
    again = tmp_path / "again.json"
    otel.export_run(run, otel.JsonFileExporter(again), content=True)
    spans = _file_spans(again)
    assert sorted(s["spanId"] for s in spans) == sorted(s["spanId"] for s in _file_spans(out))
    (event,) = next(s for s in spans if s["spanId"] == served[1]["spanId"])["events"]
    details = _attributes(event)
    assert event["name"] == "gen_ai.client.inference.operation.details"
    assert json.loads(details["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Fix calc."}]}
    ]
    assert json.loads(details["gen_ai.system_instructions"]) == [{"type": "text", "content": "You fix bugs."}]
    assert json.loads(details["gen_ai.output.messages"])[0]["parts"][0]["content"] == "patched"


def test_a_learn_run_names_candidates_and_reflection_calls(tmp_path):
    otel = _otel()
    from harnesses.rollout import skill_hash

    run = tmp_path / "learn"
    run.mkdir()
    (run / "learn.json").write_text("{}")
    skill = "Run pytest -q."
    _write_lines(run / "candidates.jsonl", [{"index": 0, "hash": "c0ffee0000000000", "components": {"skill": skill}}])
    _eval_run(run / "rollouts" / "c0ffee0000000000")
    _eval_run(run / "test" / "seed", skill_hash=skill_hash(skill))
    reflection = {
        "model": "anthropic/claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "Improve the skill."}],
        "response": {
            "id": "msg-1",
            "created": 1_700_000_100,
            "model": "claude-sonnet-4-5-20250929",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "```markdown\nx\n```"},
                    "finish_reason": "stop",
                }
            ],
        },
        "prompt_tokens": 1000,
        "completion_tokens": 200,
        "cost_usd": 0.006,
        "seconds": 4.0,
        "purpose": "reflection",
        "metadata": {"seed": 0},
    }
    _write_lines(run / "reflection_calls.jsonl", [reflection])
    memory = _memory_exporter()
    done = otel.export_run(run, memory)
    assert (done.rollouts, done.calls, done.reflection_calls, done.kind) == (6, 10, 1, "learn")
    spans = memory.get_finished_spans()
    assert len(spans) == done.spans == 17
    candidates = {span.attributes.get("gskill.candidate") for span in spans if span.attributes.get("gskill.task")}
    assert candidates == {"c0ffee0000000000"}  # rollouts/<hash>/ and the test run of the same skill
    (call,) = [span for span in spans if span.attributes.get("gskill.purpose") == "reflection"]
    assert call.parent is None and call.name == "chat claude-sonnet-4-5"
    assert call.attributes["gen_ai.provider.name"] == "anthropic"
    assert call.attributes["gen_ai.response.model"] == "claude-sonnet-4-5-20250929"
    assert call.attributes["gen_ai.usage.input_tokens"] == 1000
    assert (call.start_time, call.end_time) == (1_700_000_096 * 10**9, 1_700_000_100 * 10**9)


def _memory_exporter():
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    return InMemorySpanExporter()


def test_bad_export_inputs_are_one_line_errors(tmp_path):
    optional("opentelemetry.sdk")
    run = _eval_run(tmp_path / "run")
    (tmp_path / "empty").mkdir()
    out = str(tmp_path / "o.json")
    cases = [
        (["traces", "export", str(tmp_path / "empty"), "--out", out], "no recorded model calls"),
        (["traces", "export", str(tmp_path / "missing"), "--out", out], "not a run folder"),
        (["traces", "export", str(run), "--format", "jaeger", "--out", out], "--format must be otel"),
        (["traces", "export", str(run)], "one of --out FILE or --endpoint URL"),
        (["traces", "export", str(run), "--out", str(tmp_path)], "is a folder"),
        (["traces", "export", str(run), "--out", out, "--endpoint", "http://127.0.0.1:9"], "one of --out"),
        (["traces", "export", str(run), "--endpoint", "localhost:4318"], "http(s) URL"),
    ]
    for args, fragment in cases:
        assert_one_line_error(gskill(*args), fragment)
    assert not Path(out).exists()
    # Nothing listens there: the exporter's retries end in one line, not a log.
    refused = gskill(
        "traces",
        "export",
        str(run),
        "--endpoint",
        f"http://127.0.0.1:{_free_port()}",
        env={"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "1"},
    )
    assert_one_line_error(refused, "refused spans")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ------------------------------------------------------------------------------------------------
# A real scripted eval run (Docker)


@pytest.fixture(scope="module")
def eval_run(mined_tasks, tmp_path_factory) -> Path:
    """`gskill eval` of the scripted oracle on the two fixture tasks."""
    run = tmp_path_factory.mktemp("otel") / "run"
    done = gskill("eval", "--tasks", str(mined_tasks), "--model", "scripted/oracle", "--out", str(run))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return run


def _recorded_calls(run: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted((run / "traces").glob("*.gateway.jsonl"))
        for line in path.read_text().splitlines()
    ]


def test_the_otel_export_of_a_scripted_eval_run_has_a_span_per_model_call(eval_run, tmp_path):
    """Acceptance: one span per model call with the GenAI attributes, and the token sums equal summary.json."""
    summary = json.loads((eval_run / "summary.json").read_text())
    recorded = _recorded_calls(eval_run)
    assert len(recorded) == summary["calls"] == 6  # three steps per task, all served
    out = tmp_path / "spans.json"
    done = gskill("traces", "export", str(eval_run), "--format", "otel", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert f"exported {len(recorded) + 2} spans" in done.stdout

    rollouts, calls = _check_structure(_file_spans(out))
    assert len(calls) == len(recorded) and len(rollouts) == summary["runs"] == 2
    attributes = [_attributes(span) for span in calls]
    for span, values in zip(calls, attributes):
        assert span["name"] == "chat oracle"
        assert all(values[key] for key in GEN_AI) and values["gen_ai.provider.name"] == "scripted"
        assert values["gskill.purpose"] == "agent" and values["gskill.cost_usd"] == 0.0
        assert values["gskill.rollout"].startswith(values["gskill.task"] + ".run0.attempt")
    assert sum(values["gen_ai.usage.input_tokens"] for values in attributes) == summary["input_tokens"] > 0
    assert sum(values["gen_ai.usage.output_tokens"] for values in attributes) == summary["output_tokens"] > 0
    for span in rollouts:
        values = _attributes(span)
        children = [c for c, v in zip(calls, attributes) if c["parentSpanId"] == span["spanId"]]
        assert len(children) == values["gskill.calls"] == 3 and values["gskill.grade"] == "resolved"
    # Start and end from the recording: each call lasts the seconds the gateway measured.
    by_start = {int(span["startTimeUnixNano"]): span for span in calls}
    for call in recorded:  # to the microsecond: a float holds no finer Unix time
        span = by_start[round(call["t"] * 1e6) * 1000]
        assert int(span["endTimeUnixNano"]) - int(span["startTimeUnixNano"]) == round(call["seconds"] * 1e6) * 1000

    # The same spans through the SDK's in-memory exporter.
    otel = _otel()
    memory = _memory_exporter()
    totals = otel.export_run(eval_run, memory)
    spans = memory.get_finished_spans()
    assert len(spans) == totals.spans == len(recorded) + 2
    agent_calls = [span for span in spans if span.parent is not None]
    assert len(agent_calls) == len(recorded)
    assert sum(span.attributes["gen_ai.usage.input_tokens"] for span in agent_calls) == summary["input_tokens"]
    assert sum(span.attributes["gen_ai.usage.output_tokens"] for span in agent_calls) == summary["output_tokens"]
    roots = {span.context.span_id for span in spans if span.parent is None}
    assert all(span.parent.span_id in roots for span in agent_calls)
    assert {f"{span.context.span_id:016x}" for span in spans} == {span["spanId"] for span in rollouts + calls}

    # With --content the conversation is there, and still no gateway token or header.
    text = tmp_path / "content.json"
    assert gskill("traces", "export", str(eval_run), "--out", str(text), "--content").returncode == 0
    content = text.read_text()
    assert "gen_ai.input.messages" in content and "gsk-rollout-" not in content
    assert "authorization" not in content.lower() and "x-api-key" not in content.lower()


def test_the_otel_export_reaches_an_otlp_http_endpoint(eval_run):
    """A loopback OTLP/HTTP receiver gets protobuf ExportTraceServiceRequests holding every span."""
    optional("opentelemetry.sdk")
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )

    received: list[tuple[str, str, ExportTraceServiceRequest]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            request = ExportTraceServiceRequest()
            request.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((self.path, self.headers.get("Content-Type", ""), request))
            body = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        done = gskill("traces", "export", str(eval_run), "--endpoint", f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr
    assert received and all(path == "/v1/traces" and kind == "application/x-protobuf" for path, kind, _ in received)
    spans = [
        span
        for _, _, request in received
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    recorded = _recorded_calls(eval_run)
    assert len(spans) == len(recorded) + 2
    calls = [span for span in spans if span.parent_span_id]
    tokens = sum(a.value.int_value for span in calls for a in span.attributes if a.key == "gen_ai.usage.input_tokens")
    assert tokens == json.loads((eval_run / "summary.json").read_text())["input_tokens"]
