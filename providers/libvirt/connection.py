"""Opening libvirt connections, keeping them per process, and naming what went wrong.

Why a process-wide cache: a driver instance lives for one refresh, but a libvirt connection is
worth keeping. Reconnecting costs a TLS or SSH handshake each time, and for the built-in test
driver (``test:///PATH/node.xml``) the connection *is* the hypervisor: every ``libvirt.open()``
of a ``test://`` URI starts again from the node XML, so a domain that a test defines, starts or
undefines exists only inside the connection it was done through. Caching the connection by URI
(and credentials) lets the next driver instance in the same process see those changes, exactly
as the next refresh of a real host sees what an operator did in between.

The cache is keyed by ``(uri, username, sha256(password))``, checks ``isAlive()`` before handing
a connection out, and never hands a connection opened in another process to a forked child
(Celery's prefork pool): the child opens its own. ``forget()`` drops one URI (or all of them).

``libvirt.open`` has no timeout of its own, so ``connect()`` opens in a helper thread and gives
up after ``timeout`` seconds; a connection that arrives after that is closed by the helper.

Importing this module silences libvirt's default error handler, which otherwise prints every
error to stderr even when it is caught; errors still arrive as ``libvirt.libvirtError``.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import libvirt

from providers.base import ProviderAuthError, ProviderDataError, ProviderError, ProviderUnavailable


def _ignore_error(_ctx, _err) -> None:
    """libvirt's error callback: the error is raised as an exception anyway."""


libvirt.registerErrorHandler(_ignore_error, None)

#: error codes meaning the credentials were refused or are missing
AUTH_ERRORS = frozenset(
    {
        libvirt.VIR_ERR_AUTH_FAILED,
        libvirt.VIR_ERR_AUTH_CANCELLED,
        libvirt.VIR_ERR_AUTH_UNAVAILABLE,
        libvirt.VIR_ERR_ACCESS_DENIED,
    }
)
#: error codes meaning the connection itself is gone (drop it from the cache)
CONNECTION_ERRORS = frozenset(
    {
        libvirt.VIR_ERR_SYSTEM_ERROR,
        libvirt.VIR_ERR_RPC,
        libvirt.VIR_ERR_NO_CONNECT,
        libvirt.VIR_ERR_INVALID_CONN,
        libvirt.VIR_ERR_OPERATION_TIMEOUT,
    }
)
XML_ERRORS = frozenset({libvirt.VIR_ERR_XML_ERROR, libvirt.VIR_ERR_XML_DETAIL})


def describe(exc: libvirt.libvirtError) -> str:
    """libvirt's own message, one line."""
    return " ".join((exc.get_error_message() or str(exc)).split())


def classify_open_error(uri: str, exc: libvirt.libvirtError, username: str | None) -> ProviderError:
    """Turn a failed open into the provider error a person can act on."""
    code = exc.get_error_code()
    detail = describe(exc)
    if code in AUTH_ERRORS or (code == libvirt.VIR_ERR_INVALID_ARG and "credential" in detail.lower()):
        who = f"user {username!r}" if username else "no username (set the username and password credentials)"
        return ProviderAuthError(f"libvirt at {uri} refused the credentials of {who}: {detail}")
    if code in XML_ERRORS or test_node_path(uri) is not None:  # the node file exists but is not usable
        return ProviderDataError(f"libvirt at {uri} could not read its configuration: {detail}")
    return ProviderUnavailable(f"cannot connect to libvirt at {uri}: {detail}")


def test_node_path(uri: str) -> str | None:
    """The node XML file of a ``test:///ABS/PATH`` URI, or None for other URIs and ``test:///default``."""
    parts = urlsplit(uri)
    if parts.scheme != "test" or parts.netloc:
        return None
    path = unquote(parts.path)
    return None if path in ("", "/", "/default") else path


def _open(uri: str, username: str | None, password: str | None) -> libvirt.virConnect:
    if not username and not password:
        return libvirt.open(uri)

    def answer(credentials, _data):
        for cred in credentials:
            if cred[0] == libvirt.VIR_CRED_AUTHNAME:
                cred[4] = username or ""
            elif cred[0] in (libvirt.VIR_CRED_PASSPHRASE, libvirt.VIR_CRED_NOECHOPROMPT):
                cred[4] = password or ""
            else:
                return -1
        return 0

    wanted = [libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_PASSPHRASE, libvirt.VIR_CRED_NOECHOPROMPT]
    return libvirt.openAuth(uri, [wanted, answer, None], 0)


def open_connection(
    uri: str, *, username: str | None = None, password: str | None = None, timeout: float = 10
) -> libvirt.virConnect:
    """A new connection to ``uri``, or the ``ProviderError`` that explains why not."""
    node = test_node_path(uri)
    if node is not None and not os.path.isfile(node):
        raise ProviderUnavailable(f"cannot connect to libvirt at {uri}: the node file {node} does not exist")

    outcome: dict = {}
    lock = threading.Lock()

    def work():
        try:
            conn = _open(uri, username, password)
        except libvirt.libvirtError as exc:
            with lock:
                outcome["error"] = exc
            return
        with lock:
            if outcome.get("abandoned"):
                conn.close()
            else:
                outcome["conn"] = conn

    worker = threading.Thread(target=work, name=f"libvirt-open {uri}", daemon=True)
    worker.start()
    worker.join(timeout)
    with lock:
        if "conn" in outcome:
            return outcome["conn"]
        if "error" in outcome:
            raise classify_open_error(uri, outcome["error"], username)
        outcome["abandoned"] = True
    raise ProviderUnavailable(f"cannot connect to libvirt at {uri}: no answer within {timeout:g} s")


@dataclass
class _Entry:
    conn: libvirt.virConnect
    pid: int


_cache: dict[tuple, _Entry] = {}
_cache_lock = threading.Lock()
_opening: dict[tuple, threading.Lock] = {}
_inherited: list[libvirt.virConnect] = []  # opened by a parent process: never used, never closed


def _key(uri: str, username: str | None, password: str | None) -> tuple:
    digest = hashlib.sha256((password or "").encode()).hexdigest() if password else ""
    return (uri, username or "", digest)


def connect(
    uri: str, *, username: str | None = None, password: str | None = None, timeout: float = 10
) -> libvirt.virConnect:
    """The cached live connection for these arguments, opening one if needed."""
    key = _key(uri, username, password)
    with _cache_lock:
        opening = _opening.setdefault(key, threading.Lock())
    with opening:  # one open per key at a time; other URIs are not held up
        with _cache_lock:
            entry = _cache.pop(key, None)
        if entry is not None:
            if entry.pid != os.getpid():
                _inherited.append(entry.conn)
            elif _alive(entry.conn):
                with _cache_lock:
                    _cache[key] = entry
                return entry.conn
            else:
                _close_quietly(entry.conn)
        conn = open_connection(uri, username=username, password=password, timeout=timeout)
        with _cache_lock:
            _cache[key] = _Entry(conn, os.getpid())
        return conn


def forget(uri: str | None = None) -> None:
    """Close and drop cached connections to ``uri`` (all URIs when None)."""
    with _cache_lock:
        for key in [k for k in _cache if uri is None or k[0] == uri]:
            entry = _cache.pop(key)
            if entry.pid == os.getpid():
                _close_quietly(entry.conn)


def drop(conn: libvirt.virConnect) -> None:
    """Forget a connection that failed mid-call, so the next refresh opens a fresh one."""
    with _cache_lock:
        for key in [k for k, e in _cache.items() if e.conn is conn]:
            del _cache[key]
    _close_quietly(conn)


def _alive(conn: libvirt.virConnect) -> bool:
    try:
        return conn.isAlive() == 1
    except libvirt.libvirtError:
        return False


def _close_quietly(conn: libvirt.virConnect) -> None:
    try:
        conn.close()
    except libvirt.libvirtError:
        pass
