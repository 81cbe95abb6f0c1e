"""One rule for folder paths: the same odd input gets the same answer through every door (the wizard, the API's
datasets and Browse, the Browse fragment, Django admin's dataset form and Browse, a local datastore's folder)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from projects.datastores import services as datastore_services
from projects.datastores.paths import PATH_MAX_LENGTH, path_clean
from projects.models import Dataset, Datastore

API = "/api/v1/o/acme/vision/"
J = {"content_type": "application/json"}
HTMX = {"HX-Request": "true"}

# (given, cleaned): slashes and "." segments normalised, backslashes are separators, letters and Unicode kept.
CLEANED = [
    ("", ""),
    ("/", ""),
    (".", ""),
    ("./", ""),
    ("//x//", "x"),
    ("x/./", "x"),
    ("/x\\y/", "x/y"),
    ("café/ü ber", "café/ü ber"),
]
# (given, code): refused, with a message saying why.
REFUSED = [
    ("..", "path_parent"),
    ("a/../b", "path_parent"),
    ("x/..", "path_parent"),
    ("..\\x", "path_parent"),
    ("a\x00b", "path_control"),
    ("a\nb", "path_control"),
    ("a/" + "é" * PATH_MAX_LENGTH, "path_too_long"),
]
MESSAGES = {"path_parent": "may not contain '..'", "path_control": "control characters", "path_too_long": "longer than"}


# Form and serializer fields refuse a NUL or an overlong value themselves, in Django's words, before any cleaning.
FIELD_MESSAGES = {
    "path_control": ["Null characters are not allowed"],
    "path_too_long": ["no more than 1000 characters", "at most 1000 characters"],
}


def says(code, text):
    """Whether `text` (a page or an error message) gives the reason for `code`."""
    text = text.replace("&#x27;", "'")
    return any(reason in text for reason in [MESSAGES[code], *FIELD_MESSAGES.get(code, [])])


@pytest.fixture
def folders(local_root):
    """The folders the cleaned paths name, in the local datastore's folder."""
    for name in ("x/y", "café/ü ber"):
        (local_root / "store" / name).mkdir(parents=True)
    return local_root / "store"


@pytest.fixture
def store(workspace, folders):
    return Datastore.objects.create(
        workspace=workspace, name="store", kind=Datastore.Kind.LOCAL, local_path=str(folders)
    )


@pytest.mark.parametrize("given, cleaned", CLEANED)
def test_path_clean_normalises(given, cleaned):
    assert path_clean(given) == cleaned
    assert path_clean(cleaned) == cleaned  # cleaning twice changes nothing


@pytest.mark.parametrize("given, code", REFUSED)
def test_path_clean_refuses_with_a_code_and_a_message(given, code):
    with pytest.raises(ValidationError) as refused:
        path_clean(given)
    [error] = refused.value.error_dict["path"]
    assert error.code == code and MESSAGES[code] in refused.value.messages[0]
    with pytest.raises(ValidationError) as plain:
        path_clean(given, field=None)
    assert plain.value.code == code


def test_a_local_folder_keeps_its_leading_slash():
    assert path_clean("//srv//images/./", absolute=True) == "/srv/images"
    assert path_clean("images/", absolute=True) == "images"


# --- the same answers through every door ---------------------------------------------------------------


@pytest.mark.parametrize("given, cleaned", CLEANED)
def test_datasets_store_the_cleaned_path_through_api_wizard_and_admin(
    given, cleaned, manager_client, org_admin_client, ws_url, workspace, store, celery_eager
):
    api = manager_client.post(API + "datasets/", {"name": "api", "datastore": str(store.uuid), "path": given}, **J)
    assert api.status_code == 201 and api.json()["path"] == cleaned
    manager_client.post(
        ws_url("project_wizard_step", step="details"),
        {"name": "p", "media_type": "image", "task_type": "multiclass", "action": "next"},
    )
    wizard = manager_client.post(
        ws_url("project_wizard_dataset_create"),
        {"name": "wizard", "datastore": str(store.uuid), "path": given, "action": "next"},
    )
    assert wizard.status_code == 302
    admin = org_admin_client.post(
        reverse("admin:projects_dataset_add"),
        {"workspace": workspace.pk, "name": "admin", "description": "", "datastore": store.pk, "path": given},
    )
    assert admin.status_code == 302
    assert dict(Dataset.objects.values_list("name", "path")) == {"api": cleaned, "wizard": cleaned, "admin": cleaned}


@pytest.mark.parametrize("given, code", REFUSED)
def test_datasets_refuse_the_same_paths_through_api_wizard_and_admin(
    given, code, manager_client, org_admin_client, ws_url, workspace, store
):
    api = manager_client.post(API + "datasets/", {"name": "api", "datastore": str(store.uuid), "path": given}, **J)
    assert api.status_code == 400 and says(code, api.json()["errors"]["path"][0])
    manager_client.post(
        ws_url("project_wizard_step", step="details"),
        {"name": "p", "media_type": "image", "task_type": "multiclass", "action": "next"},
    )
    wizard = manager_client.post(
        ws_url("project_wizard_dataset_create"),
        {"name": "wizard", "datastore": str(store.uuid), "path": given, "action": "next"},
    )
    assert wizard.status_code == 422 and says(code, wizard.content.decode())
    admin = org_admin_client.post(
        reverse("admin:projects_dataset_add"),
        {"workspace": workspace.pk, "name": "admin", "description": "", "datastore": store.pk, "path": given},
    )
    assert admin.status_code == 200 and says(code, admin.content.decode())
    assert not Dataset.objects.exists()


@pytest.mark.parametrize("given, cleaned", CLEANED)
def test_browse_opens_the_cleaned_folder_in_the_api_the_page_and_admin(
    given, cleaned, manager_client, org_admin_client, ws_url, store
):
    api = manager_client.get(f"{API}datastores/{store.uuid}/browse/", {"path": given})
    assert api.status_code == 200 and api.json()["path"] == cleaned
    page = manager_client.get(ws_url("datastore_browse", datastore=store.uuid), {"path": given}, headers=HTMX)
    assert page.status_code == 200 and f'data-browse-current="{cleaned}"' in page.content.decode()
    admin = org_admin_client.get(reverse("admin:projects_datastore_browse", args=[store.pk]), {"path": given})
    assert admin.status_code == 200 and admin.context["path"] == cleaned


@pytest.mark.parametrize("given, code", REFUSED)
def test_browse_refuses_the_same_paths_in_the_api_the_page_and_admin(
    given, code, manager_client, org_admin_client, ws_url, store
):
    api = manager_client.get(f"{API}datastores/{store.uuid}/browse/", {"path": given})
    assert api.status_code == 400 and says(code, api.json()["errors"]["path"][0])
    page = manager_client.get(ws_url("datastore_browse", datastore=store.uuid), {"path": given}, headers=HTMX)
    assert page.status_code == 422 and says(code, page.content.decode())
    assert 'data-browse-current=""' in page.content.decode() and "<html" not in page.content.decode()
    assert 'data-path="x"' in page.content.decode()  # the top's folders, to go on from
    admin = org_admin_client.get(reverse("admin:projects_datastore_browse", args=[store.pk]), {"path": given})
    assert admin.status_code == 422 and says(code, admin.context["error"])
    assert ("x", "x") in admin.context["folders"]


def test_a_local_datastore_folder_is_cleaned_and_refused_by_the_same_rule(workspace, org_admin, folders, local_root):
    made = datastore_services.datastore_create(
        workspace=workspace, actor=org_admin, name="a", kind=Datastore.Kind.LOCAL, local_path=f"//{folders}//x/"
    )
    assert made.local_path == f"{folders}/x"
    relative = datastore_services.datastore_create(
        workspace=workspace, actor=org_admin, name="b", kind=Datastore.Kind.LOCAL, local_path="store//x/./y"
    )
    assert relative.local_path == "store/x/y"
    for given, code in (("store/../store", "path_parent"), ("store\x00", "path_control")):
        with pytest.raises(ValidationError) as refused:
            datastore_services.datastore_create(
                workspace=workspace, actor=org_admin, name="c", kind=Datastore.Kind.LOCAL, local_path=given
            )
        assert MESSAGES[code] in refused.value.message_dict["local_path"][0]
