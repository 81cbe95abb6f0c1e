"""Any body the API cannot read answers 400 in the JSON error shape, never a 500 or an HTML page."""

INVITATIONS = "/api/v1/o/acme/vision/invitations/"


def _assert_json_400(response):
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "errors"}
    assert body["code"] == "parse_error" and body["message"]


MALFORMED = {
    "100,000 nested arrays": ("[" * 100_000 + "1" + "]" * 100_000, "application/json"),
    "100,000 nested objects": ('{"a":' * 100_000 + "1" + "}" * 100_000, "application/json"),
    "not UTF-8": (b'{"email": "\xff\xfe\xfa"}', "application/json"),
    "a number longer than Python converts": (b'{"email": ' + b"9" * 5000 + b"}", "application/json"),
    "a form body sent as JSON": (b"email=new%40example.com&role=Labeler", "application/json"),
    "cut short": (b'{"email": "new@example.com",', "application/json"),
    "multipart without a boundary": (b"--x\r\n", "multipart/form-data"),
}


def test_any_malformed_body_is_a_400_in_the_error_shape(ws_admin_client):
    for name, (body, content_type) in MALFORMED.items():
        response = ws_admin_client.post(INVITATIONS, body, content_type=content_type)
        assert response.status_code == 400, name
        _assert_json_400(response)


def test_json_nested_deeper_than_the_limit_is_refused_even_when_python_could_parse_it(ws_admin_client):
    body = '{"email": ' + "[" * 300 + "1" + "]" * 300 + "}"
    response = ws_admin_client.post(INVITATIONS, body, content_type="application/json")
    _assert_json_400(response)
    assert "nested" in response.json()["message"]


def test_a_form_body_with_too_many_fields_is_a_400(ws_admin_client, settings):
    body = "&".join(f"f{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 5))
    _assert_json_400(ws_admin_client.post(INVITATIONS, body, content_type="application/x-www-form-urlencoded"))


def test_a_body_over_the_upload_limit_is_a_400(ws_admin_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"email": "' + "a" * 2000 + '@example.com"}'
    _assert_json_400(ws_admin_client.post(INVITATIONS, body, content_type="application/json"))
