"""The model gateway: one HTTP endpoint on the host for every agent, whatever its wire format.

    with Gateway() as gateway:
        session = gateway.open_session(model="openai/gpt-4o", rollout_id="...", trace_path=...)
        # the agent gets session.base_url and session.token, never a provider key
        ...
        usage = gateway.close_session(session)

Each rollout gets a random token; a request is served only for a live session, with the session's
model (the model name an agent sends is recorded, not obeyed), within the session's caps (calls,
tokens, dollars), and is appended — request body, response body, usage, cost, time — to the
session's trace. Provider keys live in the gateway's own process environment, read by litellm; they
are never in a request, a response, a trace or a container.

A request is read only after its token is known, and only up to `max_body_bytes`. Whatever is wrong
with a request (its length, its JSON, its content) is answered with a 4xx and recorded in the
session's trace; it is the agent's error, never counted as the provider's (`Session.provider_errors`),
and never a traceback on the console.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import socket
import socketserver
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from gskill.schema import ModelEndpoint, Usage
from harnesses.gateway import wire
from harnesses.gateway.limits import Limiter, RateLimiter, call_within_limits, estimate_tokens


MAX_BODY_BYTES = 32 * 2**20  # a long agent conversation is a few MB of JSON
MAX_JSON_DEPTH = 64  # real requests nest < 20 deep; recursive code (json, copy, litellm) overflows near 1000
BODY_TIMEOUT_S = 60.0  # between two reads of a body; a client that stops sending is dropped
DISCARD_S = 5.0  # how long a refused body is read and dropped, so its sender gets the answer, not a reset


@dataclass
class Caps:
    """Per-rollout limits; 0 = unlimited. Beyond a cap the gateway answers 429 and records why."""

    max_calls: int = 0
    max_tokens: int = 0
    max_cost_usd: float = 0.0


@dataclass
class Session:
    token: str
    rollout_id: str
    model: str
    base_url: str
    trace_path: Path | None
    caps: Caps
    metadata: dict = field(default_factory=dict)  # reaches scripted models only (e.g. the task)
    endpoint: ModelEndpoint | None = None  # where the model is served and its price (None: litellm's defaults)
    usage: Usage = field(default_factory=Usage)
    limit_hit: str = ""  # which cap stopped the rollout
    provider_errors: int = 0
    closed: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def over_cap(self) -> str:
        caps, usage = self.caps, self.usage
        if caps.max_calls and usage.calls >= caps.max_calls:
            return f"call cap {caps.max_calls} reached"
        if caps.max_tokens and usage.input_tokens + usage.output_tokens >= caps.max_tokens:
            return f"token cap {caps.max_tokens} reached"
        if caps.max_cost_usd and usage.cost_usd >= caps.max_cost_usd:
            return f"cost cap ${caps.max_cost_usd} reached"
        return ""

    def record(self, entry: dict) -> None:
        if self.trace_path is None:
            return
        self.trace_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.trace_path.open("a") as handle:
            handle.write(json.dumps(entry, default=str) + "\n")


_APIS = {
    "chat/completions": ("chat", wire.chat_request, wire.chat_body, wire.chat_stream),
    "responses": ("responses", wire.responses_request, wire.responses_body, wire.responses_stream),
    "messages": ("messages", wire.messages_request, wire.messages_body, wire.messages_stream),
    # Gemini's routes name the model and the method: `v1beta/models/{model}:generateContent` (see `_route`).
    "generateContent": ("gemini", wire.gemini_request, wire.gemini_body, wire.gemini_stream),
    "streamGenerateContent": ("gemini", wire.gemini_request, wire.gemini_body, wire.gemini_stream),
}
# Token counting: route -> (request translation, the answer's key).
_COUNT_TOKENS = {
    "messages/count_tokens": (wire.messages_request, "input_tokens"),
    "countTokens": (wire.gemini_request, "totalTokens"),
}
_GEMINI_ROUTE = re.compile(r"(?:v1beta|v1alpha|v1)/models/([^/:]+):(\w+)")


def _route(path: str) -> tuple[str, str]:
    """(route, model named in the path): "responses", "chat/completions", ... or a Gemini method name."""
    route = path.removeprefix("/v1/").removeprefix("/")
    gemini = _GEMINI_ROUTE.fullmatch(route)
    return (gemini.group(2), gemini.group(1)) if gemini else (route, "")


class _Refused(Exception):
    """A request answered with a 4xx before it reaches a model. `close`: the body was not (fully)
    read, so the connection cannot carry another request; `unread`: bytes of it to drop first."""

    def __init__(self, status: int, kind: str, message: str, *, close: bool = False, unread: int = 0) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.close, self.unread = status, kind, message, close, unread


class Gateway:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        limiter: Limiter | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        """`limiter` keeps provider rate limits (`harnesses.gateway.limits`); the default has no limits
        but still pauses a model for every rollout after a provider 429. A request body over
        `max_body_bytes` is refused (413) unread."""
        self.limiter = limiter or RateLimiter([])
        self.max_body_bytes = max_body_bytes
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
                pass  # requests are recorded in traces, not printed

            def do_GET(self):
                gateway._handle(self, "GET")

            def do_POST(self):
                gateway._handle(self, "POST")

        self._handler = Handler
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._unix: socketserver.ThreadingUnixStreamServer | None = None
        self.socket_path: Path | None = None  # set by `listen_unix`

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "Gateway":
        self._thread = threading.Thread(target=self._server.serve_forever, name="gskill-gateway", daemon=True)
        self._thread.start()
        return self

    def listen_unix(self) -> Path:
        """Serve on a unix socket as well (idempotent); returns its path. Task containers without a
        network reach the gateway through it: its folder is bind-mounted into them
        (`harnesses.sandbox.network`). The folder holds nothing else; a request still needs a live
        rollout's token, as on TCP."""
        with self._lock:
            if self.socket_path is None:
                _remove_dead_sockets()
                folder = Path(tempfile.mkdtemp(prefix="gskill-gw-", dir="/tmp"))  # short: socket paths max 107 bytes
                folder.chmod(0o755)  # containers' root may be a remapped uid
                path = folder / "gateway.sock"
                server = socketserver.ThreadingUnixStreamServer(str(path), self._handler)
                server.daemon_threads = True
                path.chmod(0o666)
                threading.Thread(target=server.serve_forever, name="gskill-gateway-unix", daemon=True).start()
                self._unix, self.socket_path = server, path
            return self.socket_path

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._unix is not None and self.socket_path is not None:
            self._unix.shutdown()
            self._unix.server_close()
            shutil.rmtree(self.socket_path.parent, ignore_errors=True)

    def __enter__(self) -> "Gateway":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def open_session(
        self,
        *,
        model: str,
        rollout_id: str = "",
        trace_path: Path | None = None,
        caps: Caps | None = None,
        metadata: dict | None = None,
        base_url: str | None = None,
        endpoint: ModelEndpoint | None = None,
    ) -> Session:
        """`base_url` is how the agent reaches us (e.g. the Docker bridge address for a containerised
        agent); default: this gateway's own URL. `endpoint`: the model's own api_base and price."""
        token = "gsk-rollout-" + secrets.token_urlsafe(24)
        session = Session(
            token, rollout_id, model, base_url or self.url, trace_path, caps or Caps(), dict(metadata or {}), endpoint
        )
        with self._lock:
            self._sessions[token] = session
        return session

    def close_session(self, session: Session) -> Usage:
        with self._lock:
            self._sessions.pop(session.token, None)
        session.closed = True
        return session.usage

    # -- requests ---------------------------------------------------------------------------------

    def _session_for(self, handler: BaseHTTPRequestHandler) -> Session | None:
        token = handler.headers.get("x-api-key") or handler.headers.get("x-goog-api-key") or ""
        authorization = handler.headers.get("authorization") or ""
        if authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        with self._lock:
            return self._sessions.get(token)

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        began = time.time()
        path = handler.path.split("?", 1)[0].rstrip("/")
        route, path_model = _route(path)
        api = _APIS[route][0] if route in _APIS else route
        session = self._session_for(handler)
        body = None
        try:
            if session is None:  # before the body: a stranger's is never read
                raise _Refused(401, "authentication_error", "unknown or closed rollout token", close=True)
            raw = self._read_body(handler)
            if method == "GET" and route == "models":
                return _send_json(
                    handler,
                    200,
                    {"object": "list", "data": [{"id": session.model, "object": "model", "owned_by": "gskill"}]},
                )
            if method != "POST" or (route not in _APIS and route not in _COUNT_TOKENS):
                raise _Refused(404, "not_found", f"no endpoint {method} {path}")
            body = _json_object(raw)
            translate = _COUNT_TOKENS[route][0] if route in _COUNT_TOKENS else _APIS[route][1]
            try:
                messages, tools, params = translate(body)
                wire.check_chat(messages, tools, params)
            except (
                KeyError,
                TypeError,
                ValueError,
                AttributeError,
                RecursionError,
            ) as exc:  # a request we cannot translate
                raise _Refused(400, "invalid_request_error", f"gskill gateway: {exc!r}"[:500]) from None
            if route in _COUNT_TOKENS:
                counted = sum(len(wire._text(m.get("content"))) // 4 for m in messages)
                return _send_json(handler, 200, {_COUNT_TOKENS[route][1]: counted})
            stream = bool(body.get("stream")) or route == "streamGenerateContent"
            self._serve(
                handler,
                session,
                api,
                body,
                (messages, tools, params),
                *_APIS[route][2:],
                stream=stream,
                requested_model=body.get("model") or path_model,
            )
        except (BrokenPipeError, ConnectionResetError):
            pass  # the agent hung up (killed, timed out): nothing to answer
        except _Refused as refused:
            if session is not None:
                request = {"request": body} if body is not None else {}
                session.record({"t": began, "api": api, **request, "error": refused.message, "status": refused.status})
            _answer_error(handler, refused.status, refused.kind, refused.message, close=refused.close)
            if refused.unread:
                _discard(handler, refused.unread)
        except Exception:  # the gateway's own bug: the agent gets a 500, the trace the traceback
            if session is not None:
                session.record(
                    {"t": began, "api": api, "request": body, "error": traceback.format_exc(limit=-5), "status": 500}
                )
            _answer_error(
                handler,
                500,
                "api_error",
                "gskill gateway: internal error (recorded in the rollout's trace)",
                close=True,
            )

    def _read_body(self, handler: BaseHTTPRequestHandler) -> bytes:
        """The body, as its one Content-Length declares, read only if it is within `max_body_bytes`."""
        if handler.headers.get("transfer-encoding"):
            raise _Refused(411, "invalid_request_error", "send the body with a Content-Length, not chunked", close=True)
        declared = handler.headers.get_all("content-length") or []
        if not declared:
            return b""
        text = declared[0].strip()
        if len(set(declared)) > 1 or not (text.isascii() and text.isdigit()):
            raise _Refused(
                400, "invalid_request_error", f"bad Content-Length {', '.join(declared)!r}"[:200], close=True
            )
        length = int(text)
        if length > self.max_body_bytes:
            message = f"body of {length} bytes is over the gateway's cap of {self.max_body_bytes} bytes"
            raise _Refused(413, "request_too_large", message, close=True, unread=length)
        handler.connection.settimeout(BODY_TIMEOUT_S)
        try:
            raw = handler.rfile.read(length)
        except TimeoutError:
            raise _Refused(
                408, "invalid_request_error", f"no byte of the body for {BODY_TIMEOUT_S:.0f} s", close=True
            ) from None
        finally:
            handler.connection.settimeout(None)
        if len(raw) < length:
            raise _Refused(
                400,
                "invalid_request_error",
                f"body ended after {len(raw)} of its {length} bytes (Content-Length)",
                close=True,
            )
        return raw

    def _serve(
        self,
        handler,
        session: Session,
        api: str,
        body: dict,
        chat: tuple,
        to_body,
        to_stream,
        *,
        stream: bool,
        requested_model: str,
    ) -> None:
        from harnesses.gateway.models import complete, cost_of

        began = time.time()
        with session._lock:
            why = session.over_cap()
            if why:
                session.limit_hit = session.limit_hit or why
        if why:
            session.record({"t": began, "api": api, "request": body, "error": why, "status": 429})
            error_type = "rate_limit_error" if api == "messages" else "insufficient_quota"
            return _send_json(
                handler, 429, {"type": "error", "error": {"type": error_type, "message": f"gskill: {why}"}}
            )
        messages, tools, params = chat
        sent: list[float] = []  # when the request left for the provider (the last attempt's time wins)

        def call():
            sent.append(time.time())
            return complete(
                session.model,
                messages,
                tools=tools or None,
                metadata=session.metadata,
                endpoint=session.endpoint,
                **params,
            )

        try:
            response, waited = call_within_limits(
                self.limiter,
                session.model,
                estimate_tokens(messages, tools, params),
                call,
                lambda response: sum(wire.usage_of(response)),
            )
        except Exception as exc:  # the provider failed: the agent sees a 502 and may retry
            with session._lock:
                session.provider_errors += 1
            message = str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__
            session.record({"t": began, "api": api, "request": body, "error": message, "status": 502})
            return _send_json(handler, 502, {"type": "error", "error": {"type": "api_error", "message": message}})
        prompt, completion = wire.usage_of(response)
        cost = cost_of(response, session.model, session.endpoint)
        with session._lock:
            session.usage = session.usage + Usage(
                calls=1, input_tokens=prompt, output_tokens=completion, cost_usd=cost or 0.0, rate_wait_s=waited
            )
        reply = to_body(response, session.model)
        session.record(
            {
                "t": began,
                "api": api,
                "model": session.model,
                **({"api_base": session.endpoint.api_base} if session.endpoint and session.endpoint.api_base else {}),
                "requested_model": requested_model or "",
                "request": body,
                "response": reply,
                "usage": {"input_tokens": prompt, "output_tokens": completion},
                "cost_usd": cost,
                "seconds": round(time.time() - began, 3),
                "stream": stream,
                "status": 200,
                "sent": sent[-1],
                **({"rate_wait_s": round(waited, 3)} if waited else {}),
            }
        )
        if stream:
            _send_stream(handler, to_stream(reply))
        else:
            _send_json(handler, 200, reply)


def _json_object(raw: bytes) -> dict:
    """The body as a JSON object no deeper than MAX_JSON_DEPTH, else a 400."""
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, RecursionError) as exc:  # ValueError: bad JSON or bad UTF-8
        raise _Refused(400, "invalid_request_error", f"body is not JSON: {type(exc).__name__}: {exc}"[:300]) from None
    if not isinstance(body, dict):
        raise _Refused(400, "invalid_request_error", f"body is JSON but not an object: {type(body).__name__}")
    stack = [(body, 1)]
    while stack:  # iteratively: the check itself must not recurse
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise _Refused(400, "invalid_request_error", f"body nests deeper than {MAX_JSON_DEPTH} levels")
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return body


def _remove_dead_sockets() -> None:
    """Remove the socket folders of gateways that were killed (nobody answers on them any more). A
    socket younger than a minute is left alone: it may be between its bind and its listen."""
    for path in Path("/tmp").glob("gskill-gw-*/gateway.sock"):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if time.time() - path.lstat().st_mtime < 60:
                continue
            probe.connect(str(path))
        except ConnectionRefusedError:
            shutil.rmtree(path.parent, ignore_errors=True)
        except OSError:
            pass  # not ours to judge (another user's, or not a socket)
        finally:
            probe.close()


def _send_json(handler: BaseHTTPRequestHandler, status: int, payload: dict, *, close: bool = False) -> None:
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(data)))
    if close:
        handler.send_header("connection", "close")  # also makes the handler close the connection
    handler.end_headers()
    handler.wfile.write(data)


def _answer_error(handler: BaseHTTPRequestHandler, status: int, kind: str, message: str, *, close: bool) -> None:
    try:
        _send_json(handler, status, {"type": "error", "error": {"type": kind, "message": message}}, close=close)
        handler.wfile.flush()
    except OSError:  # the client is gone (or never waited for the answer)
        handler.close_connection = True


def _discard(handler: BaseHTTPRequestHandler, length: int) -> None:
    """Reads and drops up to `length` bytes for at most DISCARD_S: a client still sending a refused body
    then reads our answer instead of a reset connection; the memory used stays one buffer."""
    deadline = time.monotonic() + DISCARD_S
    try:
        while length > 0 and (left := deadline - time.monotonic()) > 0:
            handler.connection.settimeout(left)
            chunk = handler.rfile.read1(min(length, 2**16))
            if not chunk:
                break
            length -= len(chunk)
    except OSError:
        pass


def _send_stream(handler: BaseHTTPRequestHandler, events: list[bytes]) -> None:
    handler.send_response(200)
    handler.send_header("content-type", "text/event-stream")
    handler.send_header("cache-control", "no-cache")
    handler.send_header("connection", "close")
    handler.end_headers()
    for event in events:
        handler.wfile.write(event)
    handler.wfile.flush()
    handler.close_connection = True
