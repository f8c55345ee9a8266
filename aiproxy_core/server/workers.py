"""``aiproxy serve``: one process, or N worker processes sharing the ports (Redis only)."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile

from typing import Any, Awaitable, Callable

from ..config import GatewayConfig
from ..gateway import Gateway
from ..metrics.worker_files import METRICS_DIR_ENV
from ..plugins import PluginRegistry
from ..plugins.config_sections import plugin_configs
from .listeners import check_startable, serve_gateway
from .log_setup import configure_logging

logger = logging.getLogger("aiproxy.server")

OnStarted = Callable[[Gateway], Awaitable[None]]


def _run_loop(config: GatewayConfig, reuse_port: bool, on_started: OnStarted | None = None) -> None:
    main = serve_gateway(config, reuse_port=reuse_port, on_started=on_started)
    try:
        import uvloop  # the fast loop when installed (uvicorn[standard] brings it)
    except ImportError:  # pragma: no cover - uvloop is a dependency, but not on every platform
        asyncio.run(main)
        return
    uvloop.run(main)


def _worker(config: GatewayConfig) -> None:
    configure_logging(config.logging)
    _run_loop(config, reuse_port=True)


def run(config: GatewayConfig, workers: int = 1, on_started: OnStarted | None = None) -> int:
    """Serve until stopped; ``on_started`` runs once the listeners are up (single process only)."""
    check_startable(config, workers)
    if workers <= 1:  # the gateway checks the plugins' config sections as it is built
        _run_loop(config, reuse_port=False, on_started=on_started)
        return 0
    # Several workers would each fail alone on a bad plugins section: check it once, first.
    registry = PluginRegistry()
    registry.load_entry_points()
    plugin_configs(registry, config.plugins)
    context = multiprocessing.get_context("spawn")
    # The workers share their /metrics figures through files in a directory of this run only
    # (figures of an earlier run must not be added to this one's).
    metrics_dir = tempfile.mkdtemp(prefix="aiproxy-metrics-")
    os.environ[METRICS_DIR_ENV] = metrics_dir
    try:
        return _run_workers(context, config, workers)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
        os.environ.pop(METRICS_DIR_ENV, None)


def _run_workers(context: Any, config: GatewayConfig, workers: int) -> int:
    processes = [context.Process(target=_worker, args=(config,), name=f"aiproxy-worker-{i}") for i in range(workers)]
    for process in processes:
        process.start()

    def forward(sig: int, _frame: object) -> None:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                try:
                    os.kill(process.pid, sig)
                except ProcessLookupError:
                    pass

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    for process in processes:
        process.join()
    failed = [p for p in processes if p.exitcode not in (0, -signal.SIGTERM, -signal.SIGINT)]
    if failed:
        print(f"aiproxy: {len(failed)} worker(s) exited with an error; see the log above", file=sys.stderr)
        return 1
    return 0
