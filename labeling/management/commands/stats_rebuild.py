"""Recompute the dashboard counters of one project, or of every project, from their tasks (repair tool);
with --check, only compare them with a recount."""

import uuid

from django.core.management.base import BaseCommand, CommandError

from labeling.stats import stats_rebuild, stats_verify
from projects.models import LabelingProject


def _project_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a project id (a UUID, as in the project's address).") from None


class Command(BaseCommand):
    help = (
        "Recount every dashboard counter (tasks per state, per class, per labeler, activity per hour) "
        "of the given projects, or of all projects, from their tasks, annotations and reviews."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--project",
            action="append",
            default=[],
            metavar="UUID",
            help="a project's id (repeat for several); all projects when left out",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="rebuild nothing: list every counter that differs from a recount, and fail if any does",
        )

    def handle(self, *args, project, check, **options):
        wanted = [_project_uuid(value) for value in project]
        projects = LabelingProject.objects.order_by("pk")
        if wanted:
            projects = projects.filter(uuid__in=wanted)
            missing = set(wanted) - set(projects.values_list("uuid", flat=True))
            if missing:
                raise CommandError(f"No project with id {', '.join(sorted(map(str, missing)))}; nothing was rebuilt.")
        if check:
            return self._check(list(projects))
        done = 0
        for found in list(projects):
            stats_rebuild(project=found)  # one transaction per project: short locks, progress kept
            done += 1
            self.stdout.write(f"Rebuilt the counters of “{found.name}” ({found.uuid}).")
        self.stdout.write(self.style.SUCCESS(f"{done} project{'s' if done != 1 else ''} rebuilt."))

    def _check(self, projects) -> None:
        wrong = 0
        for found in projects:
            drift = stats_verify(project=found)
            wrong += bool(drift)
            for counter in drift:
                self.stdout.write(f"“{found.name}” ({found.uuid}): {counter}")
        checked = f"{len(projects)} project{'s' if len(projects) != 1 else ''} checked"
        if wrong:
            raise CommandError(
                f"{checked}; the counters of {wrong} differ from a recount "
                "(run this command without --check to rebuild them)."
            )
        self.stdout.write(self.style.SUCCESS(f"{checked}: every counter equals a recount."))
