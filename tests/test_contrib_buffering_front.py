"""The buffering front of docs/webhooks-deploying.md ("Slow bodies"), run as printed: a real
nginx with the page's config in front of gunicorn's sync workers, serving the WSGI and the Django
adapters. Stalled slow-body senders, more of them than workers, block gunicorn when they reach
it directly (the failure, shown first); through nginx a real delivery is still answered 200
(issue 18, item 7).

The config is read from the page, and only its two addresses are replaced (nginx's ``listen``
and the upstream gunicorn), so the page and the test cannot drift. nginx is Debian's package
(``.ci/install-servers``); without it the test skips locally and fails under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _contrib_servers import (
    Stalled,
    deliver,
    gunicorn,
    read_answer,
    request_head,
    serve,
    signed_headers,
)
from _servers import free_port, require_binary, stop, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "webhooks-deploying.md"
SECRET = "whsec_buffering_front_not_real"
PATH = "/webhooks/bpc"
WORKERS = 2
STALLED = 8  # four times the workers

APPS = {"wsgi": "_contrib_apps:wsgi_app", "django": "_contrib_apps:django_app()"}


def docs_config() -> str:
    """The nginx config the page's "Slow bodies" section prints."""
    text = PAGE.read_text(encoding="utf-8")
    section = text.split("\n## Slow bodies: a buffering front\n", 1)[1].split("\n## ", 1)[0]
    (config,) = re.findall(r"^```nginx\n(.*?)^```", section, re.S | re.M)
    return str(config)


def event(session_id: str) -> bytes:
    obj = {"id": session_id, "amount": 1000, "currency": "EUR", "status": "complete"}
    body = {"created": "2026-03-28T08:30:00Z", "type": "session.completed", "data": {"object": obj}}
    return json.dumps(body).encode()


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the page's config no longer has exactly one {old!r}"
    return text.replace(old, new)


@contextlib.contextmanager
def nginx_in_front(upstream_port: int, workdir: Path) -> Iterator[int]:
    """nginx with the page's config, forwarding to ``upstream_port``; yields its port."""
    binary = require_binary("nginx", "nginx", ["/usr/sbin"])
    site = replace_once(
        docs_config(), "server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"
    )
    temp = {name: workdir / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for _ in range(3):
        port = free_port()
        conf = workdir / "nginx.conf"
        conf.write_text(
            "\n".join(
                [
                    "daemon off;",
                    "worker_processes 1;",
                    # The workers may only read the test's private directories as the master's
                    # own user (nginx drops root to 'nobody' otherwise).
                    "user root;" if os.geteuid() == 0 else "",
                    f"pid {workdir / 'nginx.pid'};",
                    f"error_log {workdir / 'error.log'} warn;",
                    "events { worker_connections 256; }",
                    "http {",
                    "access_log off;",
                    *(f"{name}_temp_path {path};" for name, path in temp.items()),
                    replace_once(site, "listen 80;", f"listen 127.0.0.1:{port};"),
                    "}",
                ]
            ),
            encoding="utf-8",
        )
        process = subprocess.Popen(
            [binary, "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "error.log")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # its log is error.log
        )
        try:
            if wait_for_port(port, process, time.monotonic() + 15):
                yield port
                return
        finally:
            stop(process, 15)  # SIGTERM: nginx's fast shutdown
        # The port was taken between free_port() and nginx's bind: try another.
    log = (
        (workdir / "error.log").read_text(errors="replace")
        if (workdir / "error.log").exists()
        else ""
    )
    pytest.fail(f"nginx did not start:\n{log}", pytrace=False)


def answered_within(port: int, body: bytes, seconds: float) -> tuple[int, str] | None:
    """A signed delivery's (status, text), or None when no answer came within ``seconds``."""
    raw = request_head(PATH, signed_headers(body, SECRET), length=len(body)) + body
    with socket.create_connection(("127.0.0.1", port), 5) as sock:
        sock.sendall(raw)
        try:
            status, answer = read_answer(sock, time.monotonic() + seconds)
        except TimeoutError:
            return None
    return status, answer.partition(b"\r\n\r\n")[2].decode()


@pytest.mark.parametrize("adapter", sorted(APPS))
def test_nginx_in_front_of_sync_workers_answers_while_senders_stall(
    adapter: str, tmp_path: Path
) -> None:
    env = {"BPCPAY_WEBHOOK_SECRET": SECRET}
    command = gunicorn(APPS[adapter], "--workers", str(WORKERS), "--timeout", "30")
    with serve(command, env=env) as server:
        # Wait for both workers to be up: a delivery now is answered.
        assert deliver(server.port, PATH, event("ps_warm"), SECRET) == (200, "handled\n")

        # The failure: as many stalled senders as workers, straight to gunicorn, and a real
        # delivery gets no answer (until gunicorn's --timeout kills the workers).
        with Stalled(server.port, PATH, count=WORKERS, declared=1024 * 1024, sent=16 * 1024):
            time.sleep(0.3)  # the workers take the stalled connections first
            assert answered_within(server.port, event("ps_direct"), 2.0) is None

        with nginx_in_front(server.port, tmp_path) as front:
            with Stalled(front, PATH, count=STALLED, declared=1024 * 1024, sent=16 * 1024):
                time.sleep(0.3)
                for n in range(3):
                    answer = answered_within(front, event(f"ps_fronted{n}"), 5.0)
                    assert answer == (200, "handled\n"), server.text()
            # nginx refuses a body over the router's cap itself (the page's client_max_body_size).
            big = request_head(PATH, {}, length=1024 * 1024 + 1)
            with socket.create_connection(("127.0.0.1", front), 5) as sock:
                sock.sendall(big)
                assert read_answer(sock, time.monotonic() + 5)[0] == 413


def test_the_page_prints_one_nginx_config_with_request_buffering_on() -> None:
    config = docs_config()
    assert "proxy_request_buffering on;" in config
    assert "client_max_body_size 1m;" in config
