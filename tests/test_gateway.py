"""The gateway in all four wire formats, streaming and not, driven by the real client libraries
(openai, anthropic; Gemini's by hand) against scripted models; every call must land in the session's trace."""

from __future__ import annotations

import json

import openai
import pytest

from harnesses.gateway.server import Caps, Gateway
from tests.helpers import optional

GOLD = "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n"
BASH = {
    "type": "function",
    "function": {
        "name": "bash",
        "description": "run",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
    },
}


@pytest.fixture(scope="module")
def gateway():
    with Gateway() as running:
        yield running


def trace(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("stream", [False, True])
def test_chat_completions(gateway, tmp_path, stream):
    session = gateway.open_session(
        model="scripted/oracle", trace_path=tmp_path / "t.jsonl", metadata={"gold_patch": GOLD}
    )
    client = openai.OpenAI(base_url=session.base_url + "/v1", api_key=session.token)
    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": "fix it"}]
    if stream:
        chunks = list(client.chat.completions.create(model="whatever", messages=messages, tools=[BASH], stream=True))
        calls = [call for chunk in chunks for choice in chunk.choices for call in (choice.delta.tool_calls or [])]
        arguments = json.loads(calls[0].function.arguments)
        assert calls[0].function.name == "bash" and chunks[1].choices[0].finish_reason == "tool_calls"
    else:
        reply = client.chat.completions.create(model="whatever", messages=messages, tools=[BASH])
        call = reply.choices[0].message.tool_calls[0]
        arguments = json.loads(call.function.arguments)
        assert call.function.name == "bash" and reply.usage.prompt_tokens > 0
    assert arguments == {"command": "git status --short"}  # the oracle's first step
    # Second step, with the first answered: the oracle applies the gold patch.
    messages += [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "bash", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "clean"},
    ]
    reply = client.chat.completions.create(model="whatever", messages=messages, tools=[BASH])
    assert (
        "git apply /tmp/gskill-fix.diff"
        in json.loads(reply.choices[0].message.tool_calls[0].function.arguments)["command"]
    )
    usage = gateway.close_session(session)
    assert usage.calls == 2 and usage.input_tokens > 0 and usage.output_tokens > 0
    records = trace(tmp_path / "t.jsonl")
    assert [r["api"] for r in records] == ["chat", "chat"] and records[0]["stream"] is stream
    assert (
        records[0]["requested_model"] == "whatever" and records[0]["model"] == "scripted/oracle"
    )  # the session's model is used
    assert records[1]["request"]["messages"][-1]["content"] == "clean" and records[1]["response"]["choices"]


@pytest.mark.parametrize("stream", [False, True])
def test_openai_responses(gateway, tmp_path, stream):
    session = gateway.open_session(model="scripted/noop", trace_path=tmp_path / "t.jsonl")
    client = openai.OpenAI(base_url=session.base_url + "/v1", api_key=session.token)
    shell = {
        "type": "function",
        "name": "shell",
        "description": "run",
        "parameters": {"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}}},
    }
    inputs = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "fix it"}]},
        {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": '{"command": ["ls"]}'},
        {"type": "function_call_output", "call_id": "c1", "output": "README"},
    ]
    if stream:
        events = list(
            client.responses.create(
                model="gpt-5-codex", instructions="be brief", input=inputs, tools=[shell], stream=True
            )
        )
        kinds = [event.type for event in events]
        assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
        assert "response.function_call_arguments.delta" in kinds and "response.output_item.done" in kinds
        final = events[-1].response
    else:
        final = client.responses.create(model="gpt-5-codex", instructions="be brief", input=inputs, tools=[shell])
    calls = [item for item in final.output if item.type == "function_call"]
    # One assistant turn in the input: the noop policy's second step, through Codex's argv-style tool.
    assert (
        calls
        and calls[0].name == "shell"
        and json.loads(calls[0].arguments) == {"command": ["bash", "-lc", "git status --short"]}
    )
    assert final.usage.input_tokens > 0
    gateway.close_session(session)
    record = trace(tmp_path / "t.jsonl")[0]
    assert record["api"] == "responses" and record["request"]["input"][2]["output"] == "README"


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_messages(gateway, tmp_path, stream):
    session = gateway.open_session(
        model="scripted/oracle", trace_path=tmp_path / "t.jsonl", metadata={"gold_patch": GOLD}
    )
    anthropic = optional("anthropic")  # the dev extra's real client
    client = anthropic.Anthropic(base_url=session.base_url, api_key=session.token, max_retries=0)
    tools = [
        {
            "name": "Bash",
            "description": "run",
            "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
        }
    ]
    messages = [
        {"role": "user", "content": "fix it"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "README"}]},
    ]
    if stream:
        with client.messages.stream(
            model="claude-x", max_tokens=100, system="sys", messages=messages, tools=tools
        ) as events:
            final = events.get_final_message()
    else:
        final = client.messages.create(model="claude-x", max_tokens=100, system="sys", messages=messages, tools=tools)
    use = [block for block in final.content if block.type == "tool_use"]
    assert final.stop_reason == "tool_use" and use[0].name == "Bash"
    assert "git apply /tmp/gskill-fix.diff" in use[0].input["command"]  # step 2 of the oracle
    gateway.close_session(session)
    record = trace(tmp_path / "t.jsonl")[0]
    assert record["api"] == "messages" and record["stream"] is stream


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_generate_content(gateway, tmp_path, stream):
    """Gemini CLI's wire format (its real traffic runs in tests/test_gemini.py): the model and the
    method in the path, the token in `x-goog-api-key`, function calls answered by function responses."""
    import httpx

    session = gateway.open_session(
        model="scripted/oracle", trace_path=tmp_path / "t.jsonl", metadata={"gold_patch": GOLD}
    )
    shell = {
        "name": "run_shell_command",
        "description": "run",
        "parameters": {"type": "OBJECT", "properties": {"command": {"type": "STRING"}}, "required": ["command"]},
    }
    body = {
        "systemInstruction": {"role": "user", "parts": [{"text": "sys"}]},
        "contents": [
            {"role": "user", "parts": [{"text": "fix it"}]},
            {
                "role": "model",
                "parts": [{"text": "look"}, {"functionCall": {"name": "run_shell_command", "args": {"command": "ls"}}}],
            },
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "run_shell_command", "response": {"output": "README"}}}],
            },
        ],
        "tools": [{"functionDeclarations": [shell]}],
        "generationConfig": {"temperature": 0, "maxOutputTokens": 200, "thinkingConfig": {"includeThoughts": True}},
    }
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    url = f"{session.base_url}/v1beta/models/gemini-x:{method}"
    reply = httpx.post(url, json=body, headers={"x-goog-api-key": session.token}, timeout=60)
    assert reply.status_code == 200, reply.text
    if stream:
        assert reply.headers["content-type"] == "text/event-stream"
        chunks = [json.loads(line[5:]) for line in reply.text.splitlines() if line.startswith("data:")]
        assert len(chunks) == 1
        answer = chunks[0]
    else:
        answer = reply.json()
    candidate = answer["candidates"][0]
    calls = [part["functionCall"] for part in candidate["content"]["parts"] if "functionCall" in part]
    assert candidate["finishReason"] == "STOP" and candidate["content"]["role"] == "model"
    assert calls[0]["name"] == "run_shell_command" and "git apply /tmp/gskill-fix.diff" in calls[0]["args"]["command"]
    counted = httpx.post(
        f"{session.base_url}/v1beta/models/gemini-x:countTokens", json=body, headers={"x-goog-api-key": session.token}
    )
    assert counted.status_code == 200 and counted.json()["totalTokens"] > 0
    stranger = httpx.post(url, json=body, headers={"x-goog-api-key": "gsk-rollout-nobody"})
    assert stranger.status_code == 401
    usage = gateway.close_session(session)
    record = trace(tmp_path / "t.jsonl")[0]
    assert record["api"] == "gemini" and record["stream"] is stream and record["requested_model"] == "gemini-x"
    assert usage.calls == 1 and record["usage"]["input_tokens"] == usage.input_tokens > 0
    assert answer["usageMetadata"]["promptTokenCount"] == usage.input_tokens
    assert answer["usageMetadata"]["candidatesTokenCount"] == usage.output_tokens > 0


def test_gemini_requests_translate_to_chat():
    """Calls without ids are paired with their responses in order; Gemini's upper-case schema types
    become JSON Schema's; thoughts are dropped; generation settings map to chat parameters."""
    from harnesses.gateway import wire

    messages, tools, params = wire.gemini_request(
        {
            "contents": [
                {"role": "user", "parts": [{"text": "go"}]},
                {
                    "role": "model",
                    "parts": [
                        {"text": "thinking...", "thought": True},
                        {"functionCall": {"name": "a", "args": {"x": 1}}},
                        {"functionCall": {"id": "own", "name": "b", "args": {}}},
                    ],
                },
                {
                    "role": "user",
                    "parts": [
                        {"functionResponse": {"id": "own", "name": "b", "response": {"output": "B"}}},
                        {"functionResponse": {"name": "a", "response": {"output": "A"}}},
                    ],
                },
            ],
            "tools": [
                {
                    "functionDeclarations": [
                        {"name": "a", "parameters": {"type": "OBJECT", "properties": {"x": {"type": "INTEGER"}}}}
                    ]
                },
                {"functionDeclarations": [{"name": "b", "parametersJsonSchema": {"type": "object"}}]},
            ],
            "generationConfig": {"topP": 0.5, "maxOutputTokens": 9, "stopSequences": ["X"]},
        }
    )
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool"]
    assert messages[1]["content"] is None
    assert [c["id"] for c in messages[1]["tool_calls"]] == ["call_1_1", "own"]
    assert [(m["tool_call_id"], json.loads(m["content"])) for m in messages[2:]] == [
        ("own", {"output": "B"}),
        ("call_1_1", {"output": "A"}),
    ]
    assert tools[0]["function"]["parameters"] == {"type": "object", "properties": {"x": {"type": "integer"}}}
    assert tools[1]["function"]["parameters"] == {"type": "object"}
    assert params == {"top_p": 0.5, "max_tokens": 9, "stop": ["X"]}


def test_tokens_and_caps(gateway, tmp_path):
    session = gateway.open_session(model="scripted/noop", trace_path=tmp_path / "t.jsonl", caps=Caps(max_calls=1))
    client = openai.OpenAI(base_url=session.base_url + "/v1", api_key=session.token, max_retries=0)
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], tools=[BASH])
    with pytest.raises(openai.RateLimitError, match="call cap 1 reached"):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], tools=[BASH])
    assert session.limit_hit == "call cap 1 reached" and session.usage.calls == 1
    assert trace(tmp_path / "t.jsonl")[-1]["status"] == 429

    stranger = openai.OpenAI(base_url=session.base_url + "/v1", api_key="sk-not-a-rollout", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        stranger.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    gateway.close_session(session)
    with pytest.raises(openai.AuthenticationError):  # a closed session's token is dead
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])


def test_needs_skill_policy_follows_the_skill_text(gateway):
    from harnesses.gateway.models import complete

    meta = {"gold_patch": GOLD, "needs": ["src/pkg/core.py"], "competent": 1.0, "base": 0.0, "instance_id": "t1"}
    for system, applies in (("Bugs live in src/pkg/core.py.", True), ("Read the README.", False)):
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": "fix"},
            {"role": "assistant", "content": "ok"},
        ]
        reply = complete("scripted/needs-skill", messages, tools=[BASH], metadata=meta)
        command = json.loads(reply.choices[0].message.tool_calls[0].function.arguments)["command"]
        assert ("git apply" in command) is applies


def test_malformed_requests_get_a_400_and_are_recorded(gateway, tmp_path):
    import urllib.error
    import urllib.request

    session = gateway.open_session(model="scripted/noop", trace_path=tmp_path / "t.jsonl")
    for path, body in (
        ("/v1/messages", b'{"messages": [{"role": "user", "content": [{"type": "tool_use"}]}]}'),
        ("/v1/chat/completions", b"not json"),
    ):
        request = urllib.request.Request(
            session.base_url + path, data=body, headers={"authorization": f"Bearer {session.token}"}
        )
        with pytest.raises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(request, timeout=30)
        assert failure.value.code == 400
    assert trace(tmp_path / "t.jsonl")[0]["status"] == 400
    gateway.close_session(session)


def test_scripted_reflector_counts_tokens_without_the_engine():
    """The harness side must not import the optimizer: the scripted reflector's simplify counts tokens
    with `gskill.tokens`, and `gskill.engine` stays unloaded."""
    import subprocess
    import sys
    from pathlib import Path

    program = (
        "import sys\n"
        "from harnesses.gateway.scripted import ScriptedRequest, reflector\n"
        "skill = '\\n'.join(f'- `src/m{i}.py`: the code lives here' for i in range(40))\n"
        "prompt = f'# Reflect\\n## Current skill\\n````markdown\\n{skill}\\n````\\n\\n## Strategy: simplify\\nat most 60 tokens\\n'\n"
        "reply = reflector(ScriptedRequest('reflector', [{'role': 'user', 'content': prompt}]))\n"
        "assert 'src/m0.py' in reply.content and 'src/m39.py' not in reply.content, reply.content\n"
        "print(sorted(name for name in sys.modules if name.startswith('gskill.engine')))\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "PYTHONPATH": str(root)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# -- hostile and broken requests: answered with a 4xx, recorded, never a traceback ------------------


def raw_request(
    url: str, head: str, body: bytes = b"", *, half_close: bool = False, timeout: float = 10
) -> tuple[int, dict, float]:
    """Sends `head` (request line and headers) and `body` as they are; returns (status, JSON answer,
    seconds until the answer). `half_close`: the client stops sending (as when it dies mid-body)."""
    import socket
    import time
    from urllib.parse import urlsplit

    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=timeout) as connection:
        began = time.monotonic()
        connection.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        if half_close:
            connection.shutdown(socket.SHUT_WR)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            assert chunk, f"the gateway hung up without an answer: {data!r}"
            data += chunk
        seconds = time.monotonic() - began
        header, _, rest = data.partition(b"\r\n\r\n")
        length = int(
            next(line.split(b":")[1] for line in header.split(b"\r\n") if line.lower().startswith(b"content-length"))
        )
        while len(rest) < length:
            chunk = connection.recv(65536)
            assert chunk
            rest += chunk
    return int(header.split()[1]), json.loads(rest[:length]), seconds


def head(path: str, token: str = "", length: int | str | None = None, extra: str = "") -> str:
    lines = [f"POST {path} HTTP/1.1", "host: gateway", "content-type: application/json"]
    lines += [f"authorization: Bearer {token}"] if token else []
    lines += [f"content-length: {length}"] if length is not None else []
    return "\n".join(lines + ([extra] if extra else [])) + "\n"


def test_the_token_is_checked_before_the_body_is_read(gateway, capfd):
    """A stranger declaring a 200 MB body is turned away before it sends it: nothing is read or held."""
    for token in ("", "sk-not-a-rollout"):
        status, answer, seconds = raw_request(
            gateway.url, head("/v1/chat/completions", token, 200 * 2**20), b'{"messages": ['
        )
        assert status == 401 and answer["error"]["type"] == "authentication_error" and seconds < 5
    assert "Traceback" not in capfd.readouterr().err


def test_a_body_over_the_cap_is_refused_with_413(gateway, tmp_path, capfd):
    # Declared but never sent: answered at once, not after waiting for (and holding) 200 MB.
    session = gateway.open_session(model="scripted/noop", trace_path=tmp_path / "big.jsonl")
    status, answer, seconds = raw_request(gateway.url, head("/v1/messages", session.token, 200 * 2**20), b"{")
    assert status == 413 and answer["error"]["type"] == "request_too_large" and seconds < 5
    assert [r["status"] for r in trace(tmp_path / "big.jsonl")] == [413]
    gateway.close_session(session)
    with Gateway(max_body_bytes=1000) as small:
        session = small.open_session(model="scripted/noop", trace_path=tmp_path / "t.jsonl")
        body = json.dumps({"messages": [{"role": "user", "content": "x" * 2000}]}).encode()
        status, answer, _ = raw_request(small.url, head("/v1/chat/completions", session.token, len(body)), body)
        assert status == 413 and "1000" in answer["error"]["message"]
        records = trace(tmp_path / "t.jsonl")
        assert [(r["api"], r["status"]) for r in records] == [("chat", 413)] and session.usage.calls == 0
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("path", ["/v1/messages/count_tokens", "/v1/chat/completions", "/v1/responses", "/v1/messages"])
def test_malformed_json_is_a_recorded_400(gateway, tmp_path, capfd, path):
    session = gateway.open_session(model="scripted/noop", trace_path=tmp_path / "t.jsonl")
    deep = b"[" * 100_000 + b"]" * 100_000
    nested = json.dumps(
        {"messages": [{"role": "user", "content": "hi"}], "metadata": json.loads("[" * 200 + "]" * 200)}
    ).encode()
    for body in (b"{not json", b"\xff\xfe{}", b"[1, 2]", deep, nested):
        status, answer, _ = raw_request(gateway.url, head(path, session.token, len(body)), body)
        assert status == 400 and answer["error"]["type"] == "invalid_request_error", (body[:20], answer)
    records = trace(tmp_path / "t.jsonl")
    assert [r["status"] for r in records] == [400] * 5 and all(r["error"] for r in records)
    assert session.provider_errors == 0 and session.usage.calls == 0
    gateway.close_session(session)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "RecursionError" not in err


def test_a_bad_content_length_is_a_recorded_400(gateway, tmp_path, capfd, monkeypatch):
    session = gateway.open_session(model="scripted/noop", trace_path=tmp_path / "t.jsonl")
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
    for length in ("abc", "-5", "1e3", f"{len(body)}\ncontent-length: 3"):
        status, answer, seconds = raw_request(gateway.url, head("/v1/chat/completions", session.token, length), body)
        assert status == 400 and "Content-Length" in answer["error"]["message"] and seconds < 5, (length, answer)
    # More declared than sent, then the client stops: the truncated body is not served.
    status, answer, seconds = raw_request(
        gateway.url, head("/v1/chat/completions", session.token, len(body) + 100), body, half_close=True
    )
    assert status == 400 and "ended after" in answer["error"]["message"] and seconds < 5
    # More declared than sent, and the client waits: dropped after BODY_TIMEOUT_S, not held forever.
    monkeypatch.setattr("harnesses.gateway.server.BODY_TIMEOUT_S", 0.5)
    status, _, seconds = raw_request(gateway.url, head("/v1/chat/completions", session.token, len(body) + 100), body)
    assert status == 408 and seconds < 5
    # Chunked bodies are not read: said so, rather than served as an empty request.
    status, _, _ = raw_request(
        gateway.url,
        head("/v1/chat/completions", session.token, extra="transfer-encoding: chunked"),
        b"5\r\nhello\r\n0\r\n\r\n",
    )
    assert status == 411
    records = trace(tmp_path / "t.jsonl")
    assert [r["status"] for r in records] == [400] * 5 + [408, 411] and session.usage.calls == 0
    gateway.close_session(session)
    assert "Traceback" not in capfd.readouterr().err


def test_a_malformed_agent_request_is_not_a_provider_error(gateway, tmp_path, capfd):
    """The agent's mistake gets a 400; only the provider's failures count as provider errors (which
    make a failed rollout an infrastructure error, retried)."""
    session = gateway.open_session(model="scripted/noop", trace_path=tmp_path / "t.jsonl")
    hi = [{"role": "user", "content": "hi"}]
    for path, body in (
        ("/v1/chat/completions", {"messages": "hello"}),
        ("/v1/chat/completions", {"messages": [1, 2]}),
        ("/v1/chat/completions", {"messages": []}),
        ("/v1/chat/completions", {"messages": [{"content": "hi"}]}),
        ("/v1/chat/completions", {"messages": hi, "tools": "bash"}),
        ("/v1/chat/completions", {"messages": hi, "temperature": "hot"}),
        ("/v1/responses", {"input": [{"type": "message", "role": "wizard", "content": "hi"}]}),
        (
            "/v1/messages",
            {"max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "text", "text": {"deep": 1}}]}]},
        ),
    ):
        data = json.dumps(body).encode()
        status, answer, _ = raw_request(gateway.url, head(path, session.token, len(data)), data)
        assert status == 400 and answer["error"]["type"] == "invalid_request_error", (body, answer)
    assert session.provider_errors == 0 and session.usage.calls == 0
    assert [r["status"] for r in trace(tmp_path / "t.jsonl")] == [400] * 8
    gateway.close_session(session)
    assert "Traceback" not in capfd.readouterr().err


def test_the_unix_socket_serves_the_same_sessions_and_leaves_nothing_behind(tmp_path):
    """Task containers without a network reach the gateway through its unix socket (harnesses.sandbox.network)."""
    import http.client
    import os
    import shutil
    import socket
    import tempfile
    import time
    from pathlib import Path

    class UnixConnection(http.client.HTTPConnection):
        def __init__(self, path: str) -> None:
            super().__init__("localhost")
            self.path = path

        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(self.path)

    # A killed gateway's folder: its socket refuses connections, so the next gateway removes it.
    dead = Path(tempfile.mkdtemp(prefix="gskill-gw-", dir="/tmp"))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(dead / "gateway.sock"))
    listener.close()
    os.utime(dead / "gateway.sock", (time.time() - 120,) * 2, follow_symlinks=False)
    try:
        with Gateway() as gateway:
            path = gateway.listen_unix()
            assert gateway.listen_unix() == path and oct(path.stat().st_mode & 0o777) == "0o666"
            assert not dead.exists()
            session = gateway.open_session(model="scripted/noop", trace_path=tmp_path / "t.jsonl")
            for token, status in ((session.token, 200), ("gsk-rollout-wrong", 401)):
                connection = UnixConnection(str(path))
                connection.request("GET", "/v1/models", headers={"Authorization": f"Bearer {token}"})
                assert connection.getresponse().status == status
                connection.close()
        assert not path.parent.exists()
    finally:
        shutil.rmtree(dead, ignore_errors=True)
