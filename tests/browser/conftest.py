"""Browser tests: Debian's Chromium driven by Playwright's sync API against Django's live server.

Never `playwright install`: the browser is the system's /usr/bin/chromium (apt-get install chromium).
"""

import os
import shutil

import pytest

from tests.project_fixtures import celery_eager  # noqa: F401  (fixture)

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test body are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("LABELSITE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]


# Per module, not per session: only one sync Playwright may run at a time, and some modules start their own.
@pytest.fixture(scope="module")
def chromium_browser():
    from tests.conftest import require

    require(bool(shutil.which(CHROMIUM)) or os.path.exists(CHROMIUM), "Chromium", "apt-get install -y chromium (or set LABELSITE_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright", "pip install -r requirements-dev.txt")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def browser_as(chromium_browser, live_server):
    """browser_as(user) -> a Playwright page logged in as that user; console errors are collected on page.errors.
    browser_as(user, javascript=False): the same without JavaScript (the plain-HTML forms)."""
    from django.conf import settings
    from django.test import Client

    contexts = []

    def open_page(user, *, javascript=True):
        client = Client()
        client.force_login(user)
        context = chromium_browser.new_context(base_url=live_server.url, java_script_enabled=javascript)
        context.add_cookies([{
            "name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
            "url": live_server.url,
        }])
        contexts.append(context)
        page = context.new_page()
        page.errors = []

        def on_console(msg):
            # A 422 is a form coming back with its errors, and browsers ask for /favicon.ico on their own:
            # neither is a fault. Everything else (script errors, CSP "Refused to …") is.
            url = (msg.location or {}).get("url", "")
            expected = "status of 422" in msg.text or url.endswith("/favicon.ico")
            if msg.type == "error" and not expected:
                page.errors.append(f"{msg.text} ({url})")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.set_default_timeout(10_000)
        return page

    yield open_page
    for context in contexts:
        context.close()
