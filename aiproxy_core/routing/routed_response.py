"""A response with what routing needs to know of it.

Apart from :mod:`.router` because that module is compiled with mypyc (``aiproxy_core.compiled``)
and this class extends :class:`~aiproxy_core.context.ProxyResponse`, a Python class with
``__slots__``, which a compiled module cannot subclass.
"""

from __future__ import annotations

from ..context import ProxyResponse

__all__ = ["RoutedResponse"]


class RoutedResponse(ProxyResponse):
    """A response with the upstream's ``Retry-After`` (seconds, or None)."""

    __slots__ = ("retry_after",)

    retry_after: float | None
