from django.apps import AppConfig


class LabelingConfig(AppConfig):
    name = "labeling"

    def ready(self):
        # Imported here, not at the top: these modules load models, which Django allows once every app is loaded.
        from django.conf import settings
        from django.db.models.signals import pre_delete

        from labeling import receivers
        from labeling.selectors import projects_progress
        from projects import signals
        from projects.definition.listing import project_list_extra_register

        signals.project_created.connect(receivers.on_project_created, dispatch_uid="labeling.project_created")
        signals.items_registered.connect(receivers.on_items_registered, dispatch_uid="labeling.items_registered")
        signals.items_missing.connect(receivers.on_items_missing, dispatch_uid="labeling.items_missing")
        project_list_extra_register(name="progress", selector=projects_progress)  # the workspace page's progress bars
        pre_delete.connect(
            receivers.on_user_deleting, sender=settings.AUTH_USER_MODEL, dispatch_uid="labeling.user_deleting"
        )
