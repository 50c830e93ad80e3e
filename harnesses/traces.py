"""A rollout's conversation as plain text, read from the gateway's trace (the same for every agent).

The gateway records each request and response in its wire format (Chat Completions, Responses or
Messages). The last request holds the whole conversation so far; its response is the final turn.
`transcript` flattens that into "role: text" lines — what a reflection model reads of a rollout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(filter(None, (_block(part) for part in value)))
    if isinstance(value, dict):
        return _block(value)
    return str(value)


def _block(part: Any) -> str:
    if not isinstance(part, dict):
        return _text(part)
    kind = part.get("type", "")
    if kind in ("text", "input_text", "output_text"):
        return part.get("text", "")
    if kind == "tool_use":  # Messages
        return f"[{part.get('name')}] {json.dumps(part.get('input'))}"
    if kind == "tool_result":
        return f"[result] {_text(part.get('content'))}"
    if kind == "function_call":  # Responses
        return f"[{part.get('name')}] {part.get('arguments', '')}"
    if kind == "function_call_output":
        return f"[result] {_text(part.get('output'))}"
    if kind == "message" or "content" in part:
        return _text(part.get("content"))
    return ""


def _chat_message(message: dict) -> str:
    parts = [_text(message.get("content"))]
    for call in message.get("tool_calls") or []:
        function = call.get("function", {})
        parts.append(f"[{function.get('name')}] {function.get('arguments', '')}")
    return "\n".join(part for part in parts if part)


def conversation(request: dict) -> list[tuple[str, str]]:
    """A recorded request's messages, in any of the three wire formats, as (role, text) pairs."""
    lines: list[tuple[str, str]] = []
    if request.get("system"):  # Messages
        lines.append(("system", _text(request["system"])))
    if request.get("instructions"):  # Responses
        lines.append(("system", _text(request["instructions"])))
    for message in request.get("messages") or []:
        lines.append((message.get("role", "?"), _chat_message(message)))
    for item in request.get("input") or [] if isinstance(request.get("input"), list) else []:
        lines.append((item.get("role", item.get("type", "?")), _block(item)))
    if isinstance(request.get("input"), str):
        lines.append(("user", request["input"]))
    return lines


def reply(response: dict) -> str:
    """A recorded response's text (tool calls as `[name] arguments`), in any of the three wire formats."""
    if "choices" in response:  # Chat Completions
        return _chat_message(response["choices"][0].get("message", {}))
    if "output" in response:  # Responses
        return _text(response["output"])
    return _text(response.get("content"))  # Messages


def transcript(gateway_trace: Path, *, skip_system: bool = True) -> str:
    """The rollout's conversation (system prompt left out by default: it holds the skill under test)."""
    if not gateway_trace.is_file():
        return ""
    records = [json.loads(line) for line in gateway_trace.read_text().splitlines() if line.strip()]
    served = [record for record in records if record.get("status") == 200]
    if not served:
        errors = [record.get("error", "") for record in records if record.get("error")]
        return "no model call was served" + (f": {errors[-1]}" if errors else "")
    last = served[-1]
    lines = [
        (role, text)
        for role, text in conversation(last.get("request", {}))
        if not (skip_system and role in ("system", "developer"))
    ]
    lines.append(("assistant", reply(last.get("response", {}))))
    tail = [record.get("error") for record in records[records.index(last) + 1 :] if record.get("error")]
    if tail:
        lines.append(("gateway", tail[-1]))
    return "\n".join(f"{role}: {text.strip()}" for role, text in lines if text and text.strip())
