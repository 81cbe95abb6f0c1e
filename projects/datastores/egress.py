"""Network egress to datastores: the connections both storage SDKs use, under one set of rules.

azure-core (through requests) and botocore both end in urllib3 connections, so the rules live there, in
connection and socket classes that this module hands to each SDK:
- an address is resolved and checked once (public, or the host is in LABELSITE_DATASTORE_ALLOWED_HOSTS) and
  the connection goes to exactly that address, so a name that changes its answer after the check (DNS
  rebinding) is never asked again; the Host header, TLS SNI and certificate check still use the name;
- every request has a total deadline, from connecting to the last byte of its body, enforced by re-arming
  the socket timeout to what is left before every read and write (a per-read timeout alone never fires
  against a server that trickles a byte a second), and an operation that must answer a page in time
  shares one deadline across all of its requests and the SDK's retries (deadline_scope);
- the bytes read per response are capped (a ranged read may not exceed its range);
- a 3xx answer is refused before the SDK sees it, so no redirect handler can follow or recurse.
Refusals raise DatastoreError, which is not an OSError: the SDKs pass it through instead of retrying.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import ipaddress
import re
import socket
import ssl
import time
from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

# Room for the status line, headers and chunk framing around a ranged body.
HEADER_ALLOWANCE = 64 * 1024
_RANGE = re.compile(r"bytes=(\d+)-(\d+)$")
_REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,40}[a-z0-9]")
_scope_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("datastore_deadline", default=None)


class DatastoreError(ValidationError):
    """A datastore problem with a message that is safe to show to its admins (never a secret)."""

    @property
    def message_text(self) -> str:
        return self.messages[0] if self.messages else "Datastore error."


# --- addresses ---------------------------------------------------------------------------------


def host_allowed(host: str, port: int | None) -> bool:
    allowed = settings.LABELSITE_DATASTORE_ALLOWED_HOSTS
    host = host.lower()
    return host in allowed or (port is not None and f"{host}:{port}" in allowed)


def allow_hint(host: str, port: int | None) -> str:
    """How an operator lets a datastore reach this host anyway (a local emulator): a sentence for the refusal."""
    entry = f"{host.lower()}:{port}" if port is not None else host.lower()
    return (
        f"To allow it (for example a local emulator), add {entry} to LABELSITE_DATASTORE_ALLOWED_HOSTS in the "
        "server's environment or its .env file, then restart Labelsite (web server and worker)."
    )


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def checked_addresses(host: str, port: int) -> list[tuple[int, tuple]]:
    """Resolve `host` once and return the (family, socket address) pairs to connect to; every one must be
    public unless the host is allowed. The caller connects to these and never resolves the name again."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise DatastoreError(f"The endpoint host {host!r} cannot be resolved.", code="endpoint") from None
    if not host_allowed(host, port):
        for info in infos:
            if not _is_public(ipaddress.ip_address(str(info[4][0]).split("%")[0])):
                raise DatastoreError(
                    f"The endpoint host {host!r} resolves to a private, loopback, link-local or metadata address, "
                    f"which datastores may not use. {allow_hint(host, port)}",
                    code="endpoint",
                )
    addresses: list[tuple[int, tuple]] = []
    for family, _, _, _, sockaddr in infos:
        if (family, sockaddr) not in addresses:
            addresses.append((family, sockaddr))
    return addresses


# --- deadline ----------------------------------------------------------------------------------


@contextlib.contextmanager
def deadline_scope(seconds: float | None = None):
    """Every datastore request started inside shares one deadline (nested scopes keep the earlier one), so
    an interactive operation answers within it however many requests and SDK retries it takes."""
    seconds = settings.LABELSITE_STORAGE_DEADLINE if seconds is None else seconds
    limit = time.monotonic() + seconds
    outer = _scope_deadline.get()
    token = _scope_deadline.set(limit if outer is None else min(outer, limit))
    try:
        yield
    finally:
        _scope_deadline.reset(token)


def scope_expired() -> bool:
    limit = _scope_deadline.get()
    return limit is not None and time.monotonic() >= limit


class Guard:
    """The rules of one datastore client: its deadline, byte cap and the addresses pinned per host."""

    def __init__(self, *, deadline: float, max_bytes: int):
        self.deadline = deadline
        self.max_bytes = max_bytes
        self._pins: dict[tuple[str, int], list[tuple[int, tuple]]] = {}

    @classmethod
    def from_settings(cls) -> Guard:
        return cls(
            deadline=settings.LABELSITE_STORAGE_DEADLINE, max_bytes=settings.LABELSITE_STORAGE_MAX_RESPONSE_BYTES
        )

    def deadline_error(self) -> DatastoreError:
        return DatastoreError(f"The datastore did not answer within {self.deadline:g} seconds.", code="deadline")

    def addresses(self, host: str, port: int) -> list[tuple[int, tuple]]:
        key = (host.lower(), port)
        if key not in self._pins:
            self._pins[key] = checked_addresses(host, port)
        return self._pins[key]

    def cap_for(self, headers) -> int:
        """A ranged read may not return more than its range; anything else gets the general cap."""
        for name in ("Range", "x-ms-range"):
            value = _header(headers, name)
            match = _RANGE.match(value.strip()) if value else None
            if match:
                start, end = int(match[1]), int(match[2])
                return min(self.max_bytes, max(end - start + 1, 0) + HEADER_ALLOWANCE)
        return self.max_bytes

    def connect(self, host: str, port: int, timeout: float | None, options, clock: _Clock) -> socket.socket:
        last: OSError | None = None
        for family, sockaddr in self.addresses(host, port):
            left = clock.remaining()
            sock = _GuardedSocket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            try:
                for option in options or ():
                    sock.setsockopt(*option)
                sock.settimeout(left if timeout is None else min(timeout, left))
                sock.connect(sockaddr)
            except OSError as error:
                sock.close()
                if clock.expired():
                    raise self.deadline_error() from None
                last = error
                continue
            sock._clock = clock
            return sock
        raise last or OSError("no address to connect to")

    def pool_classes(self, *, aws: bool = False) -> dict:
        http, https = _aws_pools() if aws else (_HTTPPool, _HTTPSPool)
        # The pool hands unknown keywords to its connections: that is how each connection gets this guard.
        return {"http": functools.partial(http, guard=self), "https": functools.partial(https, guard=self)}


def _header(headers, name: str) -> str | None:
    for key, value in (headers or {}).items():
        text = key.decode("latin-1") if isinstance(key, bytes) else key
        if text.lower() == name.lower():
            return value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return None


class _Clock:
    """The deadline and byte count of the request a connection is serving."""

    __slots__ = ("cap", "deadline", "guard", "open", "received")

    def __init__(self, guard: Guard):
        self.guard = guard
        self.deadline = 0.0
        self.open = False
        self.received = 0
        self.cap = guard.max_bytes

    def start(self) -> None:
        limit = time.monotonic() + self.guard.deadline
        scope = _scope_deadline.get()
        self.deadline = limit if scope is None else min(limit, scope)
        self.open, self.received, self.cap = True, 0, self.guard.max_bytes

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self.guard.deadline_error()
        return left

    def count(self, n: int) -> None:
        self.received += n
        if self.received > self.cap:
            raise DatastoreError(
                f"The datastore sent more than {self.cap:,} bytes in one answer; reading stopped.", code="too_large"
            )


# --- sockets -----------------------------------------------------------------------------------

# What the mixins below are mixed into, for the type checker only: at run time they stay plain mixins.
if TYPE_CHECKING:
    _SocketBase = socket.socket
    _ConnectionBase = HTTPConnection
else:
    _SocketBase = _ConnectionBase = object


class _DeadlineSocketMixin(_SocketBase):
    """Before every read and write the timeout becomes min(the per-read timeout, time left); a timeout at the
    deadline becomes DatastoreError, and bytes read are counted against the cap."""

    _clock: _Clock | None = None
    _read_timeout: float | None = None

    def settimeout(self, value):
        self._read_timeout = value  # what urllib3 asks for; the deadline may shorten it per call
        super().settimeout(value)

    def _io(self, call, *args):
        clock = self._clock
        if clock is None:
            return call(*args)
        left = clock.remaining()
        base = self._read_timeout
        socket.socket.settimeout(self, left if base is None else min(base, left))
        try:
            return call(*args)
        except TimeoutError:
            if clock.expired():
                raise clock.guard.deadline_error() from None
            raise

    def recv(self, *args):
        data = self._io(super().recv, *args)
        if self._clock is not None:
            self._clock.count(len(data))
        return data

    def recv_into(self, *args):
        n = self._io(super().recv_into, *args)
        if self._clock is not None:
            self._clock.count(n)
        return n

    def send(self, *args):
        return self._io(super().send, *args)

    def sendall(self, *args):
        return self._io(super().sendall, *args)


class _GuardedSocket(_DeadlineSocketMixin, socket.socket):
    pass


class _GuardedSSLSocket(_DeadlineSocketMixin, ssl.SSLSocket):
    pass


# --- connections -------------------------------------------------------------------------------


class _GuardedConnectionMixin(_ConnectionBase):
    """A urllib3 connection that connects to the guard's pinned address and refuses redirects."""

    def __init__(self, *args, guard: Guard, **kwargs):
        super().__init__(*args, **kwargs)
        self._clock = _Clock(guard)

    def _begin(self) -> None:
        # A request's deadline starts at whichever comes first: connecting or sending.
        if not self._clock.open:
            self._clock.start()

    def _new_conn(self):
        self._begin()
        timeout = self.timeout if isinstance(self.timeout, (int, float)) else None
        try:
            return self._clock.guard.connect(self.host, self.port, timeout, self.socket_options, self._clock)
        except TimeoutError as error:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from error
        except OSError as error:
            raise NewConnectionError(self, f"Failed to establish a new connection: {error}") from error

    def connect(self):
        super().connect()
        if isinstance(self.sock, ssl.SSLSocket) and not isinstance(self.sock, _GuardedSSLSocket):
            # The handshake ran under the connect timeout, itself capped by the time left (CPython bounds a
            # whole handshake by the socket timeout). The SSL socket urllib3 made is now given our read and
            # write methods; the context (shared by requests across the process) is left untouched.
            self.sock.__class__ = _GuardedSSLSocket
        cast(_DeadlineSocketMixin, self.sock)._clock = self._clock  # one of ours: made by _new_conn, or just swapped

    def request(self, method, url, body=None, headers=None, *args, **kwargs):
        self._begin()
        self._clock.cap = self._clock.guard.cap_for(headers)
        return super().request(method, url, body, headers, *args, **kwargs)

    def getresponse(self, *args, **kwargs):
        response = super().getresponse(*args, **kwargs)
        self._clock.open = False  # the body is still read under this deadline; the next request starts anew
        if 300 <= response.status < 400 and response.status != 304:
            self.close()
            # S3 redirects a request signed for the wrong region (botocore used to follow that); say which.
            region = response.headers.get("x-amz-bucket-region", "")
            hint = ""
            if _REGION.fullmatch(region):
                hint = f" The bucket is in region {region}: set that region on the datastore."
            raise DatastoreError(
                f"The datastore answered with a redirect ({response.status}); redirects are not followed.{hint}",
                code="redirect",
            )
        return response

    def close(self):
        super().close()
        self._clock.open = False


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


@functools.cache
def _aws_pools():
    # botocore is imported only when an S3 datastore is used.
    from botocore.awsrequest import (
        AWSHTTPConnection,
        AWSHTTPConnectionPool,
        AWSHTTPSConnection,
        AWSHTTPSConnectionPool,
    )

    # botocore's connections add Expect: 100-continue handling; keep it under the same rules.
    class Connection(_GuardedConnectionMixin, AWSHTTPConnection):
        pass

    class SecureConnection(_GuardedConnectionMixin, AWSHTTPSConnection):
        pass

    class Pool(AWSHTTPConnectionPool):
        ConnectionCls = Connection

    class SecurePool(AWSHTTPSConnectionPool):
        ConnectionCls = SecureConnection

    return Pool, SecurePool


# --- the two SDKs ------------------------------------------------------------------------------


def azure_transport(guard: Guard, *, timeout: float):
    """An azure-core transport whose requests session connects only through `guard`."""
    import requests
    from azure.core.pipeline.transport import RequestsTransport
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = guard.pool_classes()

        def proxy_manager_for(self, proxy, **proxy_kwargs):
            raise DatastoreError("Datastore connections do not go through a proxy.", code="endpoint")

    session = requests.Session()
    session.trust_env = False  # no proxy or CA bundle from the environment
    adapter = Adapter(max_retries=Retry(total=False, redirect=False, raise_on_status=False))
    for scheme in ("http://", "https://"):
        session.mount(scheme, adapter)
    return RequestsTransport(
        session=session,
        session_owner=True,
        use_env_settings=False,
        connection_timeout=timeout,
        read_timeout=timeout,
    )


def botocore_sender(guard: Guard, *, timeout: float, max_pool_connections: int = 10):
    """A `before-send` handler that sends botocore's requests through `guard` (botocore then uses its answer
    instead of sending the request itself)."""
    from botocore.exceptions import HTTPClientError
    from botocore.httpsession import URLLib3Session

    class Session(URLLib3Session):
        def __init__(self):
            super().__init__(timeout=(timeout, timeout), max_pool_connections=max_pool_connections)
            self._pool_classes_by_scheme = self._manager.pool_classes_by_scheme = guard.pool_classes(aws=True)

        def send(self, request):
            try:
                return super().send(request)
            except HTTPClientError as error:
                # botocore wraps any unknown error into a retryable one; a refusal must not be retried.
                refusal = error.kwargs.get("error")
                if isinstance(refusal, DatastoreError):
                    raise refusal from None
                raise

    session = Session()

    def send(request, **kwargs):
        return session.send(request)

    return send
