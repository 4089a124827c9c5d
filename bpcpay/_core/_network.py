"""The network options as pure rules: which proxy a URL goes through (``HTTP_PROXY``,
``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``), the check of a proxy URL, and the check of a
call's ``extra_headers``.

Pure: no I/O (the environment is read by the caller, ``bpcpay/_async/_network.py``, and handed
in as a mapping), no aiohttp. Imports the error tree, the constants and :class:`Secret`.

Why bpcpay reads the proxy variables itself instead of turning on aiohttp's ``trust_env``:

* ``NO_PROXY`` as requests, httpx and curl read it: aiohttp asks ``urllib.request.proxy_bypass``
  about the host alone, so an entry ``host:port`` never matches, and it knows no networks
  (``10.0.0.0/8``), which requests honours;
* ``trust_env`` also reads ``~/.netrc`` and would add its password to the gateway's requests as
  an ``Authorization`` header: a credential bpcpay never asked for, sent to the payment gateway;
* aiohttp reads the environment (and ``.netrc``) again on every request, in a worker thread; the
  gateway's URL is fixed per client, so bpcpay decides once, when the client is made.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from .._constants import API_KEY_HEADER, VERSION_HEADER
from .._exceptions import InvalidArgumentError
from .._secret import REDACTED, Secret

__all__ = [
    "MAX_EXTRA_HEADERS",
    "MAX_HEADER_VALUE",
    "ProxyURL",
    "bypasses_proxy",
    "check_extra_headers",
    "check_proxy_url",
    "choose_proxy",
    "with_extra_headers",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}

# --- NO_PROXY ------------------------------------------------------------------------------------


def _split_entry(entry: str) -> tuple[str, int | None] | None:
    """``(name, port)`` of one NO_PROXY entry (port None when it names none); None for junk.

    Forms: ``name``, ``name:port``, ``1.2.3.4``, ``1.2.3.4:port``, ``::1`` (bare IPv6, no
    port), ``[::1]``, ``[::1]:port``, and networks ``10.0.0.0/8``, ``fd00::/8``.
    """
    port_text: str | None = None
    if entry.startswith("["):
        name, _, rest = entry[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                return None
            port_text = rest[1:]
    elif entry.count(":") == 1:
        name, port_text = entry.split(":")
    else:
        name = entry  # a name, an IPv4 address or network, or a bare IPv6 address or network
    if port_text is None:
        return name, None
    if not port_text.isdigit():
        return None
    return name, int(port_text)


def bypasses_proxy(no_proxy: str, host: str, port: int) -> bool:
    """Whether ``NO_PROXY`` (its value, ``no_proxy``) exempts ``host:port`` from the proxy.

    The entries are separated by commas, white space around them is ignored, and case never
    matters. An entry matches:

    * ``*``: every host;
    * a name (``example.com``, ``.example.com`` or ``*.example.com``): that host and its
      subdomains, on a label boundary (``example.com`` never matches ``badexample.com``);
    * an IP address (IPv6 with or without brackets): that address;
    * a network (``10.0.0.0/8``, ``fd00::/8``): every address in it (names are never resolved);
    * any of these with ``:port``: only that port.

    Args:
        no_proxy: the variable's value.
        host: the URL's host (an IPv6 address with or without its brackets).
        port: the URL's port (the scheme's default when the URL names none).

    Returns:
        True when the request must go straight to the host.
    """
    host = host.strip("[]").rstrip(".").lower()
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if entry == "*":
            return True
        split = _split_entry(entry) if entry else None
        if split is None:
            continue
        name, entry_port = split
        if entry_port is not None and entry_port != port:
            continue
        if "/" in name:
            try:
                network = ipaddress.ip_network(name, strict=False)
            except ValueError:
                continue
            if address is not None and address.version == network.version and address in network:
                return True
            continue
        if address is not None:
            try:
                if ipaddress.ip_address(name) == address:
                    return True
            except ValueError:
                pass
            continue
        name = name.lstrip("*").lstrip(".").rstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def choose_proxy(url: str, proxies: Mapping[str, str]) -> tuple[Secret[str], str] | None:
    """The proxy a request to ``url`` goes through, by the URL's scheme and ``NO_PROXY``.

    Args:
        url: the request's URL (the client's base URL: every call goes to its host).
        proxies: the environment's proxies by scheme, as ``urllib.request.getproxies()``
            gives them (``"http"``, ``"https"``, ``"all"``, ``"no"``; a lowercase variable wins).

    Returns:
        ``(the proxy URL as set, held in a Secret: it may hold a password; the variable it
        came from)``, or None for a direct connection.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    variable = f"{scheme.upper()}_PROXY"
    proxy = proxies.get(scheme)
    if not proxy:
        variable, proxy = "ALL_PROXY", proxies.get("all")
    if not proxy:
        return None
    port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    if bypasses_proxy(proxies.get("no", ""), parts.hostname or "", port):
        return None
    return Secret(proxy), variable


# --- the proxy URL ---------------------------------------------------------------------------


class ProxyURL:
    """A checked proxy URL: where to connect, and the credentials apart.

    Attributes:
        url: ``http://host:port``, without credentials: what messages and reprs show.
        authorization: the ``Proxy-Authorization`` header's value (Basic), held in a Secret,
            or None when the URL has no credentials.
    """

    __slots__ = ("authorization", "url")

    def __init__(self, url: str, authorization: Secret[str] | None) -> None:
        self.url = url
        self.authorization = authorization

    def __repr__(self) -> str:
        shown = "" if self.authorization is None else f" with credentials {REDACTED}"
        return f"<ProxyURL {self.url}{shown}>"


def _shown(value: str) -> str:
    """``value`` for a message: its credentials, if any, replaced by ``[redacted]``."""
    scheme, sep, rest = value.partition("://")
    if not sep:
        return "[redacted]" if "@" in value else value
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = REDACTED + "@" + authority.rpartition("@")[2]
    return f"{scheme}://{authority}{slash}{tail}"


def check_proxy_url(argument: str, value: object) -> ProxyURL:
    """An ``http://[user:password@]host[:port]`` proxy URL, plain or held in a Secret.

    bpcpay speaks to the proxy in plain HTTP, as nearly every corporate proxy is reached; an
    HTTPS call still goes through it end to end encrypted, in a CONNECT tunnel. The
    credentials, percent-decoded, become a Basic ``Proxy-Authorization`` header; no message
    shows them.

    Args:
        argument: ``"proxy"``, or the environment variable the value came from.
        value: the URL (a Secret of one: the error then leaves from a frame that holds it in
            its Secret only; the parsing frame, which holds it plain, has returned).

    Returns:
        The URL without credentials, and the header apart.

    Raises:
        InvalidArgumentError: naming ``argument``; never showing the credentials.
    """
    checked = _parse_proxy(value.reveal() if isinstance(value, Secret) else value)
    if isinstance(checked, str):
        raise InvalidArgumentError(argument, checked)
    return checked


def _parse_proxy(value: object) -> ProxyURL | str:
    """The checked proxy URL, or what is wrong with it (never showing its credentials)."""
    if not isinstance(value, str) or not value.strip():
        return f"must be a URL such as 'http://proxy.corp:3128', got {type(value).__name__}"
    shown = _shown(value)
    try:
        parts = urlsplit(value.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return f"is not a valid URL (check its port): {shown!r}"
    scheme = parts.scheme.lower()
    if scheme in ("socks4", "socks4a", "socks5", "socks5h", "https"):
        return (
            f"{scheme}:// proxies are not supported by the session bpcpay opens (it speaks "
            f"http:// to the proxy, which still carries HTTPS end to end); give an http:// "
            f"proxy, or lend your own aiohttp.ClientSession (session=) set up for it; got "
            f"{shown!r}"
        )
    if scheme != "http":
        return f"must be an http:// URL such as 'http://proxy.corp:3128', got {shown!r}"
    if not host:
        return f"must name a host, got {shown!r}"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"must be the proxy's address alone, without a path, got {shown!r}"
    where = f"[{host}]" if ":" in host else host
    authorization = None
    if parts.username is not None or parts.password is not None:
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        authorization = Secret("Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii"))
    return ProxyURL(f"http://{where}:{port or 80}", authorization)


# --- extra_headers ---------------------------------------------------------------------------

#: The most extra headers one call may carry, and the longest value.
MAX_EXTRA_HEADERS = 64
MAX_HEADER_VALUE = 8192

#: Headers a call's extras may not set, lower case, with why. The key and the version are the
#: client's (``api_version=`` sets the version); the body's type and what a server reads to
#: tell where a request ends belong to the body bpcpay writes: a second value could split one
#: request into two on the way (request smuggling).
_OWNED = {
    API_KEY_HEADER.lower(): f"{API_KEY_HEADER} is the client's own (api_key=); never set per call",
    VERSION_HEADER.lower(): f"{VERSION_HEADER} is set by the client's api_version=",
    "content-type": "Content-Type is set by bpcpay: the body is always JSON",
    "accept": "Accept is set by bpcpay: it reads JSON answers only",
    "content-length": "Content-Length is set for the body bpcpay writes",
    "transfer-encoding": "Transfer-Encoding is set for the body bpcpay writes",
    "content-encoding": "Content-Encoding is set for the body bpcpay writes",
    "host": "Host is the base URL's",
    "connection": "Connection is managed by the connection pool",
    "keep-alive": "Keep-Alive is managed by the connection pool",
    "upgrade": "Upgrade is managed by the connection pool",
    "te": "TE is managed by the connection pool",
    "trailer": "Trailer is managed by the connection pool",
    "proxy-authorization": "Proxy-Authorization comes from the proxy URL's credentials",
    "proxy-connection": "Proxy-Connection is managed by the connection pool",
}
#: RFC 9110 token characters: a header name.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: What a value may not hold: control characters but tab (CR and LF would start a new header).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def check_extra_headers(value: object) -> dict[str, str]:
    """A call's ``extra_headers``: a mapping of header names to values, both ``str``.

    Any header may be added, and ``User-Agent`` replaced; those bpcpay sets itself and that
    must not change (the API key in any case, the version, the body's type and framing, the
    connection's) are refused.

    Args:
        value: the caller's mapping.

    Returns:
        A copy, as given.

    Raises:
        InvalidArgumentError: naming ``extra_headers``; a value is never shown.
    """
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(
            "extra_headers", f"must be a mapping of str to str, got {type(value).__name__}"
        )
    if len(value) > MAX_EXTRA_HEADERS:
        raise InvalidArgumentError(
            "extra_headers", f"may hold at most {MAX_EXTRA_HEADERS} headers, got {len(value)}"
        )
    seen: set[str] = set()
    for name, item in value.items():
        if not isinstance(name, str) or not isinstance(item, str):
            raise InvalidArgumentError(
                "extra_headers",
                f"must map str to str; the header {name!r} maps {type(name).__name__} to "
                f"{type(item).__name__}",
            )
        if not _TOKEN.fullmatch(name):
            raise InvalidArgumentError(
                "extra_headers", f"{name!r} is not a valid header name (letters, digits, -)"
            )
        lowered = name.lower()
        if lowered in _OWNED:
            raise InvalidArgumentError("extra_headers", f"{_OWNED[lowered]} ({name!r} given)")
        if lowered in seen:
            raise InvalidArgumentError(
                "extra_headers", f"{name!r} is given twice (header names ignore case)"
            )
        seen.add(lowered)
        if "\r" in item or "\n" in item:
            raise InvalidArgumentError("extra_headers", f"the value of {name!r} holds a line break")
        if _CONTROL.search(item):
            raise InvalidArgumentError(
                "extra_headers", f"the value of {name!r} holds a control character"
            )
        if len(item) > MAX_HEADER_VALUE:
            raise InvalidArgumentError(
                "extra_headers",
                f"the value of {name!r} is longer than {MAX_HEADER_VALUE} characters",
            )
    return dict(value)


def with_extra_headers(headers: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """``headers`` (the client's own) with a call's extra headers, checked already by
    :func:`check_extra_headers`, merged in; a header given in another case replaces the
    client's (``user-agent`` its ``User-Agent``). Raises nothing: its frame, which holds the
    client's headers (the key among them), is never in an error's traceback."""
    replaced = {name.lower() for name in extra}
    merged = {name: value for name, value in headers.items() if name.lower() not in replaced}
    merged.update(extra)
    return merged
