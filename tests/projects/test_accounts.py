"""Sign-up, login (with throttling and safe redirects), logout and password reset."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from projects.models import OrganizationMember, Workspace
from projects.tenancy.roles import REVIEWER
from tests.factories import member_add

PASSWORD = "pw-Labelsite-123"


def _signup(client, **overrides):
    data = {
        "username": "ada",
        "email": "ada@example.com",
        "organization_name": "Analytical Engines",
        "password1": "correct-horse-battery-9",
        "password2": "correct-horse-battery-9",
        **overrides,
    }
    return client.post(reverse("signup"), data)


@pytest.fixture
def open_signup(settings, db):
    settings.LABELSITE_OPEN_SIGNUP = True


def test_signup_creates_organization_admin_and_first_workspace(client, open_signup):
    response = _signup(client)
    assert response.status_code == 302 and response["Location"] == reverse("home")
    user = get_user_model().objects.get(username="ada")
    member = OrganizationMember.objects.get(user=user)
    assert member.is_admin and member.organization.name == "Analytical Engines"
    workspace = Workspace.objects.get(organization=member.organization)
    home = client.get(reverse("home"))
    assert workspace.name in home.content.decode()
    page = client.get(reverse("workspace", args=[member.organization.slug, workspace.slug]))
    assert page.status_code == 200


def test_signup_gives_django_admin_access_only_where_the_operator_allows_it(client, open_signup, settings):
    _signup(client)
    user = get_user_model().objects.get(username="ada")
    assert not user.is_staff and not user.is_superuser
    assert client.get(reverse("admin:index"))["Location"].startswith(reverse("admin:login"))
    assert 'href="/admin/"' not in client.get(reverse("home")).content.decode()
    settings.LABELSITE_SIGNUP_ADMIN_ACCESS = True
    other = Client()
    _signup(other, username="bob", email="bob@example.com", organization_name="Difference Engines")
    assert get_user_model().objects.get(username="bob").is_staff
    assert other.get(reverse("admin:projects_datastore_changelist")).status_code == 200


def test_signup_with_mismatched_passwords_keeps_nothing(client, open_signup):
    response = _signup(client, password2="something-else-77")
    assert response.status_code == 422
    assert not get_user_model().objects.filter(username="ada").exists()


def test_signup_is_closed_unless_enabled(client, db, settings):
    settings.LABELSITE_OPEN_SIGNUP = False
    assert client.get(reverse("signup")).status_code == 404
    assert _signup(client).status_code == 404
    assert not get_user_model().objects.exists()


def test_login_and_logout(client, labeler):
    response = client.post(reverse("login"), {"username": "labeler", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200
    assert client.get(reverse("logout")).status_code == 405  # logging out is a POST with CSRF
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


def test_unknown_user_and_wrong_password_get_the_same_message(client, labeler):
    unknown = client.post(reverse("login"), {"username": "nobody", "password": PASSWORD})
    wrong = client.post(reverse("login"), {"username": "labeler", "password": "nope-nope-1"})
    assert unknown.status_code == wrong.status_code == 200
    assert unknown.context["form"].non_field_errors() == wrong.context["form"].non_field_errors()


def test_login_is_throttled_per_account(client, labeler, settings):
    settings.LABELSITE_LOGIN_FAILURES_PER_ACCOUNT = 3
    for _ in range(3):
        client.post(reverse("login"), {"username": "labeler", "password": "wrong-1"})
    response = client.post(reverse("login"), {"username": "labeler", "password": PASSWORD})
    assert response.status_code == 200
    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_is_throttled_per_address_across_accounts(client, labeler, settings):
    settings.LABELSITE_LOGIN_FAILURES_PER_ADDRESS = 4
    for name in ("a", "b", "c", "d"):
        client.post(reverse("login"), {"username": name, "password": "wrong-1"})
    response = client.post(reverse("login"), {"username": "labeler", "password": PASSWORD})
    assert "Too many failed attempts" in response.content.decode()


def test_throttle_on_one_account_does_not_lock_out_another(client, labeler, reviewer, settings):
    settings.LABELSITE_LOGIN_FAILURES_PER_ACCOUNT = 2
    for _ in range(2):
        client.post(reverse("login"), {"username": "labeler", "password": "wrong-1"})
    response = client.post(reverse("login"), {"username": "reviewer", "password": PASSWORD})
    assert response.status_code == 302


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "http:/\\evil.example", "javascript:alert(1)"]
)
def test_login_next_never_redirects_off_site(client, labeler, target):
    response = client.post(
        reverse("login") + "?next=" + target, {"username": "labeler", "password": PASSWORD, "next": target}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_login_next_redirects_on_site(client, labeler, ws_url):
    target = ws_url("workspace")
    response = client.post(reverse("login"), {"username": "labeler", "password": PASSWORD, "next": target})
    assert response["Location"] == target


def test_password_reset_email_leads_to_a_new_password(client, labeler):
    client.post(reverse("password_reset"), {"email": "labeler@example.com"})
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", str(mail.outbox[0].body)).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    response = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "fresh-Passw0rd-xy", "new_password2": "fresh-Passw0rd-xy"}
    )
    assert response.status_code == 302
    assert client.login(username="labeler", password="fresh-Passw0rd-xy")


def test_password_reset_for_unknown_email_sends_nothing_and_says_the_same(client, db):
    response = client.post(reverse("password_reset"), {"email": "ghost@example.com"})
    assert response.status_code == 302 and len(mail.outbox) == 0


def _reset(client, email, address="203.0.113.7"):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=address)


@pytest.mark.parametrize("email", ["labeler@example.com", "ghost@example.com"], ids=["account", "no-account"])
def test_password_reset_is_throttled_per_email(client, labeler, settings, email):
    settings.LABELSITE_PASSWORD_RESETS_PER_EMAIL, settings.LABELSITE_PASSWORD_RESET_WINDOW = 5, 3600
    statuses = [_reset(client, email, address=f"198.51.100.{n}").status_code for n in range(30)]
    assert statuses[:5] == [302] * 5 and set(statuses[5:]) == {429}  # the same whether the account exists
    assert len(mail.outbox) == (5 if email.startswith("labeler") else 0)
    blocked = _reset(client, email.upper())
    assert blocked.status_code == 429 and 0 < int(blocked["Retry-After"]) <= 3600
    assert "Too many password reset requests" in blocked.content.decode()
    assert _reset(client, "reviewer@example.com").status_code == 302  # other addresses are not affected


def test_password_reset_is_throttled_per_client_address(client, labeler, settings):
    settings.LABELSITE_PASSWORD_RESETS_PER_ADDRESS = 4
    for n in range(4):
        assert _reset(client, f"someone{n}@example.com").status_code == 302
    assert _reset(client, "labeler@example.com").status_code == 429
    assert len(mail.outbox) == 0
    assert _reset(client, "labeler@example.com", address="198.51.100.9").status_code == 302
    assert len(mail.outbox) == 1


def test_home_lists_only_my_workspaces(labeler_client, workspace, other_workspace, outsider):
    body = labeler_client.get(reverse("home")).content.decode()
    assert "Vision" in body and "Secret" not in body


def test_switcher_lists_workspaces_of_every_organization(client, labeler, workspace, other_workspace):
    member_add(labeler, other_workspace, REVIEWER)
    client.force_login(labeler)
    body = client.get(reverse("workspace", args=["acme", "vision"])).content.decode()
    assert 'href="/o/acme/vision/"' in body and 'href="/o/globex/secret/"' in body
    other = client.get(reverse("workspace", args=["globex", "secret"]))
    assert other.status_code == 200 and "Reviewer" in other.content.decode()


def test_throttle_behind_a_proxy_counts_client_addresses(client, labeler, settings):
    settings.LABELSITE_LOGIN_FAILURES_PER_ADDRESS = 2
    settings.LABELSITE_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    for name in ("a", "b"):
        client.post(reverse("login"), {"username": name, "password": "x"}, HTTP_X_FORWARDED_FOR="203.0.113.7")
    other = client.post(
        reverse("login"), {"username": "labeler", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="198.51.100.2"
    )
    assert other.status_code == 302
    client.logout()
    blocked = client.post(
        reverse("login"), {"username": "labeler", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="203.0.113.7"
    )
    assert "Too many failed attempts" in blocked.content.decode()
