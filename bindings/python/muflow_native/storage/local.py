"""Local filesystem storage, enforced by the native core."""

from __future__ import annotations

import json
from ctypes import byref, c_int, c_void_p
from pathlib import Path
from typing import IO, Any, Optional, Union

from .. import _ffi
from .._handles import NativeHandle
from ..io.json import dumps_json, loads_json
from ..io.xarray import load_xarray_from_file, save_xarray_to_file
from .base import check_read_mode, compute_prefix
from .cache_rule import entry_of, node_state



class _NativeStorage(NativeHandle):
    _free = _ffi.mf_storage_free
    __slots__ = ()


class LocalStorageBackend:
    """A node's output directory.

    With `hash_dict`, the directory is ``path / compute_prefix(hash_dict, base_prefix,
    identity_keys)``, which must stay inside `path`: a prefix that is absolute (from an
    empty or absolute base_prefix) or has a ``..`` component is a ValueError.
    `allowed_outputs`: None allows any name, an empty set makes the storage read-only, a
    set allows only its names. Files are written once each,
    atomically; ``context.json`` and ``manifest.json`` are reserved for the executor;
    no name may reach outside the directory, through ``..`` or through a symlink.
    Set `durable` to sync every file to the disk before the manifest names it.
    """

    _inputs: Optional[dict] = None
    #: Set by is_cached(): the stored manifest recorded other inputs.
    stale = False
    #: With inputs, set by is_cached() (found current) and write_manifest(): the
    #: manifest's ("", outputs_sha256, inputs_sha256), for a Celery run's record.
    manifest_entry: Optional[tuple] = None

    def __init__(
        self,
        path: Union[str, Path],
        hash_dict: dict = None,
        base_prefix: str = "muflow",
        allowed_outputs: set[str] = None,
        identity_keys: list[str] = None,
        *,
        durable: bool = False,
    ):
        prefix = None if hash_dict is None else compute_prefix(hash_dict, base_prefix, identity_keys)
        self._path = Path(path) if prefix is None else Path(path) / prefix
        flags, allowed = _flags(allowed_outputs, durable)
        self._allowed_outputs = allowed_outputs
        handle = c_void_p()
        if prefix is None:
            _ffi.check(_ffi.mf_storage_new(byref(handle), _encode_path(self._path), flags, allowed))
        else:
            base, relative = _encode_path(Path(path)), _encode_path(prefix, "storage prefix")
            _ffi.check(_ffi.mf_storage_new_in(byref(handle), base, relative, flags, allowed))
        self._native = _NativeStorage(handle)

    @classmethod
    def within(cls, base: Union[str, Path], prefix: str, allowed_outputs: set[str] = None, *,
               inputs: Optional[dict] = None) -> "LocalStorageBackend":
        """The directory `prefix` (a node's storage_prefix) under `base`, which the
        prefix may not leave (see the class). `inputs` (the manifest's ``inputs`` form,
        see storage/remote_cache.py) are the node's current inputs: the manifest then
        records them, and is_cached() applies the core's stale-input check to the
        stored manifest, as S3StorageBackend's does."""
        storage = cls.__new__(cls)
        storage._inputs = inputs
        storage._path = Path(base) / prefix
        storage._allowed_outputs = allowed_outputs
        flags, allowed = _flags(allowed_outputs, durable=False)
        handle = c_void_p()
        _ffi.check(_ffi.mf_storage_new_in(byref(handle), _encode_path(Path(base)),
                                          _encode_path(prefix, "storage prefix"), flags, allowed))
        storage._native = _NativeStorage(handle)
        return storage

    @classmethod
    def _adopt(cls, handle: c_void_p, path: str) -> "LocalStorageBackend":
        """Wraps a storage the library opened (a running node's)."""
        storage = cls.__new__(cls)
        storage._path = Path(path)
        storage._allowed_outputs = None
        storage._native = _NativeStorage(handle)
        return storage

    @property
    def storage_prefix(self) -> str:
        return str(self._path)

    @property
    def written_files(self) -> frozenset[str]:
        text = _ffi.call_returning_string(_ffi.mf_storage_written_files, self._native)
        return frozenset(json.loads(text))

    # -- Writing ----------------------------------------------------------------------

    def save_file(self, filename: str, data: bytes) -> None:
        data = bytes(data)
        _ffi.check(_ffi.mf_storage_save(self._native, _ffi.encode_name(filename), data, len(data), 0))

    def save_text(self, filename: str, data: str, encoding: str = "utf-8") -> None:
        self.save_file(filename, data.encode(encoding))

    def _save_executor_file(self, filename: str, data: bytes) -> None:
        """Writes a file the executor owns (error.json), already formatted by the core."""
        _ffi.check(_ffi.mf_storage_save(self._native, _ffi.encode_name(filename), data, len(data), 1))

    def save_json(self, filename: str, data: Any, allow_protected: bool = False) -> None:
        text = dumps_json(data, indent=2).encode("utf-8")
        _ffi.check(
            _ffi.mf_storage_save(self._native, _ffi.encode_name(filename), text, len(text), int(allow_protected))
        )

    def save_xarray(self, filename: str, dataset) -> None:
        name = _ffi.encode_name(filename)
        path = _ffi.call_returning_string(_ffi.mf_storage_begin_write, self._native, name)
        try:
            save_xarray_to_file(dataset, path)
        except BaseException:
            _ffi.mf_storage_end_write(self._native, name, 0)
            raise
        _ffi.check(_ffi.mf_storage_end_write(self._native, name, 1))

    def _record_written_elsewhere(self, filename: str) -> None:
        """Records a file another process wrote into this directory (checked and
        claimed like a write), so that the manifest lists it with its size."""
        name = _ffi.encode_name(filename)
        path = _ffi.call_returning_string(_ffi.mf_storage_begin_write, self._native, name)
        del path
        _ffi.check(_ffi.mf_storage_end_write(self._native, name, 1))

    # -- Reading ----------------------------------------------------------------------

    def _read_path(self, filename: str) -> str:
        return _ffi.call_returning_string(_ffi.mf_storage_read_path, self._native, _ffi.encode_name(filename))

    def open_file(self, filename: str, mode: str = "r") -> IO:
        path = self._read_path(filename)
        check_read_mode(mode)
        return open(path, mode)

    def read_file(self, filename: str) -> bytes:
        with open(self._read_path(filename), "rb") as f:
            return f.read()

    def read_json(self, filename: str) -> Any:
        with open(self._read_path(filename), encoding="utf-8") as f:
            return loads_json(f.read())

    def read_xarray(self, filename: str):
        return load_xarray_from_file(self._read_path(filename))

    def exists(self, filename: str) -> bool:
        found = c_int()
        _ffi.check(_ffi.mf_storage_exists(byref(found), self._native, _ffi.encode_name(filename)))
        return bool(found.value)

    # -- Node state -------------------------------------------------------------------

    def is_cached(self) -> bool:
        """True when manifest.json exists and every file it records has its size; with
        the node's `inputs`, when the core also finds the manifest current."""
        if not _ffi.mf_storage_is_cached(self._native, _ffi.CACHE_CHECK_SIZES):
            return False
        if self._inputs is None:
            return True
        body = (self._path / "manifest.json").read_bytes()
        state = node_state(body, self._inputs)
        self.stale = state == _ffi.NODE_STALE
        if state == _ffi.NODE_CURRENT:
            self.manifest_entry = entry_of("", body)
        return state == _ffi.NODE_CURRENT

    def write_manifest(self) -> None:
        """Writes manifest.json atomically, after every file it lists (and the node's
        inputs, when given)."""
        if self._inputs is None:
            _ffi.check(_ffi.mf_storage_write_manifest(self._native))
            return
        text = json.dumps(self._inputs).encode("utf-8", "surrogatepass")
        _ffi.check(_ffi.mf_storage_write_manifest_inputs(self._native, text))
        self.manifest_entry = entry_of("", (self._path / "manifest.json").read_bytes())


def _flags(allowed_outputs: Optional[set[str]], durable: bool) -> tuple[int, Optional[bytes]]:
    """mf_storage_new's flags and allowed-names JSON."""
    flags = _ffi.STORAGE_DURABLE if durable else 0
    if allowed_outputs is None:
        return flags, None
    return flags | _ffi.STORAGE_RESTRICT_OUTPUTS, json.dumps(sorted(allowed_outputs)).encode("ascii")


def _encode_path(path, what: str = "storage path") -> bytes:
    text = str(path)
    if "\0" in text:
        raise ValueError(f"{what} must not contain a NUL byte: {text!r}")
    return text.encode("utf-8", "surrogatepass")
