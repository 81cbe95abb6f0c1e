"""Load the demo organization (Contoso / ml-team) with one user per role; safe to run again."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from projects.demo import demo_datastore, demo_project
from projects.models import Membership, Organization, OrganizationMember, Workspace
from projects.tenancy.roles import LABELER, MANAGER, REVIEWER, WORKSPACE_ADMIN

DEMO_USERS = [
    # username, role in ml-team (None: organization admin)
    ("admin", None),
    ("wsadmin", WORKSPACE_ADMIN),
    ("manager", MANAGER),
    ("reviewer", REVIEWER),
    ("labeler", LABELER),
    ("labeler2", LABELER),
]

# The demo content, in order: the sample datastore and its scanned dataset, then a project on it. The composition
# root calls the apps' demo builders directly (apps never import labelsite).
DEMO_CONTENT = (demo_datastore, demo_project)


class Command(BaseCommand):
    help = "Create the demo organization Contoso with workspace ml-team and a user for each role."

    def handle(self, *args, **options):
        created = []
        with transaction.atomic():
            org, _ = Organization.objects.get_or_create(slug="contoso", defaults={"name": "Contoso"})
            workspace, _ = Workspace.objects.get_or_create(
                organization=org, slug="ml-team", defaults={"name": "ml-team"}
            )
            User = get_user_model()
            for username, role in DEMO_USERS:
                user = User.objects.filter(username=username).first()
                if user is None:
                    password = secrets.token_urlsafe(9)
                    user = User.objects.create_user(
                        username=username,
                        email=f"{username}@contoso.example",
                        password=password,
                        is_staff=role is None,
                    )
                    created.append((username, role or "Organization admin", password))
                OrganizationMember.objects.get_or_create(
                    organization=org, user=user, defaults={"is_admin": role is None}
                )
                if role:
                    Membership.objects.get_or_create(
                        workspace=workspace, user=user, defaults={"group": Group.objects.get(name=role)}
                    )
        for hook in DEMO_CONTENT:
            hook(workspace=workspace, stdout=self.stdout)
        if created:
            self.stdout.write(self.style.SUCCESS("Demo users (passwords are shown only this once):"))
            for username, role, password in created:
                self.stdout.write(f"  {username:<10} {role:<20} {password}")
        else:
            self.stdout.write("Demo organization Contoso / ml-team is ready (users already existed).")
