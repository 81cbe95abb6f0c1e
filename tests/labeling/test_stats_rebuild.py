"""`stats_rebuild` repairs every counter table the dashboard reads: wrong numbers, missing rows, extra rows."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from labeling import services, stats
from labeling.models import ActivityCount, ClassCount, LabelerCount, Task, TaskStateCount
from review.services import review_decide
from tests.factories import ProjectFactory, class_ids

pytestmark = pytest.mark.django_db


def label_page(project, user, size, label):
    page = services.tasks_claim(project=project, user=user, size=size)
    services.page_submit(project=project, user=user, labels={t.id: [label] for t in page})
    return page


@pytest.fixture
def busy(workspace, labeler, manager, reviewer):
    """A project worked on through the services only, so its live counters are what the product keeps."""
    project = ProjectFactory.create(workspace=workspace, name="Busy", dataset__items=20)
    cat, dog, bird = class_ids(project)
    mine = label_page(project, labeler, 6, cat) + label_page(project, labeler, 3, dog)
    theirs = label_page(project, manager, 4, dog)
    services.task_skip(
        project=project, user=labeler, task=services.tasks_claim(project=project, user=labeler, size=1)[0]
    )
    version = dict(Task.objects.values_list("id", "version"))
    decide = lambda tasks, decision, **kw: review_decide(  # noqa: E731
        project=project, reviewer=reviewer, decisions=[(t.id, version[t.id]) for t in tasks], decision=decision, **kw
    )
    decide(mine[:3] + theirs[:1], "approve")
    decide(mine[3:5], "reject", reason="blurry")
    decide(mine[6:7], "correct", corrected_labels=[bird])
    return project


def table(model, project) -> dict:
    """A counter table's rows of a project as {key: counters}; rows that count nothing are left out."""
    keys, counters = stats.COUNTERS[model]
    rows = model.objects.filter(project=project).values_list(*keys[1:], *counters)
    return {row[: len(keys) - 1]: row[len(keys) - 1 :] for row in rows if any(row[len(keys) - 1 :])}


def tables(project):
    return {model: table(model, project) for model in stats.COUNTERS}


def test_the_live_counters_cover_every_table(busy, labeler, manager):
    live = tables(busy)
    assert live[TaskStateCount] == {("unlabeled",): (8,), ("labeled",): (6,), ("approved",): (5,), ("skipped",): (1,)}
    # (labeled, imported, skipped, approved, rejected)
    assert live[LabelerCount] == {(labeler.id,): (9, 0, 1, 3, 3), (manager.id,): (4, 0, 0, 1, 0)}
    assert sum(n for (n,) in live[ActivityCount].values()) == 13
    assert len(live[ClassCount]) == 3


def test_rebuild_repairs_wrong_missing_and_extra_rows_in_every_counter_table(
    busy, workspace, labeler, manager, reviewer
):
    other = ProjectFactory.create(workspace=workspace, name="Other", dataset__items=3)
    live, others = tables(busy), tables(other)
    cat, _dog, bird = class_ids(busy)
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)

    TaskStateCount.objects.filter(project=busy, state="unlabeled").update(count=999)  # wrong
    TaskStateCount.objects.filter(project=busy, state="approved").delete()  # missing
    ClassCount.objects.filter(project=busy, label_class_id=cat).update(count=-4)
    ClassCount.objects.filter(project=busy, label_class_id=bird).delete()
    LabelerCount.objects.filter(project=busy, user=labeler).update(labeled=1, approved=40, rejected=0)
    LabelerCount.objects.filter(project=busy, user=manager).delete()
    LabelerCount.objects.create(project=busy, user=reviewer, labeled=7)  # extra
    ActivityCount.objects.filter(project=busy).update(labeled=77)
    ActivityCount.objects.create(project=busy, hour=hour - timedelta(days=3), labeled=5)
    assert tables(busy) != live

    stats.stats_rebuild(project=busy)

    assert tables(busy) == live
    assert tables(other) == others  # another project's counters are not touched


def test_rebuild_recounts_a_project_whose_counters_were_never_kept(busy):
    live = tables(busy)
    for model in stats.COUNTERS:
        model._default_manager.filter(project=busy).delete()
    stats.stats_rebuild(project=busy)
    assert tables(busy) == live


def test_the_command_rebuilds_one_project_or_all(busy, workspace):
    live = tables(busy)
    other = ProjectFactory.create(workspace=workspace, name="Other", dataset__items=3)
    TaskStateCount.objects.filter(project=other).delete()  # as if made before the counters existed
    TaskStateCount.objects.filter(project=busy).update(count=0)
    out = StringIO()
    call_command("stats_rebuild", "--project", str(busy.uuid), stdout=out)
    assert tables(busy) == live and "1 project rebuilt" in out.getvalue()
    assert stats.state_counts(other)["unlabeled"] == 0
    call_command("stats_rebuild", stdout=out)
    assert stats.state_counts(other)["unlabeled"] == 3 and "2 projects rebuilt" in out.getvalue()


@pytest.mark.parametrize(
    "value, message", [("nope", "is not a project id"), ("00000000-0000-0000-0000-000000000000", "No project with id")]
)
def test_the_command_refuses_an_unknown_project_and_changes_nothing(busy, value, message):
    TaskStateCount.objects.filter(project=busy).update(count=0)
    with pytest.raises(CommandError, match=message):
        call_command("stats_rebuild", "--project", str(busy.uuid), "--project", value, stdout=StringIO())
    assert set(TaskStateCount.objects.filter(project=busy).values_list("count", flat=True)) == {0}


def test_verify_finds_nothing_to_say_about_counters_the_services_kept(busy):
    assert stats.stats_verify(project=busy) == []


def test_verify_names_every_counter_that_differs_from_a_recount_and_changes_nothing(busy, labeler, reviewer):
    cat = class_ids(busy)[0]
    TaskStateCount.objects.filter(project=busy, state="unlabeled").update(count=-3)
    ClassCount.objects.filter(project=busy, label_class_id=cat).delete()
    LabelerCount.objects.create(project=busy, user=reviewer, labeled=7)
    ActivityCount.objects.filter(project=busy).update(labeled=77)
    corrupted = tables(busy)

    drift = {(d.table, d.key, d.field): (d.stored, d.recounted) for d in stats.stats_verify(project=busy)}

    assert drift[("TaskStateCount", "state=unlabeled", "count")] == (-3, 8)
    assert drift[("ClassCount", f"label_class_id={cat}", "count")] == (0, 4)  # a missing row counts as zero
    assert drift[("LabelerCount", f"user_id={reviewer.id}", "labeled")] == (7, 0)
    assert {key for key in drift if key[0] == "ActivityCount"}  # the hour is named
    assert {table for table, _, _ in drift} == {"TaskStateCount", "ClassCount", "LabelerCount", "ActivityCount"}
    assert tables(busy) == corrupted


def test_the_check_command_lists_the_drift_fails_and_rebuilds_nothing(busy, workspace):
    TaskStateCount.objects.filter(project=busy, state="labeled").update(count=60)
    out = StringIO()
    with pytest.raises(CommandError, match="the counters of 1 differ from a recount"):
        call_command("stats_rebuild", "--check", stdout=out)
    assert "TaskStateCount [state=labeled] count: stored 60, recounted 6" in out.getvalue()
    assert stats.state_counts(busy)["labeled"] == 60
    stats.stats_rebuild(project=busy)
    call_command("stats_rebuild", "--check", "--project", str(busy.uuid), stdout=out)
    assert "1 project checked: every counter equals a recount." in out.getvalue()
