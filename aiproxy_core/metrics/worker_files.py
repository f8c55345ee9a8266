"""Figures shared between the workers of ``aiproxy serve --workers N``.

Each worker keeps its figures in memory and writes them, once a second and when it stops, to
``<dir>/<pid>.json`` (written whole, then renamed, so a reader never sees half a file). The
worker that answers a scrape adds its live figures to the others' files. Figures are totals
since each worker started, so a worker that died still counts what it served: counters never
go back. ``aiproxy serve`` makes the directory for one run and removes it at exit.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

__all__ = ["METRICS_DIR_ENV", "PUBLISH_SECONDS", "WorkerFiles"]

logger = logging.getLogger("aiproxy.metrics")

#: Set by ``aiproxy serve --workers N`` for its workers: the directory they share figures in.
METRICS_DIR_ENV = "AIPROXY_METRICS_DIR"
#: How often a worker writes its figures; a scrape sees other workers' figures this late at most.
PUBLISH_SECONDS = 1.0


class WorkerFiles:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.pid = os.getpid()

    @classmethod
    def from_environment(cls) -> WorkerFiles | None:
        directory = os.environ.get(METRICS_DIR_ENV)
        return cls(directory) if directory else None

    def publish(self, snapshot: dict[str, Any]) -> None:
        path = self.directory / f"{self.pid}.json"
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(snapshot, separators=(",", ":")), encoding="utf-8")
        os.replace(partial, path)

    def others(self) -> list[dict[str, Any]]:
        """The last figures every other worker wrote (a file that cannot be read is skipped)."""
        found = []
        for path in sorted(self.directory.glob("*.json")):
            if path.stem == str(self.pid):
                continue
            try:
                found.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                logger.warning("metrics: could not read worker figures %s", path)
        return found
