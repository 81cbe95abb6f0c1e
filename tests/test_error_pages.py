"""Production's error pages are Labelsite pages (DEBUG off): 404, 403, 400 and 500 in the site's look, and the favicon."""

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.test import Client, RequestFactory, override_settings
from django.urls import path
from django.views import defaults

from labelsite.urls import urlpatterns as site_urlpatterns
from tests.factories import ProjectFactory


def _boom(request):
    raise RuntimeError("a bug")


# A URLconf with one broken view, to see what production shows for a server error.
urlpatterns = [path("boom/", _boom), *site_urlpatterns]


def _looks_like_labelsite(html):
    assert "/static/labelsite/site.css" in html
    assert 'class="brand"' in html and "Labelsite" in html
    assert "Traceback" not in html and "a bug" not in html


@override_settings(DEBUG=False)
def test_an_unknown_url_shows_labelsites_not_found_page(labeler_client):
    response = labeler_client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    _looks_like_labelsite(html)
    assert "<h1>Not found</h1>" in html and 'href="/">Back to your workspaces</a>' in html


@override_settings(DEBUG=False)
def test_a_missing_project_and_a_foreign_one_show_the_same_page_without_a_breadcrumb(
    labeler_client, outsider_client, ws_url
):
    missing = ws_url("labeling:start", project="00000000-0000-0000-0000-000000000000")
    member, outsider = labeler_client.get(missing), outsider_client.get(missing)
    assert member.status_code == outsider.status_code == 404
    assert 'class="breadcrumb"' not in member.content.decode()
    main = [r.content.decode().split('<main id="main"')[1] for r in (member, outsider)]
    assert main[0] == main[1]


@override_settings(DEBUG=False)
def test_a_refusal_shows_the_not_allowed_page_with_the_way_back(labeler_client, ws_url, workspace):
    project = ProjectFactory.create(workspace=workspace, dataset__items=0)
    response = labeler_client.get(ws_url("project_settings", project=project.uuid))
    assert response.status_code == 403
    html = response.content.decode()
    _looks_like_labelsite(html)
    assert "<h1>Not allowed</h1>" in html
    assert f'href="{ws_url("workspace")}">Back to Vision</a>' in html


@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
def test_a_server_error_shows_labelsites_page(db):
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    _looks_like_labelsite(html)
    assert "<h1>Something went wrong</h1>" in html


def test_the_server_error_and_bad_request_pages_need_no_database_and_no_context():
    # No database fixture: any query here would fail the test.
    request = RequestFactory().get("/")
    error, bad = defaults.server_error(request), defaults.bad_request(request, exception=ValueError("x"))
    assert error.status_code == 500 and "Something went wrong" in error.content.decode()
    assert bad.status_code == 400 and "<h1>Bad request</h1>" in bad.content.decode()
    _looks_like_labelsite(error.content.decode())


@pytest.mark.django_db
def test_the_favicon_is_served_and_linked(client, labeler_client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == static("labelsite/favicon.ico")
    with open(finders.find("labelsite/favicon.ico"), "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # an ICO file
    assert 'rel="icon"' in labeler_client.get("/").content.decode()
