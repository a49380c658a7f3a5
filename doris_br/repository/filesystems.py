"""An fsspec filesystem for a repository's type, location and properties.

S3 goes through s3fs, LOCAL through fsspec's local filesystem (file:// paths), HDFS through pyarrow's
HadoopFileSystem where a cluster and libhdfs are reachable, BROKER through the filesystem its location's
scheme names (our brokers are in-process fsspec filesystems, declared so that Doris's statements work).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import fsspec
from fsspec.implementations.local import LocalFileSystem

if TYPE_CHECKING:
    from aiobotocore.session import AioSession


class RepositoryUnreachable(Exception):
    """The repository's storage cannot be reached; the message says why, without secrets."""


class InvalidRepositoryProperty(RepositoryUnreachable):
    """A property the repository's storage cannot be opened with; the message names it."""


@attrs.frozen
class StorageSpec:
    """What any process (FE or BE) needs to open a repository's storage."""

    kind: str  # S3 | HDFS | BROKER | LOCAL
    location: str
    properties: dict[str, str] = attrs.field(factory=dict)


def _prop(props: dict[str, str], *names: str) -> str | None:
    lowered = {k.lower(): v for k, v in props.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


# Each S3 request gives up after these unless the repository sets Doris's s3.connection.timeout and
# s3.connection.request.timeout (AWS_CONNECTION_TIMEOUT_MS, AWS_REQUEST_TIMEOUT_MS), in milliseconds.
S3_CONNECT_TIMEOUT_S = 10.0
S3_READ_TIMEOUT_S = 60.0
S3_ATTEMPTS = 3  # botocore's tries per request, with backoff; s3fs tries each call S3FS_RETRIES times on top
S3FS_RETRIES = 2


def _millis(props: dict[str, str], default_s: float, *names: str) -> float:
    """A timeout property in milliseconds, as seconds."""
    text = _prop(props, *names)
    if text is None or not text.strip():
        return default_s
    try:
        millis = int(text.strip())
    except ValueError:
        millis = 0
    if millis <= 0:
        raise InvalidRepositoryProperty(f"{names[0]} must be a positive number of milliseconds, got '{text}'")
    return millis / 1000


def _session_without_expect() -> AioSession:
    """An aiobotocore session whose PUTs do not send `Expect: 100-continue`. aiohttp waits for the interim
    100 answer before it sends the body, and no timeout covers that wait (the read timeout starts once the
    body is sent), so an endpoint that accepts a PUT and never answers would hold the upload for ever."""
    import aiobotocore.session
    import botocore.handlers

    session = aiobotocore.session.AioSession()
    session.unregister("before-call.s3", botocore.handlers.add_expect_header)
    return session


def s3_options(props: dict[str, str]) -> dict[str, Any]:
    endpoint = _prop(props, "s3.endpoint", "AWS_ENDPOINT")
    if endpoint and "://" not in endpoint:
        endpoint = ("https://" if endpoint.endswith("amazonaws.com") else "http://") + endpoint
    options: dict[str, Any] = {
        "key": _prop(props, "s3.access_key", "AWS_ACCESS_KEY"),
        "secret": _prop(props, "s3.secret_key", "AWS_SECRET_KEY"),
        "token": _prop(props, "s3.session_token", "AWS_TOKEN", "AWS_SESSION_TOKEN"),
        "endpoint_url": endpoint,
        "client_kwargs": {"region_name": _prop(props, "s3.region", "AWS_REGION") or "us-east-1"},
        "skip_instance_cache": True,
        "use_listings_cache": False,
    }
    # Uploads carry the md5 that names the file as Content-MD5, which S3 checks against what it received,
    # and that is checked against the returned ETag: no second checksum pass (CRC32, or SHA-256 of the
    # body for the signature, which botocore otherwise computes over plain http) per request.
    config: dict[str, Any] = {"request_checksum_calculation": "when_required",
                              "response_checksum_validation": "when_required"}
    # An endpoint that accepts and never answers must not hold a task for ever: every request gives up.
    config["connect_timeout"] = _millis(props, S3_CONNECT_TIMEOUT_S, "s3.connection.timeout",
                                        "AWS_CONNECTION_TIMEOUT_MS")
    config["read_timeout"] = _millis(props, S3_READ_TIMEOUT_S, "s3.connection.request.timeout",
                                     "AWS_REQUEST_TIMEOUT_MS")
    config["retries"] = {"max_attempts": S3_ATTEMPTS, "mode": "standard"}
    s3: dict[str, Any] = {"payload_signing_enabled": False}
    path_style = _prop(props, "use_path_style", "s3.use_path_style")
    if path_style is not None:
        s3["addressing_style"] = "path" if _is_true(path_style) else "virtual"
    config["s3"] = s3
    options["config_kwargs"] = config
    return {k: v for k, v in options.items() if v is not None}


def open_filesystem(spec: StorageSpec) -> tuple[fsspec.AbstractFileSystem, str]:
    """(filesystem, path of the location inside it)."""
    location = spec.location.strip()
    scheme = location.split("://", 1)[0].lower() if "://" in location else ""
    if spec.kind == "S3" or scheme in ("s3", "s3a", "s3n", "oss", "cos", "obs", "bos"):
        import s3fs

        fs = s3fs.S3FileSystem(session=_session_without_expect(), **s3_options(spec.properties))
        fs.retries = S3FS_RETRIES
        return fs, location.split("://", 1)[1].rstrip("/")
    if spec.kind == "HDFS" or scheme in ("hdfs", "viewfs"):
        return _hdfs(location, spec.properties)
    if scheme in ("", "file", "local"):
        path = location.split("://", 1)[1] if "://" in location else location
        if not path.startswith("/"):
            raise RepositoryUnreachable(f"a LOCAL repository needs an absolute file:// path, got {location}")
        return LocalFileSystem(auto_mkdir=True), path.rstrip("/") or "/"
    try:
        fs, path = fsspec.core.url_to_fs(location, **spec.properties)
    except (ImportError, ValueError) as e:
        raise RepositoryUnreachable(f"unsupported location {location}: {e}") from None
    return fs, path.rstrip("/")


def _hdfs(location: str, props: dict[str, str]) -> tuple[fsspec.AbstractFileSystem, str]:
    from urllib.parse import urlparse

    from fsspec.implementations.arrow import ArrowFSWrapper
    from pyarrow import fs as pafs

    url = urlparse(location)
    default_fs = _prop(props, "fs.defaultFS")
    host = url.hostname or (urlparse(default_fs).hostname if default_fs else None) or "default"
    port = url.port or (urlparse(default_fs).port if default_fs else None) or 8020
    try:
        hdfs = pafs.HadoopFileSystem(host, port, user=_prop(props, "hadoop.username"))
    except (OSError, RuntimeError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise RepositoryUnreachable(f"HDFS at {host}:{port} is not reachable from this server: {reason}") from None
    return ArrowFSWrapper(hdfs), url.path.rstrip("/")
