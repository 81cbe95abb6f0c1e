from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"

    def ready(self):
        # Imported here, not at the top: these modules load models, which Django allows once every app is loaded.
        from django.apps import apps
        from django.db.models.signals import post_migrate

        from projects.tenancy import roles

        # Keep the role groups' permissions in step with roles.ROLE_PERMISSIONS after every migrate
        # (and every test flush). post_migrate is sent once per app, and every app's permissions
        # exist only after the last app's signal: sync then.
        last_app = [config for config in apps.get_app_configs() if config.models_module][-1]

        def after_migrate(sender, **kwargs):
            if sender is last_app:
                roles.sync_roles_after_migrate(sender, **kwargs)

        self._sync_roles_after_migrate = after_migrate  # signals keep weak references
        post_migrate.connect(after_migrate, dispatch_uid="projects.sync_roles")
