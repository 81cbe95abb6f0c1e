"""Notifications for the person who started a long job (an export, an import, a scan or refresh): written by the
job when it ends, shown in the top bar and on the notifications page until that person marks them read.

Everything reads through `Notification.objects.for_user`: a person sees only their own notifications, and only
while they still hold the workspace permission the notification's link needs."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from projects.models import Notification
from projects.tenancy.roles import ALL_WORKSPACE_PERMISSIONS

logger = logging.getLogger(__name__)

BELL_SIZE = 5  # unread notifications listed in the top bar's menu


def notification_create(
    *, user_id: int, workspace_id: int, kind: str, message: str, link: str, perm: str
) -> Notification:
    """A notification for one person; `link` is a path inside the site and `perm` what following it needs."""
    if perm not in ALL_WORKSPACE_PERMISSIONS:
        raise ValueError(f"{perm!r} is not a workspace permission")
    if link and not (link.startswith("/") and url_has_allowed_host_and_scheme(link, allowed_hosts=None)):
        raise ValueError(f"{link!r} is not a path inside the site")
    limit = Notification._meta.get_field("message").max_length or 1000
    return Notification.objects.create(
        user_id=user_id,
        workspace_id=workspace_id,
        kind=kind,
        message=message if len(message) <= limit else message[: limit - 1] + "…",
        link=link,
        perm=perm,
    )


def notification_create_quietly(**kwargs) -> Notification | None:
    """For jobs: a notification that cannot be written is logged, never the reason a finished job fails (it is
    written in a savepoint, so the job's own transaction goes on)."""
    try:
        with transaction.atomic():
            return notification_create(**kwargs)
    except Exception:
        logger.exception("Could not write a %s notification", kwargs.get("kind"))
        return None


@transaction.atomic
def notifications_mark_read(*, user, uuids=None) -> int:
    """Mark the user's unread notifications read: those named by `uuids`, or all of them (None); how many changed."""
    unread = Notification.objects.for_user(user).unread()
    if uuids is not None:
        unread = unread.filter(uuid__in=list(uuids))
    return Notification.objects.filter(pk__in=unread.values("pk")).update(read_at=timezone.now())


# --- reads -------------------------------------------------------------------------------------------------------


def notifications_list(*, user, unread_only: bool = False):
    """The user's notifications, newest first."""
    found = Notification.objects.for_user(user).select_related("workspace__organization")
    return found.unread() if unread_only else found


@dataclass
class Bell:
    unread: int
    recent: list


def notifications_bell_get(*, user) -> Bell:
    """What the top bar shows: how many are unread and the newest few of them (two small indexed queries)."""
    unread = notifications_list(user=user, unread_only=True)
    recent = list(unread[:BELL_SIZE])
    return Bell(unread=len(recent) if len(recent) < BELL_SIZE else unread.count(), recent=recent)
