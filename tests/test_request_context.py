"""What a hook learns about the request beyond its path: the scheme and host the client called.

``ctx.scheme`` believes ``X-Forwarded-Proto`` only from a peer in ``server.trusted_proxies``
(the harness gives its requests the client address 203.0.113.7): anyone else could claim https to a plugin that
builds links or decides on security from it.
"""

from __future__ import annotations

from typing import Any

import pytest

from aiproxy_core import RequestContext, hookimpl


class Seen:
    def __init__(self) -> None:
        self.contexts: list[tuple[str, str]] = []

    @hookimpl
    def pre_request(self, ctx: RequestContext) -> None:
        self.contexts.append((ctx.scheme, ctx.host))


@pytest.mark.parametrize(
    "trusted, forwarded, expected",
    [
        ([], None, "http"),
        ([], "https", "http"),  # an untrusted peer's claim is ignored
        (["203.0.113.7/32"], "https", "https"),
        (["203.0.113.0/24"], "HTTPS, http", "https"),  # the nearest proxy's first value
        (["203.0.113.7/32"], "gopher", "http"),  # not a scheme a client can use: the connection's
        (["10.0.0.0/8"], "https", "http"),  # a trusted list that does not hold this peer
    ],
)
async def test_a_hook_sees_the_scheme_and_host_the_client_used(
    aiproxy_gateway_factory: Any, trusted: list[str], forwarded: str | None, expected: str
) -> None:
    seen = Seen()
    gw = await aiproxy_gateway_factory(plugins={"seen": seen}, chain=[{"name": "seen"}], config={"server": {"trusted_proxies": trusted}})
    headers = {"X-Forwarded-Proto": forwarded} if forwarded else {}
    answer = await gw.proxy.post(
        "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        headers={**headers, "Host": gw.host.upper() + ".:443"},
    )
    assert answer.status_code == 200, answer.text
    assert seen.contexts == [(expected, gw.host)]


def test_a_request_context_is_built_by_keywords_only() -> None:
    with pytest.raises(TypeError):
        RequestContext("req", None, None, None, None, "", 0.0)  # type: ignore[misc, arg-type]


class ModelSwap:
    """Reads the model a request names, and swaps it, as a routing or policy plugin might."""

    def __init__(self) -> None:
        self.seen: list[str | None] = []

    @hookimpl
    def pre_request(self, ctx: RequestContext) -> None:
        self.seen.append(ctx.request.model)
        ctx.request.set_json({**ctx.request.json, "model": "swapped-model"})
        self.seen.append(ctx.request.model)

    @hookimpl
    def post_response(self, ctx: RequestContext) -> None:
        self.seen.append(ctx.request.model)


async def test_a_hook_reads_the_model_the_body_names_as_it_is_now(aiproxy_gateway_factory: Any) -> None:
    swap = ModelSwap()
    gw = await aiproxy_gateway_factory(plugins={"swap": swap}, chain=[{"name": "swap"}])
    answer = await gw.proxy.post("/v1/chat/completions", json={"model": "asked-model", "messages": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 200, answer.text
    await gw.settle()
    assert swap.seen == ["asked-model", "swapped-model", "swapped-model"]


def test_a_body_that_names_no_model_has_none() -> None:
    from starlette.datastructures import MutableHeaders

    from aiproxy_core import ProxyRequest

    for body in (b"", b"not json", b'{"messages": []}', b'{"model": 5}', b'["model"]'):
        assert ProxyRequest("POST", "/", "", MutableHeaders(), body, None).model is None
    assert ProxyRequest("POST", "/", "", MutableHeaders(), b'{"model": "m"}', None).model == "m"
