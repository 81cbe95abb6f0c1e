"""Dataset pages, the Browse fragment and the item media views, for every role."""

import html
import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from projects.datastores import scanning
from projects.models import DataItem, Dataset
from tests.projects.conftest import png_bytes

FOLDER = "MultiClass - DogsCats"


@pytest.fixture
def dataset(workspace, local_datastore, pets_folder):
    found = Dataset.objects.create(workspace=workspace, name="cats-n-dogs", datastore=local_datastore, path=FOLDER)
    scanning.dataset_sync(found.pk, mode="scan", thumbnails=False)
    found.refresh_from_db()
    return found


def _item(dataset, name):
    return DataItem.objects.get(dataset=dataset, key=f"{FOLDER}/{name}")


def test_manager_sees_the_list_and_the_detail_with_reasons(manager_client, ws_url, dataset):
    listing = manager_client.get(ws_url("datasets"))
    assert listing.status_code == 200
    assert "cats-n-dogs" in listing.content.decode()
    page = manager_client.get(ws_url("dataset", dataset=dataset.uuid))
    body = page.content.decode()
    assert page.status_code == 200
    assert "MultiClass - DogsCats" in body and "Refresh now" in body
    assert "readme.txt" in body and "Not an image (extension .txt)." in body
    assert "broken.jpg" in body and "Empty file (0 bytes)." in body
    assert 'hx-trigger="every 2s"' not in body  # scan finished: no polling


def test_lower_roles_are_refused_and_outsiders_see_nothing(
    labeler_client, reviewer_client, outsider_client, anon_client, ws_url, dataset
):
    for url in (ws_url("datasets"), ws_url("dataset", dataset=dataset.uuid)):
        assert labeler_client.get(url).status_code == 403
        assert reviewer_client.get(url).status_code == 403
        assert outsider_client.get(url).status_code == 404
        assert anon_client.get(url).status_code == 302


def test_workspace_page_links_datasets_for_managers_only(manager_client, labeler_client, ws_url):
    link = ws_url("datasets")
    assert link in manager_client.get(ws_url("workspace")).content.decode()
    assert link not in labeler_client.get(ws_url("workspace")).content.decode()


def test_progress_fragment_polls_while_scanning_and_stops_when_done(manager_client, ws_url, dataset):
    url = ws_url("dataset_progress", dataset=dataset.uuid)
    done = manager_client.get(url, headers={"HX-Request": "true"})
    assert done.status_code == 286
    assert 'Found <span data-count="found">8</span>' in done.content.decode()
    assert "<html" not in done.content.decode() and "every 2s" not in done.content.decode()
    # The last answer lets the counts below and the notification bell catch up, each once.
    assert json.loads(done["HX-Trigger"]).keys() == {"dataset-synced", "notifications-changed"}
    Dataset.objects.filter(pk=dataset.pk).update(scan_state=Dataset.ScanState.SCANNING, scan_found=3)
    running = manager_client.get(url, headers={"HX-Request": "true"})
    assert running.status_code == 200 and "HX-Trigger" not in running
    assert 'hx-trigger="every 2s"' in running.content.decode()
    assert "so far" in running.content.decode()
    assert manager_client.get(ws_url("dataset", dataset=dataset.uuid)).content.decode().count("every 2s") == 1


def test_a_poll_reads_the_dataset_row_only_whatever_its_size(manager_client, ws_url, dataset):
    """Counting items by state walks the whole dataset: it is not part of the fragment polled every 2 seconds."""
    Dataset.objects.filter(pk=dataset.pk).update(scan_state=Dataset.ScanState.SCANNING)
    url = ws_url("dataset_progress", dataset=dataset.uuid)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert manager_client.get(url, headers={"HX-Request": "true"}).status_code == 200
        return [q["sql"] for q in captured.captured_queries]

    queries()  # the first page of a workspace also reads its datastores' image origins (then cached)
    small = queries()
    DataItem.objects.bulk_create(
        DataItem(dataset=dataset, key=f"more/{n:05}.jpg", state=DataItem.State.READY) for n in range(2000)
    )
    large = queries()
    assert len(small) == len(large)
    assert not any("COUNT(" in sql.upper() for sql in large)


def test_the_counts_and_problem_list_come_back_as_one_fragment(manager_client, ws_url, dataset):
    response = manager_client.get(
        ws_url("dataset", dataset=dataset.uuid) + "?part=contents", headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert "<th>Ready</th><td>4</td>" in body and "readme.txt" in body
    assert 'hx-trigger="dataset-synced from:body"' in body


def test_refresh_now_shows_the_refresh_waiting_running_then_done_without_a_reload(
    manager_client, ws_url, dataset, pets_folder, django_capture_on_commit_callbacks
):
    refresh = ws_url("dataset_refresh", dataset=dataset.uuid)
    with django_capture_on_commit_callbacks() as queued:  # no worker yet: the task waits in the queue
        waiting = manager_client.post(refresh, headers={"HX-Request": "true"})
    assert len(queued) == 1
    body = waiting.content.decode()
    assert waiting.status_code == 200 and "<html" not in body
    assert "Refresh asked for" in body and 'hx-trigger="every 2s"' in body
    poll = ws_url("dataset_progress", dataset=dataset.uuid)
    # A worker takes it: the counters it keeps per batch show.
    Dataset.objects.filter(pk=dataset.pk).update(
        busy_until=timezone.now() + timedelta(minutes=5), refresh_found=120, refresh_added=7
    )
    running = manager_client.get(poll, headers={"HX-Request": "true"}).content.decode()
    assert "Refreshing" in running and '<span data-count="refresh-found">120</span> files listed' in running
    assert '<span data-count="refresh-added">7</span> new images so far' in running
    Dataset.objects.filter(pk=dataset.pk).update(busy_until=None)
    (pets_folder / "new.png").write_bytes(png_bytes())
    scanning.dataset_sync(dataset.pk, mode="refresh", thumbnails=False)
    done = manager_client.get(poll, headers={"HX-Request": "true"})
    assert (
        done.status_code == 286
        and "1 added" in done.content.decode()
        and "Refresh asked for" not in done.content.decode()
    )
    assert "dataset-synced" in done["HX-Trigger"]


def test_a_refresh_asked_for_while_another_runs_stops_waiting_for_itself(dataset):
    """The run holding the dataset lists the folder now; the second request has nothing left to wait for (the page
    would otherwise poll forever)."""
    Dataset.objects.filter(pk=dataset.pk).update(
        busy_until=timezone.now() + timedelta(minutes=5), refresh_requested_at=timezone.now()
    )
    assert scanning.dataset_sync(dataset.pk, mode="refresh") is None
    dataset.refresh_from_db()
    assert dataset.refresh_requested_at is None and dataset.sync_active  # still polling: the other run is busy


def test_problem_list_is_paged(manager_client, ws_url, dataset):
    DataItem.objects.bulk_create(
        DataItem(dataset=dataset, key=f"junk/{n:03}.txt", state=DataItem.State.SKIPPED, reason="Not an image")
        for n in range(60)
    )
    url = ws_url("dataset", dataset=dataset.uuid)
    first = manager_client.get(url).content.decode()
    assert "Page 1 of 2" in first
    second = manager_client.get(url + "?page=2", headers={"HX-Request": "true"})
    assert "Page 2 of 2" in second.content.decode() and "<html" not in second.content.decode()


def test_refresh_now_is_a_post_for_managers(
    manager_client, labeler_client, ws_url, dataset, pets_folder, celery_eager, django_capture_on_commit_callbacks
):
    url = ws_url("dataset_refresh", dataset=dataset.uuid)
    assert manager_client.get(url).status_code == 405
    assert labeler_client.post(url).status_code == 403
    (pets_folder / "new.png").write_bytes(png_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(url)
    assert response.status_code == 302
    page = manager_client.get(response["Location"]).content.decode()
    assert "1 added" in page
    assert "Refresh asked for" not in page and 'hx-trigger="every 2s"' not in page  # done: nothing left to poll


def test_refresh_now_with_htmx_says_it_started_and_follows_it_to_its_result(
    manager_client, ws_url, dataset, pets_folder
):
    """No worker runs here: the answer says the refresh is waiting for one and keeps polling until it has a result."""
    htmx = {"HX-Request": "true"}
    (pets_folder / "new.png").write_bytes(png_bytes())
    started = manager_client.post(ws_url("dataset_refresh", dataset=dataset.uuid), headers=htmx)
    body = started.content.decode()
    assert started.status_code == 200 and body.lstrip().startswith('<div id="scan-progress"')
    assert "Refresh asked for" in body and "waiting for a worker" in body and 'hx-trigger="every 2s"' in body
    poll = html.unescape(re.search(r'hx-get="([^"]+)"', body).group(1))
    waiting = manager_client.get(poll, headers=htmx)
    assert waiting.status_code == 200 and "Refresh asked for" in waiting.content.decode()  # still queued: keep polling
    scanning.dataset_sync(dataset.pk, mode="refresh", thumbnails=False)  # what the worker does
    finished = manager_client.get(poll, headers=htmx)
    assert finished.status_code == 286  # htmx swaps this last answer and stops polling
    text = " ".join(re.sub(r"<[^>]+>", " ", finished.content.decode()).split())
    assert "Refresh asked for" not in text and "Last refresh: now, 1 added" in text.replace("just now", "now")


def test_browse_fragment_lists_folders(manager_client, labeler_client, ws_url, local_datastore, pets_folder):
    url = ws_url("datastore_browse", datastore=local_datastore.uuid)
    full = manager_client.get(url)
    assert full.status_code == 200 and "<html" in full.content.decode()
    fragment = manager_client.get(url, {"path": FOLDER}, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment
    assert "more cats/" in fragment and 'data-path="MultiClass - DogsCats/more cats"' in fragment
    assert "7 files directly" in fragment
    assert labeler_client.get(url).status_code == 403


def test_browse_cannot_climb_out(manager_client, ws_url, local_datastore, pets_folder):
    response = manager_client.get(ws_url("datastore_browse", datastore=local_datastore.uuid), {"path": "../../.."})
    assert response.status_code == 422  # refused with the reason, as the API and the dataset form refuse it
    html = response.content.decode()
    assert "may not contain &#x27;..&#x27;" in html
    assert "MultiClass - DogsCats/" in html  # and the folders of the top, to go on from


def test_thumbnail_placeholder_then_cached_image(manager_client, ws_url, dataset):
    item = _item(dataset, "cat 1.jpg")
    url = ws_url("item_thumbnail", item=item.uuid)
    waiting = manager_client.get(url)
    assert waiting.status_code == 200 and waiting["Content-Type"] == "image/svg+xml"
    assert waiting["Cache-Control"] == "no-store"
    scanning.thumbnails_batch(dataset.pk)
    ready = manager_client.get(url)
    assert ready["Content-Type"] == "image/jpeg"
    assert ready["Cache-Control"].startswith("private, max-age=")
    assert b"".join(ready.streaming_content)[:3] == b"\xff\xd8\xff"


def test_local_image_is_streamed_with_safe_headers(manager_client, ws_url, dataset, pets_folder):
    item = _item(dataset, "dog #2.png")
    response = manager_client.get(ws_url("item_image", item=item.uuid))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline;") and "dog #2.png" in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == (pets_folder / "dog #2.png").read_bytes()
    unicode_item = _item(dataset, "chat é?.jpeg")
    got = manager_client.get(ws_url("item_image", item=unicode_item.uuid))
    assert b"".join(got.streaming_content) == (pets_folder / "chat é?.jpeg").read_bytes()


def test_non_images_are_never_served(manager_client, ws_url, dataset):
    for name in ("fake.jpg", "readme.txt"):
        assert manager_client.get(ws_url("item_image", item=_item(dataset, name).uuid)).status_code == 404


def test_outsiders_get_404_on_thumbnails_and_images(outsider_client, anon_client, ws_url, dataset, outsider):
    item = _item(dataset, "cat 1.jpg")
    for name in ("item_thumbnail", "item_image"):
        assert outsider_client.get(ws_url(name, item=item.uuid)).status_code == 404
        assert anon_client.get(ws_url(name, item=item.uuid)).status_code == 302
    # Through their own workspace's URL the foreign item does not match either.
    own = reverse("item_image", kwargs={"org": "globex", "ws": "secret", "item": item.uuid})
    assert outsider_client.get(own).status_code == 404


def test_pages_answer_only_their_methods(manager_client, ws_url, dataset, local_datastore):
    item = _item(dataset, "cat 1.jpg")
    for url in (
        ws_url("datasets"),
        ws_url("dataset", dataset=dataset.uuid),
        ws_url("dataset_progress", dataset=dataset.uuid),
        ws_url("datastore_browse", datastore=local_datastore.uuid),
        ws_url("item_thumbnail", item=item.uuid),
        ws_url("item_image", item=item.uuid),
    ):
        assert manager_client.post(url).status_code == 405, url
    page = manager_client.get(ws_url("dataset", dataset=dataset.uuid))
    assert "HX-Request" in page["Vary"]
