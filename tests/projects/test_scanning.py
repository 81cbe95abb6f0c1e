"""Scanning local folders: classification, thumbnails, incremental refresh, concurrency and missing files."""

import io
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from projects import guards
from projects.datastores import scanning
from projects.datastores import services as datastore_services
from projects.datastores import storage as ds
from projects.datastores.tasks import dataset_refresh_task, dataset_scan_task, datasets_refresh_due_task
from projects.models import DataItem, Dataset, LabelingProject
from projects.signals import items_missing, items_registered
from tests.projects.conftest import bomb_png, jpeg_bytes, png_bytes

State = DataItem.State
FOLDER = "MultiClass - DogsCats"


def _create(workspace, datastore, *, subfolders=True, capture, name="cats-n-dogs"):
    with capture(execute=True):
        return datastore_services.dataset_create(
            workspace=workspace,
            name=name,
            description="",
            datastore=datastore,
            path=FOLDER,
            include_subfolders=subfolders,
            actor=None,
        )


def _states(dataset):
    return dict(DataItem.objects.filter(dataset=dataset).values_list("key", "state"))


def test_scan_with_subfolders_classifies_every_file(
    workspace, local_datastore, pets_folder, celery_eager, django_capture_on_commit_callbacks
):
    dataset = _create(workspace, local_datastore, capture=django_capture_on_commit_callbacks)
    dataset.refresh_from_db()
    states = _states(dataset)
    assert states == {
        f"{FOLDER}/cat 1.jpg": State.READY,
        f"{FOLDER}/dog #2.png": State.READY,
        f"{FOLDER}/chat é?.jpeg": State.READY,
        f"{FOLDER}/more cats/cat 3.jpg": State.READY,
        f"{FOLDER}/readme.txt": State.SKIPPED,
        f"{FOLDER}/fake.jpg": State.SKIPPED,
        f"{FOLDER}/broken.jpg": State.UNREADABLE,
        f"{FOLDER}/empty.png": State.UNREADABLE,
    }
    assert dataset.scan_state == Dataset.ScanState.DONE
    assert (dataset.scan_found, dataset.scan_registered, dataset.scan_skipped) == (8, 4, 4)
    cat = DataItem.objects.get(dataset=dataset, key=f"{FOLDER}/cat 1.jpg")
    assert (cat.width, cat.height, cat.image_format, cat.size) == (64, 48, "JPEG", len(jpeg_bytes()))


def test_scan_without_subfolders_stays_in_the_folder(
    workspace, local_datastore, pets_folder, celery_eager, django_capture_on_commit_callbacks
):
    dataset = _create(workspace, local_datastore, subfolders=False, capture=django_capture_on_commit_callbacks)
    states = _states(dataset)
    assert f"{FOLDER}/more cats/cat 3.jpg" not in states
    assert len(states) == 7


def test_thumbnails_apply_exif_orientation_and_fit_the_size(
    workspace, local_datastore, pets_folder, celery_eager, django_capture_on_commit_callbacks, settings
):
    settings.LABELSITE_THUMBNAIL_SIZE = 32
    (pets_folder / "rotated.jpg").write_bytes(jpeg_bytes((64, 48), exif_orientation=6))
    dataset = _create(workspace, local_datastore, capture=django_capture_on_commit_callbacks)
    rotated = DataItem.objects.get(dataset=dataset, key=f"{FOLDER}/rotated.jpg")
    with default_storage.open(rotated.thumbnail) as handle:
        thumb = Image.open(handle)
        assert thumb.format == "JPEG" and thumb.mode == "RGB"
        assert thumb.size == (24, 32)  # portrait after applying the EXIF rotation
    # Thumbnail files are named by ids, never by the object key.
    assert rotated.thumbnail == f"thumbnails/{dataset.uuid}/{rotated.uuid}.jpg"
    assert not DataItem.objects.filter(dataset=dataset, state=State.READY, thumbnail="").exists()


def _with_orientation(fmt, size, orientation) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    Image.new("RGB", size, (90, 160, 30)).save(out, fmt, exif=exif)
    return out.getvalue()


def test_dimensions_are_recorded_as_displayed_whatever_the_exif_orientation(
    workspace, local_datastore, pets_folder, celery_eager, django_capture_on_commit_callbacks
):
    """A portrait photo stored landscape with orientation 6 is a portrait for the labeler, COCO and JSON Lines."""
    bulky = Image.Exif()
    bulky[0x0112] = 6
    bulky[0x010E] = "x" * 60_000  # an EXIF block longer than the first header reads
    out = io.BytesIO()
    Image.new("RGB", (64, 48)).save(out, "JPEG", exif=bulky)
    files = {
        "portrait.jpg": (jpeg_bytes((64, 48), exif_orientation=6), (48, 64)),
        "mirrored.jpg": (jpeg_bytes((64, 48), exif_orientation=5), (48, 64)),
        "upside-down.jpg": (jpeg_bytes((64, 48), exif_orientation=3), (64, 48)),
        "big-exif.jpg": (out.getvalue(), (48, 64)),
        "portrait.png": (_with_orientation("PNG", (40, 30), 8), (30, 40)),
        "portrait.webp": (_with_orientation("WEBP", (40, 30), 6), (30, 40)),
        "portrait.tif": (_with_orientation("TIFF", (40, 30), 6), (30, 40)),
        "plain.jpg": (jpeg_bytes((64, 48)), (64, 48)),
    }
    for name, (data, _) in files.items():
        (pets_folder / "oriented" / name).parent.mkdir(exist_ok=True)
        (pets_folder / "oriented" / name).write_bytes(data)
    dataset = Dataset.objects.create(
        workspace=workspace, name="d", datastore=local_datastore, path=f"{FOLDER}/oriented"
    )
    expected = {f"{FOLDER}/oriented/{name}": size for name, (_, size) in files.items()}

    def sizes():
        return {
            key: (w, h) for key, w, h in DataItem.objects.filter(dataset=dataset).values_list("key", "width", "height")
        }

    scanning.dataset_sync(dataset.pk, mode="scan", thumbnails=False)
    assert sizes() == expected  # from the headers, at registration
    scanning.thumbnails_batch(dataset.pk)
    assert sizes() == expected  # and the thumbnail step, which decodes the image, records the same
    for item in DataItem.objects.filter(dataset=dataset):
        with default_storage.open(item.thumbnail) as handle:
            width, height = Image.open(handle).size
        assert (width > height) == (item.width > item.height), item.key


def test_a_header_claiming_billions_of_pixels_does_not_fail_the_scan(workspace, local_datastore, pets_folder):
    """The width column holds up to 2**31 - 1; a PNG header may say 4 billion. The images beside it are registered."""
    header = bytearray(png_bytes())
    header[16:24] = (3_000_000_000).to_bytes(4, "big") + (1).to_bytes(4, "big")
    (pets_folder / "wide.png").write_bytes(bytes(header))
    (pets_folder / "zero.png").write_bytes(bytes(header[:16]) + bytes(8) + bytes(header[24:]))
    dataset = Dataset.objects.create(workspace=workspace, name="d", datastore=local_datastore, path=FOLDER)
    scanning.dataset_sync(dataset.pk, mode="scan", thumbnails=False)
    dataset.refresh_from_db()
    assert dataset.scan_state == Dataset.ScanState.DONE, dataset.scan_error
    wide = DataItem.objects.get(dataset=dataset, key=f"{FOLDER}/wide.png")
    assert (wide.state, wide.reason, wide.width, wide.height) == (
        State.TOO_LARGE,
        "3000000000×1 pixels is over the limit.",
        None,
        None,
    )
    zero = DataItem.objects.get(dataset=dataset, key=f"{FOLDER}/zero.png")
    assert zero.state == State.UNREADABLE and zero.reason and zero.width is None
    assert DataItem.objects.get(dataset=dataset, key=f"{FOLDER}/cat 1.jpg").state == State.READY


def test_thumbnails_of_a_deleted_dataset_leave_no_files(
    workspace, ws_admin, local_datastore, pets_folder, celery_eager, django_capture_on_commit_callbacks, settings
):
    dataset = _create(workspace, local_datastore, capture=django_capture_on_commit_callbacks)
    folder = Path(settings.MEDIA_ROOT) / "thumbnails" / str(dataset.uuid)
    assert len(list(folder.iterdir())) == 4
    late = DataItem.objects.select_related("dataset__datastore").get(dataset=dataset, key=f"{FOLDER}/cat 1.jpg")
    with django_capture_on_commit_callbacks(execute=True):
        datastore_services.dataset_delete(dataset=dataset, actor=ws_admin)
    assert not folder.exists()
    # A thumbnail worker still busy with one of its items writes nothing that stays.
    scanning.make_thumbnail(late)
    assert not default_storage.exists(scanning.thumbnail_name(late))
    assert scanning.thumbnails_delete(str(dataset.uuid)) == 0


@pytest.mark.parametrize("mode", ["CMYK", "I;16", "LA", "P", "1", "F"])
def test_odd_image_modes_get_thumbnails(
    mode, workspace, local_datastore, pets_folder, celery_eager, django_capture_on_commit_callbacks
):
    out = io.BytesIO()
    image = Image.new(mode, (20, 10))
    image.save(out, "TIFF" if mode in ("CMYK", "F") else "PNG")
    (pets_folder / f"odd.{'tif' if mode in ('CMYK', 'F') else 'png'}").write_bytes(out.getvalue())
    dataset = _create(workspace, local_datastore, capture=django_capture_on_commit_callbacks)
    item = DataItem.objects.get(dataset=dataset, key__startswith=f"{FOLDER}/odd.")
    assert item.state == State.READY, item.reason
    assert item.thumbnail


def test_bombs_and_truncated_files_end_in_clear_states(
    workspace, local_datastore, pets_folder, celery_eager, django_capture_on_commit_callbacks, settings
):
    settings.LABELSITE_MAX_IMAGE_PIXELS = 4_000_000
    (pets_folder / "bomb.png").write_bytes(bomb_png(3000))  # 9 Mpx in a few kB
    whole = jpeg_bytes((400, 300))
    (pets_folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    dataset = _create(workspace, local_datastore, capture=django_capture_on_commit_callbacks)
    bomb = DataItem.objects.get(dataset=dataset, key=f"{FOLDER}/bomb.png")
    truncated = DataItem.objects.get(dataset=dataset, key=f"{FOLDER}/truncated.jpg")
    assert bomb.state == State.TOO_LARGE and "pixels" in bomb.reason
    # The header of a truncated JPEG is fine; decoding it for the thumbnail finds the damage.
    assert truncated.state == State.UNREADABLE and truncated.reason
    # The worker carried on: every other image got its thumbnail.
    assert DataItem.objects.filter(dataset=dataset, state=State.READY).exclude(thumbnail="").count() == 4


def test_bomb_found_only_when_decoding_is_too_large(workspace, local_datastore, pets_folder, settings):
    (pets_folder / "bomb.png").write_bytes(bomb_png(3000))
    dataset = Dataset.objects.create(workspace=workspace, name="d", datastore=local_datastore, path=FOLDER)
    scanning.dataset_sync(dataset.pk, mode="scan", thumbnails=False)
    bomb = DataItem.objects.get(dataset=dataset, key=f"{FOLDER}/bomb.png")
    assert bomb.state == State.READY
    settings.LABELSITE_MAX_IMAGE_PIXELS = 1_000_000
    scanning.thumbnails_batch(dataset.pk)
    bomb.refresh_from_db()
    assert bomb.state == State.TOO_LARGE and not bomb.thumbnail


def test_byte_limit_marks_too_large(workspace, local_datastore, pets_folder, settings):
    settings.LABELSITE_MAX_IMAGE_BYTES = 300
    dataset = Dataset.objects.create(workspace=workspace, name="d", datastore=local_datastore, path=FOLDER)
    scanning.dataset_sync(dataset.pk, mode="scan", thumbnails=False)
    assert DataItem.objects.get(dataset=dataset, key=f"{FOLDER}/cat 1.jpg").state == State.TOO_LARGE


def test_items_registered_is_sent_after_new_ready_items(workspace, local_datastore, pets_folder):
    received = []

    def receiver(sender, dataset, **kwargs):
        received.append(dataset.pk)

    items_registered.connect(receiver)
    try:
        dataset = Dataset.objects.create(workspace=workspace, name="d", datastore=local_datastore, path=FOLDER)
        scanning.dataset_sync(dataset.pk, mode="scan", thumbnails=False)
        scanning.dataset_sync(dataset.pk, mode="refresh", thumbnails=False)  # nothing new: no signal
    finally:
        items_registered.disconnect(receiver)
    assert received == [dataset.pk]


def test_refresh_picks_up_a_new_file_once(
    workspace, local_datastore, pets_folder, celery_eager, django_capture_on_commit_callbacks
):
    dataset = _create(workspace, local_datastore, capture=django_capture_on_commit_callbacks)
    before = DataItem.objects.filter(dataset=dataset).count()
    (pets_folder / "new cat.jpg").write_bytes(jpeg_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        datastore_services.dataset_refresh(dataset=dataset)
    dataset.refresh_from_db()
    assert dataset.last_refresh_added == 1 and dataset.last_refresh_at and not dataset.last_refresh_error
    new = DataItem.objects.get(dataset=dataset, key=f"{FOLDER}/new cat.jpg")
    assert new.state == State.READY and new.thumbnail
    dataset_refresh_task(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.last_refresh_added == 0
    assert DataItem.objects.filter(dataset=dataset).count() == before + 1


def test_a_refresh_while_another_runs_adds_nothing_twice(workspace, local_datastore, pets_folder, monkeypatch):
    dataset = Dataset.objects.create(workspace=workspace, name="d", datastore=local_datastore, path=FOLDER)
    real = ds.iter_objects
    nested = []

    def listing(*args, **kwargs):
        # Halfway through the listing a second refresh starts (beat and "Refresh now" together).
        nested.append(scanning.dataset_sync(dataset.pk, mode="refresh", thumbnails=False))
        yield from real(*args, **kwargs)

    monkeypatch.setattr(ds, "iter_objects", listing)
    first = scanning.dataset_sync(dataset.pk, mode="refresh", thumbnails=False)
    assert nested == [None]  # the second one saw the lease and left
    assert first["found"] == 8
    assert DataItem.objects.filter(dataset=dataset).count() == 8
    dataset.refresh_from_db()
    assert dataset.busy_until is None


def test_a_dataset_lease_runs_on_the_database_clock(workspace, local_datastore, pets_folder, monkeypatch):
    """A worker whose clock runs an hour ahead must not take a refresh that another worker still holds."""
    dataset = Dataset.objects.create(workspace=workspace, name="d", datastore=local_datastore, path=FOLDER)
    assert scanning._acquire(dataset.pk)  # held now, for scanning.LEASE by the database's clock
    ahead = timezone.now() + timedelta(hours=1)
    monkeypatch.setattr(timezone, "now", lambda: ahead)
    assert scanning.dataset_sync(dataset.pk, mode="refresh", thumbnails=False) is None  # saw the lease and left
    assert not DataItem.objects.filter(dataset=dataset).exists()
    with pytest.raises(guards.InUse, match="being scanned or refreshed"):
        datastore_services.dataset_delete_check(dataset=dataset)
    Dataset.objects.filter(pk=dataset.pk).update(busy_until=None)
    assert scanning._acquire(dataset.pk)


def test_registering_the_same_files_twice_keeps_one_row(workspace, local_datastore, pets_folder):
    dataset = Dataset.objects.create(workspace=workspace, name="d", datastore=local_datastore, path=FOLDER)
    storage = ds.storage_for(local_datastore)
    entries = list(ds.iter_objects(local_datastore, FOLDER, recursive=True, storage=storage))
    assert scanning.register_batch(dataset, storage, entries) == (4, 4)
    assert scanning.register_batch(dataset, storage, entries) == (0, 0)
    assert DataItem.objects.filter(dataset=dataset).count() == 8


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_in_threads_register_each_file_once(postgres, workspace, local_datastore, pets_folder):
    from django.db import connection

    # PostgreSQL: pytest-django's SQLite is one in-memory database in shared-cache mode, where a writer meeting
    # another answers "table is locked" at once instead of waiting (a file database waits for its busy timeout).
    for n in range(200):
        (pets_folder / f"bulk {n}.jpg").write_bytes(jpeg_bytes((8, 8)))
    dataset = Dataset.objects.create(workspace=workspace, name="d", datastore=local_datastore, path=FOLDER)
    barrier = threading.Barrier(3)
    errors = []

    def run():
        try:
            barrier.wait()
            scanning.dataset_sync(dataset.pk, mode="refresh", thumbnails=False)
        except Exception as error:  # noqa: BLE001 — reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    keys = list(DataItem.objects.filter(dataset=dataset).values_list("key", flat=True))
    assert len(keys) == len(set(keys)) == 208


def test_missing_files_are_marked_and_come_back(
    workspace, local_datastore, pets_folder, celery_eager, django_capture_on_commit_callbacks, manager_client, ws_url
):
    dataset = _create(workspace, local_datastore, capture=django_capture_on_commit_callbacks)
    gone = []
    items_missing.connect(lambda sender, dataset, **kw: gone.append(dataset.pk), weak=False, dispatch_uid="t-missing")
    try:
        (pets_folder / "cat 1.jpg").unlink()
        dataset_refresh_task(dataset.pk)
    finally:
        items_missing.disconnect(dispatch_uid="t-missing")
    assert gone == [dataset.pk]
    item = DataItem.objects.get(dataset=dataset, key=f"{FOLDER}/cat 1.jpg")
    assert item.state == State.MISSING
    assert manager_client.get(ws_url("dataset", dataset=dataset.uuid)).status_code == 200
    assert manager_client.get(ws_url("item_image", item=item.uuid)).status_code == 404
    (pets_folder / "cat 1.jpg").write_bytes(jpeg_bytes())
    dataset_refresh_task(dataset.pk)
    item.refresh_from_db()
    assert item.state == State.READY
    assert DataItem.objects.filter(dataset=dataset, key=f"{FOLDER}/cat 1.jpg").count() == 1


def test_scan_of_a_vanished_folder_fails_cleanly(workspace, local_datastore, local_root):
    dataset = Dataset.objects.create(workspace=workspace, name="d", datastore=local_datastore, path="nowhere")
    dataset_scan_task(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.scan_state == Dataset.ScanState.FAILED
    assert dataset.scan_error == "The folder or file does not exist."
    assert dataset.busy_until is None


def test_beat_refreshes_only_datasets_of_projects_that_ask(workspace, local_datastore, pets_folder, celery_eager):
    wanted = Dataset.objects.create(workspace=workspace, name="wanted", datastore=local_datastore, path=FOLDER)
    other = Dataset.objects.create(workspace=workspace, name="other", datastore=local_datastore, path=FOLDER)
    LabelingProject.objects.create(
        workspace=workspace, name="p1", task_type="multiclass", dataset=wanted, incremental_refresh=True
    )
    LabelingProject.objects.create(workspace=workspace, name="p2", task_type="multiclass", dataset=other)
    Dataset.objects.filter(pk=wanted.pk).update(
        busy_until=timezone.now() - timedelta(minutes=1)
    )  # a dead worker's lease
    assert datasets_refresh_due_task() == 1
    wanted.refresh_from_db()
    other.refresh_from_db()
    assert wanted.last_refresh_at and DataItem.objects.filter(dataset=wanted).count() == 8
    assert other.last_refresh_at is None


def test_beat_schedule_uses_the_refresh_interval():
    from labelsite.celery import app

    entry = app.conf.beat_schedule["datasets-refresh"]
    assert entry["task"] == "projects.tasks.datasets_refresh_due_task"
    assert entry["schedule"] == 300


def test_dataset_create_checks_workspace_and_path(workspace, other_workspace, local_datastore):
    with pytest.raises(ValidationError):
        datastore_services.dataset_create(
            workspace=other_workspace,
            name="x",
            description="",
            datastore=local_datastore,
            path="",
            include_subfolders=True,
            actor=None,
        )
    with pytest.raises(ValidationError):
        datastore_services.dataset_create(
            workspace=workspace,
            name="x",
            description="",
            datastore=local_datastore,
            path="a/../../etc",
            include_subfolders=True,
            actor=None,
        )


def test_a_scan_requested_during_a_refresh_runs_after_it(
    workspace, local_datastore, pets_folder, monkeypatch, celery_eager, django_capture_on_commit_callbacks
):
    dataset = Dataset.objects.create(workspace=workspace, name="d", datastore=local_datastore, path=FOLDER)
    real = ds.iter_objects

    def listing(*args, **kwargs):
        monkeypatch.setattr(ds, "iter_objects", real)
        Dataset.objects.filter(pk=dataset.pk).update(scan_state=Dataset.ScanState.PENDING)  # "Scan again" clicked
        assert dataset_scan_task(dataset.pk) is None  # the worker picks it up at once and finds the dataset busy
        yield from real(*args, **kwargs)

    monkeypatch.setattr(ds, "iter_objects", listing)
    with django_capture_on_commit_callbacks(execute=True):
        scanning.dataset_sync(dataset.pk, mode="refresh", thumbnails=False)
    dataset.refresh_from_db()
    assert dataset.scan_state == Dataset.ScanState.DONE and dataset.scan_found == 8


def test_dimensions_fix_turns_items_registered_before_sizes_followed_the_orientation(
    workspace, local_datastore, pets_folder
):
    from django.core.management import call_command

    (pets_folder / "portrait.jpg").write_bytes(jpeg_bytes((64, 48), exif_orientation=6))
    dataset = Dataset.objects.create(workspace=workspace, name="d", datastore=local_datastore, path=FOLDER)
    scanning.dataset_sync(dataset.pk, mode="scan", thumbnails=False)
    before = dict(DataItem.objects.filter(dataset=dataset).values_list("key", "width"))
    # As an older version recorded it: the stored (landscape) size.
    DataItem.objects.filter(dataset=dataset, key=f"{FOLDER}/portrait.jpg").update(width=64, height=48)
    out = io.StringIO()
    call_command("dataset_dimensions_fix", str(dataset.uuid), stdout=out)
    assert f"{dataset.uuid} d: 1 item(s) now recorded as displayed" in out.getvalue()
    portrait = DataItem.objects.get(dataset=dataset, key=f"{FOLDER}/portrait.jpg")
    assert (portrait.width, portrait.height) == (48, 64)
    assert dict(DataItem.objects.filter(dataset=dataset).values_list("key", "width")) == before
    call_command("dataset_dimensions_fix", stdout=out)  # again, for every dataset: nothing left to turn
    assert out.getvalue().endswith(f"{dataset.uuid} d: 0 item(s) now recorded as displayed\n")
