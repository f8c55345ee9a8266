"""The mock upstream's log lines: under names of its own, prefixed, and without tracebacks.

Served inside another program's process (``aiproxy serve --demo`` runs it in a thread), the mock's
lines would otherwise read as that program's: uvicorn writes every server's errors and access
lines to the same process-wide ``uvicorn.error`` and ``uvicorn.access`` loggers. The mock writes
to :data:`MOCK_LOGGER_NAME` and :data:`MOCK_ACCESS_LOGGER_NAME` instead (uvicorn's lines through
:mod:`.protocol`), each line starting ``[mock-upstream]``; an exception is one line naming it,
its traceback shown only when the mock's logger is at DEBUG.
"""

from __future__ import annotations

import logging

__all__ = ["MOCK_ACCESS_LOGGER_NAME", "MOCK_LOGGER_NAME", "PREFIX", "mock_logger", "set_mock_log_levels"]

MOCK_LOGGER_NAME = "aiproxy.mock_upstream"
MOCK_ACCESS_LOGGER_NAME = "aiproxy.mock_upstream.access"
PREFIX = "[mock-upstream] "


class _OwnLines(logging.Filter):
    """Prefixes each record logged on the mock's loggers, and folds its traceback into the line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(PREFIX):
            record.msg = PREFIX + str(record.msg)
        if record.exc_info and not logging.getLogger(MOCK_LOGGER_NAME).isEnabledFor(logging.DEBUG):
            error = record.exc_info[1]
            if error is not None:
                summary = f" ({type(error).__name__}: {error})"
                # With args, the message is a %-format string for them: a % of the summary is escaped.
                record.msg += summary.replace("%", "%%") if record.args else summary
            record.exc_info = None
            record.exc_text = None
        return True


def mock_logger(name: str = MOCK_LOGGER_NAME) -> logging.Logger:
    """The mock's logger ``name``, with its filter (added once)."""
    logger = logging.getLogger(name)
    if not any(isinstance(existing, _OwnLines) for existing in logger.filters):
        logger.addFilter(_OwnLines())
    return logger


def set_mock_log_levels(*, debug: bool) -> None:
    """The mock's own levels beside a gateway's: its warnings and errors, its access lines (when
    its protocol writes them) at INFO; everything, tracebacks included, with ``debug``."""
    mock_logger().setLevel(logging.DEBUG if debug else logging.WARNING)
    mock_logger(MOCK_ACCESS_LOGGER_NAME).setLevel(logging.INFO)
