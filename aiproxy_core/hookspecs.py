"""Every hook a plugin can implement, each documented in ``docs/plugin_hooks.md``.

Two kinds:

* **Stage hooks** (``pre_request``, ``post_request``, ``pre_response``, ``post_response`` and the
  per-chunk ``response_chunk``) run for the chain entries of the rule a request matched, in the
  entries' ``priority`` order, by the gateway's own chain executor (pluggy's call loop knows
  neither per-rule order nor asyncio). They may be ``def`` or ``async def``.
* **Registration hooks** (``settings_model``, ``config_model``, ``startup``, ``shutdown``, ``tenant_deleted``,
  ``check_references``, ``metric_readings``, ``admin_routes``, ``portal_routes``, ``admin_openapi``, ``tenant_openapi``,
  ``cli_commands``) are called once per plugin (per saved entry for ``check_references``, per chain entry of a rule for
  ``tenant_openapi``), as described below.

Hooks take keyword arguments; an implementation names only those it needs, so a hook can grow an
argument later without breaking old plugins. Every stage hook gets ``ctx`` (the request),
``settings`` (the chain entry's validated settings) and ``entry`` (an
:class:`~aiproxy_core.EntryRef`: which entry of the chain this is; key per-request state of the
entry by ``entry.index``, since one plugin may appear several times in a chain).

Registration hooks are called through one argument filler (``plugins/hook_calls.py``):
``startup``, ``shutdown``, ``tenant_deleted``, ``check_references``, ``metric_readings`` and
``tenant_openapi`` may be ``def`` or ``async def``; ``settings_model``, ``config_model``,
``admin_routes``, ``portal_routes``, ``admin_openapi`` and ``cli_commands`` must be plain ``def`` (an ``async def`` one
is refused when called, naming the plugin).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import argparse

    from pydantic import BaseModel
    from starlette.routing import BaseRoute

    from .chain.entry_ref import EntryRef
    from .context import ProxyResponse, RequestContext
    from .models import Rule, Tenant
    from .services import GatewayServices

PROJECT = "aiproxy"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: The hooks the chain executor runs, in the order a request meets them.
STAGE_HOOKS = ("pre_request", "post_request", "pre_response", "post_response")
#: The per-chunk hook; it runs with the ``pre_response`` stage of an entry.
CHUNK_HOOK = "response_chunk"


# -- stage hooks --------------------------------------------------------------------------------


@hookspec
def pre_request(ctx: "RequestContext", settings: Any, entry: "EntryRef") -> "ProxyResponse | None":
    """Before the upstream call: check, change or answer the request.

    ``ctx.request`` may be changed (headers, ``ctx.request.json`` then ``set_json``). Return a
    :class:`~aiproxy_core.ProxyResponse` (or raise a :class:`~aiproxy_core.errors.GatewayError`)
    to answer the request without calling the upstream; later ``pre_request`` hooks and the
    upstream are then skipped, while ``pre_response`` and ``post_response`` still run.
    """


@hookspec
def post_request(ctx: "RequestContext", settings: Any, entry: "EntryRef") -> "ProxyResponse | None":
    """After the upstream answered, before anything is sent to the client.

    ``ctx.response`` holds status and headers; its ``body`` is there for a plain response and
    None for a streamed one (see ``response_chunk``). Return a ``ProxyResponse`` to replace it.
    """


@hookspec
def pre_response(ctx: "RequestContext", settings: Any, entry: "EntryRef") -> "ProxyResponse | None":
    """Just before the response goes out: the last chance to change status, headers or body.

    Runs for upstream answers and for answers given by a ``pre_request`` hook.
    """


@hookspec
def response_chunk(ctx: "RequestContext", settings: Any, chunk: bytes, entry: "EntryRef") -> "bytes | None":
    """For a streamed response, once per chunk before it is sent; return new bytes or None.

    For ``text/event-stream`` each chunk is whole server-sent events (ending in a blank line).
    Runs with the ``pre_response`` stage of the chain entry. Return ``b""`` to drop a chunk.
    """


@hookspec
def post_response(ctx: "RequestContext", settings: Any, entry: "EntryRef") -> None:
    """After the client has the whole response; never delays it.

    For metering, logging and settlement. ``ctx.response`` is what was sent (``body`` None when
    it was streamed; ``ctx.response.streamed_bytes`` counts it). Errors are logged and counted.
    """


# -- registration hooks -------------------------------------------------------------------------


@hookspec
def settings_model() -> "type[BaseModel] | None":
    """The pydantic model that validates this plugin's ``settings`` in a chain entry.

    Settings are validated when a tenant or rule is saved (422 naming plugin and field), and the
    stage hooks receive the validated model instance as ``settings``.
    """


@hookspec
def config_model() -> "type[BaseModel] | None":
    """The pydantic model that validates this plugin's section of ``config.yaml``: ``plugins.<name>``.

    For process-wide options an operator sets once per deployment (where a worker runs, a model
    path), as opposed to ``settings``, which tenants set per chain entry. The gateway validates the
    section when it starts (an error names the key and stops it) and passes the model instance to
    ``startup`` and ``shutdown`` as ``config``: the model's defaults when the file has no section.
    """


@hookspec
def startup(services: "GatewayServices", config: "BaseModel | None") -> Any:
    """Once per gateway process before it serves: open connections, load models, start tasks.

    May return an awaitable. ``services`` gives the store, the Redis client (None when
    embedded), the config and a directory for the plugin's files; ``config`` is this plugin's
    validated ``plugins.<name>`` section (None without a ``config_model``).
    """


@hookspec
def shutdown(services: "GatewayServices", config: "BaseModel | None") -> Any:
    """Once per gateway process when it stops; may return an awaitable."""


@hookspec
def tenant_deleted(tenant_id: str, services: "GatewayServices", config: "BaseModel | None") -> Any:
    """A tenant was deleted through the Admin API: remove what the plugin keeps for it.

    Called once (on the gateway process that deleted it) after the core removed the tenant, its
    rules, keys and consumers. May return an awaitable. Errors are logged; the tenant stays deleted.
    """


@hookspec
def check_references(tenant_id: str, settings: Any, services: "GatewayServices", config: "BaseModel | None") -> Any:
    """When a chain entry of this plugin is saved: which stored ids its settings name that the tenant lacks.

    Called by the Admin API for each entry of a rule's ``plugin_chain`` or a tenant's
    ``required_plugins`` being created or replaced, after ``settings`` (the validated model) passed
    ``settings_model``. Return ``{field: message}`` for each setting naming an id ``tenant_id`` does
    not have (``{"knowledge_base": "tenant tnt_1 has no knowledge base 'kb_...'"}``; ``field`` is
    dotted, relative to ``settings``), or None / ``{}`` when all exist. The save is refused with 422
    ``reference_not_found`` naming ``<entry>.settings.<field>``. Look the id up in this tenant only,
    and word the message so it does not tell whether the id exists elsewhere. May return an
    awaitable. Raising a ``GatewayError`` answers with it; any other exception is logged and
    answered 503 ``plugin_unavailable`` (nothing is saved).
    """


@hookspec
def admin_routes(services: "GatewayServices") -> "list[BaseRoute] | None":
    """Starlette routes to add to the Admin API (e.g. ``/api/v1/tenants/{tenant_id}/plans``)."""


@hookspec
def portal_routes(services: "GatewayServices") -> "list[BaseRoute] | None":
    """Starlette routes to add to the tenant's developer portal, under ``/-/portal/api/``.

    Return :class:`aiproxy_core.PortalSection` routes for sections the page shows (a heading and
    the endpoint's JSON) and plain ``Route``s for other endpoints. Authenticate the consumer with
    ``await aiproxy_core.portal_consumer(request)``; read only that consumer's data of that tenant.
    """


@hookspec
def admin_openapi(services: "GatewayServices") -> "dict[str, Any] | None":
    """OpenAPI path items for the routes this plugin's ``admin_routes`` added: ``{path: {method: operation}}``.

    Merged into ``GET /api/v1/openapi.json`` for those routes only. A pydantic model class may
    stand wherever a schema goes (``{"schema": MyBody}``); the core puts its JSON Schema in
    ``components.schemas``. The core fills in ``operationId``, path parameters, security and its
    standard error responses where the item leaves them out; a route left undescribed still
    appears with its path and methods. Plain ``def``.
    """


@hookspec
def tenant_openapi(tenant: "Tenant", rule: "Rule", settings: Any, services: "GatewayServices") -> Any:
    """What this plugin adds to a tenant's ``GET /-/openapi.json`` for a rule whose chain has it.

    Called once per chain entry (``settings`` validated) each time the document is built; ``def``
    or ``async def``. Return ``{"responses": {"429": response object}, "headers": {name: header
    object}, "extensions": {"x-...": value}}`` (each part optional): the responses are added to
    each operation of the rule, the headers to every response of those operations, the extensions
    to the document's root. The document is public: never put a setting's value, a target or a
    secret in it. A hook that raises or takes over 5 s is logged and left out.
    """


@hookspec
def metric_readings(services: "GatewayServices", config: "BaseModel | None") -> Any:
    """Values to add to ``GET /metrics`` when it is scraped: a list of
    :class:`aiproxy_core.MetricReading` (``def`` or ``async def``).

    For state a plugin shares across processes (a queue's backlog, a pool's size), read from the
    store so every worker reports the same; count per-request events in ``post_response`` into
    the state API and report the total here. A hook that raises, or a reading that breaks
    Prometheus's naming rules, is logged and left out: the scrape still answers.
    """


@hookspec
def cli_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add subcommands to the ``aiproxy`` command (e.g. ``aiproxy billing-worker``).

    Call ``commands.add_parser(...)`` and ``set_defaults(func=handler)``; the handler gets the
    parsed arguments and returns an exit code. Give it a ``--config`` option and read it with
    :func:`aiproxy_core.load_config` so it finds the same store as ``aiproxy serve``.
    """
