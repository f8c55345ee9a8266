"""The default upstream client: one pooled aiohttp session per process.

Every connection it makes goes through the :class:`~.target_policy.TargetPolicy`: names through
:class:`PolicyResolver` (each resolved address is checked, so DNS rebinding meets the same
policy as the save did), IP literals in :meth:`AiohttpUpstreamClient.send`, because aiohttp
connects to a literal without asking the resolver.

Errors a consumer sees name no URL, credential or library ("the upstream of this route ...");
what an operator needs is on the exception's ``log_detail``, for the log line with the request id.
"""

from __future__ import annotations

import asyncio
import socket
from typing import AsyncIterator

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from ..config import UpstreamConfig
from ..errors import Forbidden, GatewayError, UpstreamTimeout, UpstreamUnreachable
from .target_policy import TargetPolicy, parse_address, split_origin

#: Per-authority verdicts on IP-literal hosts kept by ``send``; cleared when full (rules are few,
#: but a plugin may rewrite ``ctx.upstream_url`` to anything).
LITERAL_CACHE_SIZE = 4096

NOT_ALLOWED_MESSAGE = (
    "the upstream of this route is not an address this gateway may connect to; "
    "the route's owner must point it at an allowed target"
)


class TargetRefused(OSError):
    """Raised inside aiohttp's connect by :class:`PolicyResolver`; ``send`` turns it into a 403.

    An ``OSError`` so aiohttp treats it as a failed lookup (it wraps those as
    ``ClientConnectorDNSError`` and caches nothing).
    """

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def target_not_allowed(detail: str) -> Forbidden:
    error = Forbidden(NOT_ALLOWED_MESSAGE, code="target_not_allowed")
    error.log_detail = detail
    return error


class PolicyResolver(AbstractResolver):
    """aiohttp's default resolver, keeping only the addresses the policy allows."""

    def __init__(self, policy: TargetPolicy, resolver: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._resolver = resolver if resolver is not None else DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        fixed = self._policy.host_refusal(host, port)
        if fixed is not None:
            raise TargetRefused(f"{host}:{port} {fixed}")
        results = await self._resolver.resolve(host, port, family)
        allowed: list[ResolveResult] = []
        refused: list[str] = []
        for result in results:
            address = parse_address(result["host"])
            why = "is not an IP address" if address is None else self._policy.refusal(address, result["port"])
            if why is None:
                allowed.append(result)
            else:
                refused.append(f"{result['host']} {why}")
        if not allowed:
            raise TargetRefused(f"{host}:{port} resolves only to refused addresses: " + "; ".join(refused))
        return allowed

    async def close(self) -> None:
        await self._resolver.close()


def _safe_origin(url: str) -> str:
    """scheme://host:port of ``url``: no userinfo, path or query (those may hold credentials)."""
    scheme, host, port = split_origin(url)
    return f"{scheme}://{'[' + host + ']' if ':' in host else host}:{port}"


def _scrubbed(text: str, url: str) -> str:
    """An exception's text with the URL (and any userinfo) replaced by its safe origin."""
    origin = _safe_origin(url)
    text = text.replace(url, origin)
    userinfo = url.partition("://")[2].split("/", 1)[0].rpartition("@")[0]
    return text.replace(userinfo + "@", "") if userinfo else text


def _translate(exc: BaseException, url: str) -> GatewayError:
    refused = _refusal_in(exc)
    if refused is not None:
        return target_not_allowed(f"{_safe_origin(url)}: {refused.detail}")
    error: GatewayError
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        error = UpstreamTimeout("the upstream of this route did not answer in time")
    else:
        error = UpstreamUnreachable("the upstream of this route is unreachable")
    error.log_detail = f"{_safe_origin(url)}: {type(exc).__name__}: {_scrubbed(str(exc), url)}"
    return error


def _refusal_in(exc: BaseException) -> TargetRefused | None:
    if isinstance(exc, TargetRefused):
        return exc
    cause = getattr(exc, "os_error", None) or exc.__cause__
    return cause if isinstance(cause, TargetRefused) else None


class AiohttpResponse:
    __slots__ = ("_response", "_url", "status", "raw_headers", "content_length", "content_type")

    def __init__(self, response: aiohttp.ClientResponse, url: str) -> None:
        self._response = response
        self._url = url
        self.status = response.status
        self.raw_headers = response.raw_headers
        self.content_length = response.content_length
        self.content_type = response.headers.get("content-type", "")

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _translate(exc, self._url) from exc
        finally:
            self._response.release()

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _translate(exc, self._url) from exc
        finally:
            self._response.release()

    def release(self) -> None:
        self._response.release()


class AiohttpUpstreamClient:
    """Keep-alive pool with connect and read timeouts from the ``upstream`` config section, and
    every connection checked against ``policy``.

    Bodies pass through as bytes (no decompression), and aiohttp adds no ``Accept-Encoding`` or
    ``User-Agent`` of its own, so the upstream sees the client's.
    """

    def __init__(self, config: UpstreamConfig, policy: TargetPolicy, *, dns: AbstractResolver | None = None) -> None:
        """``dns`` answers the lookups the policy then judges (aiohttp's default resolver if None)."""
        self._config = config
        self._policy = policy
        self._dns = dns
        self._session: aiohttp.ClientSession | None = None
        self._resolver: PolicyResolver | None = None
        #: aiohttp's ``timeout=None`` means *no* timeout: every request passes one of these.
        self._default_timeout = self._timeout(config.read_timeout)
        self._rule_timeouts: dict[float, aiohttp.ClientTimeout] = {}
        #: origin -> why the policy refuses it (None: allowed, or a name the resolver will judge)
        self._literal_refusals: dict[str, str | None] = {}

    def _timeout(self, read_timeout: float) -> aiohttp.ClientTimeout:
        connect = self._config.connect_timeout
        # ``connect`` bounds the pool wait, DNS and the TCP/TLS handshake; ``sock_read`` each wait for bytes.
        return aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect, sock_read=read_timeout)

    async def start(self) -> None:
        self._resolver = PolicyResolver(self._policy, self._dns)
        connector = aiohttp.TCPConnector(
            limit=self._config.max_connections,
            keepalive_timeout=self._config.keepalive_timeout,
            ttl_dns_cache=300,
            resolver=self._resolver,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            skip_auto_headers=("Accept-Encoding", "User-Agent"),
            timeout=self._default_timeout,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._resolver is not None:
            await self._resolver.close()
            self._resolver = None

    def _literal_refusal(self, url: str) -> str | None:
        """The policy's verdict on an IP-literal (or fixed-name) host, once per scheme and authority."""
        cut = url.find("/", 8)
        origin = url if cut < 0 else url[:cut]
        try:
            return self._literal_refusals[origin]
        except KeyError:
            pass
        _scheme, host, port = split_origin(origin)
        why = self._policy.host_refusal(host, port)
        verdict = None if why is None else f"{_safe_origin(origin)} {why}"
        if len(self._literal_refusals) >= LITERAL_CACHE_SIZE:
            self._literal_refusals.clear()
        self._literal_refusals[origin] = verdict
        return verdict

    async def send(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        read_timeout: float | None = None,
    ) -> AiohttpResponse:
        if self._session is None:
            raise RuntimeError("the upstream client is not started; call start() first")
        refused = self._literal_refusal(url)
        if refused is not None:
            raise target_not_allowed(refused)
        if read_timeout is None:
            timeout = self._default_timeout
        else:
            timeout = self._rule_timeouts.get(read_timeout) or self._rule_timeouts.setdefault(read_timeout, self._timeout(read_timeout))
        try:
            response = await self._session.request(
                method, url, headers=headers, data=body or None, allow_redirects=False, timeout=timeout
            )
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise _translate(exc, url) from exc
        return AiohttpResponse(response, url)
