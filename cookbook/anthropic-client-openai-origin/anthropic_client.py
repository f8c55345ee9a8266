#!/usr/bin/env python3
"""An Anthropic client on an OpenAI origin: the official ``anthropic`` package talks to the
gateway, whose rule (``client_format: anthropic``) forwards to an OpenAI-format upstream.

Starts the mock upstream (as the OpenAI-compatible origin) and a gateway of its own, then makes a
plain call, a streamed one and a tool-use round trip with the Anthropic SDK.
Run: .venv/bin/python cookbook/anthropic-client-openai-origin/anthropic_client.py
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recipe_support import Admin, RecipeFailed, gateway, mock_upstream, scratch, show, step  # noqa: E402

import anthropic  # noqa: E402

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The current weather in a city",
    "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
}


def main() -> None:
    with scratch() as work, mock_upstream() as origin, gateway(work) as gw:
        admin = Admin(gw.admin_url)
        tenant = admin.tenant("Acme AI", "acme")

        step("A rule whose clients speak Anthropic's Messages API, forwarding to an OpenAI-format origin")
        rule = admin.rule(tenant, {
            "path": "/v1",
            "client_format": "anthropic",
            "targets": [{"name": "origin", "url": origin + "/v1", "provider": "openai", "model": "gpt-4o-mini",
                         "upstream_headers": {"Authorization": "Bearer sk-demo-openai"}}],
        })
        show("rule", f"{rule['id']} (client_format {rule['client_format']})")
        _, key = admin.consumer_key(tenant, "Alice")

        # The SDK's base_url is the gateway's Proxy API; the tenant is picked by its Host. The
        # consumer's key goes where the SDK puts an Anthropic key (X-Api-Key), which the gateway reads.
        client = anthropic.Anthropic(base_url=gw.proxy_url, api_key=key["key"], max_retries=0,
                                     default_headers={"Host": tenant.host})
        try:
            step("messages.create: the SDK's request, translated to a chat completion and back")
            raw = client.messages.with_raw_response.create(
                model="claude-sonnet-4-5", max_tokens=200, system="You are terse.",
                messages=[{"role": "user", "content": "What is a gateway?"}])
            message = raw.parse()
            show("served by", f"{raw.headers['x-aiproxy-target']} as {message.model}")
            show("answer", f"{message.content[0].text!r} (stop_reason {message.stop_reason}, "
                           f"{message.usage.input_tokens} in / {message.usage.output_tokens} out)")

            step("messages.stream: Anthropic's events, made from the origin's OpenAI stream")
            with client.messages.stream(model="claude-sonnet-4-5", max_tokens=200,
                                        messages=[{"role": "user", "content": "Stream this please"}]) as stream:
                pieces = list(stream.text_stream)
                final = stream.get_final_message()
            show("streamed", f"{len(pieces)} text deltas: {''.join(pieces)!r} (stop_reason {final.stop_reason})")

            step("Tool use: the origin's tool call arrives as a tool_use block; the tool_result goes back")
            question = [{"role": "user", "content": "Weather in Paris?"}]
            first = client.messages.create(model="claude-sonnet-4-5", max_tokens=200, tools=[WEATHER_TOOL], messages=question)
            call = next(block for block in first.content if block.type == "tool_use")
            show("tool_use", f"{call.name}({call.input}) (stop_reason {first.stop_reason})")
            second = client.messages.create(model="claude-sonnet-4-5", max_tokens=200, tools=[WEATHER_TOOL], messages=[
                *question,
                {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 21 C"}]},
            ])
            show("after the tool", f"{second.content[0].text!r} (stop_reason {second.stop_reason})")

            step("The origin's errors reach the SDK in Anthropic's envelope (here the mock refuses with a 400)")
            try:
                client.messages.create(model="claude-sonnet-4-5", max_tokens=200, extra_headers={"X-Mock-Status": "400"},
                                       messages=[{"role": "user", "content": "Refuse this"}])
            except anthropic.BadRequestError as exc:
                show("error", f"{type(exc).__name__} {exc.status_code}: {exc.body['error']['type']}: {exc.body['error']['message']}")
            else:
                raise RecipeFailed("the origin's 400 did not reach the client")
        except anthropic.APIStatusError as exc:
            raise RecipeFailed(f"the gateway answered {exc.status_code}: {exc.message}") from None
        except anthropic.APIConnectionError as exc:
            raise RecipeFailed(f"could not reach the gateway: {exc}") from None


if __name__ == "__main__":
    main()
