"""muflow_native.io.resources against a real HTTP server on a loopback port."""

import os
import socket
import tempfile
import threading
import time
import urllib.error
from unittest import mock
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from muflow_native.io import resources
from muflow_native.io.resources import (
    ResourceError,
    ResourceHTTPError,
    ResourceManager,
    ResourceTimeoutError,
    is_local_file,
    is_url,
    resolve_uri,
)

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB, more than one read chunk
SHORT_TIMEOUT = 0.3


class _Handler(BaseHTTPRequestHandler):
    release = threading.Event()  # set at teardown so stalled handlers finish

    def log_message(self, *args):
        pass

    def _start(self, length):
        self.send_response(200)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def do_GET(self):
        if self.path == "/data/surface.nc":
            self._start(len(PAYLOAD))
            self.wfile.write(PAYLOAD)
        elif self.path == "/slow":
            self.release.wait(10)
        elif self.path == "/stalls-mid-body":
            self._start(100)
            self.wfile.write(b"x" * 10)
            self.wfile.flush()
            self.release.wait(10)
        elif self.path == "/error":
            self.send_error(500, "Boom")
        else:
            self.send_error(404, "Not Found")


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    _Handler.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def temp_dir(tmp_path, monkeypatch):
    """Where downloads go during the test, to see what is left behind."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


@pytest.fixture
def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


URIS = [
    "http://example.com/a.nc", "https://example.com/a.nc?x=1", "HTTPS://example.com",
    "file:///tmp/a.nc", "/tmp/a.nc", "relative/a.nc", "a.nc", "ftp://host/a", "s3://bucket/key", "",
]


@pytest.mark.parametrize("uri", URIS)
def test_classification_matches_muflow(uri):
    oracle = pytest.importorskip("muflow.io.resources")
    assert is_url(uri) == oracle.is_url(uri)
    assert is_local_file(uri) == oracle.is_local_file(uri)


def test_classification():
    assert is_url("https://x/y") and not is_url("/x/y") and not is_url("file:///x")
    assert is_local_file("file:///x") and is_local_file("x/y") and not is_local_file("s3://b/k")


def test_local_uris_resolve_to_paths(tmp_path):
    assert resolve_uri("/abs/a.nc") == "/abs/a.nc"
    assert resolve_uri("rel/a.nc") == "rel/a.nc"
    assert resolve_uri("file:///abs/a.nc") == "/abs/a.nc"


def test_unsupported_scheme_is_value_error_like_muflow():
    oracle = pytest.importorskip("muflow.io.resources")
    with pytest.raises(ValueError) as ours:
        resolve_uri("s3://bucket/key")
    with pytest.raises(ValueError) as theirs:
        oracle.resolve_uri("s3://bucket/key")
    assert str(ours.value) == str(theirs.value)


def test_download(server, temp_dir):
    path = resolve_uri(f"{server}/data/surface.nc")
    try:
        assert path.endswith(".nc") and os.path.dirname(path) == str(temp_dir)
        with open(path, "rb") as f:
            assert f.read() == PAYLOAD
    finally:
        os.unlink(path)


def test_404_names_url_and_status_and_leaves_no_file(server, temp_dir):
    url = f"{server}/missing.nc"
    with pytest.raises(ResourceHTTPError) as info:
        resolve_uri(url)
    error = info.value
    assert url in str(error) and "404" in str(error)
    assert error.code == 404 and error.url == url
    assert isinstance(error, urllib.error.HTTPError) and isinstance(error, ResourceError)
    assert list(temp_dir.iterdir()) == []


def test_server_error_is_http_error(server, temp_dir):
    with pytest.raises(ResourceHTTPError) as info:
        resolve_uri(f"{server}/error")
    assert info.value.code == 500 and "500" in str(info.value)


@pytest.mark.parametrize("path", ["/slow", "/stalls-mid-body"])
def test_timeout_names_url_and_leaves_no_file(server, temp_dir, path):
    url = server + path
    start = time.monotonic()
    with pytest.raises(ResourceTimeoutError) as info:
        resolve_uri(url, timeout=SHORT_TIMEOUT)
    assert time.monotonic() - start < 5
    assert url in str(info.value) and "timed out" in str(info.value)
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, urllib.error.URLError)
    assert list(temp_dir.iterdir()) == []


def test_default_timeout_is_sensible_and_configurable(server, temp_dir, monkeypatch):
    assert 1 <= resources.DEFAULT_TIMEOUT <= 300
    monkeypatch.setattr(resources, "DEFAULT_TIMEOUT", SHORT_TIMEOUT)
    with pytest.raises(ResourceTimeoutError):
        resolve_uri(f"{server}/slow")


def test_connection_refused_names_url(closed_port, temp_dir):
    url = f"http://127.0.0.1:{closed_port}/x"
    with pytest.raises(ResourceError) as info:
        resolve_uri(url, timeout=2)
    assert url in str(info.value)
    assert list(temp_dir.iterdir()) == []


def test_manager_removes_downloads_on_exit(server, temp_dir, tmp_path):
    local = tmp_path / "local.nc"
    local.write_bytes(b"local")
    with ResourceManager() as manager:
        first = manager.resolve(f"{server}/data/surface.nc")
        second = manager.resolve(f"{server}/data/surface.nc")
        assert first != second and os.path.exists(first) and os.path.exists(second)
        assert manager.resolve(str(local)) == str(local)
        assert manager.resolve(f"file://{local}") == str(local)
    assert not os.path.exists(first) and not os.path.exists(second)
    assert local.exists()
    assert list(temp_dir.iterdir()) == []


def test_manager_removes_downloads_on_exception(server, temp_dir):
    with pytest.raises(ResourceHTTPError):
        with ResourceManager() as manager:
            path = manager.resolve(f"{server}/data/surface.nc")
            manager.resolve(f"{server}/missing")
    assert not os.path.exists(path)
    assert list(temp_dir.iterdir()) == []


def test_manager_cleanup_is_idempotent_and_tolerates_removed_files(server, temp_dir):
    manager = ResourceManager()
    path = manager.resolve(f"{server}/data/surface.nc")
    os.unlink(path)
    manager.cleanup()
    manager.cleanup()


def test_manager_timeout(server, temp_dir):
    with ResourceManager(timeout=SHORT_TIMEOUT) as manager:
        with pytest.raises(ResourceTimeoutError):
            manager.resolve(f"{server}/slow")
    assert list(temp_dir.iterdir()) == []


def test_manager_rejects_unsupported_scheme():
    with ResourceManager() as manager, pytest.raises(ValueError):
        manager.resolve("ftp://host/file")


# ── response doubles (unittest.mock), as test suites written for muflow use ──

DOUBLE_BODY = bytes(range(256)) * 600  # 150 kB: more than two read chunks
MAX_READS = 100  # a copy that loops fails here instead of hanging


def _read_all_double(body):
    """A response whose `read` returns its whole body on every call, whatever size is
    asked: a MagicMock with `read.return_value = body`, counting its calls."""
    response = mock.MagicMock()
    response.__enter__.return_value = response

    def read(*args):
        if response.read.call_count > MAX_READS:
            raise AssertionError(f"read called {response.read.call_count} times")
        return body

    response.read.side_effect = read
    return response


class _EndlessBody:
    """A body that never ends (fresh bytes on every read), bounded by its Content-Length."""

    def __init__(self, length):
        self.headers = {"Content-Length": str(length)}
        self.given = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def read(self, size=-1):
        if self.given > 10 * len(DOUBLE_BODY):
            raise AssertionError("read past the Content-Length")
        size = 1 << 20 if size is None or size < 0 else size
        self.given += size
        return bytes(size)


def _resolved_bytes(resolve, url):
    path = resolve(url)
    try:
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.unlink(path)


@pytest.mark.parametrize("body", [DOUBLE_BODY, bytes(1 << 16), b"short"], ids=["2.3 chunks", "one chunk", "short"])
def test_a_double_returning_its_whole_body_on_every_read_is_read_once(temp_dir, body):
    with mock.patch("urllib.request.urlopen", return_value=_read_all_double(body)) as urlopen:
        assert _resolved_bytes(resolve_uri, "https://example.com/x.nc") == body
        assert urlopen.return_value.read.call_count <= 2
        with ResourceManager() as rm:
            with open(rm.resolve("https://example.com/y.nc"), "rb") as f:
                assert f.read() == body
    assert os.listdir(temp_dir) == []


def test_a_double_gives_the_same_file_as_with_muflow(temp_dir):
    oracle = pytest.importorskip("muflow.io.resources")
    with mock.patch("urllib.request.urlopen", return_value=_read_all_double(DOUBLE_BODY)):
        ours = _resolved_bytes(resolve_uri, "https://example.com/x.nc")
    with mock.patch("urllib.request.urlopen", return_value=_read_all_double(DOUBLE_BODY)):
        theirs = _resolved_bytes(oracle.resolve_uri, "https://example.com/x.nc")
    assert ours == theirs == DOUBLE_BODY


def test_the_copy_stops_at_the_content_length(temp_dir):
    body = _EndlessBody(len(DOUBLE_BODY))
    with mock.patch("urllib.request.urlopen", return_value=body):
        assert _resolved_bytes(resolve_uri, "http://example.com/z.bin") == bytes(len(DOUBLE_BODY))
    assert body.given == len(DOUBLE_BODY)
