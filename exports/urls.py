from django.urls import path

from exports import views

app_name = "exports"
_project = "o/<slug:org>/<slug:ws>/projects/<uuid:project>/exports/"

urlpatterns = [
    path(_project, views.export_list, name="list"),
    path(_project + "new/", views.export_new, name="create"),
    path(_project + "import/", views.label_import, name="import"),
    path(_project + "import/<uuid:report>/", views.label_import_report, name="import_report"),
    path(_project + "<uuid:export>/status/", views.export_status, name="status"),
    path(_project + "<uuid:export>/download/", views.export_download, name="download"),
    path(_project + "<uuid:export>/retry/", views.export_retry, name="retry"),
    path(_project + "<uuid:export>/delete/", views.export_delete, name="delete"),
]
