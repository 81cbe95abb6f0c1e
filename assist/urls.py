from django.urls import path

from assist import views

app_name = "assist"

P = "o/<slug:org>/<slug:ws>/projects/<uuid:project>/ml/"

urlpatterns = [
    path(P, views.section, name="section"),
    path(P + "train/", views.train, name="train"),
]
