"""The exports and imports API: the same rights as the pages, JSON errors, progress to poll, a file to download."""

from django.core.files.uploadedfile import SimpleUploadedFile

from exports.models import Export
from tests.exports.conftest import current_labels
from tests.factories import ProjectFactory


def base(project):
    return f"/api/v1/o/acme/vision/projects/{project.uuid}/"


def test_manager_creates_polls_and_downloads_an_export(manager_client, project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(
            base(project) + "exports/", {"format": "coco", "only_approved": True}, content_type="application/json"
        )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["format"] == "coco" and created["only_approved"] is True and created["state"] == "queued"
    status = manager_client.get(base(project) + f"exports/{created['id']}/").json()
    assert status["state"] == "done" and status["percent"] == 100 and status["item_count"] == 2
    assert status["created_by"] == "manager" and status["download_url"].endswith(f"exports/{created['id']}/download/")
    listing = manager_client.get(base(project) + "exports/").json()
    assert [e["id"] for e in listing["results"]] == [created["id"]]
    download = manager_client.get(status["download_url"])
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment;")
    assert b'"categories"' in b"".join(download.streaming_content)


def test_unknown_and_server_owned_fields_are_rejected(manager_client, project):
    response = manager_client.post(
        base(project) + "exports/",
        {"format": "coco", "state": "done", "file": "/etc/passwd"},
        content_type="application/json",
    )
    assert response.status_code == 400 and set(response.json()["errors"]) == {"state", "file"}
    bad = manager_client.post(base(project) + "exports/", {"format": "pdf"}, content_type="application/json")
    assert bad.status_code == 400 and "format" in bad.json()["errors"]
    assert Export.objects.count() == 0


def test_api_permission_matrix(
    labeler_client, reviewer_client, outsider_client, anon_client, manager_client, project, manager
):
    export = Export.objects.create(
        project=project, format="csv", state="done", file="exports/x.csv", created_by=manager
    )
    urls = [
        base(project) + "exports/",
        base(project) + f"exports/{export.uuid}/",
        base(project) + f"exports/{export.uuid}/download/",
    ]
    for url in urls:
        assert labeler_client.get(url).status_code == 403
        assert reviewer_client.get(url).status_code == 403
        assert outsider_client.get(url).status_code == 404
        assert anon_client.get(url).status_code in (401, 403)
    assert labeler_client.post(base(project) + "imports/", {}).status_code == 403
    assert outsider_client.post(base(project) + "imports/", {}).status_code == 404
    assert (
        manager_client.get(
            base(project).replace(str(project.uuid), "00000000-0000-0000-0000-000000000000") + "exports/"
        ).status_code
        == 404
    )


def test_another_workspaces_project_is_not_found_through_ours(manager_client, other_workspace):
    theirs = ProjectFactory.create(workspace=other_workspace, name="Theirs", dataset__items=1)
    Export.objects.create(project=theirs, format="csv", state="done", file="exports/theirs.csv")
    response = manager_client.post(base(theirs) + "exports/", {"format": "csv"}, content_type="application/json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert manager_client.get(base(theirs) + "exports/").status_code == 404
    upload = SimpleUploadedFile("x.csv", b"image_url,label\nimg/0000000.jpg,Cat\n")
    assert manager_client.post(base(theirs) + "imports/", {"file": upload, "format": "csv"}).status_code == 404
    assert Export.objects.filter(project=theirs).count() == 1


def test_running_exports_cannot_be_deleted_and_failed_ones_can_be_retried(
    manager_client, project, manager, django_capture_on_commit_callbacks
):
    running = Export.objects.create(project=project, format="csv", state="running", created_by=manager)
    response = manager_client.delete(base(project) + f"exports/{running.uuid}/")
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    failed = Export.objects.create(project=project, format="csv", state="failed", created_by=manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(base(project) + f"exports/{failed.uuid}/retry/")
    assert response.status_code == 202
    failed.refresh_from_db()
    assert failed.state == "done"
    assert manager_client.delete(base(project) + f"exports/{failed.uuid}/").status_code == 204
    assert manager_client.get(base(project) + f"exports/{failed.uuid}/").status_code == 404


def test_import_through_the_api_returns_the_report(manager_client, make_project):
    project = make_project("Api import")
    upload = SimpleUploadedFile("x.csv", b"image_url,label\ncats/a.jpg,cat\nmissing.jpg,dog\n")
    response = manager_client.post(base(project) + "imports/", {"file": upload, "format": "csv", "as_final": "true"})
    assert response.status_code == 200, response.json()
    report = response.json()
    assert report["applied"] == 1 and report["unmatched"] == ["missing.jpg"] and report["unmatched_count"] == 1
    assert current_labels(project) == {"cats/a.jpg": ["cat"]}
    broken = manager_client.post(
        base(project) + "imports/", {"file": SimpleUploadedFile("x.csv", b"a,b\n"), "format": "csv"}
    )
    assert broken.status_code == 400 and "file" in broken.json()["errors"]


def test_schema_lists_the_export_endpoints(client, db):
    schema = client.get("/api/schema/").content
    assert b"/api/v1/o/{org}/{ws}/projects/{project}/exports/{export}/download/" in schema
    assert b"/api/v1/o/{org}/{ws}/projects/{project}/imports/" in schema
