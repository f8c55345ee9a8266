"""The plugin's commands: ``aiproxy billing-worker``, ``billing-status``, ``billing-usage`` and ``billing-invoice``.

``billing-worker`` drains the billing queue into the ledger outside ``aiproxy serve``. It reads the
same config file as ``serve``, so it finds the same state (Redis, a cluster, or the SQLite state file). ``--once``
drains what is queued and exits (cron jobs, tests); otherwise it runs until SIGTERM.

``billing-status`` prints the queue's backlog: whether the workers keep up.

``billing-usage`` and ``billing-invoice`` print (as JSON) what the Admin API's usage report and
invoice endpoints answer, read from the same store, plans and ledger.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from datetime import date
from typing import Any, AsyncIterator, Awaitable, Callable

from aiproxy_core import ConfigError, GatewayConfig, GatewayError, Store, load_config
from aiproxy_core.state import opened_state

from .backend import BillingBackend, open_backend
from .export import Exporter
from .settings import BillingConfig
from .worker import run_worker

__all__ = ["add_report_commands", "add_worker_command", "opened_backend"]


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
        help="take over events another worker claimed but did not acknowledge for this long (it died)",
    )
    worker.set_defaults(func=_run)
    status = commands.add_parser("billing-status", help="how many billing events wait for the worker (JSON)")
    status.add_argument("--config", metavar="FILE", help="the gateway's config file (as for aiproxy serve)")
    status.add_argument("--tenant", metavar="TENANT_ID", help="also count this tenant's events in the ledger")
    status.set_defaults(func=_status)


def _run(args: argparse.Namespace) -> int:
    if args.batch_size < 1 or args.claim_idle_ms < 0:
        raise ConfigError("--batch-size must be at least 1 and --claim-idle-ms not negative")
    config = load_config(args.config)
    logging.basicConfig(level=config.logging.level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    moved = asyncio.run(_work(config, args.once, args.batch_size, args.claim_idle_ms))
    print(f"aiproxy billing-worker: moved {moved} event(s) into the ledger", flush=True)
    return 0


@contextlib.asynccontextmanager
async def opened_backend(config: GatewayConfig) -> AsyncIterator[tuple[BillingBackend, Store]]:
    """The billing state ``aiproxy serve`` uses for ``config``, and the core's store beside it
    (which tells which plan a consumer is on, and whether it exists, as in the Admin API)."""
    options = BillingConfig.model_validate(config.plugins.get("billing") or {})
    async with opened_state(config) as (state, store):
        yield open_backend(state.for_plugin("billing"), remember=options.dedupe_seconds), store


async def _work(config: GatewayConfig, once: bool, batch_size: int, claim_idle_ms: int) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with opened_backend(config) as (backend, _):
        drain = backend.drain(batch_size=batch_size, claim_idle=max(claim_idle_ms, 1) / 1000)
        exporter = Exporter(backend.exports)
        if once:  # drain, then deliver what is due now (failures stay queued for a later run)
            moved = await run_worker(drain, stop, once=True)
            await exporter.run(stop, once=True)
            return moved
        moved, _ = await asyncio.gather(run_worker(drain, stop), exporter.run(stop))
        return moved


def _status(args: argparse.Namespace) -> int:
    """Is the worker keeping up? The queue's backlog (0 when it is), and a tenant's ledger size."""

    async def work(backend: BillingBackend, store: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"queue": await backend.queue.backlog()}
        if args.tenant:
            body["ledger"] = {
                "tenant_id": args.tenant,
                "events": await backend.ledger.count(args.tenant),
                # Where each event is kept: "none" on Redis without records.postgresql (aggregates only).
                "records": backend.ledger.records.sink,
            }
        return body

    return _print(args.config, work)


def add_report_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    usage = commands.add_parser("billing-usage", help="print a consumer's usage report with its cost (JSON)")
    invoice = commands.add_parser("billing-invoice", help="print a consumer's invoice for a month (JSON)")
    for parser in (usage, invoice):
        parser.add_argument("--config", metavar="FILE", help="the gateway's config file (as for aiproxy serve)")
        parser.add_argument("--tenant", required=True, metavar="TENANT_ID")
        parser.add_argument("--consumer", required=True, metavar="CONSUMER_ID")
    usage.add_argument("--from", dest="first", required=True, type=_day, metavar="YYYY-MM-DD")
    usage.add_argument("--to", dest="last", required=True, type=_day, metavar="YYYY-MM-DD")
    usage.add_argument("--plan", metavar="PLAN_ID", help="price with this plan instead of the consumer's")
    usage.set_defaults(func=_usage)
    invoice.add_argument("--period", required=True, metavar="YYYY-MM")
    invoice.set_defaults(func=_invoice)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a date as YYYY-MM-DD, not {text!r}") from None


def _usage(args: argparse.Namespace) -> int:
    from .invoices import usage_report
    from .usage import MAX_DAYS

    if args.first > args.last:
        raise ConfigError("--from must not be after --to")
    if (args.last - args.first).days + 1 > MAX_DAYS:
        raise ConfigError(f"a usage report covers at most {MAX_DAYS} days")

    async def work(backend: Any, store: Any) -> dict[str, Any]:
        return (await usage_report(backend, store, args.tenant, args.consumer, args.first, args.last, args.plan)).as_json()

    return _print(args.config, work)


def _invoice(args: argparse.Namespace) -> int:
    from .invoices import get_invoice

    async def work(backend: Any, store: Any) -> dict[str, Any]:
        return await get_invoice(backend, store, args.tenant, args.consumer, args.period)

    return _print(args.config, work)


def _print(config_path: str | None, work: Callable[[Any, Any], Awaitable[dict[str, Any]]]) -> int:
    config = load_config(config_path)
    try:
        body = asyncio.run(_with_state(config, work))
    except GatewayError as exc:
        print(exc.to_body().decode(), file=sys.stderr)
        return 1
    print(json.dumps(body, indent=2))
    return 0


async def _with_state(config: GatewayConfig, work: Callable[[Any, Any], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """Run ``work(billing backend, core store)`` on the state ``aiproxy serve`` uses for ``config``."""
    async with opened_backend(config) as (backend, store):
        return await work(backend, store)
