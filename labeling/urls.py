from django.urls import path

from labeling import views

app_name = "labeling"

P = "o/<slug:org>/<slug:ws>/projects/<uuid:project>/"

urlpatterns = [
    path(P, views.dashboard, name="dashboard"),
    path(P + "labels/<uuid:label>/remove/", views.label_remove, name="label_remove"),
]
