from django.urls import path

from projects import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/invitations/<str:token>/", views.accept_invitation, name="accept_invitation"),
    path("o/<slug:org>/", views.organization, name="organization"),
    path("o/<slug:org>/<slug:ws>/", views.workspace, name="workspace"),
    path("o/<slug:org>/<slug:ws>/members/", views.members, name="members"),
    path("o/<slug:org>/<slug:ws>/members/invite/", views.invite, name="invite"),
    path("o/<slug:org>/<slug:ws>/members/<str:username>/role/", views.member_role, name="member_role"),
    path("o/<slug:org>/<slug:ws>/members/<str:username>/revoke/", views.member_revoke, name="member_revoke"),
    path("o/<slug:org>/<slug:ws>/invitations/<uuid:invitation>/revoke/", views.invitation_revoke, name="invitation_revoke"),
]

# TEMP stand-in for the storage helper's item media views (dropped at merge).
from django.http import HttpResponse  # noqa: E402
from django.shortcuts import get_object_or_404  # noqa: E402
from django.utils.html import escape  # noqa: E402

from projects.access import workspace_view  # noqa: E402
from projects.models import DataItem  # noqa: E402


@workspace_view("projects.view_labelingproject")
def _item_placeholder(request, access, item):
    found = get_object_or_404(DataItem.objects.for_workspace(access.workspace), uuid=item)
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240" viewBox="0 0 320 240">'
        '<rect width="320" height="240" fill="#cfd8e3"/>'
        f'<text x="160" y="125" font-size="16" text-anchor="middle" fill="#1d2330">{escape(found.key)}</text></svg>'
    )
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=3600"
    return response


urlpatterns += [
    path("o/<slug:org>/<slug:ws>/items/<uuid:item>/thumbnail/", _item_placeholder, name="item_thumbnail"),
    path("o/<slug:org>/<slug:ws>/items/<uuid:item>/image/", _item_placeholder, name="item_image"),
]
