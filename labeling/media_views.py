"""The item media views (thumbnail, image): the only way images reach browsers, and only the images of items
the user may see (`projects.tenancy.access.item_or_404` with labeling's rule, `selectors.media_items_visible`)."""

from pathlib import Path
from typing import cast

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse, HttpResponseNotModified, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header, http_date
from django.views.decorators.http import require_GET

from labeling import selectors
from projects.datastores import storage as ds
from projects.models import DataItem, Datastore
from projects.tenancy.access import item_or_404, workspace_view

CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "MPO": "image/jpeg",
}
PLACEHOLDER = Path(settings.BASE_DIR) / "labelsite" / "static" / "labelsite" / "thumbnail-placeholder.svg"
IMAGE_MAX_AGE = 300  # seconds a browser keeps a full image it was allowed to fetch


def _item_or_404(access, item):
    return item_or_404(access, item, seen_without_browsing=selectors.media_items_visible(access=access))


# No permission on the decorator: members the rule refuses get the same 404 as a missing item, not a 403.
@require_GET
@workspace_view()
def item_thumbnail(request, access, item):
    found = _item_or_404(access, item)
    if found.thumbnail and default_storage.exists(found.thumbnail):
        response = FileResponse(default_storage.open(found.thumbnail), content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=86400"
    else:
        response = FileResponse(PLACEHOLDER.open("rb"), content_type="image/svg+xml")
        response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@workspace_view()
def item_image(request, access, item):
    found = _item_or_404(access, item)
    # Only files recognised as images are served, typed by their content, never by their name.
    content_type = CONTENT_TYPES.get(found.image_format)
    if found.state != DataItem.State.READY or not content_type:
        return HttpResponse("This item has no viewable image.", status=404, content_type="text/plain")
    datastore = found.dataset.datastore
    response: HttpResponseBase
    try:
        if datastore.kind == Datastore.Kind.LOCAL:
            path = ds.local_file_path(datastore, found.key)
            response = FileResponse(path.open("rb"), content_type=content_type, filename=_safe_filename(found.key))
        elif ds.signs_urls(datastore):
            response = HttpResponseRedirect(ds.signed_url(datastore, found.key))
            response["Cache-Control"] = "private, no-store"
            return response
        else:
            response = _streamed(request, datastore, found, content_type)
    except (ds.DatastoreError, OSError, ValueError) as failure:
        message = failure.message_text if isinstance(failure, ds.DatastoreError) else "The file cannot be read."
        return HttpResponse(message, status=502, content_type="text/plain")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = f"private, max-age={IMAGE_MAX_AGE}"
    return response


def _streamed(request, datastore, item, content_type):
    """The bytes of a blob whose datastore has only a SAS token: the token stays here, the browser gets bytes."""
    stream = ds.blob_stream(
        datastore,
        item.key,
        max_bytes=settings.LABELSITE_MAX_IMAGE_BYTES,
        if_none_match=_one_etag(request.headers.get("If-None-Match", "")),
    )
    response: HttpResponseBase
    if stream.not_modified:
        response = HttpResponseNotModified()
    else:
        response = StreamingHttpResponse(stream.chunks, content_type=content_type)
        response["Content-Length"] = str(stream.size)
        # A str: the header is None only without a file name, and there always is one.
        response["Content-Disposition"] = cast(str, content_disposition_header(False, _safe_filename(item.key)))
        if stream.last_modified:
            response["Last-Modified"] = http_date(stream.last_modified.timestamp())
    response["ETag"] = stream.etag
    return response


def _one_etag(value: str) -> str:
    """A browser's If-None-Match when it is one plain quoted ETag (what we send); anything else is ignored."""
    value = value.strip()
    ok = 2 < len(value) <= 100 and value[0] == value[-1] == '"' and value.isascii() and value.isprintable()
    return value if ok and "," not in value and '"' not in value[1:-1] else ""


def _safe_filename(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"\\;\r\n') or "image"
    return name[:150]
