from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.html import escape
from django.views.decorators.http import require_GET

from projects import views
from projects.access import workspace_view
from projects.models import DataItem


# TEMP stand-in until the item media views are merged: an SVG placeholder naming the item.
@require_GET
@workspace_view("projects.view_workspace")
def _item_placeholder(request, access, item):
    found = get_object_or_404(DataItem.objects.for_workspace(access.workspace), uuid=item)
    hue = found.pk * 47 % 360
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240" viewBox="0 0 320 240">'
        f'<rect width="320" height="240" fill="hsl({hue},45%,70%)"/>'
        f'<text x="160" y="125" font-size="14" text-anchor="middle" font-family="sans-serif">{escape(found.key[-40:])}</text></svg>'
    )
    return HttpResponse(svg, content_type="image/svg+xml")

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/tokens/", views.api_tokens, name="api_tokens"),
    path("accounts/tokens/<str:prefix>/revoke/", views.api_token_revoke, name="api_token_revoke"),
    path("accounts/invitations/<str:token>/", views.accept_invitation, name="accept_invitation"),
    path("o/<slug:org>/", views.organization, name="organization"),
    path("o/<slug:org>/<slug:ws>/", views.workspace, name="workspace"),
    path("o/<slug:org>/<slug:ws>/members/", views.members, name="members"),
    path("o/<slug:org>/<slug:ws>/members/invite/", views.invite, name="invite"),
    path("o/<slug:org>/<slug:ws>/members/<uuid:member>/role/", views.member_role, name="member_role"),
    path("o/<slug:org>/<slug:ws>/members/<uuid:member>/revoke/", views.member_revoke, name="member_revoke"),
    path("o/<slug:org>/<slug:ws>/invitations/<uuid:invitation>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("o/<slug:org>/<slug:ws>/items/<uuid:item>/thumbnail/", _item_placeholder, name="item_thumbnail"),
    path("o/<slug:org>/<slug:ws>/items/<uuid:item>/image/", _item_placeholder, name="item_image"),
]
