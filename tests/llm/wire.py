"""Reply bodies as each real API sends them, for the stub server."""

from __future__ import annotations

import json
from typing import Any

ToolCalls = list[tuple[str, str, Any]]  # (id, name, arguments: a dict, or a raw string for openai)


def _args(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def chat_completion(
    text: str | None = "", calls: ToolCalls | tuple[()] = (), finish: str | None = None
) -> dict[str, Any]:
    """A ``/v1/chat/completions`` body."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": _args(a)}} for i, n, a in calls
        ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "stub",
        "choices": [
            {"index": 0, "finish_reason": finish or ("tool_calls" if calls else "stop"), "message": message}
        ],
        "usage": {
            "prompt_tokens": 11,
            "completion_tokens": 7,
            "total_tokens": 18,
            "prompt_tokens_details": {"cached_tokens": 3},
        },
    }


def openai_response(
    text: str | None = "", calls: ToolCalls | tuple[()] = (), finish: str | None = None
) -> dict[str, Any]:
    """A ``/v1/responses`` body."""
    output: list[dict[str, Any]] = []
    if text:
        output.append(
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        )
    output += [
        {
            "type": "function_call",
            "id": f"fc_{i}",
            "call_id": i,
            "name": n,
            "arguments": _args(a),
            "status": "completed",
        }
        for i, n, a in calls
    ]
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 0,
        "status": "completed",
        "model": "stub",
        "output": output,
        "usage": {
            "input_tokens": 11,
            "output_tokens": 7,
            "total_tokens": 18,
            "input_tokens_details": {"cached_tokens": 3},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def anthropic_message(
    text: str | None = "", calls: ToolCalls | tuple[()] = (), finish: str | None = None
) -> dict[str, Any]:
    """A ``/v1/messages`` body."""
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content += [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in calls]
    stop = {"length": "max_tokens"}.get(finish or "", finish) or ("tool_use" if calls else "end_turn")
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "stub",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 8, "output_tokens": 7, "cache_read_input_tokens": 3},
    }


def openai_error(status: int, message: str = "stub error") -> dict[str, Any]:
    return {"error": {"message": message, "type": "stub", "code": None}}


def anthropic_error(status: int, message: str = "stub error") -> dict[str, Any]:
    return {"type": "error", "error": {"type": "stub_error", "message": message}}
