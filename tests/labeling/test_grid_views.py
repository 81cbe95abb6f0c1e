"""The labeling pages as a labeler, reviewer, outsider and anonymous visitor see them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import services
from labeling.models import Annotation, Task
from tests.factories import ProjectFactory, class_ids, class_uuids, project_items_add

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def _page_items(project, user):
    return [
        str(t.item.uuid)
        for t in services.tasks_held(project=project, user=user).select_related("item").order_by("order_key")
    ]


def _tiles(response):
    import re

    return re.findall(r'id="tile-([0-9a-f-]+)"', response.content.decode())


def test_workspace_lists_label_data_for_labelers(labeler_client, reviewer_client, project, ws_url, grid_url):
    link = grid_url("start", project)
    assert link in labeler_client.get(ws_url("workspace")).content.decode()
    assert link not in reviewer_client.get(ws_url("workspace")).content.decode()


def test_instructions_page_renders_safe_markdown_and_link(labeler_client, workspace, grid_url):
    project = ProjectFactory.create(
        workspace=workspace,
        dataset__items=1,
        instructions_url="https://example.com/guide",
        instructions_text="## Order\nTag **every** animal.\n\n- *cats* first\n- see [guide](https://example.com/g)\n\n"
        "<script>alert(1)</script> [bad](javascript:alert(1))",
    )
    page = labeler_client.get(grid_url("start", project)).content.decode()
    # The same renderer as the wizard's preview: headings included, links without target.
    assert "<h4>Order</h4>" in page and "<strong>every</strong>" in page and "<em>cats</em>" in page
    assert '<a href="https://example.com/g" rel="noopener noreferrer nofollow">guide</a>' in page
    assert "&lt;script&gt;" in page and "<script>alert" not in page
    assert 'href="javascript:' not in page
    assert 'href="https://example.com/guide"' in page
    assert grid_url("grid", project) in page


def test_grid_shows_a_claimed_page_with_tag_buttons(labeler_client, labeler, project, grid_url):
    response = labeler_client.get(grid_url("grid", project))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="tile"') == 9
    assert 'data-shortcut="1"' in html and ">cat</button>" in html.replace("\n", "").replace("  ", "")
    assert "labelsite/grid.js" in html
    assert 'id="submit-page" class="primary" disabled' in html
    assert Task.objects.filter(leased_to=labeler).count() == 9


def test_grid_fragment_for_htmx(labeler_client, project, grid_url):
    response = labeler_client.get(grid_url("grid", project), headers=HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="grid"')
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_apply_tag_updates_draft_and_returns_changed_chips(labeler_client, labeler, project, grid_url):
    labeler_client.get(grid_url("grid", project))
    items = _page_items(project, labeler)
    cat, cat_id = class_uuids(project)[0], class_ids(project)[0]  # the page posts UUIDs; drafts keep ids
    response = labeler_client.post(grid_url("tag", project), {"items": items[:2], "label": cat}, headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('hx-swap-oob="true"') == 2 and "cat" in html
    assert sorted(Task.objects.filter(draft=[cat_id]).values_list("item__uuid", flat=True).order_by()) == sorted(
        map(__import__("uuid").UUID, items[:2])
    )
    # Remove the chip again.
    labeler_client.post(grid_url("tag", project), {"items": items[:1], "label": cat, "op": "remove"}, headers=HTMX)
    assert Task.objects.filter(draft=[cat_id]).count() == 1


def test_draft_tags_survive_a_reload(labeler_client, labeler, project, grid_url):
    labeler_client.get(grid_url("grid", project))
    items = _page_items(project, labeler)
    dog = class_uuids(project)[1]
    labeler_client.post(grid_url("tag", project), {"items": items, "label": dog}, headers=HTMX)
    html = labeler_client.get(grid_url("grid", project)).content.decode()
    assert html.count('name="labels-') == 9
    assert 'id="submit-page" class="primary">' in html  # enabled: every image is tagged
    assert 'id="layout-form"' in html and 'class="row" hidden' not in html  # the layout picker stays offered


def test_submit_saves_and_swaps_in_the_next_page(labeler_client, labeler, project, grid_url):
    labeler_client.get(grid_url("grid", project))
    items = _page_items(project, labeler)
    cat = class_uuids(project)[0]
    data = {"items": items, **{f"labels-{i}": [cat] for i in items}}
    response = labeler_client.post(grid_url("submit", project), data, headers=HTMX)
    assert response.status_code == 200
    assert response.content.decode().count('class="tile"') == 3
    assert Annotation.objects.count() == 9
    again = labeler_client.post(grid_url("submit", project), data, headers=HTMX)
    assert _tiles(again) == _tiles(response)  # idempotent: same next page, nothing new saved
    assert Annotation.objects.count() == 9


def test_plain_submit_redirects_to_the_grid(labeler_client, labeler, project, grid_url):
    labeler_client.get(grid_url("grid", project))
    items = _page_items(project, labeler)
    cat = class_uuids(project)[0]
    response = labeler_client.post(
        grid_url("submit", project), {"items": items, **{f"labels-{i}": [cat] for i in items}}
    )
    assert response.status_code == 302 and response["Location"] == grid_url("grid", project)


def test_submit_with_lost_lease_is_409_with_an_explanation(labeler_client, labeler, project, grid_url):
    labeler_client.get(grid_url("grid", project))
    items = _page_items(project, labeler)
    Task.objects.filter(leased_to=labeler).update(lease_expires=timezone.now() - timedelta(minutes=1))
    cat = class_uuids(project)[0]
    data = {"items": items, **{f"labels-{i}": [cat] for i in items}}
    response = labeler_client.post(grid_url("submit", project), data, headers=HTMX)
    assert response.status_code == 409
    assert response["HX-Retarget"] == "#grid-alert"
    html = response.content.decode()
    assert "ran out" in html and "Load a fresh page" in html
    assert not Annotation.objects.exists()
    plain = labeler_client.post(grid_url("submit", project), data)
    assert plain.status_code == 409 and "ran out" in plain.content.decode()


def test_submit_incomplete_page_is_422(labeler_client, labeler, project, grid_url):
    labeler_client.get(grid_url("grid", project))
    items = _page_items(project, labeler)
    response = labeler_client.post(grid_url("submit", project), {"items": items}, headers=HTMX)
    assert response.status_code == 422 and "needs a tag" in response.content.decode()


def test_skip_removes_the_image_and_tops_up(labeler_client, labeler, project, grid_url):
    labeler_client.get(grid_url("grid", project))
    first = _page_items(project, labeler)[0]
    response = labeler_client.post(grid_url("skip", project, item=first), headers=HTMX)
    assert response.status_code == 200
    assert first not in response.content.decode()
    assert response.content.decode().count('class="tile"') == 9
    assert Task.objects.get(item__uuid=first).state == Task.State.SKIPPED


def test_layout_switch_is_remembered(labeler_client, labeler, project, grid_url):
    labeler_client.get(grid_url("grid", project))
    response = labeler_client.post(grid_url("layout", project), {"size": 4}, headers=HTMX)
    assert response.content.decode().count('class="tile"') == 4
    assert labeler_client.get(grid_url("grid", project)).content.decode().count('class="tile"') == 4
    assert labeler_client.post(grid_url("layout", project), {"size": 7}, headers=HTMX).status_code == 422


def test_empty_queue_says_so_and_links_back(labeler_client, workspace, ws_url, grid_url):
    project = ProjectFactory.create(workspace=workspace, dataset__items=0)
    html = labeler_client.get(grid_url("grid", project)).content.decode()
    assert "nothing is left to label" in html
    assert f'href="{ws_url("workspace")}"' in html


def test_paused_project_says_so(labeler_client, workspace, grid_url):
    project = ProjectFactory.create(workspace=workspace, dataset__items=3, state="paused")
    html = labeler_client.get(grid_url("grid", project)).content.decode()
    assert "is paused" in html and 'class="tile"' not in html
    # A paused project is a conflict with the project's state: 409, as the API answers it, with the reason.
    refused = labeler_client.post(grid_url("skip", project, item=project.tasks.first().item.uuid), headers=HTMX)
    assert refused.status_code == 409 and "is paused" in refused.content.decode()
    assert "Load a fresh page" not in refused.content.decode()  # that offer is for a lost hold


@pytest.mark.parametrize("name", ["start", "grid"])
def test_reviewer_without_labeling_right_gets_403(reviewer_client, project, grid_url, name):
    assert reviewer_client.get(grid_url(name, project)).status_code == 403
    assert reviewer_client.post(grid_url("submit", project)).status_code == 403


def test_outsider_gets_404_and_anonymous_goes_to_login(outsider_client, anon_client, project, grid_url):
    assert outsider_client.get(grid_url("grid", project)).status_code == 404
    response = anon_client.get(grid_url("grid", project))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_project_of_another_workspace_is_404(labeler_client, other_workspace, org, workspace):
    from django.urls import reverse

    foreign = ProjectFactory.create(workspace=other_workspace, dataset__items=1)
    url = reverse("labeling:grid", kwargs={"org": org.slug, "ws": workspace.slug, "project": foreign.uuid})
    assert labeler_client.get(url).status_code == 404


def test_wrong_methods_are_405(labeler_client, project, grid_url):
    assert labeler_client.post(grid_url("grid", project)).status_code == 405
    assert labeler_client.get(grid_url("submit", project)).status_code == 405
    assert labeler_client.get(grid_url("tag", project)).status_code == 405


@pytest.mark.parametrize("size", [1, 20])
def test_grid_render_costs_constant_queries(
    labeler_client, labeler, workspace, grid_url, size, django_assert_max_num_queries
):
    project = ProjectFactory.create(workspace=workspace, dataset__items=25)
    labeler_client.post(grid_url("layout", project), {"size": size})
    labeler_client.get(grid_url("grid", project))  # claim
    items = _page_items(project, labeler)
    labeler_client.post(grid_url("tag", project), {"items": items, "label": class_uuids(project)[0]}, headers=HTMX)
    project_items_add(project, 200)
    with django_assert_max_num_queries(14):
        response = labeler_client.get(grid_url("grid", project), headers=HTMX)
    assert response.content.decode().count('class="tile"') == size


def test_a_page_whose_hold_ran_out_says_so_once_on_reload(labeler_client, labeler, project, grid_url):
    labeler_client.get(grid_url("grid", project))
    cat = class_uuids(project)[0]
    items = _page_items(project, labeler)
    labeler_client.post(grid_url("tag", project), {"items": items, "label": cat}, headers=HTMX)
    Task.objects.filter(leased_to=labeler).update(lease_expires=timezone.now() - timedelta(minutes=1))
    html = labeler_client.get(grid_url("grid", project)).content.decode()
    assert "ran out" in html and "fresh page" in html
    assert html.count('class="tile"') == 9 and 'name="labels-' not in html  # a fresh page: drafts discarded
    assert "ran out" not in labeler_client.get(grid_url("grid", project)).content.decode()


def _submit_in_first_tab(client, labeler, project, grid_url):
    """Tab one submits the page that tab two still shows; returns tab two's stale items and tag."""
    client.get(grid_url("grid", project))
    items = _page_items(project, labeler)
    cat = class_uuids(project)[0]
    assert (
        client.post(
            grid_url("submit", project), {"items": items, **{f"labels-{i}": [cat] for i in items}}, headers=HTMX
        ).status_code
        == 200
    )
    return items, cat


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "no-js"])
def test_tagging_a_page_submitted_in_another_tab_says_so_and_shows_the_fresh_page(
    labeler_client, labeler, project, grid_url, htmx
):
    stale, cat = _submit_in_first_tab(labeler_client, labeler, project, grid_url)
    response = labeler_client.post(
        grid_url("tag", project), {"items": stale[:2], "label": cat}, headers=HTMX if htmx else {}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "This page was already submitted (in another tab?)" in html
    assert "ran out" not in html
    fresh = _page_items(project, labeler)
    assert sorted(_tiles(response)) == sorted(fresh) and not set(fresh) & set(stale)
    if htmx:  # the fresh page replaces the stale grid, whatever the tag form's own swap
        assert response["HX-Retarget"] == "#grid" and response["HX-Reswap"] == "outerHTML"
        assert html.lstrip().startswith('<section id="grid"')
    else:
        assert "<html" in html


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "no-js"])
def test_submitting_a_page_again_from_another_tab_says_it_was_already_submitted(
    labeler_client, labeler, project, grid_url, htmx
):
    stale, cat = _submit_in_first_tab(labeler_client, labeler, project, grid_url)
    data = {"items": stale, **{f"labels-{i}": [cat] for i in stale}}
    response = labeler_client.post(grid_url("submit", project), data, headers=HTMX if htmx else {})
    html = response.content.decode()
    assert response.status_code == 200 and "This page was already submitted (in another tab?)" in html
    assert Annotation.objects.count() == 9  # nothing saved twice
    assert sorted(_tiles(response)) == sorted(_page_items(project, labeler))


def test_skipping_on_a_page_submitted_in_another_tab_says_so(labeler_client, labeler, project, grid_url):
    stale, _ = _submit_in_first_tab(labeler_client, labeler, project, grid_url)
    response = labeler_client.post(grid_url("skip", project, item=stale[0]), headers=HTMX)
    assert "This page was already submitted" in response.content.decode()
    assert not Task.objects.filter(state=Task.State.SKIPPED).exists()


def test_a_page_lost_to_an_expired_hold_still_says_the_hold_ran_out(labeler_client, labeler, project, grid_url):
    labeler_client.get(grid_url("grid", project))
    items = _page_items(project, labeler)
    Task.objects.filter(leased_to=labeler).update(lease_expires=timezone.now() - timedelta(minutes=1))
    response = labeler_client.post(
        grid_url("tag", project), {"items": items[:1], "label": class_uuids(project)[0]}, headers=HTMX
    )
    assert response.status_code == 409 and "ran out" in response.content.decode()
