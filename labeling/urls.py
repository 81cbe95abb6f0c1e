from django.urls import path

from labeling import project_views, views

app_name = "labeling"

P = "o/<slug:org>/<slug:ws>/projects/<uuid:project>/"
L = P + "label/"

urlpatterns = [
    path(P, project_views.dashboard, name="dashboard"),
    path(P + "progress/", project_views.project_progress, name="progress"),
    path(P + "labels/<uuid:label>/remove/", project_views.label_remove, name="label_remove"),
    path(L, views.start, name="start"),
    path(L + "tasks/", views.grid, name="grid"),
    path(L + "tasks/tags/", views.tag, name="tag"),
    path(L + "tasks/suggestions/accept/", views.accept, name="accept"),
    path(L + "tasks/submit/", views.submit, name="submit"),
    path(L + "tasks/layout/", views.layout, name="layout"),
    path(L + "tasks/items/<uuid:item>/skip/", views.skip, name="skip"),
]
