"""Services raise domain errors (core.errors) with a code and data; the API maps them in one place and the
pages in another, so the same refusal reads the same through both."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.test import RequestFactory

from core.api import api_exception_handler
from core.errors import Conflict, DomainError, Invalid, NotFound, Refused
from core.htmx import Failure, shows_failures
from exports.models import Export
from exports.services import export_delete, export_retry
from labeling.models import Task
from projects.definition.services import project_state_set
from projects.tenancy.access import workspace_view
from review.services import SelfReviewRefused, review_decide
from tests.factories import ProjectFactory, TaskFactory


@pytest.fixture
def project(workspace):
    return ProjectFactory.create(workspace=workspace, dataset__items=0)


def _api(project, what):
    return f"/api/v1/o/acme/vision/projects/{project.uuid}/{what}/"


def test_an_item_of_another_project_is_not_found_by_the_service_the_api_and_the_page(
    workspace, project, labeler, reviewer, reviewer_client, ws_url
):
    other = ProjectFactory.create(workspace=workspace, dataset__items=0)
    foreign = TaskFactory.create(project=other, state=Task.State.LABELED, labeler=labeler)
    with pytest.raises(NotFound) as error:
        review_decide(project=project, reviewer=reviewer, decisions=[(foreign.item.uuid, 1)], decision="approve")
    assert error.value.code == "not_found"

    body = {"decision": "approve", "items": [{"item": str(foreign.item.uuid), "version": 1}]}
    response = reviewer_client.post(_api(project, "review/decisions"), body, content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": "Some of these items are not in this project.",
        "errors": {},
    }

    page = reviewer_client.get(ws_url("review:item", project=project.uuid, item=foreign.item.uuid))
    assert page.status_code == 404
    assert reviewer_client.get(ws_url("review:item", project=other.uuid, item=foreign.item.uuid)).status_code == 200


def test_state_conflicts_are_domain_conflicts_with_their_message(project, manager, labeler):
    project_state_set(project=project, actor=manager, action="pause")
    with pytest.raises(Conflict) as paused:
        project_state_set(project=project, actor=manager, action="pause")
    assert paused.value.message == "A project that is paused cannot pause."
    assert paused.value.data == {"state": "paused", "action": "pause"}

    running = Export.objects.create(project=project, format="coco", state=Export.State.RUNNING, created_by=manager)
    with pytest.raises(Conflict, match="still running"):
        export_delete(export=running, actor=manager)
    with pytest.raises(Conflict, match="Only a failed export can be retried"):
        export_retry(export=running, actor=manager)


def test_self_review_is_refused_as_a_permission_the_pages_and_api_already_answer_403(project, manager):
    mine = TaskFactory.create(project=project, state=Task.State.LABELED, labeler=manager)
    with pytest.raises(SelfReviewRefused) as error:
        review_decide(project=project, reviewer=manager, decisions=[(mine.item.uuid, mine.version)], decision="approve")
    assert isinstance(error.value, Refused) and isinstance(error.value, PermissionDenied)
    assert error.value.code == "permission_denied" and "someone else must review it" in error.value.message


@pytest.mark.parametrize(
    "error, status, code",
    [
        (NotFound("No such thing."), 404, "not_found"),
        (Conflict("It changed.", data={"ids": [1]}), 409, "conflict"),
        (Refused("Not yours."), 403, "permission_denied"),
        (Refused(), 403, "permission_denied"),
        (DomainError("Cannot.", code="odd"), 400, "odd"),
    ],
)
def test_the_api_maps_every_domain_error_to_its_status_and_the_json_shape(error, status, code):
    response = api_exception_handler(error, {})
    assert response.status_code == status
    message = error.message or "You do not have permission to perform this action."  # a refusal without a reason
    assert response.data == {"code": code, "message": message, "errors": {}}


@pytest.mark.parametrize("raised, expected", [(NotFound("Gone."), Http404), (Refused("No."), PermissionDenied)])
def test_pages_map_domain_errors_escaping_a_view_to_the_404_and_403_pages(labeler, raised, expected):
    @workspace_view()
    def view(request, access):
        raise raised

    request = RequestFactory().get("/")
    request.user = labeler
    with pytest.raises(expected):  # Django renders 404.html / 403.html for these
        view(request, org="acme", ws="vision")


@pytest.mark.parametrize(
    "raised, status",
    [
        (Conflict("It changed meanwhile."), 409),
        (Invalid({"name": ["Taken."]}), 422),
        (Refused("Not yours."), 403),
    ],
)
def test_a_view_that_shows_failures_answers_with_the_screen_its_refusals_are_drawn_on(raised, status):
    drawn = []

    def on_failure(failure, request, *args, **kwargs):
        drawn.append((failure.status, failure.message, args, kwargs))
        return HttpResponse(failure.message, status=failure.status)

    @shows_failures(on_failure)
    def view(request, access, project):
        raise raised

    response = view(RequestFactory().post("/"), "access", project="p-uuid")
    assert response.status_code == status
    assert drawn == [(status, " ".join(raised.messages), ("access",), {"project": "p-uuid"})]


def test_not_found_and_other_errors_pass_by_a_view_that_shows_failures():
    def on_failure(failure, request):
        raise AssertionError("not drawn")

    for raised in (NotFound("Gone."), KeyError("bug")):

        @shows_failures(on_failure)
        def view(request, raised=raised):
            raise raised

        with pytest.raises(type(raised)):
            view(RequestFactory().get("/"))


def test_a_failure_shows_on_the_fields_it_names_unless_the_form_refused_first():
    from django import forms

    class NameForm(forms.Form):
        name = forms.CharField()

    named = Failure(Invalid({"name": ["Taken."], "elsewhere": ["Odd."]})).shown_on(NameForm({"name": "x"}))
    assert named.errors == {"name": ["Taken."], "__all__": ["Odd."]}
    plain = Failure(Conflict("It changed meanwhile.")).shown_on(NameForm({"name": "x"}), field="name")
    assert plain.errors == {"name": ["It changed meanwhile."]}
    own = Failure(Invalid("Whatever.")).shown_on(NameForm({}))
    assert own.errors == {"name": ["This field is required."]}  # the form's own errors, once
    assert Failure(Refused()).message == "You may not do this."
