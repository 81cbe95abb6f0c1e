"""Writer details users rely on: safe zip entries whatever the keys, and item URLs that never carry a secret."""

import io
import zipfile
from datetime import UTC, datetime
from types import SimpleNamespace

from exports.selectors import ExportRow, item_url, url_base
from exports.writers import ImageFolderWriter, safe_name
from projects.models import Datastore


class DictStorage:
    def __init__(self, files):
        self.files = files

    def open(self, key, mode="rb"):
        if key not in self.files:
            raise FileNotFoundError(key)
        return io.BytesIO(self.files[key])


def _row(item_id, key, labels):
    return ExportRow(item_id, item_id, key, 1, 1, "PNG", key, "approved", "", None, labels)


def test_zip_entries_are_safe_and_unique_for_hostile_and_duplicate_keys():
    cat = SimpleNamespace(pk=1, name="cat")
    evil = SimpleNamespace(pk=2, name="../../evil/..")
    keys = ["../../etc/x.jpg", "a/b c#?.png", "one/same.png", "two/same.png", "/abs/path.png", "C:\\win\\y.png", "missing.png"]
    storage = DictStorage({k: k.encode() for k in keys if k != "missing.png"})
    out = io.BytesIO()
    writer = ImageFolderWriter(out, project=None, classes=[cat, evil], created_at=datetime.now(UTC), storage=storage)
    writer.begin()
    written = sum(writer.write(_row(n, key, [cat, evil])) for n, key in enumerate(keys, start=1))
    writer.end()
    names = zipfile.ZipFile(io.BytesIO(out.getvalue())).namelist()
    assert written == 6 and writer.missing == 1
    assert len(names) == len(set(names)) == 12
    for name in names:
        folder, file = name.split("/")
        assert folder in {"cat", "evil"} and file and not file.startswith(".")
        assert ".." not in name.split("/") and "\\" not in name and ":" not in name
    assert "cat/1_x.jpg" in names and "cat/2_b_c_.png" in names and "cat/6_y.png" in names
    assert {"cat/3_same.png", "cat/4_same.png"} <= set(names)


def test_safe_name_falls_back_when_nothing_is_left():
    assert safe_name("..", "image") == "image"
    assert safe_name("日本", "class-3") == "class-3"


def test_item_urls_never_carry_secrets():
    azure = Datastore(kind="azure_blob", endpoint="https://acct.blob.core.windows.net/?sv=2024&sig=SECRET",
                      container="photos", access_key_id="acct")
    assert item_url(url_base(azure), "a b/c.jpg") == "https://acct.blob.core.windows.net/photos/a%20b/c.jpg"
    by_name = Datastore(kind="azure_blob", container="photos", access_key_id="acct")
    assert item_url(url_base(by_name), "x.jpg") == "https://acct.blob.core.windows.net/photos/x.jpg"
    s3 = Datastore(kind="s3", container="bucket", access_key_id="AKIA")
    assert item_url(url_base(s3), "k/x.jpg") == "s3://bucket/k/x.jpg"
    minio = Datastore(kind="s3", endpoint="https://user:pw@minio.example.com:9000", container="bucket")
    assert item_url(url_base(minio), "x.jpg") == "https://minio.example.com:9000/bucket/x.jpg"
    local = Datastore(kind="local", local_path="/srv/images")
    assert item_url(url_base(local), "cats/a.jpg") == "cats/a.jpg"
