"""Datastore calls against hostile endpoints (real servers on 127.0.0.1): a redirect is refused after one
request, a server that trickles a byte a second is cut at the deadline, an endless body stops at the byte
cap, and a name that resolves to a private address after the check is never connected to. Pages and API
answer with the reason in time."""

import socket
import socketserver
import ssl
import threading
import time

import pytest
from django.contrib.admin import helpers
from django.urls import reverse

from projects.datastores import scanning
from projects.datastores import storage as ds
from projects.models import Dataset, Datastore
from tests.factories import DatastoreFactory

TRICKLE_SECONDS = 120  # how long the trickling server would keep sending; every test must finish well before
ENDLESS_CEILING = 256 * 1024 * 1024  # the "endless" body stops here only to spare the machine if the cap fails
API = "/api/v1/o/acme/vision/"
# Seconds the tests give a datastore call; building an S3 client on a busy machine takes part of it.
DEADLINE = 3
LATE = f"The datastore did not answer within {DEADLINE} seconds."


class _Hostile(socketserver.ThreadingTCPServer):
    """A raw HTTP server on 127.0.0.1 whose answers are `behaviour(server, handler)`; it counts what it saw."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, behaviour):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour = behaviour
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.connections = self.requests = self.bytes_sent = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def count(self, **amounts):
        with self.lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)


class _Handler(socketserver.BaseRequestHandler):
    server: _Hostile

    def handle(self):
        self.server.count(connections=1)
        self.request.settimeout(5)
        self.reader = self.request.makefile("rb")
        try:
            self.server.behaviour(self.server, self)
        except OSError:
            pass  # the client went away: what the tests want

    def read_request(self) -> str | None:
        """The request line of the next request on this connection (headers skipped), or None at its end."""
        line = self.reader.readline()
        if not line:
            return None
        while self.reader.readline() not in (b"\r\n", b"\n", b""):
            pass
        self.server.count(requests=1)
        return line.decode("latin-1").split(" ")[1]

    def send(self, data: bytes):
        self.request.sendall(data)
        self.server.count(bytes_sent=len(data))


def _redirect_to_itself(server, handler):
    while (path := handler.read_request()) is not None:
        handler.send(f"HTTP/1.1 302 Found\r\nLocation: {server.url}{path}\r\nContent-Length: 0\r\n\r\n".encode())


def _trickle(server, handler):
    if handler.read_request() is None:
        return
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n" + b"X-Pad: " + b"." * TRICKLE_SECONDS
    for byte in answer[:TRICKLE_SECONDS]:
        if server.stop.wait(1):
            return
        handler.send(bytes([byte]))


def _endless_body(server, handler):
    if handler.read_request() is None:
        return
    # Content-Range claims the 1,000 bytes a ranged read asks for, so the SDK goes on to read the body.
    handler.send(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Range: bytes 0-999/1000000000\r\n"
        b"Connection: close\r\n\r\n<a>"
    )
    chunk = b"<b>x</b>" * 8192
    while server.bytes_sent < ENDLESS_CEILING and not server.stop.is_set():
        handler.send(chunk)


@pytest.fixture
def hostile(settings):
    servers = []

    def start(behaviour):
        server = _Hostile(behaviour)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        settings.LABELSITE_DATASTORE_ALLOWED_HOSTS = [
            *settings.LABELSITE_DATASTORE_ALLOWED_HOSTS,
            f"127.0.0.1:{server.server_address[1]}",
        ]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def short_deadline(settings):
    # A per-read timeout longer than the trickle's one-second gaps: only the total deadline can stop it.
    settings.LABELSITE_STORAGE_TIMEOUT = 5
    settings.LABELSITE_STORAGE_DEADLINE = DEADLINE
    return settings


def _store(workspace, kind, url, name="hostile"):
    if kind == "azure_blob":
        return DatastoreFactory.create(
            workspace=workspace,
            name=name,
            kind=kind,
            endpoint=url + "/acct",
            container="c",
            auth_type=Datastore.Auth.SAS_TOKEN,
            secret="sv=1&sig=x",
        )
    return DatastoreFactory.create(
        workspace=workspace,
        name=name,
        kind=kind,
        endpoint=url,
        container="c",
        auth_type=Datastore.Auth.ACCESS_KEY,
        access_key_id="AK",
        secret="sk",
    )


KINDS = ["azure_blob", "s3"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_redirect_is_refused_after_one_request(kind, workspace, hostile):
    # botocore's S3 region redirector used to answer a 302 with HeadBucket, which got a 302, which it
    # answered with HeadBucket... ~80 requests and a RecursionError for one Test connection.
    server = hostile(_redirect_to_itself)
    with pytest.raises(ds.DatastoreError) as error:
        ds.datastore_check(_store(workspace, kind, server.url))
    assert error.value.message_text == "The datastore answered with a redirect (302); redirects are not followed."
    assert server.requests == 1


def _s3_wrong_region(server, handler):
    while handler.read_request() is not None:
        handler.send(b"HTTP/1.1 301 Moved Permanently\r\nx-amz-bucket-region: eu-west-1\r\nContent-Length: 0\r\n\r\n")


def test_an_s3_region_redirect_names_the_region_to_set(workspace, hostile):
    server = hostile(_s3_wrong_region)
    with pytest.raises(ds.DatastoreError) as error:
        ds.datastore_check(_store(workspace, "s3", server.url))
    assert error.value.message_text == (
        "The datastore answered with a redirect (301); redirects are not followed. "
        "The bucket is in region eu-west-1: set that region on the datastore."
    )
    assert server.requests == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_trickling_endpoint_is_cut_at_the_deadline(kind, workspace, hostile, short_deadline):
    server = hostile(_trickle)
    started = time.monotonic()
    with pytest.raises(ds.DatastoreError) as error:
        ds.datastore_check(_store(workspace, kind, server.url))
    assert error.value.message_text == LATE
    assert time.monotonic() - started < TRICKLE_SECONDS / 2
    assert server.requests == 1  # the deadline is not retried


@pytest.mark.parametrize("kind", KINDS)
def test_an_endless_body_stops_at_the_byte_cap(kind, workspace, hostile, settings):
    settings.LABELSITE_STORAGE_MAX_RESPONSE_BYTES = 1024 * 1024
    server = hostile(_endless_body)
    with pytest.raises(ds.DatastoreError) as error:
        ds.datastore_check(_store(workspace, kind, server.url))
    assert error.value.message_text == "The datastore sent more than 1,048,576 bytes in one answer; reading stopped."
    assert server.requests == 1 and server.bytes_sent < ENDLESS_CEILING


@pytest.mark.parametrize("kind", KINDS)
def test_a_ranged_read_may_not_return_more_than_its_range(kind, workspace, hostile):
    server = hostile(_endless_body)
    store = _store(workspace, kind, server.url)
    with pytest.raises(ds.DatastoreError) as error:
        ds.read_object(store, ds.storage_for(store), "a.jpg", length=1000)
    assert "bytes in one answer; reading stopped" in error.value.message_text
    assert server.requests == 1 and server.bytes_sent < ENDLESS_CEILING


def test_api_test_and_browse_answer_in_time_with_the_reason(
    workspace, manager_client, labeler_client, outsider_client, hostile, short_deadline
):
    server = hostile(_trickle)
    store = _store(workspace, "s3", server.url)
    started = time.monotonic()
    test = manager_client.post(f"{API}datastores/{store.uuid}/test/")
    assert test.status_code == 200
    assert test.json() == {"ok": False, "message": LATE}
    browse = manager_client.get(f"{API}datastores/{store.uuid}/browse/")
    assert browse.status_code == 502
    assert browse.json()["message"] == LATE
    assert time.monotonic() - started < TRICKLE_SECONDS / 2
    assert labeler_client.post(f"{API}datastores/{store.uuid}/test/").status_code == 403
    assert outsider_client.post(f"{API}datastores/{store.uuid}/test/").status_code == 404
    assert server.connections <= 2  # at most one per call the manager made; the others reached nothing


def test_browse_page_and_admin_test_answer_in_time_with_the_reason(
    workspace, manager_client, org_admin_client, ws_url, hostile, short_deadline
):
    server = hostile(_trickle)
    slow = _store(workspace, "azure_blob", server.url, name="slow")
    also_slow = _store(workspace, "s3", server.url, name="also-slow")
    started = time.monotonic()
    fragment = manager_client.get(ws_url("datastore_browse", datastore=slow.uuid), HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert LATE in fragment.content.decode()
    # Two slow datastores tested at once still answer the page within one deadline.
    page = org_admin_client.post(
        reverse("admin:projects_datastore_changelist"),
        {"action": "test_connection", helpers.ACTION_CHECKBOX_NAME: [slow.pk, also_slow.pk]},
        follow=True,
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert f"Connection to also-slow failed: {LATE}" in text
    assert (
        f"Connection to slow was not tested: the page ran out of time ({DEADLINE} seconds); test it on its own."
    ) in text
    assert time.monotonic() - started < TRICKLE_SECONDS / 2
    assert server.connections <= 2  # Browse once, the admin action once: nothing retried


@pytest.mark.parametrize("kind", KINDS)
def test_a_scan_of_a_trickling_datastore_fails_with_the_reason(kind, workspace, hostile, short_deadline):
    # A scan has no page to answer: each of its requests gets the deadline, not the scan as a whole.
    server = hostile(_trickle)
    dataset = Dataset.objects.create(
        workspace=workspace, name="d", datastore=_store(workspace, kind, server.url), path="x"
    )
    started = time.monotonic()
    scanning.dataset_sync(dataset.pk, mode="scan")
    dataset.refresh_from_db()
    assert dataset.scan_state == Dataset.ScanState.FAILED
    assert dataset.scan_error == LATE
    assert time.monotonic() - started < TRICKLE_SECONDS / 2
    assert server.requests == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_name_that_turns_private_after_the_check_is_never_reached(kind, workspace, hostile, monkeypatch):
    """DNS rebinding: the name is public when the client is built and loopback by the time it connects."""
    local = hostile(_redirect_to_itself)
    port = local.server_address[1]
    real_getaddrinfo = socket.getaddrinfo
    dns = {"address": "93.184.215.14"}

    def rebinding_dns(host, *args, **kwargs):
        if host != "rebind.example":
            return real_getaddrinfo(host, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (dns["address"], port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    store = _store(workspace, kind, f"https://rebind.example:{port}")
    storage = ds.storage_for(store)  # the endpoint check passes: a public address
    dns["address"] = "127.0.0.1"
    with pytest.raises(ds.DatastoreError) as error:
        ds.read_object(store, storage, "a.jpg", length=10)
    assert "resolves to a private, loopback, link-local or metadata address" in error.value.message_text
    assert local.connections == 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_connection_goes_to_the_address_that_was_checked(kind, workspace, hostile, settings, monkeypatch):
    """The address checked for a connection is the one it uses: later answers for the name are never asked."""
    first, second = hostile(_redirect_to_itself), hostile(_redirect_to_itself)
    settings.LABELSITE_DATASTORE_ALLOWED_HOSTS = [f"pinned.example:{first.server_address[1]}"]
    real_getaddrinfo = socket.getaddrinfo
    lookups = []

    def moving_dns(host, port, *args, **kwargs):
        if host != "pinned.example":
            return real_getaddrinfo(host, port, *args, **kwargs)
        lookups.append(host)
        server = first if len(lookups) == 1 else second
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", server.server_address)]

    monkeypatch.setattr(socket, "getaddrinfo", moving_dns)
    store = _store(workspace, kind, f"http://pinned.example:{first.server_address[1]}")
    storage = ds.storage_for(store)
    for _ in range(3):  # each refused redirect closes the connection, so each call connects anew
        with pytest.raises(ds.DatastoreError):
            ds.read_object(store, storage, "a.jpg", length=10)
    assert (first.connections, second.connections) == (3, 0)
    assert len(lookups) == 1


@pytest.fixture
def silent_server(settings):
    """Accepts connections and never answers."""
    settings.LABELSITE_STORAGE_TIMEOUT = 1
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    settings.LABELSITE_DATASTORE_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
    listener.listen(16)
    held, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    listener.close()


@pytest.mark.parametrize("kind", KINDS)
def test_a_silent_endpoint_times_out(kind, workspace, silent_server):
    started = time.monotonic()
    with pytest.raises(ds.DatastoreError):
        ds.datastore_check(_store(workspace, kind, silent_server))
    assert time.monotonic() - started < 20


@pytest.fixture
def tls_server(tmp_path, settings, monkeypatch):
    """A TLS server on 127.0.0.1 for the name datastore.test (self-signed) that records the SNI it is sent."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "datastore.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("datastore.test")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    names = []
    context.sni_callback = lambda sock, server_name, ctx: names.append(server_name)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                raw = listener.accept()[0]
            except OSError:
                continue
            try:
                context.wrap_socket(raw, server_side=True).close()
            except (ssl.SSLError, OSError):
                raw.close()  # the client refused the certificate

    threading.Thread(target=serve, daemon=True).start()
    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *args, **kwargs: real_getaddrinfo(
            "127.0.0.1" if host == "datastore.test" else host, *args, **kwargs
        ),
    )
    settings.LABELSITE_DATASTORE_ALLOWED_HOSTS = [f"datastore.test:{port}"]
    yield f"https://datastore.test:{port}", names
    stop.set()
    listener.close()


@pytest.mark.parametrize("kind", KINDS)
def test_a_pinned_tls_connection_still_sends_the_name_and_verifies_the_certificate(kind, workspace, tls_server):
    url, names = tls_server
    with pytest.raises(ds.DatastoreError) as error:
        ds.datastore_check(_store(workspace, kind, url))
    assert error.value.message_text == "The datastore's TLS certificate is not trusted or not for its host name."
    assert names and set(names) == {"datastore.test"}
