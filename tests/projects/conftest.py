"""Datastore fixtures: allowed local roots in a temp folder, eager Celery, real images, and the
Azurite and moto servers (started once per session on ports overridable by environment variables)."""

import io
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image

from projects.models import Datastore
from tests.conftest import require
from tests.factories import DatasetFactory, DatastoreFactory, ProjectFactory

REPO = Path(__file__).resolve().parents[2]
AZURITE_PORT = int(os.environ.get("LABELSITE_TEST_AZURITE_PORT", "10100"))
MOTO_PORT = int(os.environ.get("LABELSITE_TEST_MOTO_PORT", "5100"))
AZURITE_BIN = REPO / "data" / "tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
MOTO_BIN = REPO / "data" / "tools" / "moto" / "bin" / "moto_server"
# Microsoft's published development-storage account (Azurite docs); not a secret.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CANARY = "CANARY-s3cr3t-9f1e"


def jpeg_bytes(size=(64, 48), color=(200, 120, 40), exif_orientation=None) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, color)
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        image.save(out, "JPEG", exif=exif)
    else:
        image.save(out, "JPEG")
    return out.getvalue()


def png_bytes(size=(40, 30), mode="RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, "PNG")
    return out.getvalue()


def bomb_png(side=3000) -> bytes:
    """A small file that decodes to many pixels."""
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, "PNG", optimize=True)
    return out.getvalue()


@pytest.fixture(autouse=True)
def datastore_settings(settings, tmp_path):
    root = tmp_path / "roots" / "main"
    root.mkdir(parents=True)
    settings.LABELSITE_LOCAL_DATASTORE_ROOTS = [str(root)]
    settings.LABELSITE_DATASTORE_ALLOWED_HOSTS = [f"127.0.0.1:{AZURITE_PORT}", f"127.0.0.1:{MOTO_PORT}"]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # The personas' passwords are never typed here: a fast hasher keeps fixtures quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


@pytest.fixture
def local_root(datastore_settings) -> Path:
    return Path(datastore_settings.LABELSITE_LOCAL_DATASTORE_ROOTS[0])


@pytest.fixture
def dataset(workspace):
    return DatasetFactory.create(workspace=workspace, name="cats-n-dogs", path="MultiClass - DogsCats", items=12)


@pytest.fixture
def project(workspace, dataset, celery_eager):
    return ProjectFactory.create(workspace=workspace, dataset=dataset, name="multi-class-cats-n-dogs",
                          label_names=("Cat", "Dog", "Uncertain"))


@pytest.fixture
def pets_folder(local_root) -> Path:
    """A folder with a space in its name: JPEG/PNG images, a subfolder, a text file and a corrupt one."""
    folder = local_root / "pets" / "MultiClass - DogsCats"
    (folder / "more cats").mkdir(parents=True)
    (folder / "cat 1.jpg").write_bytes(jpeg_bytes())
    (folder / "dog #2.png").write_bytes(png_bytes())
    (folder / "chat é?.jpeg").write_bytes(jpeg_bytes(color=(10, 10, 200)))
    (folder / "more cats" / "cat 3.jpg").write_bytes(jpeg_bytes((30, 30)))
    (folder / "readme.txt").write_text("not an image")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage-garbage")
    (folder / "empty.png").write_bytes(b"")
    (folder / "fake.jpg").write_bytes(b"<html>not an image</html>")
    return folder


@pytest.fixture
def local_datastore(workspace, local_root) -> Datastore:
    (local_root / "pets").mkdir(exist_ok=True)
    return DatastoreFactory.create(workspace=workspace, name="pets", local_path=str(local_root / "pets"))


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
        raise RuntimeError(f"port {port} for {name} is taken; set LABELSITE_TEST_AZURITE_PORT / LABELSITE_TEST_MOTO_PORT")
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
        [str(AZURITE_BIN), "--blobHost", "127.0.0.1", "--blobPort", str(AZURITE_PORT), "--inMemoryPersistence",
         "--skipApiVersionCheck", "--disableTelemetry", "--silent", "--loose"],
        AZURITE_PORT, "azurite-blob", log,
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

    connection = (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
                  f"BlobEndpoint={azurite}")
    name = f"c{uuid.uuid4().hex[:12]}"
    client = BlobServiceClient.from_connection_string(connection).get_container_client(name)
    client.create_container()
    yield client, name
    client.delete_container()


@pytest.fixture
def s3_bucket(moto):
    import uuid

    import boto3

    client = boto3.client("s3", endpoint_url=moto, aws_access_key_id="testing", aws_secret_access_key="testing",
                          region_name="us-east-1")
    name = f"b{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return client, name
