"""The four wire formats agents speak, translated to and from Chat Completions.

The gateway calls every model through litellm's chat-completions interface; agents speak
- OpenAI Chat Completions (mini-SWE-agent, through litellm's `openai/` provider),
- OpenAI Responses (Codex CLI),
- Anthropic Messages (Claude Code), and
- Google's Gemini API, `generateContent` (Gemini CLI),
each with optional SSE streaming. This module is pure functions: request → chat messages + tools,
chat response → the format's response body, and the format's SSE event sequence.
"""

from __future__ import annotations

import json
import time
import uuid


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def _text(content) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, dict) and part.get("type") == "tool_result":
                parts.append(_text(part.get("content")))
        return "\n".join(parts)
    return str(content)


def chat_message_of(response) -> dict:
    """{"content": str, "tool_calls": [{"id", "name", "arguments" (JSON text)}], "finish_reason"}."""
    choice = response.choices[0]
    message = choice.message
    calls = []
    for call in message.tool_calls or []:
        calls.append(
            {"id": call.id or _id("call"), "name": call.function.name, "arguments": call.function.arguments or "{}"}
        )
    return {"content": message.content or "", "tool_calls": calls, "finish_reason": choice.finish_reason or "stop"}


def usage_of(response) -> tuple[int, int]:
    usage = getattr(response, "usage", None)
    return int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0)


def sse(event: str | None, data: dict | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    return ((f"event: {event}\n" if event else "") + f"data: {payload}\n\n").encode()


# ------------------------------------------------------------------------------------------------
# OpenAI Chat Completions

CHAT_PASSTHROUGH = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "tool_choice", "seed")


def chat_request(body: dict) -> tuple[list[dict], list[dict], dict]:
    params = {key: body[key] for key in CHAT_PASSTHROUGH if key in body}
    return list(body.get("messages") or []), list(body.get("tools") or []), params


CHAT_ROLES = ("system", "developer", "user", "assistant", "tool", "function")


def check_chat(messages: list, tools: list, params: dict) -> None:
    """Raises ValueError naming what no provider would accept in a translated request, so that the
    agent gets a 400 for its own mistake instead of a 502 blamed on (and counted against) the provider."""
    if not messages:
        raise ValueError("no messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in CHAT_ROLES:
            raise ValueError(f"message {index}: not an object with a role in {', '.join(CHAT_ROLES)}")
        content = message.get("content")
        if not (
            content is None
            or isinstance(content, str)
            or (isinstance(content, list) and all(isinstance(p, (str, dict)) for p in content))
        ):
            raise ValueError(f"message {index}: content is neither text, a list of parts nor null")
        calls = message.get("tool_calls")
        if calls is not None and not (
            isinstance(calls, list) and all(isinstance(call, dict) and _named(call.get("function")) for call in calls)
        ):
            raise ValueError(f"message {index}: tool_calls is not a list of named function calls")
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or (
            tool.get("type", "function") == "function" and not _named(tool.get("function"))
        ):
            raise ValueError(f"tool {index}: not a named function")
    for key, value in params.items():
        if value is not None and not _PARAM_TYPES.get(key, lambda _: True)(value):
            raise ValueError(f"{key}: {value!r} is not a valid value")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


_PARAM_TYPES = {
    "temperature": _number,
    "top_p": _number,
    "max_tokens": _count,
    "max_completion_tokens": _count,
    "seed": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "stop": lambda value: (
        isinstance(value, str) or (isinstance(value, list) and all(isinstance(item, str) for item in value))
    ),
    "tool_choice": lambda value: isinstance(value, (str, dict)),
}


def _named(function) -> bool:
    return isinstance(function, dict) and isinstance(function.get("name"), str)


def chat_body(response, model: str) -> dict:
    message = chat_message_of(response)
    prompt, completion = usage_of(response)
    out_message: dict = {"role": "assistant", "content": message["content"] or None}
    if message["tool_calls"]:
        out_message["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in message["tool_calls"]
        ]
    return {
        "id": _id("chatcmpl"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": out_message,
                "finish_reason": "tool_calls" if message["tool_calls"] else message["finish_reason"],
            }
        ],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }


def chat_stream(body: dict) -> list[bytes]:
    """A complete response as chunks: one delta carrying everything, a finish chunk, usage, [DONE]."""
    choice = body["choices"][0]
    delta: dict = {"role": "assistant", "content": choice["message"].get("content") or ""}
    if choice["message"].get("tool_calls"):
        delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(choice["message"]["tool_calls"])]
    base = {"id": body["id"], "object": "chat.completion.chunk", "created": body["created"], "model": body["model"]}
    return [
        sse(None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}),
        sse(None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]}),
        sse(None, {**base, "choices": [], "usage": body["usage"]}),
        sse(None, "[DONE]"),
    ]


# ------------------------------------------------------------------------------------------------
# OpenAI Responses


def responses_request(body: dict) -> tuple[list[dict], list[dict], dict]:
    messages: list[dict] = []
    if body.get("instructions"):
        messages.append({"role": "system", "content": body["instructions"]})
    items = body.get("input") or []
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            role = {"developer": "system"}.get(item.get("role", "user"), item.get("role", "user"))
            messages.append({"role": role, "content": _text(item.get("content"))})
        elif kind == "function_call":
            call = {
                "id": item.get("call_id") or item.get("id"),
                "type": "function",
                "function": {"name": item.get("name"), "arguments": item.get("arguments") or "{}"},
            }
            # A function call belongs to the assistant turn it follows (its text, its other calls).
            last = messages[-1] if messages else None
            if last and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": item.get("call_id"),
                    "content": output if isinstance(output, str) else _text(output),
                }
            )
        # reasoning items and others carry nothing a chat model can take back
    tools = [
        {
            "type": "function",
            "function": {
                "name": t["name"],
                "description": t.get("description", ""),
                "parameters": t.get("parameters") or {"type": "object", "properties": {}},
            },
        }
        for t in body.get("tools") or []
        if t.get("type") == "function"
    ]
    params = {}
    if "temperature" in body:
        params["temperature"] = body["temperature"]
    if "max_output_tokens" in body:
        params["max_tokens"] = body["max_output_tokens"]
    return messages, tools, params


def responses_body(response, model: str) -> dict:
    message = chat_message_of(response)
    prompt, completion = usage_of(response)
    output: list[dict] = []
    if message["content"]:
        output.append(
            {
                "type": "message",
                "id": _id("msg"),
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": message["content"], "annotations": []}],
            }
        )
    for call in message["tool_calls"]:
        output.append(
            {
                "type": "function_call",
                "id": _id("fc"),
                "call_id": call["id"],
                "name": call["name"],
                "arguments": call["arguments"],
                "status": "completed",
            }
        )
    return {
        "id": _id("resp"),
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": prompt,
            "output_tokens": completion,
            "total_tokens": prompt + completion,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def responses_stream(body: dict) -> list[bytes]:
    events: list[bytes] = []
    sequence = 0

    def emit(kind: str, **data) -> None:
        nonlocal sequence
        events.append(sse(kind, {"type": kind, "sequence_number": sequence, **data}))
        sequence += 1

    emit("response.created", response={**body, "status": "in_progress", "output": []})
    emit("response.in_progress", response={**body, "status": "in_progress", "output": []})
    for index, item in enumerate(body["output"]):
        if item["type"] == "message":
            text = item["content"][0]["text"]
            emit(
                "response.output_item.added", output_index=index, item={**item, "status": "in_progress", "content": []}
            )
            emit(
                "response.content_part.added",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part={"type": "output_text", "text": "", "annotations": []},
            )
            emit("response.output_text.delta", item_id=item["id"], output_index=index, content_index=0, delta=text)
            emit("response.output_text.done", item_id=item["id"], output_index=index, content_index=0, text=text)
            emit(
                "response.content_part.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part=item["content"][0],
            )
        else:
            emit(
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress", "arguments": ""},
            )
            emit(
                "response.function_call_arguments.delta",
                item_id=item["id"],
                output_index=index,
                delta=item["arguments"],
            )
            emit(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                arguments=item["arguments"],
            )
        emit("response.output_item.done", output_index=index, item=item)
    emit("response.completed", response=body)
    return events


# ------------------------------------------------------------------------------------------------
# Anthropic Messages


def messages_request(body: dict) -> tuple[list[dict], list[dict], dict]:
    messages: list[dict] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": _text(system)})
    for message in body.get("messages") or []:
        role, content = message.get("role"), message.get("content")
        if isinstance(content, str):
            messages.append({"role": role, "content": content})
            continue
        texts, calls, results = [], [], []
        for block in content or []:
            kind = block.get("type")
            if kind == "text":
                texts.append(block.get("text", ""))
            elif kind == "tool_use":
                calls.append(
                    {
                        "id": block["id"],
                        "type": "function",
                        "function": {"name": block["name"], "arguments": json.dumps(block.get("input") or {})},
                    }
                )
            elif kind == "tool_result":
                results.append(
                    {"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": _text(block.get("content"))}
                )
        if role == "assistant":
            entry: dict = {"role": "assistant", "content": "\n".join(texts) or None}
            if calls:
                entry["tool_calls"] = calls
            messages.append(entry)
        else:
            messages.extend(results)  # tool results answer the previous assistant turn: first
            if texts:
                messages.append({"role": "user", "content": "\n".join(texts)})
    tools = [
        {
            "type": "function",
            "function": {
                "name": t["name"],
                "description": t.get("description", ""),
                "parameters": t.get("input_schema") or {"type": "object", "properties": {}},
            },
        }
        for t in body.get("tools") or []
        if "name" in t
    ]
    params = {key: body[key] for key in ("temperature", "max_tokens") if key in body}
    return messages, tools, params


def messages_body(response, model: str) -> dict:
    message = chat_message_of(response)
    prompt, completion = usage_of(response)
    content: list[dict] = []
    if message["content"]:
        content.append({"type": "text", "text": message["content"]})
    for call in message["tool_calls"]:
        try:
            arguments = json.loads(call["arguments"] or "{}")
        except json.JSONDecodeError:
            arguments = {"_raw": call["arguments"]}
        content.append({"type": "tool_use", "id": call["id"], "name": call["name"], "input": arguments})
    stop = (
        "tool_use" if message["tool_calls"] else ("max_tokens" if message["finish_reason"] == "length" else "end_turn")
    )
    return {
        "id": _id("msg"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": prompt,
            "output_tokens": completion,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def messages_stream(body: dict) -> list[bytes]:
    events = [
        sse(
            "message_start",
            {
                "type": "message_start",
                "message": {**body, "content": [], "stop_reason": None, "usage": {**body["usage"], "output_tokens": 0}},
            },
        )
    ]
    for index, block in enumerate(body["content"]):
        if block["type"] == "text":
            events.append(
                sse(
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
                )
            )
            events.append(
                sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": block["text"]},
                    },
                )
            )
        else:
            events.append(
                sse(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}},
                    },
                )
            )
            events.append(
                sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])},
                    },
                )
            )
        events.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": body["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": body["usage"]["output_tokens"]},
            },
        )
    )
    events.append(sse("message_stop", {"type": "message_stop"}))
    return events


# ------------------------------------------------------------------------------------------------
# Google Gemini API (`models/{model}:generateContent`, `:streamGenerateContent?alt=sse`)


def _gemini_schema(schema):
    """A Gemini `Schema` (types in upper case: "OBJECT", "STRING") as JSON Schema (lower case)."""
    if isinstance(schema, list):
        return [_gemini_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            out[key] = value.lower()
        elif key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {name: _gemini_schema(item) for name, item in value.items()}
        elif key in ("items", "anyOf", "oneOf", "allOf", "not", "additionalProperties"):
            out[key] = _gemini_schema(value)
        else:
            out[key] = value
    return out


def gemini_request(body: dict) -> tuple[list[dict], list[dict], dict]:
    """Gemini `contents` (roles user/model; parts text, functionCall, functionResponse) as chat messages.
    A function call without an `id` gets one; its response (matched by id, else by name in order) answers it."""
    messages: list[dict] = []
    system = body.get("systemInstruction") or body.get("system_instruction")
    if system:
        messages.append(
            {"role": "system", "content": _text(system.get("parts") if isinstance(system, dict) else system)}
        )
    pending: list[tuple[str, str]] = []  # (call id, function name) of calls not answered yet
    for turn, content in enumerate(body.get("contents") or []):
        parts = content.get("parts") or []
        texts, calls, results = [], [], []
        for index, part in enumerate(parts):
            if part.get("thought"):
                continue  # the model's own thinking: nothing a chat model takes back
            if isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif "functionCall" in part:
                call = part["functionCall"]
                call_id = call.get("id") or f"call_{turn}_{index}"
                pending.append((call_id, call["name"]))
                calls.append(
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": call["name"], "arguments": json.dumps(call.get("args") or {})},
                    }
                )
            elif "functionResponse" in part:
                answer = part["functionResponse"]
                match = next((p for p in pending if p[0] == answer.get("id")), None) or next(
                    (p for p in pending if p[1] == answer.get("name")), None
                )
                if match:
                    pending.remove(match)
                response = answer.get("response")
                results.append(
                    {
                        "role": "tool",
                        "tool_call_id": match[0] if match else answer.get("id") or f"call_{answer.get('name')}",
                        "content": response if isinstance(response, str) else json.dumps(response),
                    }
                )
        if content.get("role") == "model":
            entry: dict = {"role": "assistant", "content": "\n".join(texts) or None}
            if calls:
                entry["tool_calls"] = calls
            messages.append(entry)
        else:
            messages.extend(results)  # function responses answer the previous model turn: first
            if texts:
                messages.append({"role": "user", "content": "\n".join(texts)})
    tools = [
        {
            "type": "function",
            "function": {
                "name": declaration["name"],
                "description": declaration.get("description", ""),
                "parameters": declaration.get("parametersJsonSchema")
                or _gemini_schema(declaration.get("parameters"))
                or {"type": "object", "properties": {}},
            },
        }
        for tool in body.get("tools") or []
        for declaration in tool.get("functionDeclarations") or tool.get("function_declarations") or []
    ]
    config = body.get("generationConfig") or {}
    params = {
        chat_key: config[key]
        for key, chat_key in (
            ("temperature", "temperature"),
            ("topP", "top_p"),
            ("maxOutputTokens", "max_tokens"),
            ("stopSequences", "stop"),
            ("seed", "seed"),
        )
        if key in config
    }
    return messages, tools, params


def gemini_body(response, model: str) -> dict:
    message = chat_message_of(response)
    prompt, completion = usage_of(response)
    parts: list[dict] = []
    if message["content"]:
        parts.append({"text": message["content"]})
    for call in message["tool_calls"]:
        try:
            arguments = json.loads(call["arguments"] or "{}")
        except json.JSONDecodeError:
            arguments = {"_raw": call["arguments"]}
        parts.append({"functionCall": {"id": call["id"], "name": call["name"], "args": arguments}})
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": parts},
                "finishReason": "MAX_TOKENS" if message["finish_reason"] == "length" else "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": prompt,
            "candidatesTokenCount": completion,
            "totalTokenCount": prompt + completion,
        },
        "modelVersion": model,
        "responseId": _id("resp"),
    }


def gemini_stream(body: dict) -> list[bytes]:
    """`alt=sse`: the whole response in one `data:` chunk (candidates, finish reason, usage)."""
    return [sse(None, body)]
