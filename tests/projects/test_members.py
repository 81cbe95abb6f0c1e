"""Invitations, role changes and revocation, and the rule that nobody grants above their own role."""

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client
from django.urls import reverse

from projects.models import Invitation, Membership, OrganizationMember
from projects.tenancy.access import resolve_access
from projects.tenancy.roles import LABELER
from tests.factories import UserFactory

_capture: Any = None  # django_capture_on_commit_callbacks of the running test


def _role(name):
    return Group.objects.get(name=name)


@pytest.fixture(autouse=True)
def _run_on_commit(django_capture_on_commit_callbacks):
    """Invitation mails leave on commit; run those callbacks inside each test."""
    global _capture  # noqa: PLW0603 — _invite runs the mails of the test that calls it
    _capture = django_capture_on_commit_callbacks


def _invite(client, ws_url, email="new@example.com", role="Labeler"):
    with _capture(execute=True):
        return client.post(ws_url("invite"), {"email": email, "group": _role(role).pk})


def _member(username):
    return Membership.objects.get(user__username=username)


def _link_from_mail():
    return re.search(r"http://testserver(/accounts/invitations/\S+/)", str(mail.outbox[-1].body)).group(1)


def test_admin_invites_and_new_person_joins_with_the_role(org_admin_client, ws_url, workspace, db):
    response = _invite(org_admin_client, ws_url, role="Reviewer")
    assert response.status_code == 302
    assert mail.outbox[-1].to == ["new@example.com"]
    link = _link_from_mail()
    newcomer = Client()
    page = newcomer.get(link)
    assert page.status_code == 200 and "Reviewer" in page.content.decode()
    joined = newcomer.post(link, {"username": "newbie", "password1": "Str0ng-pass-xy", "password2": "Str0ng-pass-xy"})
    assert joined.status_code == 302
    user = get_user_model().objects.get(username="newbie")
    assert user.email == "new@example.com"
    assert Membership.objects.get(user=user, workspace=workspace).group.name == "Reviewer"
    assert newcomer.get(ws_url("workspace")).status_code == 200
    # The link works once.
    assert Client().get(link).status_code == 410


def test_existing_account_accepts_invitation_while_logged_in(
    ws_admin_client, ws_url, other_workspace, outsider, workspace
):
    _invite(ws_admin_client, ws_url, email="outsider@example.com", role="Labeler")
    link = _link_from_mail()
    client = Client()
    client.force_login(outsider)
    assert client.get(ws_url("workspace")).status_code == 404
    assert client.post(link).status_code == 302
    assert client.get(ws_url("workspace")).status_code == 200
    assert OrganizationMember.objects.filter(user=outsider, organization=workspace.organization).exists()


def test_invitation_for_another_address_is_refused_and_stays_open(ws_admin_client, ws_url, labeler, workspace):
    _invite(ws_admin_client, ws_url, email="new@example.com", role="Manager")
    link = _link_from_mail()
    client = Client()
    client.force_login(labeler)  # labeler@example.com holds a link sent to new@example.com
    page = client.get(link)
    body = page.content.decode()
    assert page.status_code == 403 and "sent to a different email address" in body
    assert "labeler@example.com" in body and "new@example.com" not in body
    assert f'action="{reverse("logout")}"' in body and f'name="next" value="{link}"' in body
    refused = client.post(link)
    assert refused.status_code == 403
    assert _member("labeler").group.name == "Labeler"
    assert Invitation.objects.get().accepted_at is None
    # The person it was sent to can still use it, and their new account gets the invited address.
    newcomer = Client()
    assert 'name="email"' not in newcomer.get(link).content.decode()
    joined = newcomer.post(
        link,
        {
            "username": "newbie",
            "email": "other@example.com",
            "password1": "Str0ng-pass-xy",
            "password2": "Str0ng-pass-xy",
        },
    )
    assert joined.status_code == 302 and _member("newbie").group.name == "Manager"
    assert get_user_model().objects.get(username="newbie").email == "new@example.com"


def test_a_member_accepting_an_invitation_keeps_their_role(ws_admin_client, ws_url, labeler_client, labeler):
    _invite(ws_admin_client, ws_url, email="Labeler@EXAMPLE.com", role="Manager")  # addresses match ignoring case
    link = _link_from_mail()
    page = labeler_client.post(link)
    body = page.content.decode()
    assert page.status_code == 200
    assert "already a member" in body and "Labeler" in body and "Members page" in body
    assert _member("labeler").group.name == "Labeler"
    assert labeler_client.get(ws_url("project_wizard")).status_code == 403
    # The invitation is used up: it cannot hand out the role later either.
    assert Invitation.objects.get().accepted_by == labeler
    assert labeler_client.get(link).status_code == 410


def test_expired_invitation_is_refused(org_admin_client, ws_url, settings, db):
    _invite(org_admin_client, ws_url)
    link = _link_from_mail()
    settings.LABELSITE_INVITATION_MAX_AGE = -1
    response = Client().get(link)
    assert response.status_code == 410 and "expired" in response.content.decode()


def test_tampered_and_withdrawn_invitations_are_refused(org_admin_client, ws_url, db):
    _invite(org_admin_client, ws_url)
    link = _link_from_mail()
    assert Client().get(link[:-3] + "xx/").status_code == 410
    invitation = Invitation.objects.get()
    org_admin_client.post(ws_url("invitation_revoke", invitation=invitation.uuid))
    assert "withdrawn" in Client().get(link).content.decode()


def test_revoked_member_loses_access_on_the_next_request(org_admin_client, labeler_client, ws_url):
    assert labeler_client.get(ws_url("workspace")).status_code == 200
    response = org_admin_client.post(ws_url("member_revoke", member=_member("labeler").uuid))
    assert response.status_code == 302
    assert labeler_client.get(ws_url("workspace")).status_code == 404


def test_role_change_takes_effect_immediately(ws_admin_client, labeler_client, ws_url):
    assert labeler_client.get(ws_url("members")).status_code == 403
    ws_admin_client.post(
        ws_url("member_role", member=_member("labeler").uuid),
        {f"{_member('labeler').uuid}-group": _role("Workspace admin").pk},
    )
    assert labeler_client.get(ws_url("members")).status_code == 200


@pytest.mark.parametrize("client_fixture", ["labeler_client", "reviewer_client", "manager_client"])
def test_lower_roles_cannot_manage_members(request, client_fixture, ws_url, labeler):
    client = request.getfixturevalue(client_fixture)
    assert client.get(ws_url("members")).status_code == 403
    assert _invite(client, ws_url, role="Workspace admin").status_code == 403
    assert (
        client.post(
            ws_url("member_role", member=_member("labeler").uuid),
            {f"{_member('labeler').uuid}-group": _role("Workspace admin").pk},
        ).status_code
        == 403
    )
    assert client.post(ws_url("member_revoke", member=_member("labeler").uuid)).status_code == 403
    assert Membership.objects.get(user=labeler).group.name == "Labeler"
    assert not Invitation.objects.exists()


def test_workspace_admin_cannot_change_own_role(ws_admin_client, ws_admin, ws_url):
    response = ws_admin_client.post(
        ws_url("member_role", member=_member("wsadmin").uuid), {f"{_member('wsadmin').uuid}-group": _role("Labeler").pk}
    )
    assert response.status_code == 403
    assert Membership.objects.get(user=ws_admin).group.name == "Workspace admin"


def test_nobody_grants_a_permission_they_do_not_hold(rf, manager, reviewer, workspace):
    """A role carrying rights the granter lacks is refused, even if the granter may manage members."""
    manager_group = Membership.objects.get(user=manager).group
    request = rf.get("/")
    request.user = manager
    access = resolve_access(request, "acme", "vision")
    assert not access.can_grant(_role("Labeler"))  # managers do not manage members at all
    # Give a custom group the right to add members but not to label: it may not grant Labeler.
    limited = Group.objects.create(name="Member clerk")
    limited.permissions.set(list(_role("Workspace admin").permissions.exclude(codename="label_task")))
    Membership.objects.filter(user=manager).update(group=limited)
    manager = get_user_model().objects.get(pk=manager.pk)
    request.user = manager
    access = resolve_access(request, "acme", "vision")
    assert access.can("projects.add_membership")
    assert not access.can_grant(_role("Labeler"))
    assert access.can_grant(_role("Reviewer"))
    assert manager_group.name == "Manager"


def test_members_page_escapes_names(org_admin_client, ws_url, workspace):
    UserFactory.create(username="<script>x</script>", workspace=workspace, role=LABELER)
    body = org_admin_client.get(ws_url("members")).content.decode()
    assert "<script>x</script>" not in body and "&lt;script&gt;" in body


def test_org_admin_creates_a_workspace(org_admin_client, org, labeler_client):
    response = org_admin_client.post(reverse("organization", args=[org.slug]), {"name": "Medical"})
    assert response.status_code == 302
    assert org.workspaces.filter(name="Medical").exists()
    assert labeler_client.get(reverse("organization", args=[org.slug])).status_code == 404


def test_invalid_invitation_form_shows_errors(org_admin_client, ws_url):
    response = org_admin_client.post(ws_url("invite"), {"email": "not-an-email", "group": _role("Labeler").pk})
    assert response.status_code == 422 and "valid email" in response.content.decode()


def test_access_is_resolved_once_and_answers_later_permission_checks(
    rf, labeler, org_admin, outsider, workspace, django_assert_num_queries
):
    from django.http import Http404
    from django.utils.functional import SimpleLazyObject

    request = rf.get("/")
    request.user = SimpleLazyObject(lambda: get_user_model().objects.get(pk=labeler.pk))
    with django_assert_num_queries(3):  # the user, the workspace with membership and role, the role's permissions
        access = resolve_access(request, "acme", "vision")
    assert (access.workspace.slug, access.organization.slug, access.role_name) == ("vision", "acme", "Labeler")
    assert access.can("labeling.label_task") and not access.can("review.review_annotation")
    with django_assert_num_queries(0):  # services asking has_perm later in the request reuse the answer
        assert request.user.has_perm("labeling.label_task", workspace)
        assert not request.user.has_perm("projects.add_labelclass", workspace)

    request.user = org_admin  # no membership in this workspace: sees it as organization admin
    with django_assert_num_queries(1):
        access = resolve_access(request, "acme", "vision")
    assert access.is_org_admin and access.membership is None and access.can("projects.add_membership")

    request.user = outsider
    for org, ws in (("acme", "vision"), ("acme", "nope"), ("nope", "vision")):
        with pytest.raises(Http404):
            resolve_access(request, org, ws)
