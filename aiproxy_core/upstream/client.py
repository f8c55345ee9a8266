"""The interface between the proxy and whatever HTTP client talks to upstreams.

The proxy depends only on this, so the client can be swapped and measured. The default is
:class:`~.http1_client.Http1UpstreamClient` (HTTP/1.1 on httptools): a quarter of aiohttp's CPU
per request here, and httpx's pool is several times slower than aiohttp (DESIGN.md §5).
"""

from __future__ import annotations

from typing import AsyncIterator, Protocol, Sequence


class UpstreamResponse(Protocol):
    status: int
    @property
    def raw_headers(self) -> Sequence[tuple[bytes, bytes]]:
        """Header pairs as received (names in any case), for the proxy to filter and pass on."""
        ...

    content_length: int | None
    content_type: str

    async def read(self) -> bytes:
        """The whole body; raises UpstreamTimeout/UpstreamUnreachable like ``send``."""
        ...

    def iter_chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives, chunk by chunk."""
        ...

    def release(self) -> None:
        """Give the connection back to the pool (or drop it if the body was not read)."""
        ...


class UpstreamClient(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def send(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        read_timeout: float | None = None,
    ) -> UpstreamResponse:
        """Send a request and return once the response's status and headers are in.

        Raises :class:`~aiproxy_core.errors.UpstreamUnreachable` (502) when no connection can be
        made or it breaks, :class:`~aiproxy_core.errors.UpstreamTimeout` (504) when the upstream
        is too slow (``read_timeout`` None: the config's ``upstream.read_timeout``), and
        :class:`~aiproxy_core.errors.Forbidden` ``target_not_allowed`` (403) when the target
        policy refuses every address of the URL's host. Their messages name no URL; the details
        for the log are on the exception's ``log_detail``.
        """
        ...
