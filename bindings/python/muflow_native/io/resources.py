"""Local paths and http(s) URLs behind one call: ``resolve_uri`` gives a local path.

Accepted forms: ``http://...`` and ``https://...`` (downloaded to a temporary file),
``file:///abs/path`` and plain paths (returned as they are). Any other scheme is a
``ValueError``.

A download that fails raises a :class:`ResourceError` naming the URL: an HTTP status
other than 2xx raises :class:`ResourceHTTPError` (also a ``urllib.error.HTTPError``,
with ``code``), a server that stops answering for ``timeout`` seconds
:class:`ResourceTimeoutError` (also a ``TimeoutError``). Both are ``urllib.error.URLError``
and ``OSError`` like the errors muflow lets through from ``urllib``.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import tempfile
import urllib.error
import urllib.request
from pathlib import PurePosixPath
from typing import Optional
from urllib.parse import urlparse

_log = logging.getLogger(__name__)

#: Seconds a download may wait for the server on any one operation (connect, or
#: the next chunk of the body), used when no ``timeout`` is passed. Assignable.
DEFAULT_TIMEOUT = 60.0

_CHUNK_SIZE = 1 << 16
_TEMP_PREFIX = "muflow_resource_"


class ResourceError(urllib.error.URLError):
    """Fetching ``url`` failed; ``str()`` says which URL and why."""

    def __init__(self, url: str, reason):
        super().__init__(reason)
        self.url = url

    def __str__(self) -> str:
        return f"Could not fetch {self.url}: {self.reason}"


class ResourceTimeoutError(ResourceError, TimeoutError):
    """The server at ``url`` did not answer within ``timeout`` seconds."""

    def __init__(self, url: str, timeout: float):
        super().__init__(url, f"timed out after {timeout:g} s")
        self.timeout = timeout


class ResourceHTTPError(urllib.error.HTTPError, ResourceError):
    """The server answered ``url`` with an HTTP error status (``code``)."""

    def __init__(self, url: str, code: int, msg: str, hdrs=None):
        urllib.error.HTTPError.__init__(self, url, code, msg, hdrs, None)

    def __str__(self) -> str:
        return f"Could not fetch {self.url}: HTTP {self.code} {self.msg}".rstrip()


def is_url(uri: str) -> bool:
    """Whether ``uri`` is an http or https URL."""
    return urlparse(uri).scheme in ("http", "https")


def is_local_file(uri: str) -> bool:
    """Whether ``uri`` is a plain path or a ``file:`` URI."""
    return urlparse(uri).scheme in ("", "file")


def resolve_uri(uri: str, *, timeout: Optional[float] = None) -> str:
    """A local path for ``uri``. URLs are downloaded to a new temporary file that the
    caller owns (use :class:`ResourceManager` to have it removed)."""
    parsed = urlparse(uri)
    if parsed.scheme in ("http", "https"):
        return _download(uri, timeout)
    if parsed.scheme == "file":
        return parsed.path
    if parsed.scheme == "":
        return uri
    raise ValueError(
        f"Unsupported URI scheme: {parsed.scheme}. "
        f"Use http://, https://, file://, or a local path."
    )


def _download(url: str, timeout: Optional[float]) -> str:
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    # Keep the extension: readers often pick a format from it.
    suffix = PurePosixPath(urlparse(url).path).suffix
    _log.info("Fetching resource from URL: %s", url)
    fd, path = tempfile.mkstemp(suffix=suffix, prefix=_TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            _copy_body(response, out)
    except BaseException as exc:
        _remove(path)
        error = _fetch_error(url, exc, timeout)
        if error is None:
            raise
        raise error from exc
    _log.debug("Downloaded %s to %s", url, path)
    return path


def _copy_body(response, out) -> None:
    """Writes the body of `response` to `out`, one chunk at a time. The body ends at a
    short read (http.client returns fewer bytes than asked only at its end), at the
    Content-Length, or when `read` ignores the size asked for: an object that returns
    more than that, or the very same bytes object again, gave its whole body at once
    (test doubles of a response do, and muflow reads the body in one call)."""
    remaining = _content_length(response)
    previous = None
    while remaining is None or remaining > 0:
        wanted = _CHUNK_SIZE if remaining is None else min(_CHUNK_SIZE, remaining)
        chunk = response.read(wanted)
        if chunk is previous or not chunk:
            return
        out.write(chunk)
        if len(chunk) != wanted:
            return
        if remaining is not None:
            remaining -= wanted
        previous = chunk


def _content_length(response) -> Optional[int]:
    """The body's length from a Content-Length header, if the response gives one."""
    headers = getattr(response, "headers", None)
    try:
        value = headers.get("Content-Length") if headers is not None else None
    except Exception:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _fetch_error(url: str, exc: BaseException, timeout: float) -> Optional[ResourceError]:
    """The error naming ``url`` to raise for ``exc``, or None to let ``exc`` through."""
    if isinstance(exc, urllib.error.HTTPError):
        return ResourceHTTPError(url, exc.code, exc.reason, exc.headers)
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return ResourceTimeoutError(url, timeout)
    if isinstance(exc, (OSError, http.client.HTTPException)):
        return ResourceError(url, reason)
    return None


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class ResourceManager:
    """Resolves URIs like :func:`resolve_uri` and removes the files it downloaded on
    :meth:`cleanup`, which leaving a ``with`` block calls, also on an exception."""

    def __init__(self, *, timeout: Optional[float] = None):
        self._timeout = timeout
        self._temp_files: list[str] = []

    def __enter__(self) -> "ResourceManager":
        return self

    def __exit__(self, exc_type, exc_val, exc_tb) -> bool:
        self.cleanup()
        return False

    def resolve(self, uri: str) -> str:
        """A local path for ``uri``; downloads are owned by this manager."""
        if not is_url(uri):
            return resolve_uri(uri)
        path = _download(uri, self._timeout)
        self._temp_files.append(path)
        return path

    def cleanup(self) -> None:
        """Removes every file this manager downloaded (ignoring ones already gone)."""
        while self._temp_files:
            path = self._temp_files.pop()
            try:
                os.unlink(path)
            except OSError:
                pass
