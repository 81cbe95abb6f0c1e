"""Storage access for datastores: one factory from a Datastore row to a django-storages backend, plus
listing, reading, signed URLs and blob streams that treat object keys as data.

Network calls go through projects.datastores.egress: only to endpoints that pass the SSRF check (public addresses, or
hosts in LABELSITE_DATASTORE_ALLOWED_HOSTS), pinned to the address that was checked, under a total deadline
and a cap on bytes read, and never following a redirect. The endpoint is also checked at save time, for an
early message. Local folders are confined to LABELSITE_LOCAL_DATASTORE_ROOTS by real path. A key that
something on the way could resolve to another object (key_refusal) is never requested.
Errors leave this module as DatastoreError, whose message is safe to show: it never holds a secret.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage
from django.views.decorators.debug import sensitive_variables

from projects.datastores import crypto, egress
from projects.datastores.egress import DatastoreError, deadline_scope, scope_expired  # noqa: F401  (the door's names)
from projects.models import DataItem, Datastore

logger = logging.getLogger(__name__)
LIST_PAGE = 1000
BROWSE_LIMIT = 2000


# --- endpoint and path checks ------------------------------------------------------------------


def check_endpoint(url: str) -> None:
    """Refuse endpoints that are not http(s), carry credentials, or resolve to non-public addresses."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise DatastoreError("The endpoint is not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DatastoreError("The endpoint must be an http(s) URL such as https://account.blob.core.windows.net.")
    if parts.username or parts.password:
        raise DatastoreError("Put credentials in the authentication fields, not in the endpoint URL.")
    host = parts.hostname
    if egress.host_allowed(host, port):
        return
    if parts.scheme != "https":
        raise DatastoreError(f"The endpoint must use https. {egress.allow_hint(host, port)}")
    # Connections resolve and check again, once, and connect to the address they checked (egress.Guard).
    egress.checked_addresses(host, port or 443)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def local_root(local_path: str) -> str:
    """The real path of a local datastore folder, if it is inside an allowed root (symlinks resolved)."""
    roots = [os.path.realpath(r) for r in settings.LABELSITE_LOCAL_DATASTORE_ROOTS]
    if not local_path:
        raise DatastoreError("Give the folder of a local datastore.")
    candidate = local_path if os.path.isabs(local_path) else os.path.join(roots[0] if roots else "/", local_path)
    real = os.path.realpath(candidate)
    if not any(_inside(real, root) for root in roots):
        raise DatastoreError(
            "Local folders must be inside one of the allowed datastore roots (LABELSITE_LOCAL_DATASTORE_ROOTS)."
        )
    if not os.path.isdir(real):
        raise DatastoreError("The folder does not exist on the server.")
    return real


class ConfinedFileSystemStorage(FileSystemStorage):
    """FileSystemStorage that refuses any name whose real path (symlinks resolved) leaves its folder."""

    def path(self, name):
        joined = super().path(name)
        real = os.path.realpath(joined)
        if not _inside(real, os.path.realpath(self.location)):
            raise SuspiciousFileOperation("The path leaves the datastore folder.")
        return real


# --- the factory -------------------------------------------------------------------------------


@sensitive_variables("secret")
def _secret(datastore: Datastore) -> str:
    try:
        return crypto.decrypt(datastore.secret_encrypted)
    except ValueError as error:
        raise DatastoreError(str(error)) from None


@sensitive_variables("secret", "connection")
def _azure_storage(datastore: Datastore):
    from azure.storage.blob import BlobServiceClient, LinearRetry
    from storages.backends.azure_storage import AzureStorage

    class _Azure(AzureStorage):
        # django-storages ignores client options with a connection string; we need them for timeouts/redirects.
        def _get_service_client(self):
            return BlobServiceClient.from_connection_string(self.connection_string, **self.client_options)

    endpoint = datastore.endpoint.strip().rstrip("/")
    check_endpoint(endpoint)
    secret = _secret(datastore)
    if datastore.auth_type == Datastore.Auth.SAS_TOKEN:
        if not secret:
            raise DatastoreError("Set the SAS token of this datastore.")
        connection = f"BlobEndpoint={endpoint};SharedAccessSignature={secret.lstrip('?')}"
    elif datastore.auth_type == Datastore.Auth.ACCOUNT_KEY:
        if not secret:
            raise DatastoreError("Set the account key of this datastore.")
        parts = urlsplit(endpoint)
        account = datastore.access_key_id.strip() or (parts.hostname or "").split(".")[0]
        connection = (
            f"DefaultEndpointsProtocol={parts.scheme};AccountName={account};AccountKey={secret};BlobEndpoint={endpoint}"
        )
    else:
        raise DatastoreError("Azure datastores authenticate with a SAS token or an account key.")
    timeout = settings.LABELSITE_STORAGE_TIMEOUT
    return _Azure(
        connection_string=connection,
        azure_container=datastore.container,
        expiration_secs=settings.LABELSITE_SIGNED_URL_TTL,
        timeout=timeout,
        client_options={
            "transport": egress.azure_transport(egress.Guard.from_settings(), timeout=timeout),
            "connection_timeout": timeout,
            "read_timeout": timeout,
            "permit_redirects": False,
            # The SDK's default retry waits 15 s and more between tries; keep failures quick and bounded.
            "retry_policy": LinearRetry(backoff=1, random_jitter_range=1, retry_total=2),
        },
    )


@sensitive_variables("secret")
def _s3_storage(datastore: Datastore):
    from botocore.config import Config
    from storages.backends.s3 import S3Storage

    endpoint = datastore.endpoint.strip().rstrip("/") or None
    if endpoint:
        check_endpoint(endpoint)
    secret = _secret(datastore)
    # Never fall back to the server's own AWS credentials: a datastore brings its own.
    if datastore.auth_type != Datastore.Auth.ACCESS_KEY or not datastore.access_key_id or not secret:
        raise DatastoreError("S3 datastores need an access key ID and its secret.")
    timeout = settings.LABELSITE_STORAGE_TIMEOUT
    config = Config(
        s3={"addressing_style": "path" if endpoint else "auto"},
        signature_version="s3v4",
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    send = egress.botocore_sender(egress.Guard.from_settings(), timeout=timeout)

    class _S3(S3Storage):
        def _create_session(self):
            # Clients made from this session send every request through the guarded transport.
            session = super()._create_session()
            session.events.register("before-send.s3", send)
            return session

    return _S3(
        bucket_name=datastore.container,
        endpoint_url=endpoint,
        access_key=datastore.access_key_id,
        secret_key=secret,
        region_name=datastore.region or "us-east-1",
        client_config=config,
        querystring_expire=settings.LABELSITE_SIGNED_URL_TTL,
        file_overwrite=False,
    )


def storage_for(datastore: Datastore):
    """A django-storages (or FileSystemStorage) object reaching the datastore; checks run at connect time."""
    if datastore.kind == Datastore.Kind.LOCAL:
        return ConfinedFileSystemStorage(location=local_root(datastore.local_path), base_url=None)
    if not datastore.container:
        raise DatastoreError("Give the container or bucket name.")
    if datastore.kind == Datastore.Kind.AZURE_BLOB:
        return _azure_storage(datastore)
    if datastore.kind == Datastore.Kind.S3:
        return _s3_storage(datastore)
    raise DatastoreError("Unknown datastore type.")


# --- errors ------------------------------------------------------------------------------------


def _safe_error(error: Exception) -> DatastoreError:
    """Turn a client exception into a message built from status codes and error codes only."""
    if isinstance(error, DatastoreError):
        return error
    name = type(error).__name__
    status = getattr(error, "status_code", None)
    code = getattr(error, "error_code", None)
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:  # botocore ClientError
        code = response["Error"].get("Code")
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if isinstance(error, (FileNotFoundError, NotADirectoryError)):
        return DatastoreError("The folder or file does not exist.")
    if isinstance(error, (SuspiciousFileOperation, PermissionError)):
        return DatastoreError("Access to that path is refused.")
    if status in (401, 403) or code in {
        "AuthenticationFailed",
        "AuthorizationFailure",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "AuthorizationPermissionMismatch",
    }:
        return DatastoreError(f"The datastore refused the credentials ({code or status}).")
    if status == 404 or code in {"ContainerNotFound", "NoSuchBucket", "BlobNotFound", "NoSuchKey"}:
        return DatastoreError(f"The container, bucket or object was not found ({code or status}).")
    if status and 300 <= int(status) < 400:
        return DatastoreError(f"The datastore answered with a redirect ({status}); redirects are not followed.")
    if status:
        return DatastoreError(f"The datastore answered with an error ({code or status}).")
    if _caused_by(error, ssl.SSLCertVerificationError):
        return DatastoreError("The datastore's TLS certificate is not trusted or not for its host name.")
    if "Timeout" in name or "timeout" in str(type(error)):
        return DatastoreError("The datastore did not answer in time.")
    return DatastoreError(f"Could not reach the datastore ({name}).")


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is somewhere in the chain the SDKs wrap transport errors in."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return True
        kwargs = getattr(current, "kwargs", None)  # botocore keeps the cause in kwargs["error"]
        pending += [
            current.__cause__,
            current.__context__,
            getattr(current, "inner_exception", None),
            kwargs.get("error") if isinstance(kwargs, dict) else None,
        ]
        pending += [arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)]
    return False


class _wrap:
    """Context manager: any exception inside becomes a safe DatastoreError."""

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if error is None or isinstance(error, DatastoreError):
            return False
        if isinstance(error, Exception):
            logger.warning("datastore call failed: %s", type(error).__name__)
            raise _safe_error(error) from None
        return False


# --- object keys ---------------------------------------------------------------------------------

KEY_MAX_LENGTH = cast(int, DataItem._meta.get_field("key").max_length)  # the column declares one
# Clients and servers resolve "." and ".." segments (urllib3 does, under requests, before the Azure SDK's
# request leaves; Azure and Azurite read "\\" as "/"), so such a key could address another object.
# Segments ending in a dot are refused too (see _has_name_ending_in_dot); dot segments get their own reason.
_DOT_SEGMENT = re.compile(r"(?:^|[/\\])\.{1,2}(?=$|[/\\])")
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")  # NUL and undecodable bytes: no database column takes them
_BAD_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _has_name_ending_in_dot(key: str) -> bool:
    # Azure drops the trailing dots of a path segment (and Windows those of a file name): "x./y" would be "x/y".
    return "./" in key or ".\\" in key or key.endswith(".")


def key_refusal(key: str, folder: str = "") -> str:
    """Why a listed key must not be requested (a message for the dataset page), or "" when it is safe;
    `folder` is the dataset's path, which every key of the dataset must stay inside.

    Safe keys are requested exactly as listed: each client percent-encodes them, and with no dot
    segment, leading slash or control character nothing on the way can resolve them elsewhere."""
    if len(key) > KEY_MAX_LENGTH:
        return f"The name is {len(key):,} characters long; names of up to {KEY_MAX_LENGTH:,} characters are supported."
    if _BAD_CHARACTER.search(key):
        if _UNSTORABLE.search(key):
            return "The name is not valid UTF-8 text or contains a NUL character."
        return "The name contains a control character (such as a newline)."
    if key.startswith(("/", "\\")):
        return "The name starts with a slash."
    if _has_name_ending_in_dot(key):
        if _DOT_SEGMENT.search(key):
            return "The name has a '.' or '..' path segment, which could address another object."
        return "A folder or file name in it ends with a dot, which Azure and Windows drop, so it could address another object."
    if not key.startswith(_prefix(folder)):
        return "The name is outside the dataset's folder."
    return ""


def stored_key(key: str) -> str:
    """The text a DataItem keeps for a listed key: the key itself when the column can hold it, else a
    readable stand-in (escaped, shortened, with a hash of the whole key) that is the same on every scan."""
    if len(key) <= KEY_MAX_LENGTH and not _UNSTORABLE.search(key):
        return key
    raw = key.encode("utf-8", "surrogateescape")
    text = raw.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")
    tail = f"… [{len(key):,} characters, sha256 {hashlib.sha256(raw).hexdigest()[:16]}]"
    return text[: KEY_MAX_LENGTH - len(tail)] + tail if len(text) > KEY_MAX_LENGTH else text


def _checked(key: str) -> str:
    refusal = key_refusal(key)
    if refusal:
        raise DatastoreError(f"This file is not read: {refusal[0].lower()}{refusal[1:]}")
    return key


# --- listing -----------------------------------------------------------------------------------


def _prefix(path: str) -> str:
    path = (path or "").strip("/")
    return f"{path}/" if path else ""


def _s3_client(storage):
    return storage.connection.meta.client


def datastore_list(datastore: Datastore, path: str = "") -> tuple[list[str], list[str]]:
    """Immediate sub-folder names and file names under `path` (for Browse), sorted, capped at BROWSE_LIMIT."""
    prefix = _prefix(path)
    folders: list[str] = []
    files: list[str] = []
    with _wrap(), deadline_scope():  # Test connection and Browse answer a page: one deadline for the lot
        storage = storage_for(datastore)
        if datastore.kind == Datastore.Kind.LOCAL:
            base = storage.path(prefix.rstrip("/")) if prefix else storage.location
            root = os.path.realpath(storage.location)
            with os.scandir(base) as entries:
                for entry in entries:
                    if not _inside(os.path.realpath(entry.path), root):
                        continue  # a symlink out of the datastore: invisible
                    (folders if entry.is_dir() else files).append(entry.name)
                    if len(folders) + len(files) >= BROWSE_LIMIT:
                        break
        elif datastore.kind == Datastore.Kind.AZURE_BLOB:
            for item in storage.client.walk_blobs(name_starts_with=prefix or None, delimiter="/"):
                name = item.name[len(prefix) :]
                if name.endswith("/"):
                    folders.append(name.rstrip("/"))
                elif name:
                    files.append(name)
                if len(folders) + len(files) >= BROWSE_LIMIT:
                    break
        else:
            pages = (
                _s3_client(storage)
                .get_paginator("list_objects_v2")
                .paginate(
                    Bucket=datastore.container, Prefix=prefix, Delimiter="/", PaginationConfig={"PageSize": LIST_PAGE}
                )
            )
            for page in pages:
                folders += [p["Prefix"][len(prefix) :].rstrip("/") for p in page.get("CommonPrefixes", ())]
                files += [o["Key"][len(prefix) :] for o in page.get("Contents", ()) if o["Key"] != prefix]
                if len(folders) + len(files) >= BROWSE_LIMIT:
                    break
    return sorted(folders), sorted(files)


def datastore_check(datastore: Datastore) -> None:
    """Connect and list the top level; DatastoreError with a safe message when that fails."""
    datastore_list(datastore, "")


def iter_objects(datastore: Datastore, path: str, *, recursive: bool, storage=None) -> Iterator[tuple[str, int]]:
    """(key, size) of every file under `path`, streamed page by page; keys are full object keys, exactly as
    listed and not yet vetted (the scan asks key_refusal before reading or storing one)."""
    prefix = _prefix(path)
    storage = storage or storage_for(datastore)
    with _wrap():
        if datastore.kind == Datastore.Kind.LOCAL:
            yield from _walk_local(storage, prefix, recursive)
        elif datastore.kind == Datastore.Kind.AZURE_BLOB:
            if recursive:
                blobs = storage.client.list_blobs(name_starts_with=prefix or None, results_per_page=5000)
            else:
                blobs = storage.client.walk_blobs(name_starts_with=prefix or None, delimiter="/")
            for blob in blobs:
                if not blob.name.endswith("/") and getattr(blob, "size", None) is not None:
                    yield blob.name, blob.size
        else:
            options = {"Bucket": datastore.container, "Prefix": prefix}
            if not recursive:
                options["Delimiter"] = "/"
            for page in _s3_client(storage).get_paginator("list_objects_v2").paginate(**options):
                for entry in page.get("Contents", ()):
                    if not entry["Key"].endswith("/"):
                        yield entry["Key"], entry["Size"]


def _walk_local(storage, prefix: str, recursive: bool) -> Iterator[tuple[str, int]]:
    root = os.path.realpath(storage.location)
    start = storage.path(prefix.rstrip("/")) if prefix else root
    stack = [(start, prefix)]
    while stack:
        folder, key_prefix = stack.pop()
        subfolders = []
        with os.scandir(folder) as entries:
            for entry in entries:  # streamed: a folder of 100,000 files is never held in memory
                if entry.is_symlink():
                    # Symlinks are followed only when they stay inside the datastore, and never for folders.
                    real = os.path.realpath(entry.path)
                    if not _inside(real, root) or not os.path.isfile(real):
                        continue
                    yield key_prefix + entry.name, os.stat(real).st_size
                elif entry.is_dir(follow_symlinks=False):
                    subfolders.append((entry.path, f"{key_prefix}{entry.name}/"))
                elif entry.is_file(follow_symlinks=False):
                    yield key_prefix + entry.name, entry.stat(follow_symlinks=False).st_size
        if recursive:
            stack.extend(sorted(subfolders, reverse=True))


# --- reading and signed URLs ---------------------------------------------------------------------


def read_object(datastore: Datastore, storage, key: str, *, length: int | None = None) -> bytes:
    """The first `length` bytes (or all) of an object. Keys are passed to the clients untouched, and
    a key that could address another object (see key_refusal) is never requested."""
    _checked(key)
    with _wrap(), deadline_scope():
        if datastore.kind == Datastore.Kind.LOCAL:
            with open(storage.path(key), "rb") as handle:
                return handle.read(length if length is not None else -1)
        if datastore.kind == Datastore.Kind.AZURE_BLOB:
            blob = storage.client.get_blob_client(key)
            return blob.download_blob(offset=0, length=length).readall() if length else blob.download_blob().readall()
        options = {"Bucket": datastore.container, "Key": key}
        if length:
            options["Range"] = f"bytes=0-{length - 1}"
        return _s3_client(storage).get_object(**options)["Body"].read()


def local_file_path(datastore: Datastore, key: str) -> Path:
    """The confined real path of a key in a local datastore (SuspiciousFileOperation if it escapes)."""
    _checked(key)
    storage = storage_for(datastore)
    return Path(storage.path(key))


def signs_urls(datastore: Datastore) -> bool:
    """Whether a browser may get a URL of the datastore's own: only where we can sign one for exactly one object
    (S3, and Azure with an account key). SAS-only Azure has nothing to sign with but the stored SAS, which never
    leaves the server, so the app streams those images itself (`blob_stream`)."""
    if datastore.kind == Datastore.Kind.S3:
        return True
    return datastore.kind == Datastore.Kind.AZURE_BLOB and datastore.auth_type == Datastore.Auth.ACCOUNT_KEY


def signed_url(datastore: Datastore, key: str) -> str:
    """A short-lived, read-only URL for exactly one object (S3, and Azure with an account key)."""
    if not signs_urls(datastore):
        raise DatastoreError(
            "Images of this datastore are streamed through Labelsite; it has no URL of its own to give."
        )
    ttl = settings.LABELSITE_SIGNED_URL_TTL
    _checked(key)  # a browser resolves "../" in a link before it asks
    with _wrap():
        storage = storage_for(datastore)
        if datastore.kind == Datastore.Kind.AZURE_BLOB:
            from azure.storage.blob import BlobSasPermissions, generate_blob_sas

            blob = storage.client.get_blob_client(key)
            now = datetime.now(UTC)
            sas = generate_blob_sas(
                storage.account_name,
                datastore.container,
                key,
                account_key=storage.account_key,
                permission=BlobSasPermissions(read=True),
                start=now - timedelta(minutes=1),
                expiry=now + timedelta(seconds=ttl),
            )
            return f"{blob.url}?{sas}"
        return _s3_client(storage).generate_presigned_url(
            "get_object", Params={"Bucket": datastore.container, "Key": key}, ExpiresIn=ttl
        )


# --- where browsers fetch images from (the page's Content-Security-Policy) ---------------------------

_CSP_HOST = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
_DNS_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
ORIGINS_CACHE_SECONDS = 300  # a backstop: saving or deleting a datastore forgets its workspace's entry at once


def _origin(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL, or None when it is not one a CSP source may name exactly."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not _CSP_HOST.fullmatch(host):
        return None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def image_origins(datastore: Datastore) -> list[str]:
    """The origins a browser is redirected to for this datastore's full images (`signed_url`): none when
    Labelsite serves the bytes itself (local folders, SAS-only Azure). Computed from the settings alone (no
    network), the way each SDK builds its URL: Azure and S3-compatible endpoints address objects by path under
    the endpoint; AWS presigns `https://<bucket>.s3.amazonaws.com`, or path-style under the regional host for a
    bucket name that cannot be a host name (with dots)."""
    if not signs_urls(datastore):
        return []
    endpoint = datastore.endpoint.strip()
    if endpoint:
        found = _origin(endpoint)
        return [found] if found else []
    bucket, region = datastore.container.strip().lower(), (datastore.region or "us-east-1").strip().lower()
    if not _CSP_HOST.fullmatch(region):
        return []
    if _DNS_BUCKET.fullmatch(bucket):
        return [f"https://{bucket}.s3.amazonaws.com", f"https://{bucket}.s3.{region}.amazonaws.com"]
    return ["https://s3.amazonaws.com" if region == "us-east-1" else f"https://s3.{region}.amazonaws.com"]


def _origins_key(workspace_id: int) -> str:
    return f"labelsite:image-origins:{workspace_id}"


def workspace_image_origins(workspace_id: int) -> list[str]:
    """Every image origin of the workspace's datastores, for the Content-Security-Policy of its pages: read
    once and cached, so a page costs no query for it."""
    key = _origins_key(workspace_id)
    found = cache.get(key)
    if found is None:
        found = sorted(
            {
                origin
                for datastore in Datastore.objects.filter(workspace_id=workspace_id).only(
                    "kind", "auth_type", "endpoint", "container", "region"
                )
                for origin in image_origins(datastore)
            }
        )
        cache.set(key, found, ORIGINS_CACHE_SECONDS)
    return found


def workspace_image_origins_forget(*workspace_ids: int) -> None:
    cache.delete_many([_origins_key(w) for w in workspace_ids])


# --- streaming through the app ---------------------------------------------------------------------

STREAM_CHUNK = 1024 * 1024  # bytes per request to the blob service, and at most this much held per response


@dataclass
class BlobStream:
    """One blob on its way to a browser: size and version known before the first byte is sent."""

    size: int
    etag: str
    last_modified: datetime | None
    chunks: Iterator[bytes]
    not_modified: bool = False  # the caller's copy (If-None-Match) is current: no bytes were read


def blob_stream(datastore: Datastore, key: str, *, max_bytes: int, if_none_match: str = "") -> BlobStream:
    """Read one Azure blob in ranges of STREAM_CHUNK bytes (never the whole blob in memory).

    The first range brings the size and ETag; a blob over `max_bytes` is refused before anything is sent.
    Later ranges are pinned to that ETag, so a blob replaced half-way ends the stream instead of mixing two
    files. `if_none_match` (a browser's cached ETag) lets Azure answer "not modified" without a body.
    """
    from azure.core import MatchConditions
    from azure.core.exceptions import HttpResponseError

    if datastore.kind != Datastore.Kind.AZURE_BLOB:
        raise DatastoreError("Only Azure Blob datastores are streamed.")
    with _wrap():
        blob = storage_for(datastore).client.get_blob_client(_checked(key))
        conditions = {"etag": if_none_match, "match_condition": MatchConditions.IfModified} if if_none_match else {}
        try:
            first = blob.download_blob(offset=0, length=STREAM_CHUNK, **conditions)
        except HttpResponseError as error:
            if (
                error.status_code != 304
            ):  # the SDK names a 304 after its error code (ConditionNotMet), so ask the status
                raise
            return BlobStream(size=0, etag=if_none_match, last_modified=None, chunks=iter(()), not_modified=True)
        size = int(first.properties.content_range.rsplit("/", 1)[1])
        if size > max_bytes:
            raise DatastoreError(f"The file is larger than the image limit ({max_bytes} bytes).")
        head = first.readall()
    etag = first.properties.etag if first.properties.etag.startswith('"') else f'"{first.properties.etag}"'

    def chunks() -> Iterator[bytes]:
        offset = len(head)
        yield head
        while offset < size:
            try:
                with _wrap():
                    part = blob.download_blob(
                        offset=offset,
                        length=min(STREAM_CHUNK, size - offset),
                        etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                    ).readall()
            except DatastoreError as error:
                # Headers are gone already: end short; the browser sees fewer bytes than Content-Length.
                logger.warning("blob stream ended early: %s", error.message_text)
                return
            if not part:
                return
            offset += len(part)
            yield part

    return BlobStream(size=size, etag=etag, last_modified=first.properties.last_modified, chunks=chunks())
