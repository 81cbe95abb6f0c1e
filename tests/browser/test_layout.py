"""The shared layout in a real browser: the skip link is the first Tab stop and leads into the content."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_first_tab_shows_the_skip_link_and_enter_moves_into_the_content(browser_as, labeler):
    page = browser_as(labeler)
    page.goto("/o/acme/vision/")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).not_to_be_in_viewport()
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    assert page.errors == []
