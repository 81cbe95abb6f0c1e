from django.urls import path

from labeling import views

app_name = "labeling"

_base = "o/<slug:org>/<slug:ws>/projects/<uuid:project>/label/"

urlpatterns = [
    path(_base, views.start, name="start"),
    path(_base + "tasks/", views.grid, name="grid"),
    path(_base + "tasks/tags/", views.tag, name="tag"),
    path(_base + "tasks/submit/", views.submit, name="submit"),
    path(_base + "tasks/layout/", views.layout, name="layout"),
    path(_base + "tasks/items/<uuid:item>/skip/", views.skip, name="skip"),
]
