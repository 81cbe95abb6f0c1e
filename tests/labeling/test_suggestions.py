"""Pre-labels reach the labeler as suggestions: shown apart from their own tags, accepted with one action or
changed, and every submit records what happened to them (annotation, per-class counters, dashboard)."""

import re

import pytest

from labeling import services, stats
from labeling.models import Annotation, ClassCount, PreLabel, Task
from labeling.selectors import dashboard_stats_get
from tests.factories import ProjectFactory, class_ids, class_uuids, items_add, prelabels_add

# Every test here moves tasks through the services: the counters must still equal a recount afterwards.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("counters_checked")]
HTMX = {"HX-Request": "true"}


def held(project, user):
    return list(services.tasks_held(project=project, user=user).select_related("item").order_by("order_key", "id"))


@pytest.fixture
def suggested(workspace):
    """A multi-class project of 4 tasks; the first three (in claim order) carry suggestions cat, dog, cat."""
    project = ProjectFactory.create(workspace=workspace, dataset__items=4)
    cat, dog, _ = class_ids(project)
    tasks = list(Task.objects.filter(project=project).order_by("order_key", "id"))
    prelabels_add(tasks[:3], dict(zip(tasks[:3], [cat, dog, cat], strict=True)))
    return project


# --- services ---------------------------------------------------------------------------------------------------


def test_a_claim_offers_the_suggestion_apart_from_the_draft(suggested, labeler):
    cat, dog, _ = class_ids(suggested)
    page = services.tasks_claim(project=suggested, user=labeler, size=4)
    assert [
        (t.draft, t.suggested) for t in Task.objects.filter(pk__in=[t.id for t in page]).order_by("order_key", "id")
    ] == [([], [cat]), ([], [dog]), ([], [cat]), ([], [])]


def test_a_multiclass_claim_offers_one_class_and_never_a_removed_one(workspace, labeler, manager):
    project = ProjectFactory.create(workspace=workspace, dataset__items=2)
    cat, dog, bird = class_ids(project)
    first, second = Task.objects.filter(project=project).order_by("order_key", "id")
    prelabels_add([first, second], {first: [dog, bird], second: [cat, bird]})
    services.label_class_remove(
        project=project, label_class=project.label_classes.get(pk=cat), requeue=False, actor=manager
    )
    services.tasks_claim(project=project, user=labeler, size=2)
    assert Task.objects.get(pk=first.pk).suggested == [dog]
    assert Task.objects.get(pk=second.pk).suggested == [bird]


def test_accepting_turns_open_suggestions_into_tags_and_leaves_own_tags_alone(suggested, labeler):
    cat, _dog, bird = class_ids(suggested)
    page = services.tasks_claim(project=suggested, user=labeler, size=4)
    first, second, third, plain = page
    services.draft_set(project=suggested, user=labeler, task_ids=[second.id], label_ids=[bird])
    changed = services.suggestions_accept(project=suggested, user=labeler, task_ids=[t.id for t in page])
    assert sorted(t.id for t in changed) == sorted([first.id, third.id])
    drafts = dict(Task.objects.filter(pk__in=[t.id for t in page]).values_list("id", "draft"))
    assert drafts == {first.id: [cat], second.id: [bird], third.id: [cat], plain.id: []}
    assert services.suggestions_accept(project=suggested, user=labeler, task_ids=[first.id]) == []  # already answered


def test_accepting_refuses_images_the_labeler_does_not_hold(suggested, labeler, manager):
    mine = services.tasks_claim(project=suggested, user=labeler, size=1)
    theirs = services.tasks_claim(project=suggested, user=manager, size=1)
    with pytest.raises(services.LeaseLost):
        services.suggestions_accept(project=suggested, user=labeler, task_ids=[mine[0].id, theirs[0].id])
    assert Task.objects.get(pk=mine[0].id).draft == []  # all or nothing


def test_submit_records_accepted_changed_and_own_choices(suggested, labeler):
    cat, dog, bird = class_ids(suggested)
    first, second, third, plain = services.tasks_claim(project=suggested, user=labeler, size=4)
    services.page_submit(
        project=suggested, user=labeler, labels={first.id: [cat], second.id: [cat], third.id: [bird], plain.id: [dog]}
    )
    answers = {
        a.task_id: (a.suggestion, sorted(a.suggested_labels.values_list("id", flat=True)))
        for a in Annotation.objects.all()
    }
    assert answers == {
        first.id: ("accepted", [cat]),
        second.id: ("changed", [dog]),
        third.id: ("changed", [cat]),
        plain.id: ("none", []),
    }
    counts = {row[0]: row[1:] for row in ClassCount.objects.values_list("label_class_id", "suggested", "accepted")}
    assert counts[cat] == (2, 1) and counts[dog] == (1, 0) and counts[bird] == (0, 0)
    assert not PreLabel.objects.exists()  # a submitted label replaces the suggestion
    assert Task.objects.filter(project=suggested).exclude(suggested=[]).count() == 0


def test_multilabel_counts_each_suggested_class_kept_or_dropped(workspace, labeler):
    project = ProjectFactory.create(workspace=workspace, dataset__items=1, task_type="multilabel")
    cat, dog, bird = class_ids(project)
    prelabels_add([Task.objects.get(project=project)], [cat, dog])
    (task,) = services.tasks_claim(project=project, user=labeler, size=1)
    assert Task.objects.get(pk=task.id).suggested == [cat, dog]
    services.page_submit(project=project, user=labeler, labels={task.id: [cat, bird]})
    assert Annotation.objects.get().suggestion == "changed"
    counts = {row[0]: row[1:] for row in ClassCount.objects.values_list("label_class_id", "suggested", "accepted")}
    assert counts[cat] == (1, 1) and counts[dog] == (1, 0)


def test_counters_equal_a_recount_after_suggestions_rejections_and_corrections(suggested, labeler, reviewer):
    from review.services import review_decide

    cat, dog, bird = class_ids(suggested)
    first, second, third, plain = services.tasks_claim(project=suggested, user=labeler, size=4)
    services.page_submit(
        project=suggested, user=labeler, labels={first.id: [cat], second.id: [dog], third.id: [dog], plain.id: [bird]}
    )
    version = dict(Task.objects.values_list("id", "version"))
    review_decide(
        project=suggested,
        reviewer=reviewer,
        decisions=[(first.id, version[first.id])],
        decision="reject",
        reason="blurry",
    )
    review_decide(
        project=suggested,
        reviewer=reviewer,
        decisions=[(third.id, version[third.id])],
        decision="correct",
        corrected_labels=[cat],
    )
    live = sorted(
        ClassCount.objects.filter(project=suggested).values_list("label_class_id", "count", "suggested", "accepted")
    )
    stats.stats_rebuild(project=suggested)
    rebuilt = sorted(
        ClassCount.objects.filter(project=suggested).values_list("label_class_id", "count", "suggested", "accepted")
    )
    assert live == rebuilt
    assert [row[2:] for row in rebuilt] == [(2, 1), (1, 1), (0, 0)]  # cat: suggested twice, kept once; dog kept


def test_changing_the_layout_keeps_tagged_images_and_gives_back_the_rest(workspace, labeler):
    project = ProjectFactory.create(workspace=workspace, dataset__items=20)
    cat = class_ids(project)[0]
    page = services.tasks_claim(project=project, user=labeler, size=9)
    tagged = [t.id for t in page[:2]]
    services.draft_set(project=project, user=labeler, task_ids=tagged, label_ids=[cat])
    services.grid_layout_set(project=project, user=labeler, page_size=4)
    assert sorted(services.tasks_held(project=project, user=labeler).values_list("id", flat=True)) == sorted(tagged)
    again = services.tasks_claim(project=project, user=labeler, size=4)
    assert set(tagged) <= {t.id for t in again} and len(again) == 4
    assert dict(Task.objects.filter(pk__in=tagged).values_list("id", "draft")) == {pk: [cat] for pk in tagged}


def _submit_statements(project, user, size, suggested: bool) -> tuple[int, int]:
    """(statements to accept the page's suggestions, statements to submit it), the counter rows already made."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cat, dog, _ = class_ids(project)
    if suggested:
        prelabels_add(Task.objects.filter(project=project, state="unlabeled"), dog)
    page = services.tasks_claim(project=project, user=user, size=size)
    with CaptureQueriesContext(connection) as accepting:
        services.suggestions_accept(project=project, user=user, task_ids=[t.id for t in page])
    with CaptureQueriesContext(connection) as submitting:
        services.page_submit(project=project, user=user, labels={t.id: [cat if t.id % 2 else dog] for t in page})
    return len(accepting), len(submitting)


@pytest.mark.parametrize("size", [2, 9])
def test_suggestions_cost_one_statement_per_submit_whatever_the_page_size(workspace, labeler, size):
    project = ProjectFactory.create(workspace=workspace, dataset__items=40)
    cat, dog, _ = class_ids(project)
    warm = services.tasks_claim(project=project, user=labeler, size=2)  # makes the counter rows
    services.page_submit(project=project, user=labeler, labels={warm[0].id: [cat], warm[1].id: [dog]})
    _, plain = _submit_statements(project, labeler, size, suggested=False)
    accepting, submitting = _submit_statements(project, labeler, size, suggested=True)
    assert submitting == plain + 1  # the INSERT of the suggested tags; the counters ride on the same upsert
    assert accepting <= 5  # savepoint, lock the page, read the active classes, one UPDATE, release


# --- the grid pages ---------------------------------------------------------------------------------------------


def test_the_labeler_sees_suggestions_as_suggestions(labeler_client, labeler, suggested, grid_url):
    html = labeler_client.get(grid_url("grid", suggested)).content.decode()
    first, _second, _third, plain = held(suggested, labeler)
    chips = {
        t.item.uuid: re.search(rf'<div class="chips" id="chips-{t.item.uuid}".*?</div>', html, re.S).group(0)
        for t in (first, plain)
    }
    assert 'data-suggestion="open"' in chips[first.item.uuid] and "Suggested:" in chips[first.item.uuid]
    assert re.search(r'class="chip chip-suggested c0">cat<', chips[first.item.uuid])
    assert 'name="labels-' not in chips[first.item.uuid]  # a suggestion is not a tag: Submit would not send it
    assert "No tag yet" in chips[plain.item.uuid] and "Suggested" not in chips[plain.item.uuid]
    assert html.count('class="chip chip-suggested') == 3
    assert 'id="accept-all" aria-keyshortcuts="Shift+A"' in html and "Accept all suggestions" in html
    assert "3 images on this page have a suggested tag" in html
    assert "<kbd>Shift</kbd> + <kbd>A</kbd>" in html  # in the keyboard help
    assert 'id="submit-page" class="primary" disabled' in html
    assert 'id="layout-form"' in html and 'class="row" hidden' not in html  # the layout picker is never hidden


def test_a_page_without_suggestions_has_no_accept_bar(labeler_client, workspace, grid_url):
    html = labeler_client.get(
        grid_url("grid", ProjectFactory.create(workspace=workspace, dataset__items=3))
    ).content.decode()
    assert 'id="accept-form"' not in html and "chip-suggested" not in html


def test_accept_all_swaps_in_the_tags_without_a_reload(labeler_client, labeler, suggested, grid_url):
    labeler_client.get(grid_url("grid", suggested))
    cat, dog, _ = class_ids(suggested)
    page = held(suggested, labeler)
    response = labeler_client.post(
        grid_url("accept", suggested), {"items": [str(t.item.uuid) for t in page]}, headers=HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('hx-swap-oob="true"') == 3 and 'data-suggestion="open"' not in html
    assert f'name="labels-{page[0].item.uuid}" value="{class_uuids(suggested)[0]}"' in html  # the page posts UUIDs
    assert [t.draft for t in held(suggested, labeler)] == [[cat], [dog], [cat], []]


def test_accept_without_javascript_goes_back_to_the_grid_with_the_tags(labeler_client, labeler, suggested, grid_url):
    labeler_client.get(grid_url("grid", suggested))
    first = held(suggested, labeler)[0]
    response = labeler_client.post(grid_url("accept", suggested), {"items": [str(first.item.uuid)]})
    assert response.status_code == 302 and response["Location"] == grid_url("grid", suggested)
    html = labeler_client.get(grid_url("grid", suggested)).content.decode()
    assert f'name="labels-{first.item.uuid}"' in html
    assert "2 images on this page have a suggested tag" in html


def test_accept_with_nothing_to_accept_says_so(labeler_client, suggested, grid_url):
    labeler_client.get(grid_url("grid", suggested))
    response = labeler_client.post(grid_url("accept", suggested), {}, headers=HTMX)
    assert response.status_code == 422 and "no suggestions to accept" in response.content.decode()
    assert response["HX-Retarget"] == "#grid-alert"


def test_submit_from_the_grid_records_the_answers(labeler_client, labeler, suggested, grid_url):
    labeler_client.get(grid_url("grid", suggested))
    cat, dog, bird = class_uuids(suggested)  # as the page posts them
    page = held(suggested, labeler)
    labeler_client.post(grid_url("accept", suggested), {"items": [str(t.item.uuid) for t in page]}, headers=HTMX)
    chosen = {page[0].id: cat, page[1].id: bird, page[2].id: cat, page[3].id: dog}  # the second one changed
    data = {"items": [str(t.item.uuid) for t in page], **{f"labels-{t.item.uuid}": [chosen[t.id]] for t in page}}
    assert labeler_client.post(grid_url("submit", suggested), data, headers=HTMX).status_code == 200
    assert dict(Annotation.objects.values_list("task_id", "suggestion")) == {
        page[0].id: "accepted",
        page[1].id: "changed",
        page[2].id: "accepted",
        page[3].id: "none",
    }


def test_a_page_with_untouched_suggestions_is_not_submitted(labeler_client, labeler, suggested, grid_url):
    labeler_client.get(grid_url("grid", suggested))
    page = held(suggested, labeler)
    dog = class_uuids(suggested)[1]
    # Only the image without a suggestion got a tag: the suggestions are not labels until accepted.
    data = {"items": [str(t.item.uuid) for t in page], f"labels-{page[3].item.uuid}": [dog]}
    response = labeler_client.post(grid_url("submit", suggested), data, headers=HTMX)
    assert response.status_code == 422 and "needs a tag" in response.content.decode()
    assert not Annotation.objects.exists()


def test_changing_the_layout_in_the_grid_keeps_the_tags(labeler_client, labeler, workspace, grid_url):
    project = ProjectFactory.create(workspace=workspace, dataset__items=12)
    labeler_client.get(grid_url("grid", project))
    page = held(project, labeler)
    cat = class_uuids(project)[0]  # as the page posts it
    labeler_client.post(grid_url("tag", project), {"items": [str(page[0].item.uuid)], "label": cat}, headers=HTMX)
    html = labeler_client.post(grid_url("layout", project), {"size": "4"}, headers=HTMX).content.decode()
    assert html.count('class="tile"') == 4
    assert f'name="labels-{page[0].item.uuid}" value="{cat}"' in html


@pytest.mark.parametrize("who,status", [("outsider_client", 404), ("reviewer_client", 403)])
def test_accept_is_for_labelers_of_the_workspace(request, who, status, suggested, grid_url):
    response = request.getfixturevalue(who).post(grid_url("accept", suggested), {"items": []})
    assert response.status_code == status


def test_accept_answers_post_only_and_sends_strangers_to_login(labeler_client, anon_client, suggested, grid_url):
    assert labeler_client.get(grid_url("accept", suggested)).status_code == 405
    response = anon_client.post(grid_url("accept", suggested), {"items": []})
    assert response.status_code == 302 and "/login" in response["Location"]


def test_the_dashboard_shows_the_acceptance_of_suggestions(manager_client, labeler, suggested, grid_url):
    cat, dog, bird = class_ids(suggested)
    first, second, third, plain = services.tasks_claim(project=suggested, user=labeler, size=4)
    services.page_submit(
        project=suggested, user=labeler, labels={first.id: [cat], second.id: [dog], third.id: [bird], plain.id: [dog]}
    )
    html = manager_client.get(grid_url("dashboard", suggested)).content.decode()
    table = re.search(r'<table class="table" id="suggestion-counts">.*?</table>', html, re.S).group(0)
    rows = [re.sub(r"<[^>]+>|\s+", " ", row).split() for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]]
    assert rows == [["cat", "2", "1", "1", "50%"], ["dog", "1", "1", "0", "100%"]]
    assert "Labelers accepted <strong>2</strong> of 3 suggested tags (67%) and changed 1." in html
    dashboard = dashboard_stats_get(project=suggested)
    assert dashboard.suggestions_total == {"suggested": 3, "accepted": 2, "changed": 1, "acceptance_rate": 67}


def test_the_dashboard_leaves_suggestions_out_until_there_are_some(manager_client, workspace, grid_url):
    project = ProjectFactory.create(workspace=workspace, dataset__items=2)
    assert 'id="suggestion-counts"' not in manager_client.get(grid_url("dashboard", project)).content.decode()


def test_tasks_created_by_the_sync_start_without_a_suggestion(workspace):
    project = ProjectFactory.create(workspace=workspace, dataset__items=0)
    items_add(project.dataset, 3)
    assert services.project_tasks_sync(project=project) == 3
    assert list(Task.objects.filter(project=project).values_list("suggested", "draft")) == [([], [])] * 3
