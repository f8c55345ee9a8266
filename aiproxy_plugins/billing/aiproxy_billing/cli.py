"""``aiproxy billing-worker``: drain the billing queue into the ledger outside ``aiproxy serve``.

It reads the same config file as ``serve``, so it finds the same Redis stream (or SQLite outbox).
``--once`` drains what is queued and exits (cron jobs, tests); otherwise it runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from aiproxy_core import ConfigError, GatewayConfig, load_config

from .backend import open_backend
from .worker import run_worker

__all__ = ["add_worker_command", "data_dir_of"]


def add_worker_command(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    worker = commands.add_parser("billing-worker", help="move billing events from the queue into the ledger")
    worker.add_argument("--config", metavar="FILE", help="the gateway's config file (as for aiproxy serve)")
    worker.add_argument("--once", action="store_true", help="drain what is queued (and pending), then exit")
    worker.add_argument("--batch-size", type=int, default=200, metavar="N", help="events per ledger write")
    worker.add_argument(
        "--claim-idle-ms",
        type=int,
        default=30_000,
        metavar="MS",
        help="Redis: take over entries another worker read but did not acknowledge for this long",
    )
    worker.set_defaults(func=_run)


def data_dir_of(config: GatewayConfig) -> Path:
    """Where ``aiproxy serve`` puts plugin files for this config (mirrors the core's rule)."""
    return Path(config.storage.path).resolve().parent if config.redis is None else Path("aiproxy-data").resolve()


def _run(args: argparse.Namespace) -> int:
    if args.batch_size < 1 or args.claim_idle_ms < 0:
        raise ConfigError("--batch-size must be at least 1 and --claim-idle-ms not negative")
    config = load_config(args.config)
    logging.basicConfig(level=config.logging.level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    moved = asyncio.run(_work(config, args.once, args.batch_size, args.claim_idle_ms))
    print(f"aiproxy billing-worker: moved {moved} event(s) into the ledger", flush=True)
    return 0


async def _work(config: GatewayConfig, once: bool, batch_size: int, claim_idle_ms: int) -> int:
    redis = None
    if config.redis is not None:
        from redis.asyncio import Redis

        section = config.redis
        redis = Redis(host=section.host, port=section.port, password=section.password or None, db=section.db, decode_responses=True)
    backend = open_backend(redis, config.redis.prefix if config.redis else None, data_dir_of(config))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        return await run_worker(backend.drain(batch_size=batch_size, claim_idle_ms=claim_idle_ms), stop, once=once)
    finally:
        backend.close()
        if redis is not None:
            await redis.aclose()
