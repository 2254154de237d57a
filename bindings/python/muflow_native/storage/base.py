"""Storage primitives: the rules every backend enforces, the StorageBackend protocol,
and content-addressed prefixes computed by the native hasher."""

from __future__ import annotations

import json
from typing import IO, Any, Iterable, Optional, Protocol, runtime_checkable

from .. import _ffi, _values

PROTECTED_FILES = frozenset({"context.json", "manifest.json"})


def validate_filename(filename: str) -> None:
    """Raise ValueError if `filename` is empty, absolute, or climbs out of the storage
    directory once normalised."""
    _ffi.check(_ffi.mf_filename_validate(_ffi.encode_name(filename)))


def validate_writable(filename: str, written_files: set[str], allow_protected: bool = False) -> None:
    """Raise PermissionError for a protected name (unless `allow_protected`) and
    FileExistsError for a name already in `written_files`."""
    if not allow_protected and filename in PROTECTED_FILES:
        raise PermissionError(f"'{filename}' is a protected file and cannot be written by tasks.")
    if filename in written_files:
        raise FileExistsError(f"'{filename}' has already been written.  Files can only be written once.")


@runtime_checkable
class StorageBackend(Protocol):
    """What a task's storage offers; LocalStorageBackend and S3StorageBackend
    implement it and enforce the rules above."""

    @property
    def storage_prefix(self) -> str: ...

    @property
    def written_files(self) -> frozenset[str]: ...

    def save_file(self, filename: str, data: bytes) -> None: ...

    def save_text(self, filename: str, data: str, encoding: str = "utf-8") -> None: ...

    def save_json(self, filename: str, data: Any, allow_protected: bool = False) -> None: ...

    def save_xarray(self, filename: str, dataset) -> None: ...

    def open_file(self, filename: str, mode: str = "r") -> IO: ...

    def read_file(self, filename: str) -> bytes: ...

    def read_json(self, filename: str) -> Any: ...

    def read_xarray(self, filename: str): ...

    def exists(self, filename: str) -> bool: ...

    def is_cached(self) -> bool: ...

    def write_manifest(self) -> None: ...


def compute_prefix(hash_dict: dict, base_prefix: str = "muflow", identity_keys: list[str] = None) -> str:
    """The content-addressed storage prefix of `hash_dict`, identical to muflow's:
    ``{base_prefix}/{task}/{first 16 hex digits of sha256(json.dumps(id, sort_keys=True))}``
    where `id` is all of `hash_dict`, or only its `identity_keys` plus ``task``."""
    return _values.call_with_value(
        _prefix_of_one, hash_dict, _base_prefix_bytes(base_prefix), _identity_keys_json(identity_keys)
    )


def compute_prefixes(
    hash_dicts: Iterable[dict], base_prefix: str = "muflow", identity_keys: Optional[list[str]] = None
) -> list[str]:
    """`compute_prefix` of each dict, in one native call."""
    if not isinstance(hash_dicts, (list, tuple)):
        hash_dicts = list(hash_dicts)
    if not hash_dicts:
        return []
    text = _values.call_with_value(
        _prefixes_of_many, hash_dicts, _base_prefix_bytes(base_prefix), _identity_keys_json(identity_keys)
    )
    return json.loads(text)


def _prefix_of_one(fmt, data, length, base, identity):
    return _ffi.call_returning_string(_ffi.mf_compute_prefix, fmt, data, length, base, identity)


def _prefixes_of_many(fmt, data, length, base, identity):
    return _ffi.call_returning_string(_ffi.mf_compute_prefixes, fmt, data, length, base, identity)


def _base_prefix_bytes(base_prefix) -> bytes:
    return (base_prefix if type(base_prefix) is str else format(base_prefix)).encode("utf-8")


def _identity_keys_json(identity_keys) -> Optional[bytes]:
    if not identity_keys:
        return None
    keys = list(identity_keys)
    for key in keys:
        if not isinstance(key, str):
            raise TypeError(f"identity_keys must hold str, not {type(key).__name__}")
    return json.dumps(keys).encode("ascii")
