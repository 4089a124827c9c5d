"""The webhook endpoints the adapter tests serve with real servers, one per adapter.

Each app routes ``session.completed`` to a plain handler on a router whose secret comes from
``BPCPAY_WEBHOOK_SECRET``; ``BODY_TIMEOUT`` (seconds), when set, is passed to the async
adapters, and left out otherwise (the default a user gets). Served as:

- ``uvicorn _contrib_apps:asgi_app`` (``bpcpay.contrib.asgi``),
- ``gunicorn _contrib_apps:wsgi_app`` (``bpcpay.contrib.wsgi``) and
  ``gunicorn '_contrib_apps:django_app()'`` (``bpcpay.contrib.django``),
- ``python _contrib_apps.py aiohttp`` (``bpcpay.contrib.aiohttp`` on aiohttp's web runner), or
  ``python _contrib_apps.py aiohttp MODULE.py`` for the ``app`` a module (a docs recipe) defines.

The aiohttp runner prints ``listening on http://127.0.0.1:PORT`` on stderr once bound, the way
uvicorn and gunicorn announce theirs, and stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import runpy
import signal
import sys
from typing import Any

from bpcpay.models import Event
from bpcpay.webhooks import WebhookRouter

PATH = "/webhooks/bpc"


def _router() -> WebhookRouter:
    router = WebhookRouter(os.environ["BPCPAY_WEBHOOK_SECRET"])

    @router.on("session.completed")
    def completed(event: Event) -> None:
        pass

    return router


def _timeout() -> dict[str, float]:
    value = os.environ.get("BODY_TIMEOUT")
    return {} if value is None else {"body_timeout": float(value)}


def _asgi() -> Any:
    from bpcpay.contrib.asgi import WebhookASGIApp

    return WebhookASGIApp(_router(), **_timeout())


def _wsgi() -> Any:
    from bpcpay.contrib.wsgi import WebhookWSGIApp

    return WebhookWSGIApp(_router())


def django_app() -> Any:
    """Django's WSGI handler with the recipe's URLs, ``DEBUG`` and ``APPEND_SLASH`` on."""
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=True,
        SECRET_KEY="django-test-only-not-secret",
        ALLOWED_HOSTS=["127.0.0.1"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
        INSTALLED_APPS=[],
        USE_TZ=True,
    )
    django.setup()
    from django.core.wsgi import get_wsgi_application

    from bpcpay.contrib.django import webhook_urls

    globals()["urlpatterns"] = webhook_urls(_router(), path=PATH)
    return get_wsgi_application()


def __getattr__(name: str) -> Any:
    # Built on first use, so importing this module for one server builds no other adapter.
    if name == "asgi_app":
        return _asgi()
    if name == "wsgi_app":
        return _wsgi()
    raise AttributeError(name)


def _aiohttp_app(module: str | None) -> Any:
    if module is not None:
        return runpy.run_path(module, run_name=os.path.splitext(os.path.basename(module))[0])["app"]
    from aiohttp import web

    from bpcpay.contrib.aiohttp import setup_webhooks

    app = web.Application()
    setup_webhooks(app, _router(), path=PATH, **_timeout())
    return app


async def _serve_aiohttp(module: str | None) -> None:
    from aiohttp import web

    runner = web.AppRunner(_aiohttp_app(module), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(f"listening on http://127.0.0.1:{port}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()  # deadline: the test's SIGTERM, then SIGKILL (_contrib_servers.serve)
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    assert sys.argv[1] == "aiohttp", sys.argv
    asyncio.run(_serve_aiohttp(sys.argv[2] if len(sys.argv) > 2 else None))
