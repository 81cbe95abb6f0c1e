"""TEMPORARY stand-in: local-folder datastores only, so the exports branch can run its tests.

The real module (Azure, S3, local roots, SSRF checks) comes from the storage branch; the lead drops
this file at merge.
"""

from django.core.files.storage import FileSystemStorage

from projects.models import Datastore


def storage_for(datastore: Datastore):
    if datastore.kind != Datastore.Kind.LOCAL:
        raise NotImplementedError("Only local folders in this stand-in.")
    return FileSystemStorage(location=datastore.local_path, base_url=None)
