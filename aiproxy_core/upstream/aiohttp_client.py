"""The default upstream client: one pooled aiohttp session per process."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

import aiohttp

from ..config import UpstreamConfig
from ..errors import UpstreamTimeout, UpstreamUnreachable


def _translate(exc: BaseException, url: str) -> Exception:
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return UpstreamTimeout(f"the upstream {_origin(url)} did not answer in time")
    return UpstreamUnreachable(f"the upstream {_origin(url)} is unreachable: {type(exc).__name__}: {exc}")


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


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
    """Keep-alive pool with connect and read timeouts from the ``upstream`` config section.

    Bodies pass through as bytes (no decompression), and aiohttp adds no ``Accept-Encoding`` or
    ``User-Agent`` of its own, so the upstream sees the client's.
    """

    def __init__(self, config: UpstreamConfig) -> None:
        self._config = config
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._config.max_connections,
            keepalive_timeout=self._config.keepalive_timeout,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            skip_auto_headers=("Accept-Encoding", "User-Agent"),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=self._config.connect_timeout, sock_read=self._config.read_timeout
            ),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

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
        timeout = None
        if read_timeout is not None:
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._config.connect_timeout, sock_read=read_timeout)
        try:
            response = await self._session.request(
                method, url, headers=headers, data=body or None, allow_redirects=False, timeout=timeout
            )
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise _translate(exc, url) from exc
        return AiohttpResponse(response, url)
