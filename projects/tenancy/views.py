"""Pages for accounts, the home page, workspaces, members and invitations."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import PasswordResetView
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from core import throttle
from core.htmx import render_page_or_fragment, vary_on_htmx
from projects.models import ApiToken, Invitation, Membership
from projects.tenancy import notifications
from projects.tenancy import services as tenancy_services
from projects.tenancy.access import (
    listed_projects,
    notification_or_404,
    organization_admin_or_404,
    visible_workspaces,
    workspace_object_or_404,
    workspace_view,
    workspaces_where,
)
from projects.tenancy.forms import (
    AcceptInvitationForm,
    ApiTokenForm,
    InvitationForm,
    RoleForm,
    SignupForm,
    WorkspaceForm,
)


@require_GET
@login_required
def home(request):
    workspaces = list(visible_workspaces(request.user))
    projects = listed_projects(request.user, workspaces).order_by("name")
    by_workspace: dict[int, list] = {ws.pk: [] for ws in workspaces}
    for project in projects:
        by_workspace[project.workspace_id].append(project)
    # A project's name links to its main page for the role held there: the dashboard, or labeling.
    dashboards = set(workspaces_where(request.user, "projects.view_dashboard").values_list("pk", flat=True))
    rows = [(ws, by_workspace[ws.pk], ws.pk in dashboards) for ws in workspaces]
    return render(request, "projects/home.html", {"rows": rows})


@require_http_methods(["GET", "POST"])
def signup(request):
    if not settings.LABELSITE_OPEN_SIGNUP:
        raise Http404("Sign-up is closed; ask an organization admin for an invitation.")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = tenancy_services.organization_signup(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
            organization_name=form.cleaned_data["organization_name"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome! Your organization and its first workspace are ready.")
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form}, status=422 if form.errors else 200)


class ThrottledPasswordResetView(PasswordResetView):
    """Requests are counted per email and per client address whether or not the email has an account, so the
    answer (the same page, or 429 once a limit is reached) never tells which emails exist."""

    def form_valid(self, form):
        email = form.cleaned_data["email"]
        wait = throttle.password_reset_blocked_for(self.request, email)
        if wait:
            response = self.render_to_response(self.get_context_data(form=form, throttled=True), status=429)
            response["Retry-After"] = str(wait)
            return response
        throttle.password_reset_requested(self.request, email)
        return super().form_valid(form)


@require_http_methods(["GET", "POST"])
def accept_invitation(request, token):
    try:
        invitation = tenancy_services.invitation_from_token(token)
    except ValidationError as error:
        return render(request, "registration/invitation_invalid.html", {"error": error.messages[0]}, status=410)
    workspace = invitation.workspace
    form = None
    if request.user.is_authenticated:
        if not tenancy_services.invitation_for_account(invitation=invitation, user=request.user):
            return render(request, "registration/invitation_wrong_account.html", status=403)
        if request.method == "POST":
            try:
                membership, joined = tenancy_services.invitation_accept(invitation=invitation, user=request.user)
            except ValidationError as error:  # used or withdrawn since the page was loaded
                return render(request, "registration/invitation_invalid.html", {"error": error.messages[0]}, status=410)
            if not joined:
                return render(request, "registration/invitation_already_member.html", {"membership": membership})
            messages.success(request, f"You joined {workspace}.")
            return redirect("workspace", org=workspace.organization.slug, ws=workspace.slug)
    else:
        form = AcceptInvitationForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                user = tenancy_services.invitation_accept_new_user(
                    invitation=invitation,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password1"],
                )
            except ValidationError as error:
                form.add_error("username", error)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect("workspace", org=workspace.organization.slug, ws=workspace.slug)
    return render(request, "registration/accept_invitation.html", {"invitation": invitation, "form": form})


@require_http_methods(["GET", "POST"])
@login_required
def organization(request, org):
    organization = organization_admin_or_404(request.user, org)
    form = WorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        workspace = tenancy_services.workspace_create(
            organization=organization, name=form.cleaned_data["name"], actor=request.user
        )
        messages.success(request, f"Workspace {workspace.name} created.")
        return redirect("workspace", org=organization.slug, ws=workspace.slug)
    workspaces = organization.workspaces.all()
    return render(
        request, "projects/organization.html", {"organization": organization, "workspaces": workspaces, "form": form}
    )


@require_GET
@workspace_view("projects.view_membership")
def members(request, access):
    return render(request, "projects/members.html", _members_context(access))


def _members_context(access, invite_form=None):
    memberships = Membership.objects.for_workspace(access.workspace).select_related("user", "group")
    invitations = (
        Invitation.objects.for_workspace(access.workspace)
        .filter(accepted_at=None, revoked_at=None)
        .select_related("group")
    )
    rows = [(m, RoleForm(initial={"group": m.group}, prefix=str(m.uuid))) for m in memberships]
    return {"access": access, "rows": rows, "invitations": invitations, "invite_form": invite_form or InvitationForm()}


@require_POST
@workspace_view("projects.add_invitation")
def invite(request, access):
    form = InvitationForm(request.POST)
    if form.is_valid():
        tenancy_services.invitation_create(
            access=access, email=form.cleaned_data["email"], group=form.cleaned_data["group"], request=request
        )
        messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
        return redirect("members", org=access.organization.slug, ws=access.workspace.slug)
    return render(request, "projects/members.html", _members_context(access, form), status=422)


def _membership_or_404(access, member):
    return workspace_object_or_404(access, Membership, related=("group", "user"), uuid=member)


@require_POST
@workspace_view("projects.change_membership")
def member_role(request, access, member):
    membership = _membership_or_404(access, member)
    username = membership.user.get_username()
    form = RoleForm(request.POST, prefix=str(membership.uuid))
    if not form.is_valid():
        messages.error(request, "Choose one of the roles.")
    else:
        tenancy_services.membership_set_role(access=access, membership=membership, group=form.cleaned_data["group"])
        messages.success(request, f"{username} is now {form.cleaned_data['group'].name}.")
    return redirect("members", org=access.organization.slug, ws=access.workspace.slug)


@require_POST
@workspace_view("projects.delete_membership")
def member_revoke(request, access, member):
    membership = _membership_or_404(access, member)
    username = membership.user.get_username()
    tenancy_services.membership_revoke(access=access, membership=membership)
    messages.success(request, f"{username} no longer has access to this workspace.")
    return redirect("members", org=access.organization.slug, ws=access.workspace.slug)


@require_POST
@workspace_view("projects.delete_invitation")
def invitation_revoke(request, access, invitation):
    found = workspace_object_or_404(access, Invitation, uuid=invitation)
    tenancy_services.invitation_revoke(access=access, invitation=found)
    messages.success(request, f"Invitation for {found.email} withdrawn.")
    return redirect("members", org=access.organization.slug, ws=access.workspace.slug)


def permission_denied(request, exception=None):
    return render(request, "403.html", {"reason": str(exception or "")}, status=403)


@require_http_methods(["GET", "POST"])
@login_required
def api_tokens(request):
    form = ApiTokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        _, new_key = tenancy_services.api_token_create(user=request.user, name=form.cleaned_data["name"])
        form = ApiTokenForm()
    tokens = ApiToken.objects.filter(user=request.user, revoked_at=None)
    response = render(
        request,
        "registration/api_tokens.html",
        {"form": form, "tokens": tokens, "new_key": new_key},
        status=422 if form.errors else 200,
    )
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@login_required
def api_token_revoke(request, prefix):
    token = get_object_or_404(ApiToken, user=request.user, prefix=prefix, revoked_at=None)
    tenancy_services.api_token_revoke(user=request.user, token=token)
    messages.success(request, f"Token {token.name} revoked.")
    return redirect("api_tokens")


# --- notifications (the person's own, across workspaces) ---------------------------------------------------------


def _after_marking(request):
    """htmx: nothing to swap, every bell and list on the page refreshes itself; a plain form goes back where it was."""
    if request.htmx:
        return trigger_client_event(HttpResponse(status=204), "notifications-changed")
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(back)
    return redirect("notifications")


@require_GET
@login_required
def notification_list(request):
    page = Paginator(notifications.notifications_list(user=request.user), 50).get_page(request.GET.get("page"))
    return render_page_or_fragment(request, "projects/notifications.html", {"page": page}, partial="notification-list")


@require_GET
@login_required
def notification_bell(request):
    """The top bar's bell alone (its numbers come from the context processor), for htmx to refresh."""
    return vary_on_htmx(render(request, "projects/_notification_bell.html"))


@require_POST
@login_required
def notification_open(request, notification):
    """Follow a notification's link; following it reads it."""
    found = notification_or_404(request.user, notification)
    notifications.notifications_mark_read(user=request.user, uuids=[found.uuid])
    return redirect(found.link or "notifications")


@require_POST
@login_required
def notification_read(request, notification):
    found = notification_or_404(request.user, notification)
    notifications.notifications_mark_read(user=request.user, uuids=[found.uuid])
    return _after_marking(request)


@require_POST
@login_required
def notifications_read_all(request):
    notifications.notifications_mark_read(user=request.user)
    return _after_marking(request)
