"""RedisDeliveryStore and AsyncRedisDeliveryStore: leases in Redis, for a fleet of hosts.

Owns the Redis layout and the Lua scripts, once, as sans-I/O plans; the two classes differ only
in how they perform a plan's effects (redis-py's client or its asyncio client). Imports redis
(``pip install 'bpcpay[redis]'``) when a store is constructed, never at import time.

Layout: one string per key, ``<prefix><key>``. An in-flight claim holds ``f:<token>`` and
expires with its lease (``PX``), so Redis itself drops the claim of a holder that died, on its
own clock; a renewal moves that expiry (``PEXPIRE``). A completed key holds ``d`` and expires
after ``retention``. Each operation is one Lua script, atomic: ``claim`` takes a free key or
reads what holds it (done, or in flight with its ``PTTL`` and the server's ``TIME``),
``complete`` marks the key done unless another token holds it, ``release`` and ``renew`` act
only for the caller's token. No time of the caller's is ever sent: leases live on Redis's clock.

Redis must persist (an append-only file): a restart without one forgets every event it
recorded, and each would run again. The store asks ``CONFIG GET appendonly`` on first use and
logs a warning when it is off; managed services that refuse ``CONFIG`` are not asked twice.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Generator
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from ..._exceptions import InvalidArgumentError
from ..._log import library_logger
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

logger = library_logger("webhooks")

DEFAULT_PREFIX: Final = "bpcpay:webhook:"
DEFAULT_MAX_CONNECTIONS: Final = 8

# KEYS[1] the key; ARGV: the claim's value 'f:<token>', lease (ms). Returns {"claimed"},
# {"done"} or {"in_flight", pttl_ms, time_s, time_us}.
_CLAIM = """
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {'claimed'}
end
if v == 'd' then return {'done'} end
local now = redis.call('TIME')
return {'in_flight', redis.call('PTTL', KEYS[1]), now[1], now[2]}
"""
# KEYS[1] the key; ARGV: the owner's value 'f:<token>', lease (ms).
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
# KEYS[1] the key; ARGV: the owner's value, retention (ms). A key that expired meanwhile (the
# lease lapsed and nobody took it) is the owner's to complete.
_COMPLETE = """
local v = redis.call('GET', KEYS[1])
if not v or v == ARGV[1] then
  redis.call('SET', KEYS[1], 'd', 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""
_SCRIPTS: Final = {
    "claim": _CLAIM,
    "renew": _RENEW,
    "complete": _COMPLETE,
    "release": _RELEASE,
}
T = TypeVar("T")


@attrs.frozen
class _Script:
    name: str
    key: str
    args: tuple[str | int, ...]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisPlans:
    """The Redis layout and decisions as plans (one effect: ``_Script``)."""

    def __init__(self, *, prefix: str, lease: float, retention: float) -> None:
        self.prefix = prefix
        self.lease = lease
        self.retention = retention

    def claim_plan(self, key: str) -> Generator[Any, Any, Claim]:
        """Take the key when it is free; else say what holds it, on Redis's clock."""
        token = new_token()
        answer = yield _Script("claim", self.prefix + key, (f"f:{token}", _ms(self.lease)))
        status = _text(answer[0])
        if status == "claimed":
            return Claim.claimed(token)
        if status == "done":
            return Claim.done()
        pttl, seconds, micros = (int(_text(part)) for part in answer[1:4])
        remaining = max(pttl, 0) / 1000  # -2: expired between GET and PTTL
        return Claim.in_flight(seconds + micros / 1e6 + remaining, remaining)

    def renew_plan(self, key: str, token: str) -> Generator[Any, Any, bool]:
        """Move the lease's expiry to ``lease`` from now, if the key is ``token``'s."""
        renewed = yield _Script("renew", self.prefix + key, (f"f:{token}", _ms(self.lease)))
        return bool(renewed)

    def complete_plan(self, key: str, token: str) -> Generator[Any, Any, bool]:
        """Mark done (for ``retention``) unless another token holds the key."""
        args = (f"f:{token}", _ms(self.retention))
        done = yield _Script("complete", self.prefix + key, args)
        return bool(done)

    def release_plan(self, key: str, token: str) -> Generator[Any, Any, bool]:
        """Delete the key if it is ``token``'s."""
        released = yield _Script("release", self.prefix + key, (f"f:{token}",))
        return bool(released)


def _warn_unless_persistent(answer: Any) -> None:
    """Warn when ``CONFIG GET appendonly`` says the server keeps no append-only file."""
    values = {_text(k): _text(v) for k, v in dict(answer or {}).items()}
    if values.get("appendonly") == "no":
        logger.warning(
            "webhook store: this Redis runs with appendonly no: a restart forgets every "
            "delivery it recorded, and each event would be handled again. Make it persist "
            "(appendonly yes; see docs/webhooks-deploying.md)"
        )


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
    ) -> None:
        importlib.import_module(self._driver)  # fail at construction, not on a delivery
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise InvalidArgumentError("url", "must be a redis://, rediss:// or unix:// URL")
        if not isinstance(prefix, str):
            raise InvalidArgumentError("prefix", "must be a str")
        self._url = url
        self.prefix = prefix
        super().__init__(
            where=url,
            lease=lease,
            retention=retention,
            max_connections=max_connections,
            timeout=timeout,
        )
        self._plans = RedisPlans(prefix=prefix, lease=self.lease, retention=self._retention)
        self._persistence_checked = False

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

    def _connect(self, client: Any) -> tuple[Any, dict[str, Any]]:
        """The client and its scripts (redis-py loads each by SHA, and again after a restart)."""
        return client, {name: client.register_script(text) for name, text in _SCRIPTS.items()}

    def _persistence_unchecked(self) -> bool:
        # Once per store: asked on first use, never in the constructor (which does no I/O).
        first = not self._persistence_checked
        self._persistence_checked = True
        return first


class RedisDeliveryStore(_RedisStore, PlanStore):
    """Leases in Redis, with redis-py's blocking client: for WSGI, Django, and ``handle_sync``.

    Works straight after construction (it connects on first use; there is nothing to create).
    Connections are pooled, at most ``max_connections`` per process, and every call (waiting
    for a connection included) gives up after ``timeout`` seconds. The Redis must persist (an
    append-only file): the first use checks, and logs a warning when it does not.

    Args:
        url: ``redis://[:password@]host:port/db`` (never shown in a repr or an error).
        prefix: put before every key.
        lease: seconds a claim stays in flight unless its holder renews it (the router renews
            it at a third of the lease while the handlers run).
        retention: seconds a done key is remembered.
        max_connections: the pool's bound, per process.
        timeout: seconds for connecting, for each call, and for waiting on the pool.

    Raises:
        InvalidArgumentError: an argument is invalid (the message names it, never the URL).
        ImportError: redis-py is not installed (``pip install 'bpcpay[redis]'``).
    """

    def _redis(self) -> tuple[redis.Redis, dict[str, Any]]:
        import redis

        def make() -> tuple[redis.Redis, dict[str, Any]]:
            pool = redis.BlockingConnectionPool.from_url(self._url, **self._pool_options())
            return self._connect(redis.Redis(connection_pool=pool))

        connected: tuple[redis.Redis, dict[str, Any]] = self._pool.get(make)
        return connected

    def _execute(self, plan: Plan[T]) -> T:
        client, scripts = self._redis()
        if self._persistence_unchecked():
            try:
                _warn_unless_persistent(client.config_get("appendonly"))
            except Exception as exc:  # CONFIG refused (managed Redis), or any other reason
                logger.debug("webhook store: CONFIG GET appendonly failed: %r", type(exc))

        def perform(effect: _Script) -> Any:
            return scripts[effect.name](keys=[effect.key], args=list(effect.args), client=client)

        return drive(plan, perform)

    def close(self) -> None:
        """Close this process's connections (they reopen on the next call)."""
        connected = self._pool.owned()
        if connected is not None:
            client = connected[0]
            client.close()
            client.connection_pool.disconnect()
        self._pool.forget()


class AsyncRedisDeliveryStore(_RedisStore, AsyncPlanStore):
    """Leases in Redis, with redis-py's asyncio client: for aiohttp and ASGI, via ``handle``.

    The same arguments, keys and scripts as :class:`RedisDeliveryStore` (the two can share
    one Redis). It works from any event loop: each loop gets its own connections (at most
    ``max_connections``), opened on its first call and closed when the loop shuts down.
    """

    _driver = "redis.asyncio"

    async def _redis(self) -> tuple[redis.asyncio.Redis, dict[str, Any]]:
        import redis.asyncio

        async def make() -> tuple[redis.asyncio.Redis, dict[str, Any]]:
            pool = redis.asyncio.BlockingConnectionPool.from_url(self._url, **self._pool_options())
            return self._connect(redis.asyncio.Redis(connection_pool=pool))

        connected: tuple[redis.asyncio.Redis, dict[str, Any]] = await self._loops.get(
            make, _close_async_client
        )
        return connected

    async def _execute(self, plan: Plan[T]) -> T:
        client, scripts = await self._redis()
        if self._persistence_unchecked():
            try:
                _warn_unless_persistent(await client.config_get("appendonly"))
            except Exception as exc:  # CONFIG refused (managed Redis), or any other reason
                logger.debug("webhook store: CONFIG GET appendonly failed: %r", type(exc))

        def perform(effect: _Script) -> Awaitable[Any]:
            script = scripts[effect.name]
            result: Awaitable[Any] = script(
                keys=[effect.key], args=list(effect.args), client=client
            )
            return result

        return await drive_async(plan, perform)

    async def aclose(self) -> None:
        """Close the running loop's connections (they reopen on the next call)."""
        await self._loops.close()


async def _close_async_client(connected: tuple[Any, dict[str, Any]]) -> None:
    client = connected[0]
    await client.aclose()
    await client.connection_pool.disconnect()
