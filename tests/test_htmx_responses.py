"""Every page that answers htmx with a fragment says `Vary: HX-Request`, so no cache hands a fragment to a plain visit."""

import re

import pytest

from exports.models import Export
from projects.models import LabelingProject
from tests.test_url_sweep import _url, samples, tenant_patterns  # noqa: F401 (samples is a fixture)

# Masked CSRF tokens differ on every render; they are not what makes a fragment a fragment.
CSRF = re.compile(rb"[A-Za-z0-9]{64}")


def _body(response) -> bytes:
    return CSRF.sub(b"", response.content)


@pytest.fixture
def sweep_samples(samples, org_admin):
    """The sweep's samples, with an export of the sampled project (so its pages answer 200)."""
    project = LabelingProject.objects.get(uuid=samples["project"])
    export = Export.objects.create(project=project, format="csv", state="running", created_by=org_admin)
    return {**samples, "export": export.uuid}


def test_every_page_or_fragment_varies_on_hx_request(org_admin_client, sweep_samples):
    differing = []
    for route, _ in tenant_patterns():
        url = _url(route, sweep_samples)
        if url.startswith("/api/"):
            continue
        plain = org_admin_client.get(url)
        htmx = org_admin_client.get(url, headers={"HX-Request": "true"})
        if plain.status_code != 200 or htmx.status_code not in (200, 286) or plain.streaming:
            continue  # not a page here (a POST-only route, media, a download)
        if _body(plain) == _body(htmx):
            continue
        differing.append(route)
        for kind, response in (("plain", plain), ("htmx", htmx)):
            assert "HX-Request" in response.get("Vary", ""), f"{kind} GET {url}: Vary={response.get('Vary')!r}"
    # The sweep must really reach the fragment views, or this test would pass by visiting none.
    for name in (
        "/exports/",
        "/exports/<uuid:export>/status/",
        "/label/tasks/",
        "/review/",
        "/review/queue/",
        "/projects/new/<slug:step>/",
    ):
        assert any(route.endswith(name) for route in differing), (
            f"no page-or-fragment route matching {name!r}: {differing}"
        )


def test_a_history_restore_gets_the_whole_page_not_a_fragment(org_admin_client, sweep_samples):
    """htmx asks again for a page its history cache lost and puts the answer in place of <body>: a fragment would
    leave the page without its top bar and scripts."""
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    for route in (
        "o/<slug:org>/<slug:ws>/projects/<uuid:project>/label/tasks/",
        "o/<slug:org>/<slug:ws>/projects/<uuid:project>/review/",
        "o/<slug:org>/<slug:ws>/projects/new/<slug:step>/",
    ):
        url = _url(route, sweep_samples)
        response = org_admin_client.get(url, headers=headers)
        assert response.status_code == 200, url
        assert b'<header class="topbar">' in response.content, url
        fragment = org_admin_client.get(url, headers={"HX-Request": "true"})
        assert b'<header class="topbar">' not in fragment.content, url
