"""Datastore fixtures: allowed local roots in a temp folder, eager Celery, real images (the Azurite and moto servers
are in tests/emulators.py)."""

import io
from pathlib import Path

import pytest
from PIL import Image

from projects.models import Datastore
from tests.emulators import AZURITE_ACCOUNT, AZURITE_KEY, AZURITE_PORT, MOTO_PORT  # noqa: F401  (used by the tests)
from tests.factories import DatasetFactory, DatastoreFactory, ProjectFactory

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
    return ProjectFactory.create(
        workspace=workspace, dataset=dataset, name="multi-class-cats-n-dogs", label_names=("Cat", "Dog", "Uncertain")
    )


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
