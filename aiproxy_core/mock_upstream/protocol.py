"""uvicorn's httptools protocol writing to the mock's own loggers (see :mod:`.own_logs`).

Imported only where the mock is served (uvicorn is not loaded by ``import aiproxy_core``).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .own_logs import MOCK_ACCESS_LOGGER_NAME, mock_logger

__all__ = ["mock_protocol"]


class _MockHttpProtocol(HttpToolsProtocol):
    #: Whether each request gets an access line (uvicorn decides it from ``uvicorn.access``'s handlers).
    access_lines = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn reads these three attributes for every line it writes about a connection or a
        # request (its per-request cycle receives them from here); uvicorn is pinned below 0.55.
        self.logger = mock_logger()
        self.access_logger = mock_logger(MOCK_ACCESS_LOGGER_NAME)
        self.access_log = self.access_lines


def mock_protocol(*, access_log: bool) -> type[HttpToolsProtocol]:
    """The protocol class for the mock's ``uvicorn.Config(http=...)``: one access line per request
    with ``access_log``."""

    class MockHttpProtocol(_MockHttpProtocol):
        access_lines = access_log

    return MockHttpProtocol
