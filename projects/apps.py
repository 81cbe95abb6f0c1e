from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"

    def ready(self):
        from django.db.models.signals import post_migrate

        from projects import roles

        # Keep the role groups' permissions in step with roles.ROLE_PERMISSIONS after every migrate.
        # Every app's signal, not only ours: after a test flush the later apps' permissions come back last.
        post_migrate.connect(roles.sync_roles_after_migrate, dispatch_uid="labelsite_sync_roles")
