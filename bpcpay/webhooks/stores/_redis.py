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

import os
import threading
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Final

import attrs

from ..._exceptions import InvalidArgumentError
from .._effects import drive, drive_async
from ._base import (
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    DEFAULT_STORE_TIMEOUT,
    Claim,
    check_positive_int,
    check_seconds,
    new_token,
)

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


class _RedisLogic:
    """What both Redis stores share: options, layout and the plans."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        lease: float,
        retention: float,
        max_connections: int,
        timeout: float,
        clock: Callable[[], float],
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            # The message never shows the URL: it may hold a password.
            raise InvalidArgumentError("url", "must be a redis://, rediss:// or unix:// URL")
        if not isinstance(prefix, str):
            raise InvalidArgumentError("prefix", "must be a str")
        self._url = url
        self.prefix = prefix
        self.lease = check_seconds("lease", lease)
        self.retention = check_seconds("retention", retention)
        self.max_connections = check_positive_int("max_connections", max_connections)
        self.timeout = check_seconds("timeout", timeout)
        self._clock = clock
        self._client: Any = None
        self._client_name = "bpcpay-webhooks"  # shown by CLIENT LIST
        self._scripts: dict[str, Any] = {}
        self._pid = 0
        self._setup_lock = threading.Lock()  # one pool per process, however many threads

    def __repr__(self) -> str:
        return f"<{type(self).__name__} prefix={self.prefix!r} lease={self.lease:g}s>"

    def _pool_options(self) -> dict[str, Any]:
        return {
            "max_connections": self.max_connections,
            "timeout": self.timeout,  # the wait for a free connection
            "socket_timeout": self.timeout,
            "socket_connect_timeout": self.timeout,
            "client_name": self._client_name,
        }

    def _bind(self, client: Any) -> Any:
        self._client, self._pid = client, os.getpid()
        self._scripts = {name: client.register_script(text) for name, text in _SCRIPTS.items()}
        return client

    def _stale(self) -> bool:
        return self._client is None or self._pid != os.getpid()

    def _claim_plan(self, key: str) -> Generator[Any, Any, Claim]:
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

    def _complete_plan(self, key: str, token: str) -> Generator[Any, Any, bool]:
        retention_ms = max(1, int(self.retention * 1000))
        done = yield _Script("complete", self.prefix + key, (f"f:{token}:", retention_ms))
        return bool(done)

    def _release_plan(self, key: str, token: str) -> Generator[Any, Any, bool]:
        released = yield _Script("release", self.prefix + key, (f"f:{token}:",))
        return bool(released)


class RedisDeliveryStore(_RedisLogic):
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
        InvalidArgumentError: an argument is invalid (the message names it).
        ImportError: redis-py is not installed (``pip install 'bpcpay[redis]'``).
    """

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
        import redis  # noqa: F401 - fail at construction, not on the first delivery

        super().__init__(
            url, prefix=prefix, lease=lease, retention=retention,
            max_connections=max_connections, timeout=timeout, clock=_clock,
        )  # fmt: skip

    def _redis(self) -> redis.Redis:
        if self._stale():
            import redis

            with self._setup_lock:
                if self._stale():
                    pool = redis.BlockingConnectionPool.from_url(self._url, **self._pool_options())
                    self._bind(redis.Redis(connection_pool=pool))
        client: redis.Redis = self._client
        return client

    def _perform(self, effect: Any) -> Any:
        client = self._redis()
        if isinstance(effect, _SetNx):
            return client.set(effect.key, effect.value, nx=True, px=effect.px)
        return self._scripts[effect.name](keys=[effect.key], args=list(effect.args), client=client)

    def claim(self, key: str) -> Claim:
        """Claim ``key``: ``claimed`` (with a token), ``done``, or ``in_flight`` (until when)."""
        return drive(self._claim_plan(key), self._perform)

    def complete(self, key: str, token: str) -> bool:
        """Mark ``key`` done if ``token`` still owns it."""
        return drive(self._complete_plan(key, token), self._perform)

    def release(self, key: str, token: str) -> bool:
        """Forget ``key`` if ``token`` still owns it."""
        return drive(self._release_plan(key, token), self._perform)

    def close(self) -> None:
        """Close this process's connections (they reopen on the next call)."""
        if not self._stale():
            self._client.close()
            self._client.connection_pool.disconnect()
        self._client = None


class AsyncRedisDeliveryStore(_RedisLogic):
    """Leases in Redis, with redis-py's asyncio client: for aiohttp and ASGI, via ``handle``.

    The same keys and scripts as :class:`RedisDeliveryStore` (the two can share one Redis).
    The client is created in the event loop of the first call.

    Args:
        url: ``redis://[:password@]host:port/db`` (never shown in a repr or an error).
        prefix: put before every key.
        lease: seconds a claim stays in flight; must exceed the slowest handler.
        retention: seconds a done key is remembered.
        max_connections: the pool's bound, per process.
        timeout: seconds for connecting, for each call, and for waiting on the pool.

    Raises:
        InvalidArgumentError: an argument is invalid (the message names it).
        ImportError: redis-py is not installed (``pip install 'bpcpay[redis]'``).
    """

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
        import redis.asyncio  # noqa: F401 - fail at construction, not on the first delivery

        super().__init__(
            url, prefix=prefix, lease=lease, retention=retention,
            max_connections=max_connections, timeout=timeout, clock=_clock,
        )  # fmt: skip

    def _redis(self) -> redis.asyncio.Redis:
        if self._stale():
            import redis.asyncio

            pool = redis.asyncio.BlockingConnectionPool.from_url(self._url, **self._pool_options())
            self._bind(redis.asyncio.Redis(connection_pool=pool))
        client: redis.asyncio.Redis = self._client
        return client

    async def _perform(self, effect: Any) -> Any:
        client = self._redis()
        if isinstance(effect, _SetNx):
            return await client.set(effect.key, effect.value, nx=True, px=effect.px)
        script = self._scripts[effect.name]
        return await script(keys=[effect.key], args=list(effect.args), client=client)

    async def claim(self, key: str) -> Claim:
        """Claim ``key``: ``claimed`` (with a token), ``done``, or ``in_flight`` (until when)."""
        return await drive_async(self._claim_plan(key), self._perform)

    async def complete(self, key: str, token: str) -> bool:
        """Mark ``key`` done if ``token`` still owns it."""
        return await drive_async(self._complete_plan(key, token), self._perform)

    async def release(self, key: str, token: str) -> bool:
        """Forget ``key`` if ``token`` still owns it."""
        return await drive_async(self._release_plan(key, token), self._perform)

    async def aclose(self) -> None:
        """Close the connections (they reopen on the next call)."""
        if not self._stale():
            await self._client.aclose()
            await self._client.connection_pool.disconnect()
        self._client = None
