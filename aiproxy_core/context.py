"""The one object that travels through a request's chain: tenant, rule, key, request, response."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, AsyncIterator

from starlette.datastructures import MutableHeaders

from .errors import BadRequest
from .json_text import UnfitJSON, loads, strict_loads
from .proxy.request_model import body_model

if TYPE_CHECKING:
    from .models import ApiKey, Consumer, Rule, Tenant
    from .services import GatewayServices
    from .tracing.request_trace import RequestTrace

__all__ = ["ProxyRequest", "ProxyResponse", "RequestContext"]

_NOT_PARSED = object()


def parse_json_body(body: bytes) -> Any:
    """The parsed body, or a 400 ``invalid_json`` (also for JSON the gateway could not pass on)."""
    try:
        return strict_loads(body)
    except UnfitJSON as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}", code="invalid_json") from None


class ProxyRequest:
    """The request as it will be sent upstream; hooks may change any part of it.

    The JSON body is parsed once, on first use of :attr:`json`, and serialized again only if a
    hook called :meth:`set_json`, so a chain that never looks at the body never parses it.
    """

    __slots__ = ("method", "path", "query_string", "headers", "client_ip", "via_trusted_proxy", "_body", "_json", "_model")

    def __init__(
        self,
        method: str,
        path: str,
        query_string: str,
        headers: MutableHeaders,
        body: bytes,
        client_ip: str | None,
        *,
        via_trusted_proxy: bool = False,
    ) -> None:
        self.method = method
        self.path = path
        self.query_string = query_string
        self.headers = headers
        #: The client's address as the core decided it (``X-Forwarded-For`` only from
        #: ``server.trusted_proxies``).
        self.client_ip = client_ip
        #: The connection came from one of ``server.trusted_proxies``: headers that proxy sets
        #: (``CF-IPCountry``, say) are its word, not the client's.
        self.via_trusted_proxy = via_trusted_proxy
        self._body: bytes | None = body
        self._json: Any = _NOT_PARSED
        self._model: str | None | object = _NOT_PARSED

    @property
    def body(self) -> bytes:
        if self._body is None:
            self._body = json.dumps(self._json, ensure_ascii=False).encode()
        return self._body

    @body.setter
    def body(self, value: bytes) -> None:
        self._body = value
        self._json = _NOT_PARSED
        self._model = _NOT_PARSED

    @property
    def json(self) -> Any:
        """The parsed JSON body (cached); a body that is not JSON raises a 400 ``invalid_json``."""
        if self._json is _NOT_PARSED:
            self._json = parse_json_body(self.body) if self.body else None
        return self._json

    @property
    def parsed_json(self) -> Any:
        """The body as already parsed by :attr:`json` (or set by :meth:`set_json`), else None:
        reading it never parses (for a reader, like the access log, that must not pay for it)."""
        return None if self._json is _NOT_PARSED else self._json

    @property
    def model(self) -> str | None:
        """The ``model`` the body names, or None (no JSON body, no model, or a body over 64 KiB
        that no hook parsed). Read once and kept: metrics, the access log, traces and metering
        plugins all ask for it, and each reading its own would parse the body again."""
        if self._model is _NOT_PARSED:
            self._model = body_model(self.parsed_json, self._body)
        return self._model  # type: ignore[return-value]  # the sentinel is replaced above

    def set_json(self, value: Any) -> None:
        """Replace the body with ``value``; it is serialized once, when the request is sent."""
        self._json = value
        self._body = None
        self._model = _NOT_PARSED


class ProxyResponse:
    """A response: from the upstream, from a hook that answers early, or a gateway error.

    ``body`` holds a plain response's bytes; a streamed one has ``stream`` instead (and ``body``
    None), and counts what was sent in ``streamed_bytes``.
    """

    __slots__ = ("status", "headers", "_body", "stream", "streamed_bytes", "_json")

    def __init__(
        self,
        status: int = 200,
        headers: MutableHeaders | dict[str, str] | None = None,
        body: bytes | None = b"",
        stream: AsyncIterator[bytes] | None = None,
    ) -> None:
        self.status = status
        if headers is None or isinstance(headers, dict):
            raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
            headers = MutableHeaders(raw=raw)
        self.headers = headers
        self._body = None if stream is not None else body
        self._json: Any = _NOT_PARSED
        self.stream = stream
        self.streamed_bytes = 0

    @property
    def body(self) -> bytes | None:
        return self._body

    @body.setter
    def body(self, value: bytes | None) -> None:
        self._body = value
        self._json = _NOT_PARSED  # parsed again if asked: the bytes changed

    @classmethod
    def from_json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> "ProxyResponse":
        """A JSON answer, e.g. from a ``pre_request`` hook that serves a cached response."""
        response = cls(status, headers, json.dumps(data).encode())
        response.headers["content-type"] = "application/json"
        return response

    @property
    def json(self) -> Any:
        """The parsed body of a plain response (None for a streamed or empty one), parsed once:
        every hook that reads it gets the same object. A body that is not JSON raises
        ``ValueError`` each time it is asked."""
        if self._json is _NOT_PARSED:
            if not self._body:
                return None
            self._json = loads(self._body)
        return self._json

    @property
    def is_event_stream(self) -> bool:
        """Server-sent events (``text/event-stream``): hooks see them event by event in ``response_chunk``."""
        return self.headers.get("content-type", "").lower().startswith("text/event-stream")

    async def read_whole(self, limit: int) -> "ProxyResponse | None":
        """This answer with its stream read into ``body`` (so a hook can check it before it is sent),
        or None once it passes ``limit`` bytes.

        The core streams plain bodies that are large or unsized (chunked); checking them means
        holding them, up to a limit the caller names and answers for.
        """
        if self.stream is None:
            return self if len(self.body or b"") <= limit else None
        parts: list[bytes] = []
        size = 0
        async for chunk in self.stream:
            size += len(chunk)
            if size > limit:
                return None
            parts.append(chunk)
        return ProxyResponse(self.status, self.headers, b"".join(parts))


class RequestContext:
    """Everything a hook may need about one request.

    ``state`` is scratch space shared by the hooks of one request (key it by your plugin's name);
    ``annotations`` are facts to record about the request (flags, sources) that metering plugins
    read in ``post_response``.
    """

    __slots__ = (
        "request_id",
        "client_request_id",
        "tenant",
        "rule",
        "api_key",
        "consumer",
        "request",
        "response",
        "upstream_url",
        "started_at",
        "state",
        "annotations",
        "response_headers",
        "services",
        "scheme",
        "host",
        "trace",
    )

    def __init__(
        self,
        *,
        request_id: str,
        tenant: "Tenant",
        rule: "Rule",
        api_key: "ApiKey",
        request: ProxyRequest,
        upstream_url: str,
        started_at: float,
        services: "GatewayServices | None" = None,
        consumer: "Consumer | None" = None,
        client_request_id: str | None = None,
        scheme: str = "http",
        host: str = "",
    ) -> None:
        #: The gateway's own id for this request: unique, never chosen by the client; what
        #: metering, settlement and logs key on.
        self.request_id = request_id
        #: The client's ``X-Request-ID``, if it sent a usable one: for tracing only (echoed back).
        self.client_request_id = client_request_id
        #: ``http`` or ``https`` as the client called: the connection's, or ``X-Forwarded-Proto``
        #: when the peer is one of ``server.trusted_proxies`` (anyone else's is ignored).
        self.scheme = scheme
        #: The host name the client called (its ``Host``, lowercase, without port or trailing
        #: dot), as the tenant was found by it: e.g. to build absolute links in an answer.
        self.host = host
        self.tenant = tenant
        self.rule = rule
        self.api_key = api_key
        #: The consumer whose key made the request (with its ``plan_id``); None for tenant keys.
        self.consumer = consumer
        self.request = request
        self.response: ProxyResponse | None = None
        self.upstream_url = upstream_url
        self.started_at = started_at
        self.state: dict[str, Any] = {}
        self.annotations: dict[str, Any] = {}
        #: Headers added to whatever response goes out for this request: the upstream's, an
        #: early answer, or an error (e.g. rate-limit headers set in ``pre_request``).
        self.response_headers: dict[str, str] = {}
        #: The serving gateway's services (store, Redis client, config): a plugin that keeps
        #: per-gateway state finds it here rather than in module globals, so two gateways in one
        #: process (as in tests) never share it.
        self.services = services
        #: The gateway's spans of this request when tracing is on, else None (core-internal:
        #: the router and the chain add their spans under it; its type is no API).
        self.trace: RequestTrace | None = None

    @property
    def consumer_id(self) -> str | None:
        """The consumer whose key made this request; None for a tenant's own key."""
        return self.api_key.consumer_id
