from django.urls import path

from projects.datastores import views as data_views
from projects.definition import views as project_views
from projects.tenancy import views

W = "o/<slug:org>/<slug:ws>/"
P = W + "projects/<uuid:project>/"

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/tokens/", views.api_tokens, name="api_tokens"),
    path("accounts/tokens/<str:prefix>/revoke/", views.api_token_revoke, name="api_token_revoke"),
    path("accounts/invitations/<str:token>/", views.accept_invitation, name="accept_invitation"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/bell/", views.notification_bell, name="notifications_bell"),
    path("notifications/read/", views.notifications_read_all, name="notifications_read_all"),
    path("notifications/<uuid:notification>/open/", views.notification_open, name="notification_open"),
    path("notifications/<uuid:notification>/read/", views.notification_read, name="notification_read"),
    path("o/<slug:org>/", views.organization, name="organization"),
    path(W, project_views.workspace, name="workspace"),
    path(W + "members/", views.members, name="members"),
    path(W + "members/invite/", views.invite, name="invite"),
    path(W + "members/<uuid:member>/role/", views.member_role, name="member_role"),
    path(W + "members/<uuid:member>/revoke/", views.member_revoke, name="member_revoke"),
    path(W + "invitations/<uuid:invitation>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path(W + "projects/new/", project_views.wizard_start, name="project_wizard"),
    path(W + "projects/new/dataset/create/", project_views.wizard_dataset_create, name="project_wizard_dataset_create"),
    path(W + "projects/new/<slug:step>/", project_views.wizard_step, name="project_wizard_step"),
    path(P + "settings/", project_views.project_settings, name="project_settings"),
    path(P + "state/", project_views.project_state, name="project_state"),
    path(P + "labels/add/", project_views.label_add, name="project_label_add"),
    path(P + "labels/<uuid:label>/move/", project_views.label_move, name="project_label_move"),
    path(W + "datasets/", data_views.datasets, name="datasets"),
    path(W + "datasets/<uuid:dataset>/", data_views.dataset_detail, name="dataset"),
    path(W + "datasets/<uuid:dataset>/progress/", data_views.dataset_progress, name="dataset_progress"),
    path(W + "datasets/<uuid:dataset>/refresh/", data_views.dataset_refresh, name="dataset_refresh"),
    path(W + "datastores/<uuid:datastore>/browse/", data_views.datastore_browse, name="datastore_browse"),
]
