"""Any body the API cannot read answers 400 in the JSON error shape, never a 500 or an HTML page."""

import pytest

INVITATIONS = "/api/v1/o/acme/vision/invitations/"


def _assert_json_400(response):
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "errors"}
    assert body["code"] == "parse_error" and body["message"]


@pytest.mark.parametrize("opening, closing", [("[", "]"), ('{"a":', "}")], ids=["arrays", "objects"])
def test_a_100000_level_json_body_is_a_400_not_a_500(ws_admin_client, opening, closing):
    body = opening * 100_000 + "1" + closing * 100_000
    _assert_json_400(ws_admin_client.post(INVITATIONS, body, content_type="application/json"))


def test_json_nested_deeper_than_the_limit_is_refused_even_when_python_could_parse_it(ws_admin_client):
    body = '{"email": ' + "[" * 300 + "1" + "]" * 300 + "}"
    response = ws_admin_client.post(INVITATIONS, body, content_type="application/json")
    _assert_json_400(response)
    assert "nested" in response.json()["message"]


@pytest.mark.parametrize("body", [
    b'{"email": "\xff\xfe\xfa"}',                     # not UTF-8
    b'{"email": ' + b"9" * 5000 + b"}",               # a number longer than Python converts
    b"email=new%40example.com&group=1",               # a form body sent as JSON
    b'{"email": "new@example.com",',                  # cut short
], ids=["bad-utf8", "huge-number", "form-as-json", "truncated"])
def test_malformed_json_bodies_are_400_in_the_error_shape(ws_admin_client, body):
    _assert_json_400(ws_admin_client.post(INVITATIONS, body, content_type="application/json"))


def test_a_multipart_body_without_a_boundary_is_a_400(ws_admin_client):
    _assert_json_400(ws_admin_client.post(INVITATIONS, b"--x\r\n", content_type="multipart/form-data"))


def test_a_form_body_with_too_many_fields_is_a_400(ws_admin_client, settings):
    body = "&".join(f"f{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 5))
    _assert_json_400(ws_admin_client.post(INVITATIONS, body, content_type="application/x-www-form-urlencoded"))


def test_a_body_over_the_upload_limit_is_a_400(ws_admin_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"email": "' + "a" * 2000 + '@example.com"}'
    _assert_json_400(ws_admin_client.post(INVITATIONS, body, content_type="application/json"))


def test_a_valid_body_still_works(ws_admin_client):
    response = ws_admin_client.post(INVITATIONS, {"email": "new@example.com", "role": "Labeler"}, content_type="application/json")
    assert response.status_code == 201, response.content
