"""The Azurite and moto servers, started once per test session on ports overridable by environment variables.

The fixtures are registered by tests/conftest.py alone: a fixture imported into two modules is two fixtures, and the
second would try to start its emulator on a port the first still holds."""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import require

REPO = Path(__file__).resolve().parents[1]
AZURITE_PORT = int(os.environ.get("LABELSITE_TEST_AZURITE_PORT", "10100"))
MOTO_PORT = int(os.environ.get("LABELSITE_TEST_MOTO_PORT", "5100"))
AZURITE_BIN = REPO / "data" / "tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
MOTO_BIN = REPO / "data" / "tools" / "moto" / "bin" / "moto_server"
# Microsoft's published development-storage account (Azurite docs); not a secret.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def _wait_port(port: int, process: subprocess.Popen, name: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{name} did not answer on port {port}")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _start(command, port, name, log):
    if not _port_free(port):
        # Another run's emulator would answer in our place and vanish when that run ends.
        raise RuntimeError(
            f"port {port} for {name} is taken; set LABELSITE_TEST_AZURITE_PORT / LABELSITE_TEST_MOTO_PORT"
        )
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_port(port, process, name)
    except RuntimeError:
        process.kill()
        raise
    return process


def _stop(process):
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    require(AZURITE_BIN.exists() and shutil.which("node") is not None, "Azurite", "run .ci/setup-azurite")
    log = (tmp_path_factory.mktemp("azurite") / "azurite.log").open("w")
    process = _start(
        [
            str(AZURITE_BIN),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(AZURITE_PORT),
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--silent",
            "--loose",
        ],
        AZURITE_PORT,
        "azurite-blob",
        log,
    )
    yield f"http://127.0.0.1:{AZURITE_PORT}/{AZURITE_ACCOUNT}"
    _stop(process)


@pytest.fixture(scope="session")
def moto(tmp_path_factory):
    require(MOTO_BIN.exists(), "moto server", "run .ci/setup-moto")
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    process = _start([str(MOTO_BIN), "-H", "127.0.0.1", "-p", str(MOTO_PORT)], MOTO_PORT, "moto_server", log)
    yield f"http://127.0.0.1:{MOTO_PORT}"
    _stop(process)


@pytest.fixture
def azure_container(azurite):
    """A fresh container on Azurite; returns (ContainerClient, name)."""
    import uuid

    from azure.storage.blob import BlobServiceClient

    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};BlobEndpoint={azurite}"
    )
    name = f"c{uuid.uuid4().hex[:12]}"
    client = BlobServiceClient.from_connection_string(connection).get_container_client(name)
    client.create_container()
    yield client, name
    client.delete_container()


@pytest.fixture
def s3_bucket(moto):
    import uuid

    import boto3

    client = boto3.client(
        "s3", endpoint_url=moto, aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    name = f"b{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return client, name
