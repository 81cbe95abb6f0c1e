"""The one Playwright harness: Debian's Chromium driven by Playwright's sync API against Django's live server.

`browser_as(user)` opens a tab logged in as that user. Every tab records console errors, page errors and
Content-Security-Policy violations; when the test ends, any of them it did not declare with
`page.allow("text")` fails it, and a failed test leaves a screenshot of each of its tabs in
`<LABELSITE_DATA_DIR>/browser-failures/` (under the git-ignored data folder). Items the factories register
get real image files (`served_images`), so thumbnails load as in production.

Never `playwright install`: the browser is the system's /usr/bin/chromium (apt-get install chromium).
"""

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import require

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test body are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("LABELSITE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 900}
# Recorded by the page itself: Chromium also logs each violation on the console, but the event cannot be missed.
RECORD_CSP_VIOLATIONS = (
    "window.__csp = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sourceFile || '') + ':' + e.lineNumber));"
)


@pytest.fixture(autouse=True)
def _browser_images(served_images):
    """Every browser test serves real images (a missing thumbnail would be a console error)."""


@pytest.fixture
def pets_datastore(workspace, settings, tmp_path):
    """A local datastore with the tutorial's folder of images (and a folder beside it)."""
    from PIL import Image

    from tests.factories import DatastoreFactory

    root = tmp_path / "roots"
    folder = root / "pets" / "MultiClass - DogsCats"
    folder.mkdir(parents=True)
    (root / "pets" / "Other").mkdir()
    for i in range(20):
        Image.new("RGB", (32, 24), (10 * i, 100, 200)).save(folder / f"{'cat' if i % 2 else 'dog'} {i}.jpg", "JPEG")
    settings.LABELSITE_LOCAL_DATASTORE_ROOTS = [*settings.LABELSITE_LOCAL_DATASTORE_ROOTS, str(root.resolve())]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return DatastoreFactory.create(workspace=workspace, name="pets", local_path=str((root / "pets").resolve()))


def failures_folder() -> Path:
    from django.conf import settings

    return Path(settings.LABELSITE_DATA_DIR) / "browser-failures"


# Per module, not per session: the sync API keeps an event loop running in this thread while it is open,
# which the rest of the suite should not run under.
@pytest.fixture(scope="module")
def chromium_browser():
    require(
        bool(shutil.which(CHROMIUM)) or os.path.exists(CHROMIUM),
        "Chromium",
        "apt-get install -y chromium (see .ci/setup-chromium), or set LABELSITE_CHROMIUM",
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "Playwright", "pip install -r requirements-dev.txt")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def _problems(page) -> list[str]:
    recorded = []
    if not page.is_closed() and page.context_js:
        recorded = [f"CSP violation: {v}" for v in page.evaluate("window.__csp || []")]
    return [p for p in page.errors + recorded if not any(allowed in p for allowed in page.allowed)]


@pytest.fixture
def browser_as(request, chromium_browser, live_server):
    """browser_as(user, javascript=True, **context options) -> a Playwright page logged in as that user
    (`javascript=False`: the same without JavaScript, for the plain-HTML forms).

    page.errors lists console errors and page errors as they come; page.allow("text", …) declares messages
    the test expects (a deliberate 409, a cut network); page.csp_violations() reads what the page recorded.
    When the test ends, anything else fails it."""
    from django.conf import settings
    from django.db import connections
    from django.test import Client

    pages = []

    def open_page(user, *, javascript=True, **options):
        client = Client()
        client.force_login(user)
        options = {"viewport": VIEWPORT, "java_script_enabled": javascript, **options}
        context = chromium_browser.new_context(base_url=live_server.url, **options)
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )
        context.add_init_script(RECORD_CSP_VIOLATIONS)
        page = context.new_page()
        page.errors, page.allowed = [], []
        page.context_js = options.get("java_script_enabled", True)
        page.allow = lambda *texts: page.allowed.extend(texts)
        page.csp_violations = lambda: (
            page.evaluate("window.__csp || []"),
            [e for e in page.errors if "Content Security Policy" in e],
        )

        def on_console(msg):
            # A 422 is a form coming back with its errors, and browsers ask for /favicon.ico on their own:
            # neither is a fault. Everything else (script errors, CSP "Refused to …", failed requests) is.
            url = (msg.location or {}).get("url", "")
            if msg.type == "error" and not ("status of 422" in msg.text or url.endswith("/favicon.ico")):
                page.errors.append(f"{msg.text} ({url})")

        page.on("console", on_console)
        page.on("pageerror", lambda error: page.errors.append(f"page error: {error}"))
        page.set_default_timeout(10_000)
        pages.append(page)
        return page

    yield open_page
    failed = any(
        getattr(request.node, f"_report_{when}", None) and getattr(request.node, f"_report_{when}").failed
        for when in ("setup", "call")
    )  # remembered by the root conftest's pytest_runtest_makereport
    problems = []
    for n, page in enumerate(pages):
        if failed and not page.is_closed():
            folder = failures_folder()
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(
                path=str(folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', request.node.nodeid)}-{n}.png"), full_page=True
            )
        problems += _problems(page)
        page.context.close()
    # Django code run while Playwright's loop is active gets its own connection: close it here.
    connections.close_all()
    assert failed or problems == [], problems
