"""Self-hosted model endpoints and prices (`--api-base`, `--reflection-api-base`, `--price`, the config's
`models:`), against a stand-in OpenAI-compatible server on loopback (not the gateway): calls reach it,
are recorded with its tokens and the configured price, and no provider key reaches it or our files."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import openai
import pytest

from gskill.endpoints import check_priced, record_endpoints, run_endpoints
from gskill.errors import GskillError
from gskill.learn import LitellmReflection
from gskill.schema import ModelEndpoint, Settings
from harnesses.gateway.models import NO_KEY, model_problem
from harnesses.gateway.server import Gateway
from tests.helpers import assert_one_line_error, gskill

LEAKY_KEY = "sk-should-not-leak"
SERVED = "qwen-standin"
REPLY = "stand-in says: looks fine"
PROMPT_TOKENS, COMPLETION_TOKENS = 11, 7


class StandIn:
    """An OpenAI-compatible server: GET /v1/models lists SERVED; POST /v1/chat/completions answers REPLY
    with a fixed usage block. Keeps every request it received (path, headers, body)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                stand_in.requests.append({"path": self.path, "headers": dict(self.headers), "body": None})
                self._send({"object": "list", "data": [{"id": SERVED, "object": "model"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                stand_in.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self._send(
                    {
                        "id": "chatcmpl-standin",
                        "object": "chat.completion",
                        "created": 1700000000,
                        "model": body.get("model", ""),
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop"}
                        ],
                        "usage": {
                            "prompt_tokens": PROMPT_TOKENS,
                            "completion_tokens": COMPLETION_TOKENS,
                            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                        },
                    }
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.api_base = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def chats(self) -> list[dict]:
        return [request for request in self.requests if request["path"].endswith("/chat/completions")]


@pytest.fixture
def stand_in():
    server = StandIn()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def leaky_env(monkeypatch):
    """A real-looking provider key in the environment: it must go nowhere near a self-hosted endpoint."""
    monkeypatch.setenv("OPENAI_API_KEY", LEAKY_KEY)


def dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_no_key_sent(stand_in: StandIn) -> None:
    for request in stand_in.requests:
        assert LEAKY_KEY not in json.dumps(request)
    for request in stand_in.chats():
        assert request["headers"].get("Authorization") == f"Bearer {NO_KEY}"


def test_gateway_call_reaches_endpoint_and_is_priced(stand_in, leaky_env, tmp_path):
    model = f"openai/{SERVED}"
    endpoints = run_endpoints({}, [(model, stand_in.api_base, "--api-base")], [f"{model}=2,10"])
    trace_path = tmp_path / "trace.jsonl"
    with Gateway() as gateway:
        session = gateway.open_session(model=model, trace_path=trace_path, endpoint=endpoints[model])
        client = openai.OpenAI(base_url=session.base_url + "/v1", api_key=session.token)
        reply = client.chat.completions.create(model="whatever", messages=[{"role": "user", "content": "review"}])
        usage = gateway.close_session(session)
    assert reply.choices[0].message.content == REPLY
    [chat] = stand_in.chats()
    assert chat["body"]["model"] == SERVED and chat["body"]["messages"][-1]["content"] == "review"
    expected = (PROMPT_TOKENS * 2 + COMPLETION_TOKENS * 10) / 1e6
    assert usage.calls == 1 and (usage.input_tokens, usage.output_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert usage.cost_usd == pytest.approx(expected)
    [record] = [json.loads(line) for line in trace_path.read_text().splitlines()]
    assert record["status"] == 200 and record["api_base"] == stand_in.api_base
    assert record["usage"] == {"input_tokens": PROMPT_TOKENS, "output_tokens": COMPLETION_TOKENS}
    assert record["cost_usd"] == pytest.approx(expected)
    assert LEAKY_KEY not in trace_path.read_text()
    assert_no_key_sent(stand_in)


def test_unpriced_gateway_call_costs_unknown(stand_in, tmp_path):
    model = f"openai/{SERVED}"
    trace_path = tmp_path / "trace.jsonl"
    with Gateway() as gateway:
        session = gateway.open_session(
            model=model, trace_path=trace_path, endpoint=ModelEndpoint(api_base=stand_in.api_base)
        )
        client = openai.OpenAI(base_url=session.base_url + "/v1", api_key=session.token)
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
        usage = gateway.close_session(session)
    [record] = [json.loads(line) for line in trace_path.read_text().splitlines()]
    assert record["cost_usd"] is None and usage.cost_usd == 0.0 and usage.input_tokens == PROMPT_TOKENS


def test_reflection_uses_reflection_api_base_and_price(stand_in, leaky_env, tmp_path):
    agent, reflector = "scripted/oracle", f"openai/{SERVED}"
    endpoints = run_endpoints(
        {},
        [(agent, None, "--api-base"), (reflector, stand_in.api_base, "--reflection-api-base")],
        [f"{reflector}=1,3"],
    )
    assert set(endpoints) == {reflector}
    log_path = tmp_path / "reflection_calls.jsonl"
    reflection = LitellmReflection(reflector, log_path=log_path, endpoint=endpoints[reflector])
    reply = reflection("propose a skill")
    assert reply.text == REPLY
    assert reply.cost_usd == pytest.approx((PROMPT_TOKENS * 1 + COMPLETION_TOKENS * 3) / 1e6)
    assert reflection.unpriced == 0
    [chat] = stand_in.chats()
    assert chat["body"]["messages"] == [{"role": "user", "content": "propose a skill"}]
    [call] = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert call["purpose"] == "reflection" and call["metadata"]["api_base"] == stand_in.api_base
    assert (call["prompt_tokens"], call["completion_tokens"]) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert call["cost_usd"] == pytest.approx(reply.cost_usd)
    assert LEAKY_KEY not in log_path.read_text()
    assert_no_key_sent(stand_in)
    # Without a price the call still works, and is counted as unpriced (not as free).
    unpriced = LitellmReflection(reflector, log_path=log_path, endpoint=ModelEndpoint(api_base=stand_in.api_base))
    assert unpriced("again").cost_usd == 0.0 and unpriced.unpriced == 1


def test_mining_model_uses_its_configured_endpoint(stand_in, leaky_env, tmp_path):
    from swesmith.model_access import ModelAccess
    from swesmith.store import MiningStore

    model = f"openai/{SERVED}"
    settings = Settings(models={model: {"api_base": stand_in.api_base, "price": [3, 4]}})
    access = ModelAccess(
        model, MiningStore(tmp_path / "cache.sqlite"), tmp_path / "llm.jsonl", settings.run.endpoints[model]
    )
    assert access.ask([{"role": "user", "content": "rewrite"}], purpose="llm-rewrite") == REPLY
    [call] = [json.loads(line) for line in (tmp_path / "llm.jsonl").read_text().splitlines()]
    assert call["cost_usd"] == pytest.approx((PROMPT_TOKENS * 3 + COMPLETION_TOKENS * 4) / 1e6)
    assert call["metadata"]["api_base"] == stand_in.api_base and LEAKY_KEY not in json.dumps(call)
    assert_no_key_sent(stand_in)


def test_endpoint_resolution_and_checks(monkeypatch, tmp_path):
    configured = Settings(models={"openai/a": {"api_base": "http://h:1/v1/", "price": [1, 2]}}).run.endpoints
    merged = run_endpoints(configured, [("openai/a", "http://h:2/v1", "--api-base")], ["openai/b=0.5,1.5"])
    assert merged["openai/a"] == ModelEndpoint(api_base="http://h:2/v1", price=(1.0, 2.0))
    assert merged["openai/b"].price == (0.5, 1.5) and merged["openai/b"].api_base == ""
    with pytest.raises(GskillError, match="two api bases"):
        run_endpoints({}, [("openai/a", "http://h:1/v1", "--api-base"), ("openai/a", "http://h:2/v1", "--x")], [])
    for bad in ("openai/a", "openai/a=1", "openai/a=1,x", "openai/a=-1,2", "=1,2"):
        with pytest.raises(GskillError, match="--price takes MODEL=IN,OUT"):
            run_endpoints({}, [], [bad])
    with pytest.raises(GskillError, match="--api-base: api_base must be an http"):
        run_endpoints({}, [("openai/a", "localhost:8000", "--api-base")], [])
    # A self-hosted model needs no provider key; a named key variable must be set.
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert "OPENAI_API_KEY" in (model_problem("openai/local-x") or "")
    assert model_problem("openai/local-x", ModelEndpoint(api_base="http://h:1/v1")) is None
    needs_key = ModelEndpoint(api_base="http://h:1/v1", api_key_env="LOCAL_VLLM_KEY")
    assert "LOCAL_VLLM_KEY" in (model_problem("openai/local-x", needs_key) or "")
    # Prices: scripted models are free, litellm prices the big providers, the rest need --price.
    check_priced(["scripted/oracle", "openai/gpt-4o-mini", "openai/b"], merged)
    with pytest.raises(GskillError, match=r"no price for model openai/local-x: pass --price openai/local-x=IN,OUT"):
        check_priced(["openai/local-x"], merged)
    record_endpoints(tmp_path, ["openai/a", "scripted/oracle"], merged)
    assert json.loads((tmp_path / "endpoints.json").read_text()) == {
        "openai/a": {"api_base": "http://h:2/v1", "price": [1.0, 2.0], "api_key_env": ""}
    }


def learn_args(tmp_path: Path, *extra: str) -> list[str]:
    return ["learn", "--tasks", str(tmp_path / "tasks"), "--out", str(tmp_path / "run"), "--max-cost", "1", *extra]


def test_learn_max_cost_needs_a_price(tmp_path):
    (tmp_path / "tasks").mkdir()
    model = f"openai/{SERVED}"
    base = f"http://127.0.0.1:{dead_port()}/v1"
    done = gskill(*learn_args(tmp_path, "--model", model, "--api-base", base))
    assert_one_line_error(done, f"no price for model {model}: pass --price {model}=IN,OUT", "--max-cost")
    assert not (tmp_path / "run").exists()  # refused before any work
    # The reflection model is checked too, and named.
    done = gskill(
        *learn_args(tmp_path, "--model", model, "--api-base", base, "--price", f"{model}=0.1,0.2"),
        "--reflection-model",
        "openai/reflector-x",
        "--reflection-api-base",
        base,
    )
    assert_one_line_error(done, "no price for model openai/reflector-x", "--price openai/reflector-x=IN,OUT")
    # With --price the check passes: the run fails later, for another reason (no Docker / no train split).
    done = gskill(*learn_args(tmp_path, "--model", model, "--api-base", base, "--price", f"{model}=0.1,0.2"))
    assert_one_line_error(done)
    assert "no price" not in done.stderr
    # Scripted models are free: no price needed.
    done = gskill(*learn_args(tmp_path, "--model", "scripted/oracle"))
    assert_one_line_error(done)
    assert "no price" not in done.stderr


def test_learn_price_from_config_file(tmp_path):
    (tmp_path / "tasks").mkdir()
    model = f"openai/{SERVED}"
    base = f"http://127.0.0.1:{dead_port()}/v1"
    config = tmp_path / "gskill.yaml"
    config.write_text(f"models:\n  {model}:\n    api_base: {base}\n")
    done = gskill("--config", str(config), *learn_args(tmp_path, "--model", model))
    assert_one_line_error(done, f"no price for model {model}: pass --price")
    config.write_text(f"models:\n  {model}:\n    api_base: {base}\n    price: [0.1, 0.2]\n")
    done = gskill("--config", str(config), *learn_args(tmp_path, "--model", model))
    assert_one_line_error(done)
    assert "no price" not in done.stderr and "OPENAI_API_KEY" not in done.stderr  # served: no provider key needed
    config.write_text(f"models:\n  {model}:\n    price: [-1, 0.2]\n")
    assert_one_line_error(gskill("--config", str(config), "doctor"), "models.", "price")


def test_doctor_probes_endpoints(stand_in, tmp_path):
    dead = f"http://127.0.0.1:{dead_port()}/v1"
    config = tmp_path / "gskill.yaml"
    config.write_text(
        f"run:\n  model: openai/dead-one\nmodels:\n  openai/{SERVED}:\n    api_base: {stand_in.api_base}\n"
        f"  openai/dead-one:\n    api_base: {dead}\n",
    )
    done = gskill("--config", str(config), "doctor", env={"OPENAI_API_KEY": LEAKY_KEY})
    assert f"serves: {SERVED}" in done.stdout and "not answering" in done.stdout
    assert [request["path"] for request in stand_in.requests] == ["/v1/models"]
    # The dead endpoint serves the run's model: doctor is not ready, and says why.
    assert done.returncode != 0 and f"endpoint {dead}" in done.stderr
    assert LEAKY_KEY not in done.stdout + done.stderr
    assert_no_key_sent(stand_in)
    # A dead endpoint no run uses is a note only (environment variables configure it too).
    models = json.dumps({f"openai/{SERVED}": {"api_base": stand_in.api_base}, "openai/other": {"api_base": dead}})
    done = gskill("doctor", env={"GSKILL_MODELS": models})
    assert f"serves: {SERVED}" in done.stdout and "not answering" in done.stdout
    assert "endpoint" not in done.stderr
