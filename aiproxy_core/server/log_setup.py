"""Logging for ``aiproxy serve`` (its one process or each worker): one place, so both agree."""

from __future__ import annotations

import logging
import sys

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
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False
