"""RedisDeliveryStore and AsyncRedisDeliveryStore: leases in Redis, for a fleet of hosts.

Owns the Redis layout and the Lua scripts, once, as sans-I/O plans; the two classes differ only
in how they perform a plan's effects (redis-py's client or its asyncio client). Imports redis
(``pip install 'bpcpay[redis]'``) when a store is constructed, never at import time.

Layout: one string per key, ``<prefix><key>``. An in-flight claim holds ``f:<token>:<ms>`` (the
lease's end in the store clock's milliseconds) and is taken with ``SET NX PX lease``, so Redis
itself drops a claim whose holder died. ``complete`` and ``release`` are Lua scripts that act
only when the stored token is the caller's; a completed key holds ``d`` and expires after
``retention``. When ``SET NX`` finds the key, a script reads it: done, still in flight (until
when), or lapsed by the store's clock (then it takes it over, atomically).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from ..._exceptions import InvalidArgumentError
from .._effects import Plan, drive, drive_async
from ._base import (
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    DEFAULT_STORE_TIMEOUT,
    AsyncPlanStore,
    Claim,
    PlanStore,
    new_token,
)
from ._pooled import PooledStore

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = ["AsyncRedisDeliveryStore", "RedisDeliveryStore"]

DEFAULT_PREFIX: Final = "bpcpay:webhook:"
DEFAULT_MAX_CONNECTIONS: Final = 8

# KEYS[1] the key; ARGV: new value, now (ms), lease (ms). Returns {"claimed"}, {"done"} or
# {"in_flight", until_ms}.
_TAKEOVER = """
local v = redis.call('GET', KEYS[1])
if v == 'd' then return {'done'} end
if v then
  local until_ms = tonumber(string.match(v, '^f:[^:]*:(%d+)$') or '0')
  if until_ms > tonumber(ARGV[2]) then return {'in_flight', tostring(until_ms)} end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return {'claimed'}
"""
# KEYS[1] the key; ARGV: the owner's value prefix 'f:<token>:', retention (ms).
_COMPLETE = """
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], 'd', 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""
_SCRIPTS: Final = {"takeover": _TAKEOVER, "complete": _COMPLETE, "release": _RELEASE}
T = TypeVar("T")


@attrs.frozen
class _SetNx:
    key: str
    value: str
    px: int


@attrs.frozen
class _Script:
    name: str
    key: str
    args: tuple[str | int, ...]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisPlans:
    """The Redis layout and decisions as plans (effects: ``_SetNx``, ``_Script``)."""

    def __init__(
        self, *, prefix: str, lease: float, retention: float, clock: Callable[[], float]
    ) -> None:
        self.prefix = prefix
        self.lease = lease
        self.retention = retention
        self._clock = clock

    def claim_plan(self, key: str) -> Generator[Any, Any, Claim]:
        """``SET NX PX``; when the key exists, a script reads (or takes over) the claim."""
        now_ms = int(self._clock() * 1000)
        lease_ms = max(1, int(self.lease * 1000))
        token = new_token()
        value = f"f:{token}:{now_ms + lease_ms}"
        name = self.prefix + key
        if (yield _SetNx(name, value, lease_ms)):
            return Claim.claimed(token)
        answer = yield _Script("takeover", name, (value, now_ms, lease_ms))
        status = _text(answer[0])
        if status == "claimed":
            return Claim.claimed(token)
        if status == "done":
            return Claim.done()
        return Claim.in_flight(int(_text(answer[1])) / 1000)

    def complete_plan(self, key: str, token: str) -> Generator[Any, Any, bool]:
        """Mark done (for ``retention``) if the stored token is ``token``'s."""
        retention_ms = max(1, int(self.retention * 1000))
        done = yield _Script("complete", self.prefix + key, (f"f:{token}:", retention_ms))
        return bool(done)

    def release_plan(self, key: str, token: str) -> Generator[Any, Any, bool]:
        """Delete the key if the stored token is ``token``'s."""
        released = yield _Script("release", self.prefix + key, (f"f:{token}:",))
        return bool(released)


class _RedisStore(PooledStore):
    """What both Redis stores share: the options, the plans and the connection settings.

    The arguments are documented on :class:`RedisDeliveryStore`.
    """

    _driver = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        lease: float = DEFAULT_LEASE,
        retention: float = DEFAULT_RETENTION,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        timeout: float = DEFAULT_STORE_TIMEOUT,
        _clock: Callable[[], float] = time.time,
    ) -> None:
        importlib.import_module(self._driver)  # fail at construction, not on a delivery
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise InvalidArgumentError("url", "must be a redis://, rediss:// or unix:// URL")
        if not isinstance(prefix, str):
            raise InvalidArgumentError("prefix", "must be a str")
        self._url = url
        self.prefix = prefix
        super().__init__(
            lease=lease, retention=retention, max_connections=max_connections, timeout=timeout
        )
        self._plans = RedisPlans(
            prefix=prefix,
            lease=self.lease,
            retention=self._retention,
            clock=_clock,
        )
        self._scripts: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} prefix={self.prefix!r} lease={self.lease:g}s>"

    def _pool_options(self) -> dict[str, Any]:
        return {
            "max_connections": self.max_connections,
            "timeout": self.timeout,  # the wait for a free connection
            "socket_timeout": self.timeout,
            "socket_connect_timeout": self.timeout,
            "client_name": self._connection_name,
        }

    def _client_for_process(self, make: Callable[[], Any]) -> Any:
        def open_client() -> Any:
            client = make()
            self._scripts = {n: client.register_script(t) for n, t in _SCRIPTS.items()}
            return client

        return self._pool.get(open_client)


class RedisDeliveryStore(_RedisStore, PlanStore):
    """Leases in Redis, with redis-py's blocking client: for WSGI, Django, and ``handle_sync``.

    Works straight after construction (it connects on first use; there is nothing to create).
    Connections are pooled, at most ``max_connections`` per process, and every call (waiting
    for a connection included) gives up after ``timeout`` seconds.

    Args:
        url: ``redis://[:password@]host:port/db`` (never shown in a repr or an error).
        prefix: put before every key.
        lease: seconds a claim stays in flight; must exceed the slowest handler.
        retention: seconds a done key is remembered.
        max_connections: the pool's bound, per process.
        timeout: seconds for connecting, for each call, and for waiting on the pool.

    Raises:
        InvalidArgumentError: an argument is invalid (the message names it, never the URL).
        ImportError: redis-py is not installed (``pip install 'bpcpay[redis]'``).
    """

    def _redis(self) -> redis.Redis:
        import redis

        def make() -> redis.Redis:
            pool = redis.BlockingConnectionPool.from_url(self._url, **self._pool_options())
            return redis.Redis(connection_pool=pool)

        client: redis.Redis = self._client_for_process(make)
        return client

    def _perform(self, effect: Any) -> Any:
        client = self._redis()
        if isinstance(effect, _SetNx):
            return client.set(effect.key, effect.value, nx=True, px=effect.px)
        return self._scripts[effect.name](keys=[effect.key], args=list(effect.args), client=client)

    def _execute(self, plan: Plan[T]) -> T:
        return drive(plan, self._perform)

    def close(self) -> None:
        """Close this process's connections (they reopen on the next call)."""
        client = self._pool.owned()
        if client is not None:
            client.close()
            client.connection_pool.disconnect()
        self._pool.forget()


class AsyncRedisDeliveryStore(_RedisStore, AsyncPlanStore):
    """Leases in Redis, with redis-py's asyncio client: for aiohttp and ASGI, via ``handle``.

    The same arguments, keys and scripts as :class:`RedisDeliveryStore` (the two can share
    one Redis). The client is created in the event loop of the first call.
    """

    _driver = "redis.asyncio"

    def _redis(self) -> redis.asyncio.Redis:
        import redis.asyncio

        def make() -> redis.asyncio.Redis:
            pool = redis.asyncio.BlockingConnectionPool.from_url(self._url, **self._pool_options())
            return redis.asyncio.Redis(connection_pool=pool)

        client: redis.asyncio.Redis = self._client_for_process(make)
        return client

    async def _perform(self, effect: Any) -> Any:
        client = self._redis()
        if isinstance(effect, _SetNx):
            return await client.set(effect.key, effect.value, nx=True, px=effect.px)
        script = self._scripts[effect.name]
        return await script(keys=[effect.key], args=list(effect.args), client=client)

    async def _execute(self, plan: Plan[T]) -> T:
        return await drive_async(plan, self._perform)

    async def aclose(self) -> None:
        """Close the connections (they reopen on the next call)."""
        client = self._pool.owned()
        if client is not None:
            await client.aclose()
            await client.connection_pool.disconnect()
        self._pool.forget()
