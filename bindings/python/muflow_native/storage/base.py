"""Storage primitives: the rules every backend enforces, the StorageBackend protocol,
and content-addressed prefixes computed by the native hasher."""

from __future__ import annotations

import concurrent.futures
import ctypes
import itertools
import json
import os
import threading
from pickle import dumps as _dumps
from typing import IO, Any, Iterable, Optional, Protocol, runtime_checkable

from .. import _ffi, _values

PROTECTED_FILES = frozenset(json.loads(_ffi.call_returning_string(_ffi.mf_filename_protected)))


def validate_filename(filename: str) -> None:
    """Raise ValueError if `filename` is empty, absolute, or climbs out of the storage
    directory once normalised."""
    _ffi.check(_ffi.mf_filename_validate(_ffi.encode_name(filename)))


def validate_writable(filename: str, written_files: set[str], allow_protected: bool = False) -> None:
    """Raise PermissionError for a protected name (unless `allow_protected`) and
    FileExistsError for a name already in `written_files` (the core's rule,
    mf_filename_check_write)."""
    status = _ffi.mf_filename_check_write(_ffi.encode_name(filename), filename in written_files,
                                          bool(allow_protected))
    if status != _ffi.OK:
        raise _ffi.error_for(status)


_WRITE_MODES = frozenset("wax+")


def check_read_mode(mode: str) -> None:
    """Raise ValueError for an open_file mode that writes: storages are written through
    save_* only (the one place of this Python-only rule, for every storage)."""
    if _WRITE_MODES.intersection(mode):
        raise ValueError("open_file is read-only. Use save_file() or save_text() to write files.")


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
    where `id` is all of `hash_dict`, or only its `identity_keys` plus ``task``.

    The canonical text and its digest are computed natively. The selection's
    parameters are the core's (mf_prefix_selection); it is applied here so that values
    outside the identity keys never cross into the library (muflow never looks at them),
    and the label is Python's f-string of the value, whatever its type.
    test_prefix_selection.py keeps this path in agreement with the core's own
    selection and label (mf_compute_prefix)."""
    label = hash_dict.get(_LABEL_KEY, _LABEL_DEFAULT)
    hashed = _identity(hash_dict, identity_keys) if identity_keys else hash_dict
    # The usual case in one step; anything unusual (a value pickle or the library
    # refuses, a subclass to convert, a huge value) takes the general path, which
    # raises the right error.
    try:
        data = _dumps(hashed, _values.PROTOCOL)
    except Exception:
        data = b""
    if 0 < len(data) <= _values.MAX_VALUE_BYTES:
        out = getattr(_buffers, "one", None) or _digest_buffer()
        if _ffi.mf_content_digest(out, _ffi.FORMAT_PICKLE, data, len(data)) == _ffi.OK:
            return f"{base_prefix}/{label}/{out.value.decode('ascii')}"
    del data  # a value over the limit is not held twice
    return f"{base_prefix}/{label}/{_values.call_with_value(_digest_of_one, hashed)}"


def compute_prefixes(
    hash_dicts: Iterable[dict], base_prefix: str = "muflow", identity_keys: Optional[list[str]] = None
) -> list[str]:
    """`compute_prefix` of each dict, hashed in one native call (objects shared between
    the dicts cross into the library once)."""
    if not isinstance(hash_dicts, (list, tuple)):
        hash_dicts = list(hash_dicts)
    if not hash_dicts:
        return []
    labels = [d.get(_LABEL_KEY, _LABEL_DEFAULT) for d in hash_dicts]
    if not identity_keys and set(map(type, labels)) == {str} and _plain_text(base_prefix):
        # Every label is the task string itself: the library assembles the prefixes.
        base = base_prefix.encode("utf-8")
        texts = _split_across_cores(lambda part: [_values.call_with_value(_prefixes_of_many, part, base)], hash_dicts)
        # JSON spells a character beyond U+FFFF as a surrogate pair, which a str may also
        # hold as two separate code points: such labels take the path that keeps them.
        if not any("\\ud" in text for text in texts):
            return [prefix for text in texts for prefix in json.loads(text)]
    if identity_keys:
        hash_dicts = [_identity(d, identity_keys) for d in hash_dicts]
    digests = "".join(_split_across_cores(
        lambda part: [_values.call_with_value(_digests_of_many, part, len(part))], hash_dicts))
    width = _ffi.DIGEST_LENGTH
    return [f"{base_prefix}/{label}/{digests[i * width:(i + 1) * width]}" for i, label in enumerate(labels)]


# A batch this long is hashed on two threads at once (the native call releases the GIL),
# each taking the next chunk as it finishes one, so that cheap and costly dicts even out;
# below it, handing work over costs more than it saves.
PARALLEL_BATCH = 4096
PARALLEL_CHUNK = 1024
_helper_lock = threading.Lock()
_helper: Optional[concurrent.futures.ThreadPoolExecutor] = None


def _split_across_cores(hash_part, items: list) -> list:
    """`hash_part(items)`, computed chunk by chunk on two threads when that pays."""
    if len(items) < PARALLEL_BATCH or _usable_cpus() < 2:
        return hash_part(items)
    chunks = [items[i:i + PARALLEL_CHUNK] for i in range(0, len(items), PARALLEL_CHUNK)]
    results: list = [None] * len(chunks)
    take = itertools.count().__next__  # atomic under the GIL

    def drain():
        while (i := take()) < len(chunks):
            results[i] = hash_part(chunks[i])

    helper = _helper_thread().submit(drain)
    try:
        drain()
    finally:
        helper_error = helper.exception()
    if helper_error is not None:
        raise helper_error
    return [result for part in results for result in part]


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _helper_thread() -> concurrent.futures.ThreadPoolExecutor:
    global _helper
    with _helper_lock:
        if _helper is None:
            _helper = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="muflow-hash")
        return _helper


def _plain_text(text) -> bool:
    """True for a str the library takes as it is: UTF-8 encodable, with no NUL byte."""
    if type(text) is not str or "\0" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_selection = json.loads(_ffi.call_returning_string(_ffi.mf_prefix_selection))
_LABEL_KEY: str = _selection["label_key"]
_LABEL_DEFAULT: str = _selection["label_default"]


def _identity(hash_dict: dict, identity_keys) -> dict:
    """The core's selection (mf_prefix_selection) applied to a dict: values outside the
    identity keys are never looked at."""
    selected = {k: hash_dict[k] for k in identity_keys if k in hash_dict}
    selected[_LABEL_KEY] = hash_dict.get(_LABEL_KEY, _LABEL_DEFAULT)
    return selected


_buffers = threading.local()


def _digest_buffer():
    """This thread's buffer for one digest."""
    out = _buffers.one = ctypes.create_string_buffer(_ffi.DIGEST_LENGTH + 1)
    return out


def _digest_of_one(fmt, data, length) -> str:
    out = getattr(_buffers, "one", None) or _digest_buffer()
    status = _ffi.mf_content_digest(out, fmt, data, length)
    if status != _ffi.OK:
        raise _ffi.error_for(status)
    return out.value.decode("ascii")


def _prefixes_of_many(fmt, data, length, base: bytes) -> str:
    return _ffi.call_returning_string(_ffi.mf_compute_prefixes, fmt, data, length, base, None)


def _digests_of_many(fmt, data, length, count) -> str:
    out = ctypes.create_string_buffer(_ffi.DIGEST_LENGTH * count)
    written = ctypes.c_size_t()
    _ffi.check(_ffi.mf_content_digests(out, len(out), ctypes.byref(written), fmt, data, length))
    return out.raw[: _ffi.DIGEST_LENGTH * written.value].decode("ascii")
