"""The four workspace roles as Django auth Groups, and the permissions each carries.

Code never compares role names: it asks `user.has_perm(perm, obj)`. The names below are only
used to create the groups and to offer them in forms.
"""

from django.contrib.auth.models import Group, Permission

LABELER = "Labeler"
REVIEWER = "Reviewer"
MANAGER = "Manager"
WORKSPACE_ADMIN = "Workspace admin"

_SEE = ["projects.view_workspace", "projects.view_labelingproject", "projects.view_labelclass"]
_LABEL = ["labeling.label_task", "labeling.view_task"]
_REVIEW = ["review.review_annotation", "review.view_review", "projects.view_dashboard", "labeling.view_annotation"]
_MANAGE = [
    "projects.add_labelingproject",
    "projects.change_labelingproject",
    "projects.delete_labelingproject",
    "projects.add_labelclass",
    "projects.change_labelclass",
    "projects.delete_labelclass",
    "projects.view_dataset",
    "projects.add_dataset",
    "projects.change_dataset",
    "projects.view_dataitem",
    "projects.view_datastore",
    "projects.import_labels",
    "exports.add_export",
    "exports.view_export",
    "exports.delete_export",
]
_ADMIN = [
    "projects.view_membership",
    "projects.add_membership",
    "projects.change_membership",
    "projects.delete_membership",
    "projects.view_invitation",
    "projects.add_invitation",
    "projects.delete_invitation",
    "projects.add_datastore",
    "projects.change_datastore",
    "projects.delete_datastore",
    "projects.delete_dataset",
]

# Ordered from the least to the most powerful; each is a subset of the next but Reviewer/Labeler.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    LABELER: _SEE + _LABEL,
    REVIEWER: _SEE + _REVIEW,
    MANAGER: _SEE + _LABEL + _REVIEW + _MANAGE,
    WORKSPACE_ADMIN: _SEE + _LABEL + _REVIEW + _MANAGE + _ADMIN,
}
ROLE_NAMES = list(ROLE_PERMISSIONS)
ALL_WORKSPACE_PERMISSIONS = frozenset(p for perms in ROLE_PERMISSIONS.values() for p in perms)


def role_groups():
    """The role groups, least powerful first."""
    groups = {g.name: g for g in Group.objects.filter(name__in=ROLE_NAMES)}
    return [groups[name] for name in ROLE_NAMES if name in groups]


def sync_roles(group_model=Group, permission_model=Permission) -> None:
    """Create the role groups and set exactly the permissions listed above (idempotent)."""
    for name, perms in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=name)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            found = permission_model.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if found is None:
                raise LookupError(f"Permission {perm} does not exist; is its model migrated?")
            wanted.append(found)
        group.permissions.set(wanted)


def sync_roles_after_migrate(sender, **kwargs):
    # Only once every app's permissions exist (post_migrate runs per app; projects is not last).
    try:
        sync_roles()
    except LookupError:
        pass
