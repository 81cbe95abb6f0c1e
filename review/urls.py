"""Review pages, under o/<org>/<ws>/projects/<project>/review/."""

from django.urls import path

from review import views

app_name = "review"

urlpatterns = [
    path("", views.labeled, name="labeled"),
    path("decide/", views.decide, name="decide"),
    path("queue/", views.queue, name="queue"),
    path("queue/claim/", views.queue_claim, name="queue_claim"),
    path("queue/release/", views.queue_release, name="queue_release"),
    path("items/<uuid:item>/", views.item, name="item"),
    path("skipped/", views.skipped, name="skipped"),
    path("skipped/action/", views.skipped_action, name="skipped_action"),
]
