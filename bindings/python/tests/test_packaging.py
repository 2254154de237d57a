"""The installed library: self-contained (no Swift toolchain at run time) and exporting
only the C ABI."""

import ctypes
import os
import re
import shutil
import subprocess
import sys

import pytest

import muflow_native
from muflow_native import _ffi

PACKAGE_DIR = os.path.dirname(os.path.abspath(muflow_native.__file__))
LIBRARY = os.path.join(PACKAGE_DIR, "_lib", "libmuflow.so")
TOOLCHAIN_MARKERS = ("/opt/swift", "swift", "toolchain", "/usr/share/swift", ".build")


def test_library_is_the_installed_one():
    assert os.path.isfile(LIBRARY), LIBRARY
    assert "site-packages" in LIBRARY or os.environ.get("MUFLOW_LIBRARY"), LIBRARY
    loaded = _ffi.lib._name
    assert os.path.realpath(loaded) == os.path.realpath(os.environ.get("MUFLOW_LIBRARY") or LIBRARY)


def _dynamic_symbols():
    """(name, binding) of every defined symbol in .dynsym, read with readelf."""
    output = subprocess.run(["readelf", "--dyn-syms", "-W", LIBRARY], capture_output=True, text=True,
                            check=True).stdout
    symbols = []
    for line in output.splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0][:-1].isdigit() and fields[6] != "UND":
            symbols.append((fields[7].split("@")[0], fields[4]))
    return symbols


@pytest.mark.skipif(shutil.which("readelf") is None, reason="binutils not installed")
def test_exports_only_mf_symbols():
    """Every symbol another object can bind to (GLOBAL, WEAK, UNIQUE) is an mf_* one."""
    exported = [name for name, binding in _dynamic_symbols() if binding != "LOCAL"]
    stray = [name for name in exported if not name.startswith("mf_")]
    assert not stray, f"{len(stray)} exported symbols outside mf_*: {stray[:20]}"
    for declared in ("mf_version", "mf_version_string", "mf_compute_prefix", "mf_compute_prefixes",
                     "mf_json_canonical", "mf_string_free", "mf_last_error_message"):
        assert declared in exported


@pytest.mark.skipif(shutil.which("nm") is None, reason="binutils not installed")
def test_nm_lists_only_mf_symbols():
    """`nm -D --defined-only --extern-only`: the symbols a program can link against are
    the mf_* ones. (.dynsym also keeps some LOCAL Swift metadata entries the linker
    needs for relocations; LOCAL symbols are not visible outside the library.)"""
    output = subprocess.run(["nm", "-D", "--defined-only", "--extern-only", LIBRARY], capture_output=True,
                            text=True, check=True).stdout
    names = [line.split()[-1].split("@")[0] for line in output.splitlines() if line.strip()]
    assert names, "the library exports nothing"
    stray = [n for n in names if not n.startswith("mf_")]
    assert not stray, f"{len(stray)} symbols outside mf_*: {stray[:20]}"


def _header_functions():
    """The functions both tiers declare (include/muflow.h, include/muflow_binding.h)."""
    include = os.path.join(os.path.dirname(__file__), "..", "..", "..", "include")
    headers = [os.path.join(include, name) for name in ("muflow.h", "muflow_binding.h")]
    if not all(os.path.exists(header) for header in headers):
        return None
    text = "".join(open(header).read() for header in headers)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"typedef[^;]*;", "", text)  # function-pointer types are not functions
    return set(re.findall(r"\b(mf_[a-z0-9_]+)\s*\(", text))


@pytest.mark.skipif(shutil.which("readelf") is None, reason="binutils not installed")
def test_exports_match_the_header():
    declared = _header_functions()
    if declared is None:
        pytest.skip("include/muflow.h not next to this checkout")
    exported = {name for name, binding in _dynamic_symbols() if binding != "LOCAL" and name.startswith("mf_")}
    assert declared - exported == set(), "declared but not exported"
    assert exported - declared == set(), "exported but not declared"


@pytest.mark.skipif(shutil.which("ldd") is None, reason="ldd not available")
def test_needs_no_swift_runtime():
    output = subprocess.run(["ldd", LIBRARY], capture_output=True, text=True, check=True).stdout
    assert "not found" not in output, output
    for line in output.splitlines():
        lowered = line.lower()
        assert "libswift" not in lowered, line
        assert "/opt/swift" not in lowered and "toolchain" not in lowered, line
        assert "libfoundation" not in lowered and "libdispatch" not in lowered, line


@pytest.mark.skipif(shutil.which("readelf") is None, reason="binutils not installed")
def test_no_rpath_into_a_toolchain():
    output = subprocess.run(["readelf", "-d", LIBRARY], capture_output=True, text=True, check=True).stdout
    for line in output.splitlines():
        if "RPATH" in line or "RUNPATH" in line:
            assert not any(marker in line for marker in TOOLCHAIN_MARKERS), line


def test_loads_and_works_without_swift_in_the_environment():
    env = {"PATH": "/usr/bin:/bin"}
    code = (
        "import muflow_native; "
        "print(muflow_native.compute_prefix({'task': 't'})); "
        "print(muflow_native.__version__)"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd="/",
                            timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    from muflow.storage.base import compute_prefix

    assert lines[0] == compute_prefix({"task": "t"})
    assert lines[1] == muflow_native.__version__


def test_version_matches_the_library():
    raw = ctypes.CDLL(LIBRARY)
    raw.mf_version_string.restype = ctypes.c_char_p
    raw.mf_version.restype = ctypes.c_uint32
    text = raw.mf_version_string().decode("ascii")
    assert muflow_native.__version__ == text
    major, minor, patch = (int(p) for p in text.split("."))
    assert raw.mf_version() == major * 10000 + minor * 100 + patch


def test_version_matches_the_header():
    header = os.path.join(os.path.dirname(__file__), "..", "..", "..", "include", "muflow.h")
    if not os.path.exists(header):
        pytest.skip("include/muflow.h not next to this checkout")
    text = open(header).read()
    parts = [re.search(rf"#define MF_VERSION_{p} (\d+)", text).group(1) for p in ("MAJOR", "MINOR", "PATCH")]
    assert muflow_native.__version__ == ".".join(parts)


def test_pyproject_holds_no_version_literal():
    """The version is written once, in muflow.h; pyproject declares it dynamic."""
    pyproject = open(os.path.join(os.path.dirname(__file__), "..", "pyproject.toml")).read()
    assert re.search(r'^version\s*=', pyproject, re.M) is None
    assert re.search(r'^dynamic\s*=\s*\["version"\]', pyproject, re.M)


def _header(version):
    major, minor, patch = version.split(".")
    return (f"#define MF_VERSION_MAJOR {major}\n#define MF_VERSION_MINOR {minor}\n"
            f"#define MF_VERSION_PATCH {patch}\n")


def _import_copy(tmp_path, version_file, header):
    """Imports a copy of the installed package (without its library, which MUFLOW_LIBRARY
    points at) laid out as in a checkout, whose _version.py and include/muflow.h are as
    given."""
    packages = tmp_path / "bindings" / "python"
    copy = packages / "muflow_native"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("_lib", "__pycache__", "_version.py"))
    if version_file is not None:
        (copy / "_version.py").write_text(version_file)
    if header is not None:
        (tmp_path / "include").mkdir()
        (tmp_path / "include" / "muflow.h").write_text(header)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(packages), "MUFLOW_LIBRARY": LIBRARY}
    return subprocess.run([sys.executable, "-c", "import muflow_native; print(muflow_native.__file__)"], env=env,
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)


def test_a_library_of_another_version_is_refused_at_import(tmp_path):
    result = _import_copy(tmp_path, 'VERSION = "0.0.999"\n', None)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: muflow_native 0.0.999 needs libmuflow 0.0.999"), result.stderr
    assert f"{LIBRARY} is libmuflow {muflow_native.__version__}" in last


def test_a_checkout_takes_its_version_from_the_header(tmp_path):
    matching = _import_copy(tmp_path, None, _header(muflow_native.__version__))
    assert matching.returncode == 0, matching.stderr
    assert matching.stdout.strip() == str(tmp_path / "bindings" / "python" / "muflow_native" / "__init__.py")

    other = _import_copy(tmp_path / "other", None, _header("7.0.0"))
    assert "ImportError: muflow_native 7.0.0 needs libmuflow 7.0.0" in other.stderr


def test_a_copy_with_no_version_says_it_is_not_installed(tmp_path):
    result = _import_copy(tmp_path, None, None)
    assert "ImportError: muflow_native is not installed" in result.stderr, result.stderr
