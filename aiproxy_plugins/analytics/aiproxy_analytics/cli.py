"""``aiproxy analytics``: what the Admin API's analytics endpoints answer, as a table (or JSON),
read from the same state as ``aiproxy serve`` with the same config file."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from aiproxy_core import ConfigError, GatewayError, load_config
from aiproxy_core.state import opened_state

from .query import parse_query, run_query
from .table import analytics_table

__all__ = ["add_analytics_command"]


def add_analytics_command(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    command = commands.add_parser("analytics", help="a tenant's (or one consumer's) request analytics, as a table")
    command.add_argument("--config", metavar="FILE", help="the gateway's config file (as for aiproxy serve)")
    command.add_argument("--tenant", required=True, metavar="TENANT_ID")
    command.add_argument("--consumer", metavar="CONSUMER_ID", help="one consumer's analytics")
    command.add_argument("--from", dest="since", metavar="TIME", help="ISO 8601 or epoch seconds")
    command.add_argument("--to", metavar="TIME", help="ISO 8601 or epoch seconds (default: now)")
    command.add_argument("--interval", default="hour", choices=("minute", "hour", "day"))
    command.add_argument("--group-by", choices=("consumer", "rule", "model", "status", "country"))
    command.add_argument("--json", action="store_true", help="print the Admin API's JSON instead of a table")
    command.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    params = {"interval": args.interval}
    for name, value in (("from", args.since), ("to", args.to), ("group_by", args.group_by)):
        if value is not None:
            params[name] = value
    try:
        answer = asyncio.run(_read(args.config, args.tenant, args.consumer, params))
    except GatewayError as exc:
        raise ConfigError(exc.message) from None
    print(json.dumps(answer, indent=2) if args.json else analytics_table(answer))
    return 0


async def _read(config_path: str | None, tenant_id: str, consumer_id: str | None, params: dict[str, str]) -> dict[str, Any]:
    async with opened_state(load_config(config_path)) as (state, store):
        if await store.get_tenant(tenant_id) is None:
            raise ConfigError(f"no tenant with the id {tenant_id!r}")
        if consumer_id is not None and await store.get_consumer(tenant_id, consumer_id) is None:
            raise ConfigError(f"tenant {tenant_id} has no consumer {consumer_id!r}")
        query = parse_query(params, only_consumer=consumer_id)
        return await run_query(state.for_plugin("analytics").values(tenant_id), query)
