from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"

    def ready(self):
        from django.db.models.signals import post_migrate

        from projects import roles

        # Keep the role groups' permissions in step with roles.ROLE_PERMISSIONS after every migrate.
        post_migrate.connect(roles.sync_roles_after_migrate, sender=self)

        from labelsite.management.commands.demo import demo_hooks
        from projects.demo import demo_datastore

        if demo_datastore not in demo_hooks:
            demo_hooks.append(demo_datastore)
