"""_ffi.py and _values.py against the two headers (include/muflow.h, the stable tier, and
include/muflow_binding.h, the binding tier): every ctypes signature and struct matches
its C declaration, and every constant copied into Python has the header's value. The
headers are read with the C preprocessor and pycparser (header_model.py)."""

import os
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from header_model import constant_mismatches, function_mismatches, read_headers
from muflow_native import _ffi, _values

INCLUDE = Path(__file__).resolve().parents[3] / "include"
# _values' own numbers, which no header defines: the pickle protocol it writes.
VALUES_OWN = frozenset({"PROTOCOL"})


@pytest.fixture(scope="module")
def model():
    return read_headers(str(INCLUDE))


def test_the_headers_are_read(model):
    # Names from every part of both tiers, so that a reader that silently misses a part fails.
    for name in ("mf_version", "mf_run_next", "mf_registry_set_function", "mf_node_pickler_nodes",
                 "mf_run_next_nodes", "mf_content_digests"):
        assert name in model.functions, name
    assert model.constants["MF_ERR_TASK_FAILED"] == 7
    assert model.constants["MF_STORAGE_RESTRICT_OUTPUTS"] == 2
    assert model.constants["MF_MAX_VALUE_BYTES"] == 256 * 1024 * 1024
    assert "mf_run_progress" in model.structs


def test_every_ffi_function_matches_its_declaration(model):
    assert function_mismatches(_ffi, model) == []


def test_ffi_declares_functions_of_both_tiers(model):
    declared = set(vars(_ffi))
    assert {"mf_run_next", "mf_run_get_progress", "mf_plan_from_json"} <= declared  # stable tier
    assert {"mf_run_next_nodes", "mf_node_pickler_new", "mf_content_digest"} <= declared  # binding tier


def test_ffi_constants_are_the_headers(model):
    assert constant_mismatches(_ffi, model) == []


def test_values_constants_are_the_headers(model):
    assert constant_mismatches(_values, model, own=VALUES_OWN) == []


def test_package_version_is_the_headers(model):
    version = ".".join(str(model.constants[f"MF_VERSION_{p}"]) for p in ("MAJOR", "MINOR", "PATCH"))
    assert _ffi.VERSION == version
    assert _ffi.mf_version() == model.constants["MF_VERSION_NUMBER"]


def test_a_changed_header_is_caught(model, tmp_path):
    """The check fails on real mismatches: a copy of the headers with an argument moved,
    an argument's type changed, a struct field added and two constants renumbered."""
    for name in ("muflow.h", "muflow_binding.h"):
        shutil.copy(INCLUDE / name, tmp_path / name)
    stable = (tmp_path / "muflow.h").read_text()
    edits = [
        ("mf_status mf_run_next(mf_event_kind *out_kind, size_t *out_index, mf_run *run);",
         "mf_status mf_run_next(mf_run *run, mf_event_kind *out_kind, size_t *out_index);"),
        ("mf_status mf_run_node_storage(mf_storage **out, mf_run *run, size_t index);",
         "mf_status mf_run_node_storage(mf_storage **out, mf_run *run, uint32_t index);"),
        ("    MF_ERR_CANCELLED = 8,", "    MF_ERR_CANCELLED = 18,"),
        ("#define MF_MAX_VALUE_BYTES 268435456u", "#define MF_MAX_VALUE_BYTES 268435457u"),
        ("    size_t stale;\n} mf_run_progress;", "    size_t stale;\n    size_t retried;\n} mf_run_progress;"),
    ]
    for old, new in edits:
        assert old in stable, old
        stable = stable.replace(old, new)
    (tmp_path / "muflow.h").write_text(stable)
    changed = read_headers(str(tmp_path))

    functions = "\n".join(function_mismatches(_ffi, changed))
    assert "mf_run_next: argument 0: c_int for struct mf_run" in functions, functions
    assert re.search(r"mf_run_node_storage: argument 2: c_\w+ for uint32", functions), functions
    assert "struct mf_run_progress fields" in functions, functions
    constants = constant_mismatches(_ffi, changed) + constant_mismatches(_values, changed, own=VALUES_OWN)
    assert "muflow_native._ffi.ERR_CANCELLED = 8, but MF_ERR_CANCELLED = 18" in constants
    assert "muflow_native._values.MAX_VALUE_BYTES = 268435456, but MF_MAX_VALUE_BYTES = 268435457" in constants


def test_a_python_constant_with_no_header_constant_is_caught(model):
    Module = SimpleNamespace(__name__="stray", EVENT_RUN=1, EVENT_SKIPPED=9)
    assert constant_mismatches(Module, model) == ["stray.EVENT_SKIPPED: no MF_EVENT_SKIPPED in the headers"]


def test_header_model_needs_a_c_preprocessor():
    assert shutil.which("cc"), "cc (from the C tests' toolchain) preprocesses the headers"
    assert os.path.isfile(INCLUDE / "muflow_binding.h")
