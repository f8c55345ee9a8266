"""JSON Schemas of the APIs a rule's consumers call: OpenAI's chat completions (plain and
streamed), embeddings and models, and Anthropic's Messages API.

Written by hand, trimmed to the fields clients use most; every request schema allows more
properties, because the gateway forwards the body as the client sent it (the upstream decides).
"""

from __future__ import annotations

from typing import Any

__all__ = ["SHAPES", "STREAM_NOTE"]

_STR = {"type": "string"}
_INT = {"type": "integer"}
_NUM = {"type": "number"}
_OBJ = {"type": "object", "additionalProperties": True}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": "#/components/schemas/" + name}


_CONTENT_PART = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"type": "string", "examples": ["text", "image_url"]}, "text": _STR, "image_url": _OBJ},
    "additionalProperties": True,
}
_TOOL_CALL = {
    "type": "object",
    "properties": {
        "id": _STR,
        "type": {"const": "function"},
        "function": {"type": "object", "properties": {"name": _STR, "arguments": {"type": "string", "description": "JSON text."}}},
    },
}
_USAGE = {
    "type": "object",
    "properties": {
        "prompt_tokens": _INT,
        "completion_tokens": _INT,
        "total_tokens": _INT,
        "cost": {"type": "number", "description": "USD, added by the gateway to a stream's final usage."},
    },
    "additionalProperties": True,
}

SHAPES: dict[str, dict[str, Any]] = {
    "ChatMessage": {
        "type": "object",
        "required": ["role"],
        "properties": {
            "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
            "content": {"oneOf": [_STR, {"type": "array", "items": _CONTENT_PART}, {"type": "null"}]},
            "name": _STR,
            "tool_calls": {"type": "array", "items": _TOOL_CALL},
            "tool_call_id": _STR,
        },
        "additionalProperties": True,
    },
    "ChatCompletionRequest": {
        "type": "object",
        "required": ["model", "messages"],
        "properties": {
            "model": {"type": "string", "examples": ["gpt-4o-mini"]},
            "messages": {"type": "array", "minItems": 1, "items": _ref("ChatMessage")},
            "stream": {
                "type": "boolean",
                "default": False,
                "description": "true: the answer is a text/event-stream of chat.completion.chunk events, ending with `data: [DONE]`.",
            },
            "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            "top_p": _NUM,
            "max_tokens": _INT,
            "max_completion_tokens": _INT,
            "n": _INT,
            "stop": {"oneOf": [_STR, {"type": "array", "items": _STR}]},
            "tools": {"type": "array", "items": _OBJ},
            "tool_choice": {"oneOf": [_STR, _OBJ]},
            "response_format": _OBJ,
            "seed": _INT,
            "user": _STR,
        },
        "additionalProperties": True,
        "example": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}]},
    },
    "ChatCompletion": {
        "type": "object",
        "required": ["id", "object", "choices"],
        "properties": {
            "id": _STR,
            "object": {"const": "chat.completion"},
            "created": _INT,
            "model": _STR,
            "choices": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "index": _INT,
                        "message": _ref("ChatMessage"),
                        "finish_reason": {"type": ["string", "null"]},
                    },
                },
            },
            "usage": _USAGE,
        },
        "additionalProperties": True,
    },
    "ChatCompletionChunk": {
        "type": "object",
        "description": "The JSON of one `data:` line of a streamed chat completion.",
        "properties": {
            "id": _STR,
            "object": {"const": "chat.completion.chunk"},
            "created": _INT,
            "model": _STR,
            "choices": {
                "type": "array",
                "items": {"type": "object", "properties": {"index": _INT, "delta": _OBJ, "finish_reason": {"type": ["string", "null"]}}},
            },
            "usage": {"oneOf": [_USAGE, {"type": "null"}]},
        },
        "additionalProperties": True,
    },
    "EmbeddingRequest": {
        "type": "object",
        "required": ["model", "input"],
        "properties": {
            "model": {"type": "string", "examples": ["text-embedding-3-small"]},
            "input": {
                "oneOf": [_STR, {"type": "array", "items": _STR}, {"type": "array", "items": _INT}, {"type": "array", "items": {"type": "array", "items": _INT}}]
            },
            "encoding_format": {"type": "string", "enum": ["float", "base64"]},
            "dimensions": _INT,
            "user": _STR,
        },
        "additionalProperties": True,
        "example": {"model": "text-embedding-3-small", "input": "Hello!"},
    },
    "EmbeddingList": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "object": {"const": "list"},
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"object": {"const": "embedding"}, "index": _INT, "embedding": {"oneOf": [{"type": "array", "items": _NUM}, _STR]}},
                },
            },
            "model": _STR,
            "usage": {"type": "object", "properties": {"prompt_tokens": _INT, "total_tokens": _INT}},
        },
        "additionalProperties": True,
    },
    "ModelList": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": {"type": "object", "properties": {"id": _STR, "object": {"const": "model"}, "created": _INT, "owned_by": _STR}}},
        },
        "additionalProperties": True,
    },
    "AnthropicMessageRequest": {
        "type": "object",
        "required": ["model", "max_tokens", "messages"],
        "properties": {
            "model": {"type": "string", "examples": ["claude-sonnet-4-5"]},
            "max_tokens": {"type": "integer", "minimum": 1},
            "messages": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["role", "content"],
                    "properties": {
                        "role": {"type": "string", "enum": ["user", "assistant"]},
                        "content": {"oneOf": [_STR, {"type": "array", "items": _ref("AnthropicContentBlock")}]},
                    },
                },
            },
            "system": {"oneOf": [_STR, {"type": "array", "items": _OBJ}]},
            "stream": {"type": "boolean", "default": False, "description": "true: a text/event-stream of Anthropic's events (message_start ... message_stop)."},
            "temperature": _NUM,
            "top_p": _NUM,
            "top_k": _INT,
            "stop_sequences": {"type": "array", "items": _STR},
            "tools": {"type": "array", "items": _OBJ},
            "tool_choice": _OBJ,
            "metadata": _OBJ,
        },
        "additionalProperties": True,
        "example": {"model": "claude-sonnet-4-5", "max_tokens": 256, "messages": [{"role": "user", "content": "Hello!"}]},
    },
    "AnthropicContentBlock": {
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"type": "string", "examples": ["text", "image", "tool_use", "tool_result"]},
            "text": _STR,
            "id": _STR,
            "name": _STR,
            "input": _OBJ,
        },
        "additionalProperties": True,
    },
    "AnthropicMessage": {
        "type": "object",
        "required": ["id", "type", "role", "content"],
        "properties": {
            "id": _STR,
            "type": {"const": "message"},
            "role": {"const": "assistant"},
            "content": {"type": "array", "items": _ref("AnthropicContentBlock")},
            "model": _STR,
            "stop_reason": {"type": ["string", "null"]},
            "stop_sequence": {"type": ["string", "null"]},
            "usage": {"type": "object", "properties": {"input_tokens": _INT, "output_tokens": _INT}, "additionalProperties": True},
        },
        "additionalProperties": True,
    },
}

STREAM_NOTE = (
    "With `stream: true` the answer is `text/event-stream`: events reach the client one by one as the upstream sends them. "
    "A stream the upstream cuts off ends with an error event and no `[DONE]`."
)
