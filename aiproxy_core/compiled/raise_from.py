"""``raise error from cause`` for the compiled modules.

mypyc ignores ``from`` in a ``raise`` (mypy 2.4): the new exception gets no ``__cause__`` and keeps
the context ``from None`` should hide. Logs, traces (``exception.type`` of a plugin failure is its
cause's class) and the errors' ``log_detail`` read the chain, so the modules of
:data:`~.modules.HOT_PATH_MODULES` set it with this instead (tests/test_compiled_hot_path.py keeps
``raise ... from`` out of them).
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["raised_from"]

E = TypeVar("E", bound=BaseException)


def raised_from(error: E, cause: BaseException | None) -> E:
    """``error`` with ``cause`` as its ``__cause__`` (None hides the context), ready to raise."""
    error.__cause__ = cause  # also sets __suppress_context__, as `raise ... from` does
    return error
