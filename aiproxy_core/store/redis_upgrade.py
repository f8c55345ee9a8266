"""Moving a single server's store from the old, untagged key names to :mod:`.redis_layout`.

Runs at every :meth:`RedisStore.open` on one server and costs one EXISTS when there is nothing to
move. The move is one Lua script (RENAMEs), so it is all-or-nothing, and several new processes
starting at once move it exactly once. A gateway of the old version must not run beside the
new one: it would keep writing the old names, which the new one never reads; the next open logs
an error naming the keys if it finds both layouts.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .redis_layout import GLOBAL_KEYS, StoreKeys, legacy_names

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger("aiproxy.store")

# KEYS: the old tenants hash, then (old, new) pairs. ARGV: how many tenants the caller saw.
# 'retry': a tenant was created or deleted since the caller listed them.
_MOVE = """
if redis.call('HLEN', KEYS[1]) ~= tonumber(ARGV[1]) then return 'retry' end
for i = 2, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i + 1]) == 1 then return 'both' end
end
for i = 2, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('RENAME', KEYS[i], KEYS[i + 1]) end
end
return 'ok'
"""

_ATTEMPTS = 20


async def move_legacy_keys(redis: "Redis", keys: StoreKeys) -> int:
    """Rename the old layout's keys to the new names; how many tenants were moved (0: nothing to do)."""
    old = legacy_names(keys.prefix)
    old_globals = [old + name for name in GLOBAL_KEYS]
    if not await redis.exists(*old_globals):
        return 0
    for _ in range(_ATTEMPTS):
        tenant_ids = [str(tenant_id) for tenant_id in await redis.hkeys(old + "tenants")]  # decode_responses
        pairs = keys.renames(tenant_ids)
        code = await redis.eval(_MOVE, 1 + 2 * len(pairs), old + "tenants", *[name for pair in pairs for name in pair], len(tenant_ids))
        if code == "ok":
            logger.warning("moved the store of %d tenants to the key layout of this version (%s*)", len(tenant_ids), keys.base)
            return len(tenant_ids)
        if code == "both":
            logger.error(
                "Redis holds the store under the old key names (%s) and the new ones (%s*): a gateway of an older"
                " version is still writing the old ones, and this one does not read them; stop it, then restart",
                ", ".join(old_globals), keys.base,
            )  # fmt: skip
            return 0
    raise RuntimeError("tenants kept being created or deleted while the store's keys were being moved; try again")
