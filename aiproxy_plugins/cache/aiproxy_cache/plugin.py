"""The ``cache`` plugin: answer from the cache in ``pre_request``, store new answers in ``post_response``.

* ``pre_request``: a cacheable chat completion is looked up by its exact key, then (with
  ``semantic: true``) by the embedding of its last user message within its scope. A hit answers
  at once, as JSON or, for ``stream: true``, as server-sent events; ``X-Cache`` says HIT, SEMANTIC
  or MISS on every response.
* ``response_chunk``: rebuilds a streamed answer as it goes out.
* ``post_response``: stores a successful, complete answer (never an error or a cut-off stream),
  off the request path.

Give the entry a priority after authentication, validators and rate limits: a hit skips every
``pre_request`` hook that runs after it. A store that fails (Redis down) is a miss, never an error.

Answers live in the core's state API (:mod:`.storage`): a SQLite file embedded, the gateway's
Redis otherwise. Deleting a tenant drops them with the rest of its state (the core does it).
The entry point names the :class:`Cache` class; the gateway makes one instance, which keeps its
gateway's state namespace (several gateways in one process each get their own).
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from aiproxy_core import BadRequest, GatewayServices, ProxyResponse, RequestContext, hookimpl

from .capture import StreamCapture
from .entries import CachedAnswer, answer_from_body, plain_body
from .keys import request_keys
from .opt_out import permission_of
from .replay import replay_events
from .request_state import STATE_KEY, RequestState
from .semantic import SemanticMatcher
from .settings import CacheSettings
from .storage import CacheStore

__all__ = ["CACHE_HEADER", "Cache"]

logger = logging.getLogger("aiproxy.cache")

CACHE_HEADER = "X-Cache"
#: The plugin's namespace in the state API.
STATE_NAMESPACE = "cache"
#: A failure of a store call makes a lookup a miss and a write a no-op instead of an error. The
#: state API raises its backend's own errors (redis-py's, sqlite3's), which a plugin cannot name
#: without importing them, so any exception of a store call counts; it is logged with its trace.
STORE_ERRORS = (Exception,)


class Cache:
    def __init__(self, matcher: SemanticMatcher | None = None) -> None:
        self._store: CacheStore | None = None
        self._matcher = matcher or SemanticMatcher()
        self._writes: set[asyncio.Future[None]] = set()

    # -- registration ----------------------------------------------------------------------------

    @hookimpl
    def settings_model(self) -> type[CacheSettings]:
        return CacheSettings

    @hookimpl
    def startup(self, services: GatewayServices) -> None:
        self._store = CacheStore(services.state(STATE_NAMESPACE))

    @hookimpl
    async def shutdown(self, services: GatewayServices) -> None:
        await self.idle()
        self._store = None

    @property
    def store(self) -> CacheStore | None:
        """Where answers are kept (the gateway's state); None before ``startup``."""
        return self._store

    async def idle(self) -> None:
        """Wait until every answer already sent has been written (for tests and shutdown)."""
        for _ in range(10):
            await asyncio.sleep(0)  # let just-scheduled post_response tasks reach this plugin
        while self._writes:
            await asyncio.wait(set(self._writes))

    # -- stages ----------------------------------------------------------------------------------

    @hookimpl
    async def pre_request(self, ctx: RequestContext, settings: CacheSettings) -> ProxyResponse | None:
        ctx.response_headers[CACHE_HEADER] = "MISS"
        try:
            body = ctx.request.json
        except BadRequest:
            return None  # not JSON: the upstream answers it, the cache stays out
        request = ctx.request
        keys = request_keys(ctx.rule.id, request.method, request.path, request.query_string, body)
        if keys is None:
            return None
        state = RequestState(keys, permission_of(request.headers.get("cache-control")))
        ctx.state[STATE_KEY] = state
        if not state.permission.lookup:
            return None
        store = self._started()
        tenant = ctx.tenant.id
        try:
            answer = await store.get(tenant, keys.exact)
            if answer is not None:
                return _serve(ctx, state, answer, "HIT")
            if settings.semantic and keys.prompt is not None:
                state.vector = await self._matcher.embed(keys.prompt)
                answer = await self._matcher.find(store, tenant, keys.scope, state.vector, keys.prompt, settings.threshold)
                if answer is not None:
                    return _serve(ctx, state, answer, "SEMANTIC")
        except STORE_ERRORS:
            logger.warning("cache lookup failed for request %s; treated as a miss", ctx.request_id, exc_info=True)
        return None

    @hookimpl
    def response_chunk(self, ctx: RequestContext, chunk: bytes) -> None:
        state: RequestState | None = ctx.state.get(STATE_KEY)
        if state is None or state.hit or state.not_capturing or not state.permission.store:
            return None
        if state.capture is None:
            response = ctx.response
            if response is None or not 200 <= response.status < 300 or not response.is_event_stream:
                state.not_capturing = True
                return None
            state.capture = StreamCapture()
        state.capture.feed(chunk)
        return None

    @hookimpl
    async def post_response(self, ctx: RequestContext, settings: CacheSettings) -> None:
        state: RequestState | None = ctx.state.get(STATE_KEY)
        if state is None or state.hit or not state.permission.store or self._store is None:
            return None
        answer = _complete_answer(ctx, state)
        if answer is None:
            return None
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writes.add(done)
        try:
            await self._write(ctx.tenant.id, state, answer, settings)
        finally:
            self._writes.discard(done)
            done.set_result(None)

    async def _write(self, tenant: str, state: RequestState, answer: CachedAnswer, settings: CacheSettings) -> None:
        store = self._store
        if store is None:
            return  # the gateway is stopping
        keys = state.keys
        try:
            await store.put(tenant, keys.exact, answer, settings.ttl)
            if settings.semantic and keys.prompt is not None:
                vector = state.vector if state.vector is not None else await self._matcher.embed(keys.prompt)
                await store.add_vector(tenant, keys.scope, keys.exact, vector, settings.ttl, settings.max_semantic_entries)
        except STORE_ERRORS:
            logger.warning("could not store a cached answer", exc_info=True)

    def _started(self) -> CacheStore:
        if self._store is None:
            raise RuntimeError("the cache plugin has no store: the gateway did not call its startup hook")
        return self._store


def _serve(ctx: RequestContext, state: RequestState, answer: CachedAnswer, how: str) -> ProxyResponse:
    state.hit = True
    ctx.response_headers[CACHE_HEADER] = how
    # For metering plugins: a cached answer used no upstream tokens.
    ctx.annotations["cache"] = how.lower()
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    if state.keys.streamed:
        return ProxyResponse(
            200,
            {"content-type": "text/event-stream", "cache-control": "no-cache"},
            stream=replay_events(answer, completion_id),
        )
    return ProxyResponse.from_json(plain_body(answer, completion_id))


def _complete_answer(ctx: RequestContext, state: RequestState) -> CachedAnswer | None:
    """The answer the client got, if it was a success and complete; None otherwise."""
    response = ctx.response
    if response is None or not 200 <= response.status < 300:
        return None
    if response.body is not None:
        try:
            body = response.json
        except ValueError:
            return None
        return answer_from_body(body, state.keys.prompt)
    if state.capture is None or ctx.annotations.get("client_disconnected"):
        return None
    return state.capture.answer(state.keys.prompt)
