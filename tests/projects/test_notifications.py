"""Notifications in the top bar: each person sees only their own, while they may still follow them; marking read;
the jobs that write them (export, import, scan and refresh); the API."""

import json

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from projects.datastores import scanning
from projects.datastores import services as datastore_services
from projects.models import Dataset, Membership, Notification
from projects.tenancy.notifications import notification_create, notifications_bell_get
from projects.tenancy.roles import LABELER
from tests.factories import DatasetFactory

PAGE = "/notifications/"


def notify(
    user,
    workspace,
    *,
    kind="export_ready",
    message="Export of “Pets” is ready.",
    link="/somewhere/",
    perm="exports.view_export",
):
    return notification_create(
        user_id=user.pk, workspace_id=workspace.pk, kind=kind, message=message, link=link, perm=perm
    )


@pytest.fixture
def notes(workspace, manager, labeler, org_admin):
    return {
        "manager": notify(manager, workspace, message="Export of “Pets” is ready: COCO, 3 images."),
        "labeler": notify(
            labeler, workspace, kind="note", message="Something for the labeler.", perm="labeling.label_task"
        ),
        "admin": notify(
            org_admin,
            workspace,
            kind="scan_failed",
            message="Scan of dataset “cats” failed.",
            perm="projects.view_dataset",
        ),
    }


def test_each_person_sees_only_their_own(notes, manager_client, labeler_client, org_admin_client):
    mine = manager_client.get(PAGE).content.decode()
    assert "Export of “Pets” is ready: COCO, 3 images." in mine
    assert "Something for the labeler." not in mine and "Scan of dataset" not in mine
    theirs = labeler_client.get(PAGE).content.decode()
    assert "Something for the labeler." in theirs and "Export of" not in theirs
    admin = org_admin_client.get(PAGE).content.decode()
    assert "Scan of dataset “cats” failed." in admin and "Export of" not in admin


def test_the_bell_on_every_page_counts_the_unread_ones(notes, manager_client, manager, workspace, ws_url):
    notify(manager, workspace, message="A second one.")
    page = manager_client.get(ws_url("workspace")).content.decode()
    assert 'id="notification-bell"' in page and 'data-unread="2"' in page and "A second one." in page
    assert 'aria-label="Notifications, 2 unread"' in page
    bell = manager_client.get(reverse("notifications_bell"), headers={"HX-Request": "true"})
    assert (
        bell.status_code == 200 and "<html" not in bell.content.decode() and 'data-unread="2"' in bell.content.decode()
    )
    assert 'hx-trigger="notifications-changed from:body"' in bell.content.decode()
    assert "HX-Request" in bell["Vary"]


def test_a_lost_role_or_workspace_hides_them(notes, manager, labeler_client, manager_client, labeler, workspace):
    membership = Membership.objects.get(user=manager)
    membership.group = Group.objects.get(name=LABELER)  # a labeler may not open exports: the link would be a 403
    membership.save()
    assert "Export of" not in manager_client.get(PAGE).content.decode()
    assert notifications_bell_get(user=manager).unread == 0
    Membership.objects.filter(user=labeler).delete()
    assert "Something for the labeler." not in labeler_client.get(PAGE).content.decode()
    assert Notification.objects.count() == 3  # hidden, not deleted: a role given back shows them again


def test_an_outsider_gets_404_for_someone_elses_notification(notes, outsider_client, outsider, other_workspace):
    note = notes["manager"]
    for name in ("notification_open", "notification_read"):
        assert outsider_client.post(reverse(name, args=[note.uuid])).status_code == 404
    assert "Export of" not in outsider_client.get(PAGE).content.decode()
    note.refresh_from_db()
    assert note.read_at is None
    # An outsider's own notification in their workspace does not leak into Acme's people either.
    notify(outsider, other_workspace, message="Globex export ready.")
    listed = outsider_client.get(PAGE, headers={"HX-Request": "true"}).content.decode()
    assert "Globex export ready." in listed and "Export of" not in listed


def test_someone_else_in_the_workspace_cannot_read_mine(notes, labeler_client):
    assert labeler_client.post(reverse("notification_open", args=[notes["manager"].uuid])).status_code == 404


def test_anonymous_goes_to_login_and_wrong_methods_answer_405(notes, anon_client, manager_client):
    note = notes["manager"]
    for url in (PAGE, reverse("notifications_bell")):
        assert anon_client.get(url)["Location"].startswith("/accounts/login/")
    for url in (
        reverse("notification_open", args=[note.uuid]),
        reverse("notification_read", args=[note.uuid]),
        reverse("notifications_read_all"),
    ):
        assert anon_client.post(url)["Location"].startswith("/accounts/login/")
        assert manager_client.get(url).status_code == 405


def test_opening_one_reads_it_and_goes_where_it_leads(notes, manager_client):
    note = notes["manager"]
    response = manager_client.post(reverse("notification_open", args=[note.uuid]))
    assert response.status_code == 302 and response["Location"] == "/somewhere/"
    note.refresh_from_db()
    assert note.read_at is not None
    assert "data-unread" not in manager_client.get(PAGE).content.decode()  # the bell shows no count any more


def test_marking_read_with_htmx_refreshes_every_bell_and_list_on_the_page(notes, manager_client, manager, workspace):
    other = notify(manager, workspace, message="Another.")
    response = manager_client.post(reverse("notification_read", args=[other.uuid]), headers={"HX-Request": "true"})
    assert response.status_code == 204 and json.loads(response["HX-Trigger"]).keys() == {"notifications-changed"}
    assert notifications_bell_get(user=manager).unread == 1
    plain = manager_client.post(reverse("notifications_read_all"), {"next": "/o/acme/vision/"})
    assert plain.status_code == 302 and plain["Location"] == "/o/acme/vision/"
    assert notifications_bell_get(user=manager).unread == 0
    # Read ones stay on the page, without the New badge.
    page = manager_client.get(PAGE).content.decode()
    assert "Another." in page and "is-unread" not in page
    elsewhere = manager_client.post(reverse("notifications_read_all"), {"next": "https://evil.example/"})
    assert elsewhere["Location"] == PAGE


def test_the_list_refreshes_itself_as_a_fragment(notes, manager_client):
    response = manager_client.get(PAGE, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and 'id="notification-list"' in body
    assert 'hx-trigger="notifications-changed from:body"' in body


def test_the_bell_costs_the_same_queries_with_many_notifications(manager, workspace):
    notify(manager, workspace)
    with CaptureQueriesContext(connection) as few:
        notifications_bell_get(user=manager)
    for n in range(30):
        notify(manager, workspace, message=f"Export {n}")
    with CaptureQueriesContext(connection) as many:
        bell = notifications_bell_get(user=manager)
    assert len(few) == 1 and len(many) == 2  # the newest five, then a count once there are more
    assert bell.unread == 31 and len(bell.recent) == 5 and bell.recent[0].message == "Export 29"


def test_only_workspace_permissions_and_site_paths_are_accepted(manager, workspace):
    with pytest.raises(ValueError, match="not a workspace permission"):
        notify(manager, workspace, perm="auth.change_user")
    with pytest.raises(ValueError, match="not a path inside the site"):
        notify(manager, workspace, link="https://evil.example/")
    with pytest.raises(ValueError, match="not a path inside the site"):
        notify(manager, workspace, link="//evil.example/")


# --- the jobs that write them ------------------------------------------------------------------------------------


def test_a_scan_that_fails_tells_whoever_asked(
    workspace, manager, local_datastore, celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        dataset = datastore_services.dataset_create(
            workspace=workspace, name="gone", datastore=local_datastore, path="no such folder", actor=manager
        )
    dataset.refresh_from_db()
    assert dataset.scan_state == Dataset.ScanState.FAILED
    note = Notification.objects.for_user(manager).get()
    assert (
        note.kind == "scan_failed"
        and note.message == "Scan of dataset “gone” failed: The folder or file does not exist."
    )
    assert note.link == reverse("dataset", kwargs={"org": "acme", "ws": "vision", "dataset": dataset.uuid})


def test_a_refresh_that_fails_tells_whoever_asked_and_the_scheduled_one_tells_nobody(
    workspace, manager, local_datastore, celery_eager, django_capture_on_commit_callbacks
):
    dataset = DatasetFactory.create(workspace=workspace, name="gone", datastore=local_datastore, path="no such folder")
    scanning.dataset_sync(dataset.pk, mode="refresh")  # Celery beat's refresh: nobody asked
    assert not Notification.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        datastore_services.dataset_refresh(dataset=dataset, actor=manager)
    note = Notification.objects.get()
    assert note.user == manager and note.kind == "refresh_failed" and "Refresh of dataset “gone” failed" in note.message
    dataset.refresh_from_db()
    assert dataset.refresh_requested_at is None and not dataset.sync_active


def test_a_scan_that_succeeds_tells_nobody(
    workspace, manager, local_datastore, pets_folder, celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        datastore_services.dataset_create(
            workspace=workspace, name="pets", datastore=local_datastore, path="MultiClass - DogsCats", actor=manager
        )
    assert Dataset.objects.get(name="pets").scan_state == Dataset.ScanState.DONE
    assert not Notification.objects.exists()


# --- API -----------------------------------------------------------------------------------------------------------

API = "/api/v1/notifications/"


def test_api_lists_the_callers_own_and_marks_them_read(notes, manager_client, manager, workspace):
    second = notify(manager, workspace, message="Second.", link="/o/acme/vision/")
    listing = manager_client.get(API).json()
    assert [n["message"] for n in listing["results"]] == ["Second.", "Export of “Pets” is ready: COCO, 3 images."]
    first = listing["results"][0]
    assert first["url"] == "http://testserver/o/acme/vision/" and first["organization"] == "acme"
    assert first["workspace"] == "vision" and first["read"] is False and first["id"] == str(second.uuid)
    read = manager_client.post(f"{API}{second.uuid}/read/")
    assert read.status_code == 200 and read.json()["read"] is True
    assert [n["message"] for n in manager_client.get(API + "?unread=true").json()["results"]] == [
        "Export of “Pets” is ready: COCO, 3 images."
    ]
    many = manager_client.post(API + "read/", {"all": True}, content_type="application/json")
    assert many.json() == {"marked": 1}
    assert manager_client.get(API + "?unread=true").json()["results"] == []


def test_api_read_many_by_ids_and_refuses_a_vague_body(notes, manager_client):
    note = notes["manager"]
    assert manager_client.post(API + "read/", {"ids": [str(note.uuid)]}, content_type="application/json").json() == {
        "marked": 1
    }
    for body in ({}, {"ids": [str(note.uuid)], "all": True}, {"everything": True}):
        response = manager_client.post(API + "read/", body, content_type="application/json")
        assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_api_someone_elses_notification_is_404(notes, labeler_client, outsider_client, anon_client):
    note = notes["manager"]
    for client in (labeler_client, outsider_client):
        assert client.get(f"{API}{note.uuid}/").status_code == 404
        assert client.post(f"{API}{note.uuid}/read/").status_code == 404
        assert client.post(API + "read/", {"ids": [str(note.uuid)]}, content_type="application/json").json() == {
            "marked": 0
        }
    assert anon_client.get(API).status_code in (401, 403)
    note.refresh_from_db()
    assert note.read_at is None
