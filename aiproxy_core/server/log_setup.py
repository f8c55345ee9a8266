"""Logging for ``aiproxy serve`` (its one process or each worker): one place, so both agree."""

from __future__ import annotations

import atexit
import logging
import queue
import sys
from logging.handlers import QueueHandler, QueueListener

from ..config.schema import LoggingConfig
from ..proxy.access_log import ACCESS_LOGGER_NAME

__all__ = ["configure_logging"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(config: LoggingConfig) -> None:
    """Every logger to stderr at ``logging.level``; the JSON access log, when on, as bare lines.

    The access lines go to their own handler, without the time/level/name prefix, so each line on
    stderr is one JSON object a log shipper can parse; and at INFO whatever ``level`` is, since
    turning the access log on asked for them.
    """
    logging.basicConfig(level=config.level.upper(), format=LOG_FORMAT)
    if not (config.access_log and config.access_log_format == "json"):
        return
    access = logging.getLogger(ACCESS_LOGGER_NAME)
    for old in list(access.handlers):  # configured again (a worker after its parent): one handler
        access.removeHandler(old)
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(logging.Formatter("%(message)s"))
    # A line per request written from the event loop would wait on stderr (a pipe a log shipper
    # may read slowly): the request's task only puts it on a queue, a thread writes it.
    lines: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = QueueListener(lines, stream)
    listener.start()
    atexit.register(listener.stop)  # what is queued is written before the process ends
    access.addHandler(QueueHandler(lines))
    access.setLevel(logging.INFO)
    access.propagate = False
