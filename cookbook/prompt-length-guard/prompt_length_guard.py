"""A first plugin: refuse chat requests whose prompt is longer than a limit.

Register it under the ``aiproxy`` entry-point group (see README.md beside this file), or pass
it to the SDK harness as ``plugins={"prompt_length_guard": prompt_length_guard}``.
"""

from pydantic import BaseModel, Field

from aiproxy_core import BadRequest, hookimpl


class Settings(BaseModel):
    max_chars: int = Field(default=2000, gt=0)


@hookimpl
def settings_model():
    return Settings


@hookimpl
def pre_request(ctx, settings):
    body = ctx.request.json
    # The body is the client's: a list, or messages that are not objects, is a 400, not a crash.
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object", code="invalid_request")
    messages = body.get("messages", [])
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise BadRequest("messages must be a list of objects", code="invalid_request")
    text = "".join(m["content"] for m in messages if isinstance(m.get("content"), str))
    if len(text) > settings.max_chars:
        raise BadRequest(
            f"the prompt has {len(text)} characters; the limit is {settings.max_chars}",
            code="prompt_too_long",
        )
