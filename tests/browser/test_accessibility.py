"""Accessibility in a real browser: axe-core finds no serious or critical violation on the main pages, in the light
and the dark colour scheme; keyboard focus is always visible; the busy pages fit a laptop and a tablet.

axe-core is a test tool installed by `.ci/setup-axe` into data/tools/axe-core. Its source is evaluated through
Playwright (not added as a <script>: the strict CSP would refuse an inline script, as it should).
"""

from pathlib import Path

import pytest

from labeling.models import Task
from tests.conftest import require
from tests.factories import DatasetFactory, ProjectFactory, TaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "data" / "tools" / "axe-core" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def axe_source():
    require(AXE.exists(), "axe-core", "bash .ci/setup-axe (npm; installs into data/tools/axe-core)")
    return AXE.read_text()


@pytest.fixture
def world(workspace, labeler, celery_eager):
    """A labeling project with images (grid, dashboard, exports, settings) and one with labels to review."""
    grid = ProjectFactory.create(workspace=workspace, dataset__items=9)
    reviewed = ProjectFactory.create(workspace=workspace, name="Reviewed pets", dataset__items=0)
    TaskFactory.create_batch(6, project=reviewed, state=Task.State.LABELED, labeler=labeler)
    TaskFactory.create_batch(2, project=reviewed, state=Task.State.APPROVED, labeler=labeler)
    DatasetFactory.create(workspace=workspace, name="more-pets", items=2)
    w = "/o/acme/vision/"
    return {
        "home": ("labeler", "/"),
        "workspace": ("manager", w),
        "dashboard": ("manager", f"{w}projects/{reviewed.uuid}/"),
        "grid": ("labeler", f"{w}projects/{grid.uuid}/label/tasks/"),
        "instructions": ("labeler", f"{w}projects/{grid.uuid}/label/"),
        "labeled data": ("reviewer", f"{w}projects/{reviewed.uuid}/review/"),
        "review queue": ("reviewer", f"{w}projects/{reviewed.uuid}/review/queue/"),
        "exports": ("manager", f"{w}projects/{grid.uuid}/exports/"),
        "import": ("manager", f"{w}projects/{grid.uuid}/exports/import/"),
        "settings": ("manager", f"{w}projects/{grid.uuid}/settings/"),
        "wizard step": ("manager", f"{w}projects/new/"),
        "datasets": ("manager", f"{w}datasets/"),
        "members": ("ws_admin", f"{w}members/"),
    }


def _axe(page, source):
    """The serious and critical violations axe finds on the page: rule, help and up to three elements (with why)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(source)
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    found = []
    for violation in results["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        nodes = [
            f"{node['target'][0]}: {(node['any'] or node['all'] or node['none'] or [{}])[0].get('message', '')}"
            for node in violation["nodes"][:3]
        ]
        found.append(f"{violation['id']} ({violation['impact']}) {violation['help']}: " + " | ".join(nodes))
    return found


def test_main_pages_have_no_serious_accessibility_violations_in_light_and_dark(
    browser_as, axe_source, world, labeler, reviewer, manager, ws_admin
):
    people = {"labeler": labeler, "reviewer": reviewer, "manager": manager, "ws_admin": ws_admin}
    pages = {name: browser_as(person) for name, person in people.items()}
    found = {}
    for name, (who, url) in world.items():
        page = pages[who]
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.goto(url)
            page.wait_for_load_state("networkidle")
            violations = _axe(page, axe_source)
            if violations:
                found[f"{name} ({scheme})"] = violations
    assert found == {}, "\n".join(f"{page}: {v}" for page, violations in found.items() for v in violations)
    for page in pages.values():
        assert page.errors == []


def test_keyboard_focus_is_always_visible(browser_as, world, manager):
    page = browser_as(manager)
    for url in (world["workspace"][1], world["dashboard"][1], world["settings"][1]):
        page.goto(url)
        seen = []
        for _ in range(12):
            page.keyboard.press("Tab")
            focused = page.evaluate(
                "() => { const e = document.activeElement, s = getComputedStyle(e);"
                " return [e.tagName + ' ' + (e.textContent || e.name || '').trim().slice(0, 30), s.outlineStyle, parseFloat(s.outlineWidth)]; }"
            )
            seen.append(focused)
        hidden = [f for f in seen if f[1] == "none" or f[2] < 2]
        assert hidden == [], (url, hidden)


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 720}, {"width": 820, "height": 1180}], ids=["laptop", "tablet"]
)
def test_grid_review_and_dashboard_fit_laptops_and_tablets(browser_as, world, labeler, reviewer, manager, viewport):
    checks = [
        (labeler, "grid", ["#select-all", ".tag-button", "#submit-page"]),
        (reviewer, "labeled data", ["[data-approve]", "#review-results .tile"]),
        (manager, "dashboard", [".sectionnav", "#state-counts"]),
    ]
    for person, name, selectors in checks:
        page = browser_as(person)
        page.set_viewport_size(viewport)
        page.goto(world[name][1])
        page.wait_for_load_state("networkidle")
        # Nothing wider than the window: no sideways scrolling to reach a control.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (name, viewport)
        for selector in selectors:
            box = page.locator(selector).first.bounding_box()
            assert box is not None, (name, selector)
            assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], (name, selector, box)
        assert page.errors == []
