"""Loading libmuflow and calling it: one place for argtypes, errors and owned strings."""

from __future__ import annotations

import ctypes
import os
import re
from ctypes import POINTER, byref, c_char_p, c_int, c_size_t, c_uint32, c_void_p

_LIBRARY_NAME = "libmuflow.so"

# Numeric values of mf_status (include/muflow.h); stable across versions. Every
# upper-case number of this module is the header's MF_<name>: tests/test_ffi_headers.py
# checks them, and every signature below, against include/muflow.h and muflow_binding.h.
OK = 0
ERR_INVALID_ARGUMENT = 1
ERR_NOT_FOUND = 2
ERR_ALREADY_EXISTS = 3
ERR_PERMISSION = 4
ERR_CYCLE = 5
ERR_IO = 6
ERR_TASK_FAILED = 7
ERR_CANCELLED = 8
ERR_TYPE = 9
ERR_LIMIT = 10
ERR_INTERNAL = 11
ERR_MISSING_TASK = 12

FORMAT_JSON = 0
FORMAT_PICKLE = 1


class NativeError(RuntimeError):
    """A failure inside libmuflow that no more specific Python exception describes."""


class MissingTaskError(RuntimeError):
    """A plan needs tasks that are not registered; nothing was run. A RuntimeError, as
    muflow's failure of such a node is, so existing handlers still catch it."""


_EXCEPTION_FOR_STATUS = {
    ERR_INVALID_ARGUMENT: ValueError,
    ERR_NOT_FOUND: KeyError,
    ERR_ALREADY_EXISTS: FileExistsError,
    ERR_PERMISSION: PermissionError,
    ERR_CYCLE: ValueError,
    ERR_IO: OSError,
    ERR_TASK_FAILED: RuntimeError,
    ERR_CANCELLED: RuntimeError,
    ERR_TYPE: TypeError,
    ERR_LIMIT: ValueError,
    ERR_MISSING_TASK: MissingTaskError,
}


def _library_path() -> str:
    """MUFLOW_LIBRARY if set; else the copy installed inside the package; else, in a
    source checkout, the one `make lib` builds."""
    override = os.environ.get("MUFLOW_LIBRARY")
    if override:
        return override
    here = os.path.dirname(os.path.abspath(__file__))
    packaged = os.path.join(here, "_lib", _LIBRARY_NAME)
    checkout = os.path.join(here, "..", "..", "..", "build", _LIBRARY_NAME)
    if not os.path.exists(packaged) and os.path.exists(checkout):
        return os.path.normpath(checkout)
    return packaged


lib = ctypes.CDLL(_library_path())


def _declare(name, restype, *argtypes):
    function = getattr(lib, name)
    function.restype = restype
    function.argtypes = list(argtypes)
    return function


_out_string = POINTER(c_void_p)

mf_version = _declare("mf_version", c_uint32)
mf_version_string = _declare("mf_version_string", c_char_p)
mf_status_name = _declare("mf_status_name", c_char_p, c_int)
mf_last_error_message = _declare("mf_last_error_message", c_void_p)
mf_string_free = _declare("mf_string_free", None, c_void_p)
mf_json_canonical = _declare(
    "mf_json_canonical", c_int, _out_string, POINTER(c_size_t), c_int, c_char_p, c_size_t
)
mf_compute_prefix = _declare(
    "mf_compute_prefix", c_int, _out_string, c_int, c_char_p, c_size_t, c_char_p, c_char_p
)
DIGEST_LENGTH = 16
mf_content_digest = _declare("mf_content_digest", c_int, c_char_p, c_int, c_char_p, c_size_t)
mf_content_digests = _declare(
    "mf_content_digests", c_int, c_char_p, c_size_t, POINTER(c_size_t), c_int, c_char_p, c_size_t
)
mf_compute_prefixes = _declare(
    "mf_compute_prefixes", c_int, _out_string, c_int, c_char_p, c_size_t, c_char_p, c_char_p
)


def _expected_version() -> str:
    """include/muflow.h's MF_VERSION_*: written into _version.py when the package is
    built, read from the header when the package is imported from a checkout."""
    try:
        from ._version import VERSION
    except ImportError:
        header = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "include", "muflow.h")
        try:
            with open(header, encoding="utf-8") as f:
                text = f.read()
            return ".".join(re.search(rf"^#define MF_VERSION_{part} (\d+)$", text, re.M).group(1)
                            for part in ("MAJOR", "MINOR", "PATCH"))
        except (OSError, AttributeError):
            raise ImportError("muflow_native is not installed and no include/muflow.h gives its version; "
                              "install it with pip install ./bindings/python") from None
    return VERSION


VERSION = _expected_version()
LIBRARY_VERSION = mf_version_string().decode("ascii")
if LIBRARY_VERSION != VERSION:
    raise ImportError(
        f"muflow_native {VERSION} needs libmuflow {VERSION}, but {lib._name} is libmuflow "
        f"{LIBRARY_VERSION}; reinstall muflow-native, or point MUFLOW_LIBRARY at a matching library"
    )


def error_for(status: int) -> Exception:
    """The Python exception for a failed call, with the thread's native message."""
    message = last_error_message()
    exception_class = _EXCEPTION_FOR_STATUS.get(status, NativeError)
    return exception_class(message)


def check(status: int) -> None:
    if status != OK:
        raise error_for(status)


def take_string(pointer: c_void_p) -> str:
    """Decodes and frees a string the library handed over."""
    try:
        return ctypes.string_at(pointer.value).decode("utf-8", "surrogatepass")
    finally:
        mf_string_free(pointer)


def call_returning_string(function, *args) -> str:
    """Calls `function(&out, *args)` and returns `out` as a str, or raises."""
    out = c_void_p()
    status = function(byref(out), *args)
    if status != OK:
        raise error_for(status)
    return take_string(out)

# -- Storage ---------------------------------------------------------------------------

STORAGE_DURABLE = 1 << 0
STORAGE_RESTRICT_OUTPUTS = 1 << 1
CACHE_CHECK_PRESENCE = 0
CACHE_CHECK_SIZES = 1

mf_filename_validate = _declare("mf_filename_validate", c_int, c_char_p)
mf_storage_new = _declare("mf_storage_new", c_int, POINTER(c_void_p), c_char_p, c_uint32, c_char_p)
mf_storage_new_in = _declare("mf_storage_new_in", c_int, POINTER(c_void_p), c_char_p, c_char_p, c_uint32, c_char_p)
mf_storage_free = _declare("mf_storage_free", None, c_void_p)
mf_storage_path = _declare("mf_storage_path", c_char_p, c_void_p)
mf_storage_save = _declare("mf_storage_save", c_int, c_void_p, c_char_p, c_char_p, c_size_t, c_int)
mf_storage_begin_write = _declare("mf_storage_begin_write", c_int, _out_string, c_void_p, c_char_p)
mf_storage_end_write = _declare("mf_storage_end_write", c_int, c_void_p, c_char_p, c_int)
mf_storage_read_path = _declare("mf_storage_read_path", c_int, _out_string, c_void_p, c_char_p)
mf_storage_exists = _declare("mf_storage_exists", c_int, POINTER(c_int), c_void_p, c_char_p)
mf_storage_written_files = _declare("mf_storage_written_files", c_int, _out_string, c_void_p)
mf_storage_is_cached = _declare("mf_storage_is_cached", c_int, c_void_p, c_int)
mf_storage_write_manifest = _declare("mf_storage_write_manifest", c_int, c_void_p)
mf_ledger_new = _declare("mf_ledger_new", c_int, POINTER(c_void_p), c_uint32, c_char_p)
mf_ledger_free = _declare("mf_ledger_free", None, c_void_p)
mf_ledger_claim = _declare("mf_ledger_claim", c_int, c_void_p, c_char_p, c_int)
mf_ledger_commit = _declare("mf_ledger_commit", c_int, c_void_p, c_char_p, c_char_p, c_size_t)
mf_ledger_release = _declare("mf_ledger_release", c_int, c_void_p, c_char_p)
mf_ledger_written_files = _declare("mf_ledger_written_files", c_int, _out_string, c_void_p)
mf_ledger_manifest = _declare("mf_ledger_manifest", c_int, _out_string, POINTER(c_size_t), c_void_p, c_char_p)


def encode_name(name) -> bytes:
    """A file or key name as the library takes it; a NUL byte is refused here because
    a C string would silently end at it."""
    if not isinstance(name, str):
        raise TypeError(f"file names must be str, not {type(name).__name__}")
    if "\0" in name:
        raise ValueError(f"Filename must not contain a NUL byte: {name!r}")
    return name.encode("utf-8", "surrogatepass")

# -- Registry, pipelines, plans --------------------------------------------------------

STEP_SINGLE = 0
STEP_FOREACH = 1
BUILD_STRICT = 1 << 0

NODE_KEY = 0
NODE_FUNCTION = 1
NODE_SUBJECT_KEY = 2
NODE_STORAGE_PREFIX = 3
NODE_KWARGS = 4
NODE_DEPENDS_ON = 5
NODE_DEPENDED_ON_BY = 6
NODE_OUTPUT_FILES = 7
NODE_ACCESS_MAP = 8
NODE_ANALYSIS_ID = 9
NODE_JSON = 10

JOBS_CALLBACK = ctypes.CFUNCTYPE(
    c_int, c_void_p, c_char_p, POINTER(c_int), POINTER(c_void_p), POINTER(c_size_t)
)

mf_registry_new = _declare("mf_registry_new", c_int, POINTER(c_void_p))
mf_registry_free = _declare("mf_registry_free", None, c_void_p)
mf_registry_add = _declare("mf_registry_add", c_int, c_void_p, c_char_p)
mf_registry_remove = _declare("mf_registry_remove", c_int, c_void_p, c_char_p)
mf_registry_clear = _declare("mf_registry_clear", c_int, c_void_p)
mf_pipeline_new = _declare("mf_pipeline_new", c_int, POINTER(c_void_p), c_char_p, c_char_p)
mf_pipeline_free = _declare("mf_pipeline_free", None, c_void_p)
mf_pipeline_add_step = _declare("mf_pipeline_add_step", c_int, c_void_p, c_char_p, c_char_p, c_int, c_char_p)
mf_pipeline_build = _declare(
    "mf_pipeline_build", c_int, POINTER(c_void_p), c_void_p, c_void_p, c_char_p,
    c_int, c_char_p, c_size_t, c_char_p, c_uint32, JOBS_CALLBACK, c_void_p,
)
mf_plan_free = _declare("mf_plan_free", None, c_void_p)
mf_plan_to_json = _declare("mf_plan_to_json", c_int, _out_string, POINTER(c_size_t), c_void_p)
mf_plan_json_layout = _declare(
    "mf_plan_json_layout", c_int, POINTER(c_void_p), POINTER(c_size_t), POINTER(c_int), c_void_p
)
mf_plan_json_write = _declare("mf_plan_json_write", None, c_void_p, c_void_p)
mf_plan_json_free = _declare("mf_plan_json_free", None, c_void_p)
# The JSON as bytes or as an address (an ASCII str read in place).
mf_plan_from_json = _declare("mf_plan_from_json", c_int, POINTER(c_void_p), c_void_p, c_size_t)
mf_plan_node_count = _declare("mf_plan_node_count", c_size_t, c_void_p)
mf_plan_node_index = _declare("mf_plan_node_index", c_int, POINTER(c_size_t), c_void_p, c_char_p)
mf_plan_node_field = _declare(
    "mf_plan_node_field", c_int, _out_string, POINTER(c_size_t), c_void_p, c_size_t, c_int
)
mf_plan_node_keys = _declare("mf_plan_node_keys", c_int, _out_string, c_void_p)
mf_plan_nodes_json = _declare(
    "mf_plan_nodes_json", c_int, _out_string, POINTER(c_size_t), c_void_p, c_size_t, c_size_t, c_size_t
)
mf_node_pickler_new = _declare("mf_node_pickler_new", c_int, POINTER(c_void_p), c_void_p)
mf_node_pickler_free = _declare("mf_node_pickler_free", None, c_void_p)
mf_node_pickler_shared_count = _declare("mf_node_pickler_shared_count", c_size_t, c_void_p)
mf_node_pickler_nodes = _declare(
    "mf_node_pickler_nodes", c_int, _out_string, POINTER(c_size_t), c_void_p, c_size_t, c_size_t, c_size_t
)
mf_node_pickler_shared = _declare("mf_node_pickler_shared", c_int, _out_string, POINTER(c_size_t), c_void_p, c_size_t)
mf_plan_field_values = _declare("mf_plan_field_values", c_int, _out_string, c_void_p, c_int)
mf_plan_leaf_nodes = _declare("mf_plan_leaf_nodes", c_int, _out_string, c_void_p)
mf_plan_dependency_groups = _declare("mf_plan_dependency_groups", c_int, _out_string, c_void_p)
mf_plan_levels = _declare("mf_plan_levels", c_int, _out_string, c_void_p)
mf_plan_sentinel_index = _declare("mf_plan_sentinel_index", c_int, POINTER(c_int), POINTER(c_size_t), c_void_p)
mf_plan_check_tasks = _declare("mf_plan_check_tasks", c_int, c_void_p, c_void_p)
mf_plan_state_machine = _declare("mf_plan_state_machine", c_int, _out_string, POINTER(c_size_t), c_void_p, c_char_p)
mf_plan_store_json = _declare("mf_plan_store_json", c_int, _out_string, POINTER(c_size_t), c_void_p)
mf_state_machine_name = _declare("mf_state_machine_name", c_int, _out_string, c_char_p, c_char_p)


def call_returning_bytes(function, *args) -> bytes:
    """Calls `function(&out, &length, *args)` and returns the owned bytes, or raises."""
    out = c_void_p()
    length = c_size_t()
    status = function(byref(out), byref(length), *args)
    if status != OK:
        raise error_for(status)
    try:
        return ctypes.string_at(out.value, length.value)
    finally:
        mf_string_free(out)


def encode_text(text) -> bytes:
    """A str argument as the library takes it (a NUL byte would end a C string)."""
    if not isinstance(text, str):
        raise TypeError(f"expected str, not {type(text).__name__}")
    if "\0" in text:
        raise ValueError(f"a NUL byte cannot cross into the library: {text!r}")
    return text.encode("utf-8", "surrogatepass")
mf_plan_root_index = _declare("mf_plan_root_index", c_size_t, c_void_p)

# -- Runs ------------------------------------------------------------------------------

FAILURE_STOP = 0
FAILURE_CONTINUE_INDEPENDENT = 1
RUN_DURABLE = 1 << 0
RUN_TRUST_MANIFEST_PRESENCE = 1 << 1
RUN_REPORT_SETTLED = 1 << 2
EVENT_DONE = 0
EVENT_RUN = 1
EVENT_CACHED = 2
EVENT_BUILT_IN = 3
EVENT_FAILED = 4


class RunProgress(ctypes.Structure):
    _fields_ = [
        ("size", c_size_t),
        ("total", c_size_t),
        ("succeeded", c_size_t),
        ("cached", c_size_t),
        ("failed", c_size_t),
        ("skipped", c_size_t),
        ("running", c_size_t),
        ("finished", c_int),
        ("cancelled", c_int),
        ("stale", c_size_t),
    ]


mf_run_new = _declare("mf_run_new", c_int, POINTER(c_void_p), c_void_p, c_void_p, c_int, c_uint32)
mf_run_free = _declare("mf_run_free", None, c_void_p)
mf_run_next = _declare("mf_run_next", c_int, POINTER(c_int), POINTER(c_size_t), c_void_p)
mf_run_node_failure = _declare("mf_run_node_failure", c_int, _out_string, c_void_p, c_size_t)
mf_run_next_nodes = _declare(
    "mf_run_next_nodes", c_int, POINTER(c_int), POINTER(c_size_t), POINTER(c_size_t), c_void_p, c_size_t, c_size_t
)
mf_run_finish_nodes = _declare("mf_run_finish_nodes", c_int, c_void_p, POINTER(c_size_t), c_size_t)
mf_run_return_nodes = _declare("mf_run_return_nodes", c_int, c_void_p, POINTER(c_size_t), c_size_t)
mf_run_node_storage = _declare("mf_run_node_storage", c_int, POINTER(c_void_p), c_void_p, c_size_t)
mf_run_finish_node = _declare("mf_run_finish_node", c_int, c_void_p, c_size_t, c_int, c_char_p, c_char_p)
mf_run_cancel = _declare("mf_run_cancel", None, c_void_p)
mf_run_get_progress = _declare("mf_run_get_progress", c_int, POINTER(RunProgress), c_void_p)
mf_run_first_failure = _declare("mf_run_first_failure", c_int, _out_string, c_void_p)


def last_error_message() -> str:
    return ctypes.string_at(mf_last_error_message()).decode("utf-8", "replace")
mf_storage_check_manifests = _declare("mf_storage_check_manifests", c_int, _out_string, c_char_p, c_int)

# -- Rules decided by the core (readiness, write rules, prefix selection) --------------

mf_ready_tracker_new = _declare("mf_ready_tracker_new", c_int, POINTER(c_void_p), c_void_p)
mf_ready_tracker_free = _declare("mf_ready_tracker_free", None, c_void_p)
# The tracker's two updates are called holding the GIL (PyDLL functions): the GIL then
# keeps one tracker to one thread at a time, as muflow.h asks, and a call takes less time
# than releasing the GIL and taking it back. mf_ready_tracker_add_nodes, called once per
# ready_nodes, has no argtypes, which would cost more than the call: its caller passes
# ctypes objects only (byref out-parameters, the handle as c_void_p, a c_size_t array
# and a c_size_t count).
_gil_held = ctypes.PyDLL(lib._name, handle=lib._handle)
mf_ready_tracker_add_nodes = _gil_held.mf_ready_tracker_add_nodes
mf_ready_tracker_add_nodes.restype = c_int
# What the caller of each function above that has no argtypes passes, in order; the
# header test (test_ffi_headers.py) checks these against the declarations instead.
UNCONVERTED_ARGTYPES = {
    "mf_ready_tracker_add_nodes": [POINTER(POINTER(c_size_t)), POINTER(c_size_t), c_void_p, POINTER(c_size_t), c_size_t],
}
mf_ready_tracker_update = _gil_held.mf_ready_tracker_update
mf_ready_tracker_update.restype = c_int
mf_ready_tracker_update.argtypes = [POINTER(POINTER(c_size_t)), POINTER(c_size_t), c_void_p, c_char_p, c_char_p]
mf_filename_protected = _declare("mf_filename_protected", c_int, _out_string)
mf_filename_check_write = _declare("mf_filename_check_write", c_int, c_char_p, c_int, c_int)
# The stateless form, the reference the tracker's two paths are tested against.
mf_plan_ready_nodes = _declare("mf_plan_ready_nodes", c_int, _out_string, c_void_p, c_char_p)
mf_prefix_selection = _declare("mf_prefix_selection", c_int, _out_string)

# -- Failed nodes, reported in the core's words ---------------------------------------
# (mf_node_failure_message, mf_node_error_record: texts with their lengths, bytes out)

mf_node_failure_message = _declare(
    "mf_node_failure_message", c_int, _out_string, POINTER(c_size_t), c_char_p, c_size_t, c_char_p, c_size_t,
    c_char_p, c_size_t
)
mf_node_error_record = _declare(
    "mf_node_error_record", c_int, _out_string, POINTER(c_size_t), c_char_p, c_size_t, c_char_p, c_size_t,
    c_char_p, c_size_t
)

# -- The stale-input check of remote backends -----------------------------------------

NODE_ABSENT = 0
NODE_CURRENT = 1
NODE_STALE = 2
NODE_RECHECK = 3
mf_manifest_digests = _declare("mf_manifest_digests", c_int, _out_string, c_char_p, c_size_t)
mf_node_cache_state = _declare("mf_node_cache_state", c_int, POINTER(c_int), c_char_p, c_size_t, c_char_p)
mf_plan_cache_states = _declare("mf_plan_cache_states", c_int, _out_string, c_void_p, c_char_p)
mf_storage_write_manifest_inputs = _declare("mf_storage_write_manifest_inputs", c_int, c_void_p, c_char_p)
