"""An upstream answer's body, chunk by chunk, as an async generator.

Apart from :mod:`.http1_client` because that module is compiled with mypyc
(``aiproxy_core.compiled``), which does not compile async generators.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, AsyncIterator, Callable

from .upstream_errors import upstream_error

if TYPE_CHECKING:
    from .http1_connection import Http1Connection

__all__ = ["body_chunks"]


async def body_chunks(connection: Http1Connection, url: str, release: Callable[[], None]) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive; ``release`` once it ends, is cut off or is closed."""
    try:
        while True:
            chunk = await connection.next_chunk()
            if not chunk:
                return
            yield chunk
    except Exception as exc:
        raise upstream_error(exc, url) from exc
    finally:
        release()
