"""Datastore calls follow no redirect and give up after the timeout, with a safe message."""

import http.server
import socket
import threading
import time

import pytest

from projects import storage as ds
from projects.models import Datastore
from tests.projects.conftest import make_datastore


class _Redirect(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(302)
        self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def redirect_server(settings):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    port = server.server_address[1]
    settings.LABELSITE_DATASTORE_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


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


@pytest.mark.parametrize("kind", ["azure_blob", "s3"])
def test_redirects_are_not_followed(kind, workspace, redirect_server):
    if kind == "azure_blob":
        store = make_datastore(workspace, name="r", kind=kind, endpoint=redirect_server + "/acct", container="c",
                               auth_type=Datastore.Auth.SAS_TOKEN, secret="sv=1&sig=x")
    else:
        store = make_datastore(workspace, name="r", kind=kind, endpoint=redirect_server, container="c",
                               auth_type=Datastore.Auth.ACCESS_KEY, access_key_id="AK", secret="sk")
    with pytest.raises(ds.DatastoreError) as error:
        ds.datastore_check(store)
    assert "redirect" in error.value.message_text and "169.254" not in error.value.message_text


@pytest.mark.parametrize("kind", ["azure_blob", "s3"])
def test_a_silent_endpoint_times_out(kind, workspace, silent_server):
    if kind == "azure_blob":
        store = make_datastore(workspace, name="t", kind=kind, endpoint=silent_server + "/acct", container="c",
                               auth_type=Datastore.Auth.SAS_TOKEN, secret="sv=1&sig=x")
    else:
        store = make_datastore(workspace, name="t", kind=kind, endpoint=silent_server, container="c",
                               auth_type=Datastore.Auth.ACCESS_KEY, access_key_id="AK", secret="sk")
    started = time.monotonic()
    with pytest.raises(ds.DatastoreError):
        ds.datastore_check(store)
    assert time.monotonic() - started < 20
