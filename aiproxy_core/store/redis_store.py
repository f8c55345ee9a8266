"""The shared store: Redis (one server or a Redis Cluster), so several gateway processes serve
the same tenants. The keys are listed in :mod:`.redis_layout`: all in one hash slot.

Every write that touches more than one key, or checks before it writes, is a Lua script: Redis
runs a script atomically, so two processes can never both claim one subdomain, and a reader
never sees a tenant without its index entries. On a cluster each script runs unchanged, on the
master of the store's slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from ..config.schema import RedisConfig
from ..errors import Conflict, NotFound
from ..models import ApiKey, Consumer, Rule, Tenant
from .base import Store, dump
from .events import ChangeEvent
from .redis_client import redis_client
from .redis_layout import StoreKeys
from .redis_upgrade import move_legacy_keys

logger = logging.getLogger("aiproxy.store")

_Record = TypeVar("_Record", Tenant, Rule, ApiKey, Consumer)

# KEYS: tenants, names, subdomains. ARGV: id, name key, subdomain, doc.
_CREATE_TENANT = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'tenant_exists' end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return 'tenant_name_taken' end
if redis.call('HEXISTS', KEYS[3], ARGV[3]) == 1 then return 'subdomain_taken' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[1])
return 'ok'
"""

# KEYS: tenants, names, subdomains. ARGV: id, old doc, old name key, old subdomain, name key,
# subdomain, doc. The caller derives the old index entries from the old doc in Python (Lua's
# string.lower is ASCII-only); 'retry' means the doc changed since, so they may be stale.
_UPDATE_TENANT = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 'tenant_not_found' end
if current ~= ARGV[2] then return 'retry' end
local owner = redis.call('HGET', KEYS[2], ARGV[5])
if owner and owner ~= ARGV[1] then return 'tenant_name_taken' end
owner = redis.call('HGET', KEYS[3], ARGV[6])
if owner and owner ~= ARGV[1] then return 'subdomain_taken' end
redis.call('HDEL', KEYS[2], ARGV[3])
redis.call('HDEL', KEYS[3], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[5], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[6], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[7])
return 'ok'
"""

# KEYS: tenants, names, subdomains, rules of the tenant, tenant_keys of the tenant, keys,
# consumers of the tenant. ARGV: id, old doc, old name key, old subdomain.
_DELETE_TENANT = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 'tenant_not_found' end
if current ~= ARGV[2] then return 'retry' end
for _, key_hash in ipairs(redis.call('HVALS', KEYS[5])) do
  redis.call('HDEL', KEYS[6], key_hash)
end
redis.call('DEL', KEYS[4], KEYS[5], KEYS[7])
redis.call('HDEL', KEYS[2], ARGV[3])
redis.call('HDEL', KEYS[3], ARGV[4])
redis.call('HDEL', KEYS[1], ARGV[1])
return 'ok'
"""

# KEYS: tenants, rules of the tenant. ARGV: tenant id, rule id, doc.
_PUT_RULE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 'tenant_not_found' end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 'ok'
"""

# KEYS: tenants, keys, tenant_keys of the tenant. ARGV: tenant id, key id, hash, doc.
_CREATE_KEY = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 'tenant_not_found' end
if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 1 then return 'hash_exists' end
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 then return 'id_exists' end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
return 'ok'
"""

# KEYS: keys, tenant_keys of the tenant. ARGV: key id, hash, doc. The id must still map to the
# same hash, so an update racing a tenant delete cannot bring the key back.
_UPDATE_KEY = """
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 'key_not_found' end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 'ok'
"""

# KEYS: tenants, consumers of the tenant. ARGV: tenant id, consumer id, doc.
_PUT_CONSUMER = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 'tenant_not_found' end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 'ok'
"""

# KEYS: consumers of the tenant, tenant_keys of the tenant, keys. ARGV: consumer id.
# Returns the hashes of the consumer's keys it deleted, or false when there was no consumer.
_DELETE_CONSUMER = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return false end
local removed = {}
local pairs_ = redis.call('HGETALL', KEYS[2])
for i = 1, #pairs_, 2 do
  local key_id, key_hash = pairs_[i], pairs_[i + 1]
  local doc = redis.call('HGET', KEYS[3], key_hash)
  if doc and cjson.decode(doc)['consumer_id'] == ARGV[1] then
    redis.call('HDEL', KEYS[3], key_hash)
    redis.call('HDEL', KEYS[2], key_id)
    table.insert(removed, key_hash)
  end
end
return removed
"""

_MAX_ATTEMPTS = 20  # compare-and-set retries; only concurrent writes to one tenant cause any


def _name_key(name: str) -> str:
    """Tenant names are unique ignoring case; casefold also equates e.g. 'ß' and 'SS'."""
    return name.casefold()


def _oldest_first(records: list[_Record]) -> list[_Record]:
    # Hashes have no order; the id breaks ties so both backends list equal timestamps alike.
    return sorted(records, key=lambda r: (r.created_at.timestamp(), r.id))


class RedisStore(Store):
    """Tenants, rules and keys in Redis, with changes fanned out over pub/sub."""

    def __init__(self, config: RedisConfig) -> None:
        super().__init__()
        self.config = config
        # Tells this store's own messages apart when pub/sub echoes them back.
        self._origin = uuid.uuid4().hex
        self.redis: Redis = redis_client(config, client_name=f"aiproxy-{self._origin}")
        self.key_names = keys = StoreKeys(config.prefix)
        self._tenants = keys.tenants
        self._names = keys.names
        self._subdomains = keys.subdomains
        self._keys = keys.keys
        self._channel = keys.channel
        self._create_tenant = self.redis.register_script(_CREATE_TENANT)
        self._update_tenant = self.redis.register_script(_UPDATE_TENANT)
        self._delete_tenant = self.redis.register_script(_DELETE_TENANT)
        self._put_rule = self.redis.register_script(_PUT_RULE)
        self._create_key = self.redis.register_script(_CREATE_KEY)
        self._put_consumer = self.redis.register_script(_PUT_CONSUMER)
        self._delete_consumer = self.redis.register_script(_DELETE_CONSUMER)
        self._update_key = self.redis.register_script(_UPDATE_KEY)
        self._pubsub: PubSub | None = None
        self._listener_task: asyncio.Task[None] | None = None

    @property
    def description(self) -> str:
        c = self.config
        if c.cluster:
            return f"Redis Cluster via {c.host}:{c.port} prefix {c.prefix}"
        return f"Redis {c.host}:{c.port} db {c.db} prefix {c.prefix}"

    def _rules(self, tenant_id: str) -> str:
        return self.key_names.rules(tenant_id)

    def _tenant_keys(self, tenant_id: str) -> str:
        return self.key_names.tenant_keys(tenant_id)

    # -- lifecycle ------------------------------------------------------------------------------
    async def open(self) -> None:
        where = f"{self.config.host}:{self.config.port}"
        try:
            if self.config.cluster:
                # Learn the cluster's nodes and slots now: a lazy client that gets concurrent
                # first commands initializes once per command, closing connections under the
                # others, and then retries them, so a script could run twice (redis-py #3935).
                await self.redis.initialize()
            else:
                # Only a single server can hold the old layout (clusters were refused before it).
                await move_legacy_keys(self.redis, self.key_names)
            await self.redis.ping()
            # Subscribed before open() returns, so no write made after it can go unheard.
            self._pubsub = await self._subscribe()
        except (RedisError, OSError) as exc:
            what = "the Redis Cluster node" if self.config.cluster else "Redis"
            raise ConnectionError(f"cannot reach {what} at {where} (db {self.config.db}): {exc}") from exc
        self._listener_task = asyncio.create_task(self._listen(), name=f"aiproxy store events {where}")

    async def ping(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        if self._listener_task is not None:
            self._listener_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener_task
            self._listener_task = None
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None
        await self.redis.aclose()

    async def _subscribe(self) -> PubSub:
        """A pub/sub connection whose subscription the server has confirmed.

        On a cluster it is one connection to the master of the channel's slot: a classic PUBLISH
        reaches the subscribers on every node, so one subscription hears every process.
        """
        pubsub = self.redis.pubsub()
        try:
            await pubsub.subscribe(self._channel)
            while True:
                message = await pubsub.get_message(timeout=5.0)
                if message is None:
                    raise TimeoutError(f"no confirmation of SUBSCRIBE {self._channel}")
                if message["type"] == "subscribe":
                    return pubsub
        except BaseException:
            await pubsub.aclose()
            raise

    async def _listen(self) -> None:
        """Hand other processes' events to the listeners, for as long as the store is open.

        A subscription that was lost, even briefly, may have missed events, so each new
        subscription is followed by a ``reset`` that makes listeners drop what they cached. That
        covers redis-py's own silent reconnect too: it resubscribes, and the server confirms the
        subscription again.
        """
        delay = 0.1
        while True:
            try:
                if self._pubsub is None:
                    self._pubsub = await self._subscribe()
                    logger.info("resubscribed to %s; telling listeners to drop their caches", self._channel)
                    self._notify(ChangeEvent("reset"))
                delay = 0.1
                async for message in self._pubsub.listen():
                    if message["type"] == "subscribe":
                        logger.info("Redis reconnected %s; telling listeners to drop their caches", self._channel)
                        self._notify(ChangeEvent("reset"))
                    elif message["type"] == "message":
                        self._receive(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost, server restarting, ...: retry forever
                logger.warning("lost the subscription to %s (%s); retrying in %.1fs", self._channel, exc, delay)
            if self._pubsub is not None:
                with contextlib.suppress(Exception):
                    await self._pubsub.aclose()
                self._pubsub = None
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # Cancelled (the store is closing) while redis-py was reconnecting: it can turn the
                # CancelledError into a connection error, which the retry above took for an outage;
                # retrying forever would leave close() waiting (seen after a Redis restart).
                raise asyncio.CancelledError
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _receive(self, data: str) -> None:
        try:
            event, origin = ChangeEvent.decode_with_origin(data)
        except (ValueError, TypeError):
            logger.warning("ignoring a malformed message on %s: %r", self._channel, data)
            return
        if origin != self._origin:  # our own writes were announced locally already
            self._notify(event)

    async def publish(self, event: ChangeEvent) -> None:
        self._notify(event)
        try:
            await self.redis.publish(self._channel, event.encode(origin=self._origin))
        except RedisError:
            # The write itself is done and must not be reported as failed. Other processes only
            # miss this event if Redis went away, and then they resubscribe and reset anyway.
            logger.exception("could not publish %s on %s", event, self._channel)

    # -- tenants ---------------------------------------------------------------------------------
    def _tenant_conflict(self, code: str, tenant: Tenant) -> Conflict:
        if code == "tenant_name_taken":
            return Conflict(f"name {tenant.name!r} is already used by another tenant (names ignore case)", code=code)
        if code == "subdomain_taken":
            return Conflict(f"subdomain {tenant.subdomain!r} is already used by another tenant", code=code)
        return Conflict(f"a tenant with id {tenant.id!r} already exists", code=code)

    async def create_tenant(self, tenant: Tenant) -> None:
        code = await self._create_tenant(
            keys=[self._tenants, self._names, self._subdomains],
            args=[tenant.id, _name_key(tenant.name), tenant.subdomain, dump(tenant)],
        )
        if code != "ok":
            raise self._tenant_conflict(code, tenant)
        await self.publish(ChangeEvent("tenant", tenant_id=tenant.id))

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        doc = await self.redis.hget(self._tenants, tenant_id)
        return Tenant.model_validate_json(doc) if doc else None

    async def get_tenant_by_subdomain(self, subdomain: str) -> Tenant | None:
        # Host names are case-insensitive; stored subdomains are lowercase by the model's pattern.
        subdomain = subdomain.lower()
        tenant_id = await self.redis.hget(self._subdomains, subdomain)
        tenant = await self.get_tenant(str(tenant_id)) if tenant_id else None
        # Two reads, so the subdomain may have moved in between: answer only with a match.
        return tenant if tenant and tenant.subdomain == subdomain else None

    async def list_tenants(self) -> list[Tenant]:
        docs = await self.redis.hvals(self._tenants)
        return _oldest_first([Tenant.model_validate_json(doc) for doc in docs])

    async def update_tenant(self, tenant: Tenant) -> None:
        for _ in range(_MAX_ATTEMPTS):
            old_doc = await self.redis.hget(self._tenants, tenant.id)
            if old_doc is None:
                break
            old = Tenant.model_validate_json(old_doc)
            code = await self._update_tenant(
                keys=[self._tenants, self._names, self._subdomains],
                args=[
                    tenant.id,
                    old_doc,
                    _name_key(old.name),
                    old.subdomain,
                    _name_key(tenant.name),
                    tenant.subdomain,
                    dump(tenant),
                ],
            )
            if code == "ok":
                await self.publish(ChangeEvent("tenant", tenant_id=tenant.id))
                return
            if code == "tenant_not_found":
                break
            if code != "retry":
                raise self._tenant_conflict(code, tenant)
        else:
            raise RuntimeError(f"tenant {tenant.id!r} kept changing during update; try again")
        raise NotFound(f"tenant {tenant.id!r} does not exist", code="tenant_not_found")

    async def delete_tenant(self, tenant_id: str) -> bool:
        for _ in range(_MAX_ATTEMPTS):
            old_doc = await self.redis.hget(self._tenants, tenant_id)
            if old_doc is None:
                return False
            old = Tenant.model_validate_json(old_doc)
            code = await self._delete_tenant(
                keys=[
                    self._tenants,
                    self._names,
                    self._subdomains,
                    self._rules(tenant_id),
                    self._tenant_keys(tenant_id),
                    self._keys,
                    self._consumers(tenant_id),
                ],
                args=[tenant_id, old_doc, _name_key(old.name), old.subdomain],
            )
            if code == "tenant_not_found":
                return False
            if code == "ok":
                await self.publish(ChangeEvent("tenant", tenant_id=tenant_id))
                # Caches hold the tenant's keys by hash, which no tenant event names: drop them all.
                await self.publish(ChangeEvent("reset"))
                return True
        raise RuntimeError(f"tenant {tenant_id!r} kept changing during delete; try again")

    # -- rules -----------------------------------------------------------------------------------
    async def put_rule(self, rule: Rule) -> None:
        # A script, so a rule cannot land just after its tenant's delete and outlive it.
        code = await self._put_rule(
            keys=[self._tenants, self._rules(rule.tenant_id)], args=[rule.tenant_id, rule.id, dump(rule)]
        )
        if code != "ok":
            raise NotFound(f"tenant {rule.tenant_id!r} does not exist", code="tenant_not_found")
        await self.publish(ChangeEvent("rule", tenant_id=rule.tenant_id))

    async def get_rule(self, tenant_id: str, rule_id: str) -> Rule | None:
        doc = await self.redis.hget(self._rules(tenant_id), rule_id)
        return Rule.model_validate_json(doc) if doc else None

    async def list_rules(self, tenant_id: str) -> list[Rule]:
        docs = await self.redis.hvals(self._rules(tenant_id))
        return _oldest_first([Rule.model_validate_json(doc) for doc in docs])

    async def delete_rule(self, tenant_id: str, rule_id: str) -> bool:
        deleted = await self.redis.hdel(self._rules(tenant_id), rule_id) > 0
        if deleted:
            await self.publish(ChangeEvent("rule", tenant_id=tenant_id))
        return deleted

    # -- keys ------------------------------------------------------------------------------------
    async def create_key(self, key: ApiKey) -> None:
        code = await self._create_key(
            keys=[self._tenants, self._keys, self._tenant_keys(key.tenant_id)],
            args=[key.tenant_id, key.id, key.hash, dump(key)],
        )
        if code == "tenant_not_found":
            raise NotFound(f"tenant {key.tenant_id!r} does not exist", code="tenant_not_found")
        if code == "hash_exists":
            raise Conflict("an API key with this hash already exists", code="key_exists")
        if code == "id_exists":
            raise Conflict(f"an API key with id {key.id!r} already exists", code="key_exists")
        await self.publish(ChangeEvent("key", tenant_id=key.tenant_id, key_hash=key.hash))

    async def find_key(self, key_hash: str) -> ApiKey | None:
        doc = await self.redis.hget(self._keys, key_hash)
        return ApiKey.model_validate_json(doc) if doc else None

    async def get_key(self, tenant_id: str, key_id: str) -> ApiKey | None:
        key_hash = await self.redis.hget(self._tenant_keys(tenant_id), key_id)
        key = await self.find_key(str(key_hash)) if key_hash else None
        return key if key and key.tenant_id == tenant_id and key.id == key_id else None

    async def list_keys(self, tenant_id: str, consumer_id: str | None = None) -> list[ApiKey]:
        hashes = await self.redis.hvals(self._tenant_keys(tenant_id))
        docs = await self.redis.hmget(self._keys, hashes) if hashes else []
        # A doc may be gone if the tenant was deleted between the two reads.
        keys = [ApiKey.model_validate_json(doc) for doc in docs if doc]
        if consumer_id is not None:
            keys = [k for k in keys if k.consumer_id == consumer_id]
        return _oldest_first(keys)

    async def update_key(self, key: ApiKey) -> None:
        code = await self._update_key(
            keys=[self._keys, self._tenant_keys(key.tenant_id)], args=[key.id, key.hash, dump(key)]
        )
        if code != "ok":
            raise NotFound(f"tenant {key.tenant_id!r} has no API key {key.id!r} with this hash", code="key_not_found")
        await self.publish(ChangeEvent("key", tenant_id=key.tenant_id, key_hash=key.hash))

    # -- consumers -------------------------------------------------------------------------------
    def _consumers(self, tenant_id: str) -> str:
        return self.key_names.consumers(tenant_id)

    async def put_consumer(self, consumer: Consumer) -> None:
        code = await self._put_consumer(
            keys=[self._tenants, self._consumers(consumer.tenant_id)],
            args=[consumer.tenant_id, consumer.id, dump(consumer)],
        )
        if code != "ok":
            raise NotFound(f"tenant {consumer.tenant_id!r} does not exist", code="tenant_not_found")
        await self.publish(ChangeEvent("consumer", tenant_id=consumer.tenant_id, consumer_id=consumer.id))

    async def get_consumer(self, tenant_id: str, consumer_id: str) -> Consumer | None:
        doc = await self.redis.hget(self._consumers(tenant_id), consumer_id)
        return Consumer.model_validate_json(doc) if doc else None

    async def list_consumers(self, tenant_id: str) -> list[Consumer]:
        docs = await self.redis.hvals(self._consumers(tenant_id))
        return _oldest_first([Consumer.model_validate_json(doc) for doc in docs])

    async def delete_consumer(self, tenant_id: str, consumer_id: str) -> bool:
        removed = await self._delete_consumer(
            keys=[self._consumers(tenant_id), self._tenant_keys(tenant_id), self._keys], args=[consumer_id]
        )
        if removed is None:
            return False
        await self.publish(ChangeEvent("consumer", tenant_id=tenant_id, consumer_id=consumer_id))
        for key_hash in removed:
            await self.publish(ChangeEvent("key", tenant_id=tenant_id, key_hash=key_hash))
        return True
