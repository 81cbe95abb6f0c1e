from django.urls import path

from projects import data_views, views

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
    path("o/<slug:org>/<slug:ws>/datasets/", data_views.datasets, name="datasets"),
    path("o/<slug:org>/<slug:ws>/datasets/<uuid:dataset>/", data_views.dataset_detail, name="dataset"),
    path("o/<slug:org>/<slug:ws>/datasets/<uuid:dataset>/progress/", data_views.dataset_progress, name="dataset_progress"),
    path("o/<slug:org>/<slug:ws>/datasets/<uuid:dataset>/refresh/", data_views.dataset_refresh, name="dataset_refresh"),
    path("o/<slug:org>/<slug:ws>/datastores/<uuid:datastore>/browse/", data_views.datastore_browse, name="datastore_browse"),
    path("o/<slug:org>/<slug:ws>/items/<uuid:item>/thumbnail/", data_views.item_thumbnail, name="item_thumbnail"),
    path("o/<slug:org>/<slug:ws>/items/<uuid:item>/image/", data_views.item_image, name="item_image"),
]
