"""S3 storage: a node's files under a key prefix in a bucket.

The rules (names, write-once, files reserved to the executor, read-only dependency
storage, the manifest's bytes with each file's size and SHA-256) are the native core's,
kept by a ledger (mf_ledger in muflow.h); boto3 only moves the bytes."""

from __future__ import annotations

import io
import json
import os
import threading
from ctypes import byref, c_void_p
from typing import IO, Any, Optional

from .. import _ffi
from .._handles import NativeHandle
from ..io.json import dumps_json, loads_json
from ..io.xarray import load_xarray_from_bytes, save_xarray_to_bytes
from .base import check_read_mode, compute_prefix, validate_filename
from .cache_rule import entry_of, node_state

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


class _NativeLedger(NativeHandle):
    _free = _ffi.mf_ledger_free
    __slots__ = ()


_clients: dict = {}
_clients_lock = threading.Lock()
_CLIENT_ENVIRONMENT = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE",
                       "AWS_ACCESS_KEY_ID")


def default_s3_client(parse_timestamps: bool = True):
    """boto3's default S3 client, made once per process and configuration (making one
    costs about a tenth of a second; a client is thread-safe). Without
    `parse_timestamps`, responses keep timestamps as text."""
    try:
        import boto3
    except ImportError as exc:
        raise ImportError("boto3 is required for S3 storage: pip install boto3") from exc
    key = (os.getpid(), parse_timestamps) + tuple(os.environ.get(name) for name in _CLIENT_ENVIRONMENT)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            session = None
            if not parse_timestamps:
                import botocore.session

                core = botocore.session.Session()
                core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=str)
                session = boto3.Session(botocore_session=core)
            client = _clients[key] = (session or boto3).client("s3")
            client.meta.events.register("before-send.s3.PutObject", _no_handshake_for_small_bodies)
        return client


#: Bodies from this size on keep botocore's "Expect: 100-continue".
HANDSHAKE_FROM = 1 << 20


def _no_handshake_for_small_bodies(request, **_) -> None:
    """botocore asks S3 for a "100 Continue" before sending any PutObject body, whatever
    its size: for a small body (a manifest, a context.json), a round trip that spares
    nothing. Measured on moto's server: 5.9 -> 4.5 ms a PUT."""
    if int(request.headers.get("Content-Length") or HANDSHAKE_FROM) < HANDSHAKE_FROM:
        request.headers.pop("Expect", None)


def is_missing(exc: Exception) -> bool:
    """True for the ClientError S3 answers for an absent key."""
    response = getattr(exc, "response", None)
    return isinstance(response, dict) and response.get("Error", {}).get("Code") in _MISSING


def read_manifest(s3, bucket: str, prefix: str) -> Optional[tuple[str, bytes]]:
    """(ETag, bytes) of a node's manifest, or None when it has none."""
    try:
        response = s3.get_object(Bucket=bucket, Key=f"{prefix}/manifest.json")
    except Exception as exc:
        if is_missing(exc):
            return None
        raise
    return response.get("ETag", ""), response["Body"].read()


def read_object(s3, bucket: str, key: str) -> Optional[bytes]:
    """An object's bytes, or None when it is absent."""
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:
        if is_missing(exc):
            return None
        raise


class S3StorageBackend:
    """A node's files at ``s3://{bucket}/{storage_prefix}/{name}``.

    With `hash_dict`, the prefix is ``compute_prefix(hash_dict, base_prefix,
    identity_keys)``, as in muflow. Files are written once each; ``context.json`` and
    ``manifest.json`` are reserved for the executor; ``manifest.json`` is stored after
    every file it lists and records each one's size and SHA-256. `allowed_outputs`
    (keyword only) restricts the names a task may write; an empty set makes the storage
    read-only, as a dependency's is.

    `inputs` (keyword only; the manifest's ``inputs`` form, see storage/remote_cache.py)
    are the node's current inputs: the manifest then records them, and is_cached()
    applies the core's stale-input check to the stored manifest. Without them the
    manifest records none and is_cached() is muflow's presence check.
    """

    def __init__(
        self,
        storage_prefix: str = "",
        bucket: str = "",
        s3_client=None,
        hash_dict: dict = None,
        base_prefix: str = "muflow",
        identity_keys: list[str] = None,
        *,
        allowed_outputs: Optional[set[str]] = None,
        inputs: Optional[dict] = None,
    ):
        self._prefix = storage_prefix if hash_dict is None else compute_prefix(hash_dict, base_prefix, identity_keys)
        self._bucket = bucket
        self._s3 = s3_client if s3_client is not None else default_s3_client()
        flags, allowed = 0, None
        if allowed_outputs is not None:
            flags = _ffi.STORAGE_RESTRICT_OUTPUTS
            allowed = json.dumps(sorted(allowed_outputs)).encode("utf-8")
        handle = c_void_p()
        _ffi.check(_ffi.mf_ledger_new(byref(handle), flags, allowed))
        self._ledger = _NativeLedger(handle)
        self._inputs = inputs
        #: Set by is_cached(): the stored manifest recorded other inputs.
        self.stale = False
        #: Set by is_cached() (found current) and write_manifest(): the manifest's
        #: (ETag, outputs_sha256, inputs_sha256), for the run's record.
        self.manifest_entry = None

    @property
    def storage_prefix(self) -> str:
        return self._prefix

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def written_files(self) -> frozenset[str]:
        return frozenset(json.loads(_ffi.call_returning_string(_ffi.mf_ledger_written_files, self._ledger)))

    def _key(self, filename: str) -> str:
        return f"{self._prefix}/{filename}"

    # -- Writing ----------------------------------------------------------------------

    def _store(self, filename: str, data: bytes, content_type: Optional[str] = None,
               allow_protected: bool = False) -> None:
        name = _ffi.encode_name(filename)
        _ffi.check(_ffi.mf_ledger_claim(self._ledger, name, int(allow_protected)))
        try:
            extra = {"ContentType": content_type} if content_type else {}
            self._s3.put_object(Bucket=self._bucket, Key=self._key(filename), Body=data, **extra)
        except BaseException:
            _ffi.mf_ledger_release(self._ledger, name)
            raise
        _ffi.check(_ffi.mf_ledger_commit(self._ledger, name, data, len(data)))

    def save_file(self, filename: str, data: bytes) -> None:
        self._store(filename, bytes(data))

    def save_text(self, filename: str, data: str, encoding: str = "utf-8") -> None:
        self._store(filename, data.encode(encoding), "text/plain")

    def _save_executor_file(self, filename: str, data: bytes) -> None:
        """Writes a file the executor owns (error.json), already formatted by the core."""
        self._store(filename, data, "application/json", allow_protected=True)

    def save_json(self, filename: str, data: Any, allow_protected: bool = False) -> None:
        self._store(filename, dumps_json(data, indent=2).encode("utf-8"), "application/json", allow_protected)

    def save_xarray(self, filename: str, dataset) -> None:
        validate_filename(filename)
        self._store(filename, save_xarray_to_bytes(dataset), "application/x-netcdf")

    # -- Reading ----------------------------------------------------------------------

    def read_file(self, filename: str) -> bytes:
        validate_filename(filename)
        return self._s3.get_object(Bucket=self._bucket, Key=self._key(filename))["Body"].read()

    def open_file(self, filename: str, mode: str = "r") -> IO:
        validate_filename(filename)
        check_read_mode(mode)
        raw = self.read_file(filename)
        return io.BytesIO(raw) if "b" in mode else io.StringIO(raw.decode("utf-8"))

    def read_json(self, filename: str) -> Any:
        return loads_json(self.read_file(filename).decode("utf-8"))

    def read_xarray(self, filename: str):
        return load_xarray_from_bytes(self.read_file(filename))

    def exists(self, filename: str) -> bool:
        """One HEAD request."""
        validate_filename(filename)
        try:
            self._s3.head_object(Bucket=self._bucket, Key=self._key(filename))
        except Exception as exc:
            if is_missing(exc):
                return False
            raise
        return True

    # -- Node state -------------------------------------------------------------------

    def is_cached(self) -> bool:
        """True when manifest.json exists (one HEAD request; muflow's rule); with the
        node's `inputs`, when it exists and the core finds it current (one GET)."""
        if self._inputs is None:
            return self.exists("manifest.json")
        found = read_manifest(self._s3, self._bucket, self._prefix)
        state = node_state(found[1] if found else None, self._inputs)
        self.stale = state == _ffi.NODE_STALE
        if state == _ffi.NODE_CURRENT:
            self.manifest_entry = entry_of(*found)
        return state == _ffi.NODE_CURRENT

    def write_manifest(self) -> None:
        """Stores manifest.json, listing every file stored through this backend (and the
        node's inputs, when given); call it after they are all stored (put_object
        returns once an object is durable)."""
        inputs = None if self._inputs is None else json.dumps(self._inputs).encode("utf-8", "surrogatepass")
        body = _ffi.call_returning_bytes(_ffi.mf_ledger_manifest, self._ledger, inputs)
        response = self._s3.put_object(Bucket=self._bucket, Key=self._key("manifest.json"), Body=body,
                                       ContentType="application/json")
        if self._inputs is not None:
            self.manifest_entry = entry_of((response or {}).get("ETag", ""), body)
