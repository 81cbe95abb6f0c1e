"""Writer details users rely on: safe zip entries whatever the keys, and item URLs that never carry a secret."""

import io
import zipfile
from datetime import UTC, datetime
from types import SimpleNamespace

from exports.selectors import ExportRow, item_url, url_base
from exports.writers import WRITERS, ImageFolderWriter, safe_name
from projects.datastores.storage import ConfinedFileSystemStorage
from projects.models import Datastore


def _row(item_id, key, labels):
    return ExportRow(item_id, item_id, key, 1, 1, "PNG", key, "approved", "", None, labels)


def test_zip_entries_are_safe_and_unique_for_odd_and_duplicate_keys(tmp_path):
    cat = SimpleNamespace(pk=1, name="cat")
    evil = SimpleNamespace(pk=2, name="../../evil/..")
    keys = ["x.jpg", "a/b c#?.png", "one/same.png", "two/same.png", "C:\\win\\y.png", "missing.png"]
    for key in keys[:-1]:
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(key.encode())
    datastore = Datastore(kind=Datastore.Kind.LOCAL, local_path=str(tmp_path))
    project = SimpleNamespace(dataset=SimpleNamespace(datastore=datastore))
    out = io.BytesIO()
    writer = ImageFolderWriter(
        out,
        project=project,
        classes=[cat, evil],
        created_at=datetime.now(UTC),
        storage=ConfinedFileSystemStorage(location=str(tmp_path)),
    )
    writer.begin()
    written = sum(writer.write(_row(n, key, [cat, evil])) for n, key in enumerate(keys, start=1))
    writer.end()
    archive = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    names = archive.namelist()
    assert written == 5 and writer.missing == 1
    assert len(names) == len(set(names)) == 10
    for name in names:
        folder, file = name.split("/")
        assert folder in {"cat", "evil"} and file and not file.startswith(".")
        assert ".." not in name.split("/") and "\\" not in name and ":" not in name
    assert "cat/1_x.jpg" in names and "cat/2_b_c_.png" in names and "cat/5_y.png" in names
    assert {"cat/3_same.png", "cat/4_same.png"} <= set(names)
    assert archive.read("cat/5_y.png") == b"C:\\win\\y.png"


def test_keys_that_could_address_another_object_stay_out_of_every_format(tmp_path):
    """Items registered before scans refused such keys: no file name, link or zip entry is made from them."""
    cat = SimpleNamespace(pk=1, name="cat")
    project = SimpleNamespace(
        name="p",
        task_type="multiclass",
        dataset=SimpleNamespace(datastore=Datastore(kind=Datastore.Kind.LOCAL, local_path=str(tmp_path))),
    )
    (tmp_path / "ok.jpg").write_bytes(b"ok")
    hostile = ["../../etc/x.jpg", "a/../../b.jpg", "/abs/path.png", "..", "new\nline.jpg"]
    for name, writer_class in WRITERS.items():
        out = io.BytesIO()
        writer = writer_class(
            out,
            project=project,
            classes=[cat],
            created_at=datetime.now(UTC),
            storage=ConfinedFileSystemStorage(location=str(tmp_path)),
        )
        writer.begin()
        written = sum(writer.write(_row(n, key, [cat])) for n, key in enumerate(["ok.jpg", *hostile], start=1))
        writer.end()
        assert (written, writer.missing) == (1, len(hostile)), name
        text = out.getvalue().decode("latin-1")
        assert "ok.jpg" in text, name
        assert not any(marker in text for marker in ("etc/x", "b.jpg", "abs/path", "..", "nline")), name


def test_safe_name_falls_back_when_nothing_is_left():
    assert safe_name("..", "image") == "image"
    assert safe_name("日本", "class-3") == "class-3"


def test_item_urls_never_carry_secrets():
    azure = Datastore(
        kind="azure_blob",
        endpoint="https://acct.blob.core.windows.net/?sv=2024&sig=SECRET",
        container="photos",
        access_key_id="acct",
    )
    assert item_url(url_base(azure), "a b/c.jpg") == "https://acct.blob.core.windows.net/photos/a%20b/c.jpg"
    by_name = Datastore(kind="azure_blob", container="photos", access_key_id="acct")
    assert item_url(url_base(by_name), "x.jpg") == "https://acct.blob.core.windows.net/photos/x.jpg"
    s3 = Datastore(kind="s3", container="bucket", access_key_id="AKIA")
    assert item_url(url_base(s3), "k/x.jpg") == "s3://bucket/k/x.jpg"
    minio = Datastore(kind="s3", endpoint="https://user:pw@minio.example.com:9000", container="bucket")
    assert item_url(url_base(minio), "x.jpg") == "https://minio.example.com:9000/bucket/x.jpg"
    local = Datastore(kind="local", local_path="/srv/images")
    assert item_url(url_base(local), "cats/a.jpg") == "cats/a.jpg"
