"""Personal API tokens and the members API: shown once, stored hashed, cut off the moment access ends."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from projects.models import ApiToken, Membership


@pytest.fixture
def token_for(db):
    def make(client):
        response = client.post(reverse("api_tokens"), {"name": "notebook"})
        assert response.status_code == 200 and response["Cache-Control"] == "no-store"
        return response.context["new_key"]

    return make


def api(key):
    return Client(headers={"Authorization": f"Bearer {key}"})


def members_url(member=None):
    base = "/api/v1/o/acme/vision/members/"
    return f"{base}{member}/" if member else base


def test_token_is_shown_once_and_stored_hashed(labeler_client, token_for):
    key = token_for(labeler_client)
    token = ApiToken.objects.get()
    assert key not in token.key_hash and token.prefix in key
    page = labeler_client.get(reverse("api_tokens")).content.decode()
    assert key not in page and f"ls_{token.prefix}_" in page


def test_token_lists_my_workspaces(labeler_client, token_for, other_workspace, outsider):
    response = api(token_for(labeler_client)).get("/api/v1/workspaces/")
    assert response.status_code == 200
    slugs = [(w["organization"], w["slug"]) for w in response.json()["results"]]
    assert slugs == [("acme", "vision")]


def test_bad_and_revoked_tokens_get_401_with_json_error(labeler_client, token_for):
    key = token_for(labeler_client)
    assert api(key[:-2] + "zz").get("/api/v1/workspaces/").status_code == 401
    token = ApiToken.objects.get()
    labeler_client.post(reverse("api_token_revoke", args=[token.prefix]))
    response = api(key).get("/api/v1/workspaces/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_revoking_membership_cuts_token_access_on_next_request(ws_admin_client, token_for, reviewer_client, reviewer):
    key = token_for(reviewer_client)
    assert api(key).get("/api/v1/workspaces/").json()["count"] == 1
    member = Membership.objects.get(user=reviewer).uuid
    assert ws_admin_client.delete(members_url(member)).status_code == 204
    assert api(key).get("/api/v1/workspaces/").json()["count"] == 0
    assert api(key).get(members_url()).status_code == 404


def test_members_api_role_matrix(
    ws_admin_client, labeler_client, manager_client, outsider_client, anon_client, labeler
):
    assert ws_admin_client.get(members_url()).status_code == 200
    assert labeler_client.get(members_url()).status_code == 403
    assert manager_client.get(members_url()).status_code == 403
    assert outsider_client.get(members_url()).status_code == 404
    assert anon_client.get(members_url()).status_code in (401, 403)
    member = Membership.objects.get(user=labeler).uuid
    assert (
        manager_client.patch(members_url(member), {"role": "Manager"}, content_type="application/json").status_code
        == 403
    )


def test_admin_changes_a_role_through_the_api(ws_admin_client, labeler):
    member = Membership.objects.get(user=labeler).uuid
    response = ws_admin_client.patch(members_url(member), {"role": "Reviewer"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["role"] == "Reviewer"
    assert Membership.objects.get(user=labeler).group.name == "Reviewer"


def test_unknown_and_server_owned_fields_are_rejected(ws_admin_client, labeler):
    member = Membership.objects.get(user=labeler).uuid
    response = ws_admin_client.patch(
        members_url(member), {"role": "Reviewer", "workspace": 99, "username": "root"}, content_type="application/json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and set(body["errors"]) == {"workspace", "username"}
    assert Membership.objects.get(user=labeler).group.name == "Labeler"


def test_role_must_be_a_workspace_role(ws_admin_client, labeler):
    Group.objects.create(name="Superpowers")
    member = Membership.objects.get(user=labeler).uuid
    response = ws_admin_client.patch(members_url(member), {"role": "Superpowers"}, content_type="application/json")
    assert response.status_code == 400 and "role" in response.json()["errors"]


def test_invite_through_the_api(ws_admin_client, django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=True):
        response = ws_admin_client.post(
            "/api/v1/o/acme/vision/invitations/",
            {"email": "x@example.com", "role": "Labeler"},
            content_type="application/json",
        )
    assert response.status_code == 201 and response.json()["email"] == "x@example.com"
    assert mailoutbox[-1].to == ["x@example.com"]


def test_session_api_writes_need_csrf(labeler, ws_admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ws_admin)
    member = Membership.objects.get(user=labeler).uuid
    response = client.patch(members_url(member), {"role": "Reviewer"}, content_type="application/json")
    assert response.status_code == 403
    assert Membership.objects.get(user=labeler).group.name == "Labeler"


def test_schema_and_docs_are_served(client, db):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/v1/o/{org}/{ws}/members/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"cdn" not in docs.content.lower()
