"""The network settings of the session bpcpay opens: the proxy (``proxy=`` or the environment)
and the TLS context (``ssl=``, ``client_cert=``, ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``).

The client builds one :class:`Network` when it is made, so a missing file, a wrong password or
a bad proxy variable is an :class:`~bpcpay.InvalidArgumentError` before anything is sent, and
the transport (``_transport.py``) only reads it when it opens its session. The rules that need
no I/O (which proxy, ``NO_PROXY``, the proxy URL's check) are in ``bpcpay/_core/_network.py``.

Imports no aiohttp: the transport hands these settings to aiohttp.
"""

from __future__ import annotations

import functools
import os
import ssl
import urllib.request
from typing import TYPE_CHECKING, Union

from .._core._network import ProxyURL, check_proxy_url, choose_proxy
from .._exceptions import InvalidArgumentError
from .._secret import Secret, hold
from .._types import NotGiven

if TYPE_CHECKING:
    from typing import TypeAlias

__all__ = ["ClientCert", "Network", "hold_client_cert", "network_settings"]

#: A path, as ``str`` or ``os.PathLike``.
StrPath: TypeAlias = Union[str, "os.PathLike[str]"]
#: ``client_cert=``: a PEM file holding the certificate and its key, ``(cert, key)``, or
#: ``(cert, key, password)`` for an encrypted key.
ClientCert: TypeAlias = (
    StrPath | tuple[StrPath, StrPath] | tuple[StrPath, StrPath, str | Secret[str]]
)

#: The CA variables as they were when bpcpay's clients were first imported, right after
#: aiohttp: aiohttp builds its verifying context when it is imported, which reads them then.
_CA_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")
_CA_AT_IMPORT = tuple(os.environ.get(name) for name in _CA_VARIABLES)


class Network:
    """What the session bpcpay opens connects through; fixed for the client's life.

    Attributes:
        proxy: the proxy's URL without credentials, or None for direct connections.
        proxy_headers: ``Proxy-Authorization`` for the proxy, or None (never in the repr).
        proxy_source: where the proxy came from: ``"proxy="`` or the variable's name.
        ssl: the TLS context, or None for aiohttp's default verifying context.
        has_client_cert: True when ``ssl`` holds a client certificate (``client_cert=``).
    """

    __slots__ = ("has_client_cert", "proxy", "proxy_headers", "proxy_source", "ssl")

    def __init__(
        self,
        *,
        proxy: ProxyURL | None = None,
        proxy_source: str | None = None,
        ssl: ssl.SSLContext | None = None,
        has_client_cert: bool = False,
    ) -> None:
        self.proxy = None if proxy is None else proxy.url
        # The one place the proxy's credentials are revealed: the header aiohttp sends to it,
        # held in an attribute (never a local of a frame an error leaves through).
        self.proxy_headers = (
            None
            if proxy is None or proxy.authorization is None
            else {"Proxy-Authorization": proxy.authorization.reveal()}
        )
        self.proxy_source = proxy_source
        self.ssl = ssl
        self.has_client_cert = has_client_cert

    def __repr__(self) -> str:
        return f"<Network {self.describe() or 'direct'}>"

    def describe(self) -> str:
        """``"through the proxy http://host:port (from HTTPS_PROXY)"``, or ``""`` when direct."""
        if self.proxy is None:
            return ""
        return f"through the proxy {self.proxy} (from {self.proxy_source})"


def hold_client_cert(value: ClientCert | None) -> ClientCert | None:
    """``client_cert`` with its key's password, if any, held in a Secret.

    The constructors call it first thing (the sync one too: ``scripts/gen_sync.py`` copies the
    line), so no frame an error leaves through holds the plain password.
    """
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[2], str):
        return (value[0], value[1], Secret(value[2]))
    return value


def _path(argument: str, value: object, what: str) -> str:
    """An existing path, as ``str``."""
    if not isinstance(value, (str, os.PathLike)) or isinstance(value, bytes):
        raise InvalidArgumentError(argument, f"must be {what}, got {type(value).__name__}")
    path = os.fspath(value)
    if not isinstance(path, str) or not path:
        raise InvalidArgumentError(argument, f"must be {what}, got {path!r}")
    if not os.path.exists(path):
        raise InvalidArgumentError(argument, f"{path!r}: no such file or directory")
    return path


@functools.lru_cache(maxsize=8)
def _default_context(ca_file: str | None, ca_dir: str | None) -> ssl.SSLContext:
    """A verifying context with the default CAs as ``SSL_CERT_FILE``/``SSL_CERT_DIR`` say now.

    Loading the system's CAs takes tens of milliseconds: built once per distinct pair of
    values (OpenSSL reads the variables while loading). Never changed after it is built.
    """
    return ssl.create_default_context()


def _ca_context(value: object) -> ssl.SSLContext:
    """The context of ``ssl=`` given as a path: only that CA bundle (file) or ``capath``
    directory is trusted, as with requests' and httpx's ``verify=``."""
    path = _path("ssl", value, "an ssl.SSLContext, or the path of a CA bundle or directory")
    try:
        if os.path.isdir(path):
            return ssl.create_default_context(capath=path)
        return ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise InvalidArgumentError(
            "ssl", f"could not load the CA certificates of {path!r}: {exc}"
        ) from None


def _load_client_cert(context: ssl.SSLContext, value: object) -> None:
    """Load ``client_cert`` into ``context`` (a context bpcpay made, never the caller's)."""
    what = "the path of a PEM file holding the certificate and its key, or (cert, key)"
    # Held in its Secret, read only inside the callback OpenSSL calls: a failure below leaves
    # through this frame, whose locals error trackers read.
    password: Secret[str] | None = None
    if isinstance(value, tuple):
        if len(value) not in (2, 3):
            raise InvalidArgumentError(
                "client_cert",
                f"must be a (cert, key) pair or (cert, key, password), got {len(value)} items",
            )
        cert = _path("client_cert", value[0], what)
        key: str | None = _path("client_cert", value[1], what)
        if len(value) == 3:
            password = hold(value[2])
            if not (isinstance(password, Secret) and isinstance(password.reveal(), str)):
                raise InvalidArgumentError(
                    "client_cert",
                    f"the key's password must be a str, got {type(value[2]).__name__}",
                )
    else:
        cert, key = _path("client_cert", value, what), None
    if os.path.isdir(cert) or (key is not None and os.path.isdir(key)):
        raise InvalidArgumentError("client_cert", f"must be {what}, got a directory")
    try:
        # The password is given as a callable: OpenSSL then never asks on the terminal for an
        # encrypted key given without one, and a wrong one is an error here.
        context.load_cert_chain(
            cert, key, password=lambda: password.reveal().encode() if password else b""
        )
    except ssl.SSLError as exc:
        # OpenSSL says "PEM lib" both for a wrong password and for a file without a key: the
        # file itself tells which.
        if _encrypted(key or cert):
            problem = (
                "the key is encrypted and its password is missing or wrong: give "
                "(cert, key, password)"
            )
        else:
            problem = f"could not load the certificate and its key ({exc})"
        raise InvalidArgumentError("client_cert", problem) from None
    except OSError as exc:
        raise InvalidArgumentError(
            "client_cert", f"could not read the certificate or key: {exc.strerror}"
        ) from None


def _encrypted(path: str) -> bool:
    """Whether the PEM file at ``path`` holds an encrypted private key."""
    try:
        with open(path, "rb") as file:
            head = file.read(1 << 16)
    except OSError:
        return False
    return b"ENCRYPTED PRIVATE KEY" in head or b"Proc-Type: 4,ENCRYPTED" in head


def _tls_context(ssl_option: object, client_cert: object) -> ssl.SSLContext | None:
    """The context for ``ssl=`` and ``client_cert=``; None for aiohttp's default one."""
    if ssl_option is not None and not isinstance(ssl_option, (ssl.SSLContext, str, os.PathLike)):
        raise InvalidArgumentError(
            "ssl",
            f"must be an ssl.SSLContext, or the path of a CA bundle or directory, got "
            f"{type(ssl_option).__name__} (verification is always on)",
        )
    if isinstance(ssl_option, ssl.SSLContext):
        if client_cert is not None:
            raise InvalidArgumentError(
                "client_cert",
                "cannot be loaded into the ssl.SSLContext you gave (bpcpay never changes your "
                "context): call its load_cert_chain() yourself, or give ssl= a CA path",
            )
        return ssl_option
    if ssl_option is not None:
        context = _ca_context(ssl_option)
    elif client_cert is not None:
        context = ssl.create_default_context()  # a context of its own: the key is loaded in
    else:
        current = tuple(os.environ.get(name) for name in _CA_VARIABLES)
        if current == _CA_AT_IMPORT:
            return None  # aiohttp's own verifying context read the same variables
        return _default_context(*current)
    if client_cert is not None:
        _load_client_cert(context, client_cert)
    return context


def network_settings(
    *,
    base_url: str,
    proxy: str | Secret[str] | NotGiven | None,
    ssl_option: object,
    client_cert: object,
) -> Network:
    """The settings of the session bpcpay opens for a client of ``base_url``.

    Args:
        base_url: where every call goes (its scheme and host choose the proxy).
        proxy: ``proxy=``: NOT_GIVEN reads the environment, None connects directly, a URL
            (held in a Secret) is used.
        ssl_option: ``ssl=``.
        client_cert: ``client_cert=``.

    Returns:
        The settings.

    Raises:
        InvalidArgumentError: naming the option, or the proxy variable, that is wrong.
    """
    chosen: ProxyURL | None = None
    source: str | None = None
    if isinstance(proxy, Secret):
        chosen, source = check_proxy_url("proxy", proxy), "proxy="
    elif isinstance(proxy, NotGiven):
        # The variables only (urllib's getproxies_environment: a lowercase one wins, HTTP_PROXY
        # is ignored in a CGI script); the proxy settings of macOS or Windows are not read.
        found = choose_proxy(base_url, urllib.request.getproxies_environment())
        if found is not None:
            chosen, source = check_proxy_url(found[1], found[0]), found[1]
    elif proxy is not None:
        chosen, source = check_proxy_url("proxy", proxy), "proxy="
    return Network(
        proxy=chosen,
        proxy_source=source,
        ssl=_tls_context(ssl_option, client_cert),
        has_client_cert=client_cert is not None,
    )
