"""Grant or take away an organization admin's access to Django admin (the staff flag)."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from projects.tenancy import services as tenancy_services


class Command(BaseCommand):
    help = "Let an organization admin use Django admin (datastores, members), or take that away with --revoke."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--revoke", action="store_true", help="take Django admin access away")

    def handle(self, *args, username, revoke, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            tenancy_services.user_admin_access_set(user=user, enabled=not revoke)
        except ValidationError as error:
            raise CommandError(error.messages[0]) from error
        self.stdout.write(f"{username} {'can no longer use' if revoke else 'can now use'} Django admin.")
