"""The export panel, its live status fragment, downloads, retry/delete and the import page, for every role."""

import json

import pytest
from django.urls import reverse

from exports.models import Export, LabelImport
from labeling.models import Task
from projects.models import Notification


@pytest.fixture
def urls(org, workspace, project):
    def build(name, export=None):
        kwargs = {"org": org.slug, "ws": workspace.slug, "project": project.uuid}
        if export is not None:
            kwargs["export"] = export.uuid
        return reverse(f"exports:{name}", kwargs=kwargs)

    return build


@pytest.fixture
def done_export(project, manager, manager_client, urls, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(urls("create"), {"format": "csv", "only_approved": "labeled"})
    return Export.objects.get(project=project)


def test_manager_exports_from_the_panel_and_downloads_the_file(manager_client, urls, done_export):
    assert done_export.state == "done" and done_export.created_by.username == "manager"
    page = manager_client.get(urls("list")).content.decode()
    assert "Past exports" in page and "CSV" in page and urls("download", done_export) in page
    response = manager_client.get(urls("download", done_export))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="pets-csv-')
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0] == "image_url,label,labeler,labeled_at,reviewer,reviewed_at,state,suggestion"
    assert len(body.splitlines()) == 4


@pytest.mark.parametrize("persona", ["labeler_client", "reviewer_client"])
def test_labelers_and_reviewers_get_403_everywhere(request, persona, urls, done_export):
    client = request.getfixturevalue(persona)
    assert client.get(urls("list")).status_code == 403
    assert client.post(urls("create"), {"format": "coco", "only_approved": "labeled"}).status_code == 403
    assert client.get(urls("status", done_export), headers={"HX-Request": "true"}).status_code == 403
    assert client.get(urls("download", done_export)).status_code == 403
    assert client.post(urls("delete", done_export)).status_code == 403
    assert client.get(urls("import")).status_code == 403
    assert Export.objects.count() == 1


def test_a_reviewer_granted_export_rights_may_export(reviewer, reviewer_client, urls, done_export):
    from django.contrib.auth.models import Group, Permission

    group = Group.objects.create(name="Reviewer who exports")
    group.permissions.set(Group.objects.get(name="Reviewer").permissions.all())
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="exports", codename__in=["view_export", "add_export"])
    )
    reviewer.memberships.update(group=group)
    assert reviewer_client.get(urls("list")).status_code == 200
    assert reviewer_client.get(urls("download", done_export)).status_code == 200
    assert reviewer_client.post(urls("delete", done_export)).status_code == 403


def test_outsider_gets_404_and_anonymous_goes_to_login(outsider_client, anon_client, urls, done_export):
    for url in (urls("list"), urls("status", done_export), urls("download", done_export), urls("import")):
        assert outsider_client.get(url).status_code == 404
        response = anon_client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_an_export_of_another_project_is_404_under_this_one(
    manager_client, make_project, manager, urls, done_export, org, workspace
):
    other = make_project("Other")
    url = reverse(
        "exports:download",
        kwargs={"org": org.slug, "ws": workspace.slug, "project": other.uuid, "export": done_export.uuid},
    )
    assert manager_client.get(url).status_code == 404


def test_status_fragment_polls_while_running_and_stops_when_done(manager_client, urls, project, manager):
    export = Export.objects.create(
        project=project, format="coco", created_by=manager, state="running", progress=1, total=4
    )
    fragment = manager_client.get(urls("status", export), headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert fragment.status_code == 200 and 'hx-trigger="every 2s"' in html and 'value="25"' in html
    assert "<html" not in html
    assert '<span data-count="progress">1</span> of <span data-count="total">4</span> images written' in html
    Export.objects.filter(pk=export.pk).update(state="done", progress=4, item_count=4, size=1234, file="exports/x.json")
    finished = manager_client.get(urls("status", export), headers={"HX-Request": "true"})
    html = finished.content.decode()
    assert finished.status_code == 286 and "hx-trigger" not in html and urls("download", export) in html
    # The list of past exports and the notification bell catch up with the last answer.
    assert {"exports-changed", "notifications-changed"} <= json.loads(finished["HX-Trigger"]).keys()


def test_htmx_export_button_answers_with_the_status_fragment(
    manager_client, urls, project, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:  # the worker has not started yet
        response = manager_client.post(
            urls("create"), {"format": "jsonl", "only_approved": "approved"}, headers={"HX-Request": "true"}
        )
    assert len(queued) == 1
    export = Export.objects.get()
    assert response.status_code == 200 and "exports-changed" in response["HX-Trigger"]
    assert 'id="export-status"' in response.content.decode() and "every 2s" in response.content.decode()
    assert export.state == "queued" and export.only_approved and export.format == "jsonl"


def test_invalid_export_form_answers_422(manager_client, urls):
    response = manager_client.post(
        urls("create"), {"format": "xml", "only_approved": "labeled"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422 and response["HX-Retarget"] == "#export-form"
    assert Export.objects.count() == 0
    assert manager_client.get(urls("create")).status_code == 405


def test_failed_export_can_be_retried_into_a_complete_file(
    manager_client, urls, project, manager, django_capture_on_commit_callbacks
):
    export = Export.objects.create(
        project=project, format="coco", created_by=manager, state="failed", error="worker died"
    )
    page = manager_client.get(urls("list")).content.decode()
    assert urls("retry", export) in page
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(urls("retry", export))
    assert response.status_code == 302
    export.refresh_from_db()
    assert export.state == "done" and export.item_count == 3 and export.error == ""


def test_deleting_an_export_removes_the_file_and_the_row_from_the_list(
    manager_client, urls, done_export, django_capture_on_commit_callbacks
):
    from django.core.files.storage import default_storage

    assert default_storage.exists(done_export.file)
    with django_capture_on_commit_callbacks(execute=True):
        assert manager_client.post(urls("delete", done_export)).status_code == 302
    assert not default_storage.exists(done_export.file)
    assert urls("download", done_export) not in manager_client.get(urls("list")).content.decode()
    assert manager_client.get(urls("download", done_export)).status_code == 404


def test_a_retry_or_delete_refused_meanwhile_says_why_where_it_was_asked(manager_client, urls, project, manager):
    running = Export.objects.create(project=project, format="coco", created_by=manager, state="running")
    retry = manager_client.post(urls("retry", running), headers={"HX-Request": "true"})
    assert retry.status_code == 409 and 'id="export-status"' in retry.content.decode()
    assert "Only a failed export can be retried." in retry.content.decode() and "<html" not in retry.content.decode()
    delete = manager_client.post(urls("delete", running))
    assert delete.status_code == 409 and 'id="export-list"' in delete.content.decode()
    assert "still running" in delete.content.decode()
    running.refresh_from_db()
    assert running.state == "running" and running.deleted_at is None


def test_pages_send_no_inline_script_or_style(manager_client, urls, done_export):
    for url in (urls("list"), urls("import")):
        html = manager_client.get(url).content.decode()
        assert "<script>" not in html and "style=" not in html and " onclick" not in html


def test_import_page_shows_a_report(manager_client, urls, project):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("labels.csv", b"Url,Label\ncats/sub/a.jpg,bird\nnowhere.jpg,cat\ncats/a.jpg,zebra\n")
    response = manager_client.post(urls("import"), {"file": upload, "format": "csv", "as_final": "prelabels"})
    html = response.content.decode()
    assert response.status_code == 200 and "Import report" in html
    assert "nowhere.jpg" in html and "zebra" in html
    assert Task.objects.get(project=project, item__key="cats/sub/a.jpg").prelabel.labels.get().name == "bird"


def test_import_page_refuses_an_unreadable_file_with_422(manager_client, urls):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("labels.json", b"{not json")
    response = manager_client.post(urls("import"), {"file": upload, "format": "coco", "as_final": "final"})
    assert response.status_code == 422 and "not a COCO file" in response.content.decode()


def _import(client, org, workspace, project, data: bytes, as_final="final"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = reverse("exports:import", kwargs={"org": org.slug, "ws": workspace.slug, "project": project.uuid})
    response = client.post(url, {"file": SimpleUploadedFile("labels.csv", data), "format": "csv", "as_final": as_final})
    assert response.status_code == 200
    import html
    import re

    report = re.search(r'<section class="card import-report".*?</section>', response.content.decode(), re.S).group(0)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", report)))


FINAL = b"image_url,label\ncats/a.jpg,cat\ndogs/b.png,dog\ncats/sub/a.jpg,bird\n"


def test_first_import_and_reimport_say_in_plain_words_what_happened(manager_client, org, workspace, make_project):
    fresh = make_project("Imported", task_type="multiclass")
    first = _import(manager_client, org, workspace, fresh, FINAL)
    assert "Read 3 rows; 3 images of this project matched." in first
    assert "3 labeled by this import (new or changed labels, now approved)." in first
    assert "0 unchanged" in first and "0 rows refused." in first
    again = _import(manager_client, org, workspace, fresh, FINAL)
    assert "0 labeled by this import" in again
    assert "3 unchanged: they already had exactly those labels, approved." in again
    assert "(approved): 0" not in again


def test_bad_rows_are_refused_with_the_reason_and_no_exception_names(manager_client, org, workspace, make_project):
    fresh = make_project("Imported", task_type="multiclass")
    data = (
        b"image_url,label\ncats/a.jpg,cat\nnowhere/z.jpg,cat\ndogs/b.png,zebra\nmisc/b c#?.png,cat|dog\n"
        b"cats/sub/a.jpg,\n,cat\n"
    )
    report = _import(manager_client, org, workspace, fresh, data)
    assert "1 labeled by this import" in report and "5 rows refused:" in report
    assert "1 unknown image: no image of this project's dataset has that path" in report
    assert "1 unknown class: not a label class of this project" in report
    assert "3 bad rows" in report
    assert "line 3 nowhere/z.jpg no image of this project's dataset has that path" in report
    assert "line 4 dogs/b.png unknown class “zebra” (this project's classes: cat, dog, bird)" in report
    assert "line 7 — the row has no image URL" in report
    assert "Error" not in report


def test_an_unreadable_coco_file_is_explained_without_python_words(manager_client, urls):
    from django.core.files.uploadedfile import SimpleUploadedFile

    for data, expected in ((b'{"images": []}', "“categories” is missing"), (b"[1, 2]", "needs lists of images")):
        response = manager_client.post(
            urls("import"), {"file": SimpleUploadedFile("c.json", data), "format": "coco", "as_final": "final"}
        )
        body = response.content.decode()
        assert response.status_code == 422 and expected in body.replace("&ldquo;", "“").replace("&rdquo;", "”")
        assert "KeyError" not in body and "TypeError" not in body


def test_imported_final_labels_are_not_the_managers_labeling_work(
    manager_client, reviewer_client, org, workspace, make_project, manager
):
    from labeling.models import LabelerCount
    from labeling.stats import stats_rebuild

    fresh = make_project("Imported", task_type="multiclass")
    _import(manager_client, org, workspace, fresh, FINAL)
    counted = LabelerCount.objects.get(project=fresh, user=manager)
    assert (counted.labeled, counted.imported, counted.approved) == (0, 3, 0)
    stats_rebuild(project=fresh)  # the repair tool counts them the same way
    counted = LabelerCount.objects.get(project=fresh, user=manager)
    assert (counted.labeled, counted.imported, counted.approved) == (0, 3, 0)
    kwargs = {"org": org.slug, "ws": workspace.slug, "project": fresh.uuid}
    table = reviewer_client.get(reverse("review:labeled", kwargs=kwargs)).content.decode()
    assert '<td>manager</td><td>0 <span class="muted">· 3 imported</span></td>' in table
    assert table.count("imported by manager") == 3  # each image says where its labels came from
    dashboard = reviewer_client.get(reverse("labeling:dashboard", kwargs=kwargs)).content.decode()
    assert "· 3 imported" in dashboard


def test_an_import_is_kept_and_its_notification_leads_back_to_the_report(
    manager_client, labeler_client, outsider_client, urls, project, manager
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("labels.csv", b"Url,Label\ncats/sub/a.jpg,bird\nnowhere.jpg,cat\ncats/a.jpg,zebra\n")
    manager_client.post(urls("import"), {"file": upload, "format": "csv", "as_final": "prelabels"})
    record = LabelImport.objects.get()
    assert record.created_by == manager and record.file_name == "labels.csv" and record.report["matched"] == 1
    note = Notification.objects.for_user(manager).get()
    assert note.kind == "import_finished"
    assert note.message == (
        f"Labels imported into “{project.name}”: 1 image matched, 1 given suggestions; "
        "refused: 1 unknown image, 1 unknown class."
    )
    opened = manager_client.post(reverse("notification_open", args=[note.uuid]))
    assert opened["Location"] == urls("import") + f"{record.uuid}/"
    report = manager_client.get(opened["Location"])
    html = report.content.decode()
    assert (
        report.status_code == 200 and "Import report" in html and "labels.csv" in html and "imported by manager" in html
    )
    assert "nowhere.jpg" in html and "zebra" in html and "2 rows refused:" in html
    assert labeler_client.get(opened["Location"]).status_code == 403
    assert outsider_client.get(opened["Location"]).status_code == 404


def test_an_import_that_reads_nothing_keeps_no_report_and_tells_nobody(manager_client, urls):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("labels.json", b"{not json")
    assert (
        manager_client.post(urls("import"), {"file": upload, "format": "coco", "as_final": "final"}).status_code == 422
    )
    assert not LabelImport.objects.exists() and not Notification.objects.exists()


def test_the_api_import_answers_with_the_id_of_the_kept_report(manager_client, project, org, workspace):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("labels.csv", b"Url,Label\ncats/sub/a.jpg,bird\n")
    url = f"/api/v1/o/{org.slug}/{workspace.slug}/projects/{project.uuid}/imports/"
    body = manager_client.post(url, {"file": upload, "format": "csv", "as_final": "false"}).json()
    assert body["id"] == str(LabelImport.objects.get().uuid) and body["applied"] == 1
