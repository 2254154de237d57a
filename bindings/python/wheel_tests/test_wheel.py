"""The wheel `make wheel` leaves in dist/, as a user gets it: installed into fresh virtual
environments of CPythons other than the one that built it, used from a directory outside
the checkout with no Swift toolchain on PATH.

Run by `make wheel-test` with the test venv's Python (muflow 0.4.0 there is the oracle);
MUFLOW_BUILD_VENV names the venv that has auditwheel.
"""

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from muflow.storage.base import compute_prefix as oracle_compute_prefix

REPOSITORY = Path(__file__).resolve().parents[3]
DIST = REPOSITORY / "dist"
BUILD_VENV = Path(os.environ.get("MUFLOW_BUILD_VENV", REPOSITORY / ".venv-build"))
PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
WHEEL_NAME = re.compile(
    r"^(?P<name>[^-]+)-(?P<version>[^-]+)-(?P<python>[^-]+)-(?P<abi>[^-]+)-(?P<platform>[^-]+)\.whl$")
PIPELINE = "muflow_native.examples.ml_task:ml_pipeline"
NODES_LINE = re.compile(r"nodes:\s+(\d+) total, (\d+) ran, (\d+) cached, (\d+) failed, (\d+) skipped")


def _pyproject_field(name):
    text = (REPOSITORY / "bindings" / "python" / "pyproject.toml").read_text()
    return re.search(rf'^{name}\s*=\s*"([^"]+)"', text, re.M).group(1)


def _header_version():
    """"MAJOR.MINOR.PATCH" of include/muflow.h, the version's one source."""
    text = (REPOSITORY / "include" / "muflow.h").read_text()
    return ".".join(re.search(rf"^#define MF_VERSION_{p} (\d+)$", text, re.M).group(1)
                    for p in ("MAJOR", "MINOR", "PATCH"))


def _make_variable(name):
    """A variable of the Makefile, so that this test runs `make run`'s command."""
    return re.search(rf"^{name}\s*:=\s*(.*)$", (REPOSITORY / "Makefile").read_text(), re.M).group(1)


def _pythons():
    """The lowest and the highest CPython 3 minor version pyenv has that the package
    supports, by path; neither is the build's 3.11 on this image."""
    minimum = tuple(int(p) for p in re.findall(r"\d+", _pyproject_field("requires-python"))[:2])
    found = {}
    for python in sorted(PYENV_VERSIONS.glob("3.*/bin/python3")):
        minor = tuple(int(p) for p in python.parent.parent.name.split(".")[:2])
        if minor >= minimum:
            found[minor] = python
    chosen = sorted(found)
    return [found[m] for m in sorted({chosen[0], chosen[-1]})] if chosen else []


PYTHONS = _pythons()


@pytest.fixture(scope="module")
def wheel():
    wheels = sorted(DIST.glob("*.whl"))
    assert len(wheels) == 1, f"expected the one wheel of `make wheel` in {DIST}, found {wheels}"
    return wheels[0]


def _clean_env(bin_dir):
    """PATH with the venv and the system's directories only: no Swift toolchain."""
    path = os.pathsep.join([str(bin_dir), "/usr/local/bin", "/usr/bin", "/bin"])
    for tool in ("swift", "swiftc"):
        assert shutil.which(tool, path=path) is None, f"{tool} is on {path}"
    return {"PATH": path, "HOME": str(Path.home()), "LANG": "C.UTF-8", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


class Installed:
    def __init__(self, venv, workdir):
        self.venv = venv
        self.workdir = workdir
        self.env = _clean_env(venv / "bin")

    def run(self, *argv, check=True, timeout=300):
        result = subprocess.run([str(a) for a in argv], cwd=self.workdir, env=self.env, capture_output=True,
                                text=True, timeout=timeout)
        if check:
            assert result.returncode == 0, f"{argv}: {result.stdout}\n{result.stderr}"
        return result

    def python(self, code, *args):
        return self.run(self.venv / "bin" / "python", "-c", code, *args).stdout


@pytest.fixture(scope="module", params=PYTHONS, ids=lambda p: p.parent.parent.name)
def installed(request, wheel, tmp_path_factory):
    """A fresh venv of that Python with the wheel installed, and with it only the
    dependencies it declares; and an empty working directory outside the checkout."""
    base = tmp_path_factory.mktemp(f"py{request.param.parent.parent.name}")
    assert REPOSITORY not in base.parents
    venv, workdir = base / "venv", base / "work"
    workdir.mkdir()
    target = Installed(venv, workdir)
    target.run(request.param, "-m", "venv", venv)
    target.run(venv / "bin" / "pip", "install", "-q", "--no-compile", wheel)
    return target


def test_two_pythons_to_install_into():
    assert len(PYTHONS) >= 2, f"need two CPython 3 versions under {PYENV_VERSIONS}, found {PYTHONS}"


def test_tag_is_py3_none_and_the_platform_auditwheel_finds(wheel):
    parts = WHEEL_NAME.match(wheel.name)
    assert parts, wheel.name
    assert (parts["python"], parts["abi"]) == ("py3", "none")
    assert re.fullmatch(r"manylinux_2_\d+_x86_64", parts["platform"]), parts["platform"]
    shown = subprocess.run([str(BUILD_VENV / "bin" / "auditwheel"), "show", str(wheel)], capture_output=True,
                           text=True, check=True).stdout
    verdict = re.search(r'consistent with the following platform tag: "([^"]+)"', " ".join(shown.split()))
    assert verdict, shown
    assert verdict[1] == parts["platform"]
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(f"{parts['name']}-{parts['version']}.dist-info/WHEEL").decode()
    assert f"Tag: py3-none-{parts['platform']}" in metadata.splitlines()
    assert "Root-Is-Purelib: false" in metadata.splitlines()


def test_baseline_is_the_newest_glibc_symbol_the_library_needs(wheel, tmp_path):
    """The lowest baseline this build allows: the glibc version of its newest versioned
    symbol, read from the library with objdump, independently of auditwheel."""
    with zipfile.ZipFile(wheel) as archive:
        libraries = [n for n in archive.namelist() if n.endswith(".so")]
        assert libraries == ["muflow_native/_lib/libmuflow.so"]
        library = archive.extract(libraries[0], tmp_path)
    symbols = subprocess.run(["objdump", "-T", library], capture_output=True, text=True, check=True).stdout
    versions = re.findall(r"\bGLIBC_(\d+\.\d+(?:\.\d+)?)\b", symbols)
    needed = max(tuple(int(p) for p in v.split(".")) for v in versions)
    assert WHEEL_NAME.match(wheel.name)["platform"] == f"manylinux_{needed[0]}_{needed[1]}_x86_64"


def test_wheel_version_is_the_header_version(wheel):
    assert WHEEL_NAME.match(wheel.name)["version"] == _header_version()


def test_installed_library_reports_the_package_version(installed):
    code = (
        "import importlib.metadata, muflow_native\n"
        "from muflow_native import _ffi\n"
        "print(muflow_native.__file__)\n"
        "print(importlib.metadata.version('muflow-native'))\n"
        "print(muflow_native.__version__)\n"
        "print(_ffi.mf_version_string().decode())\n"
        "print(_ffi.mf_version())\n"
    )
    location, metadata, package, library, number = installed.python(code).split()
    assert Path(location).is_relative_to(installed.venv), location
    version = _header_version()
    assert metadata == package == library == version
    major, minor, patch = (int(p) for p in version.split("."))
    assert int(number) == major * 10000 + minor * 100 + patch


def _nodes(stdout):
    counts = NODES_LINE.search(stdout)
    assert counts, stdout
    return dict(zip(("total", "ran", "cached", "failed", "skipped"), map(int, counts.groups())))


def test_seed_ml_pipeline_runs_then_reruns_cached(installed):
    out, handle = installed.workdir / "ml", installed.workdir / "ml-handle.json"
    argv = [installed.venv / "bin" / "muflow", "run", PIPELINE, "--subject", "experiment:1",
            "--kwargs", _make_variable("ML_KWARGS"), "--output", out, "--handle", handle]
    first = _nodes(installed.run(*argv).stdout)
    prefixes = json.loads(handle.read_text())["node_prefixes"]
    assert len(prefixes) > 1
    assert first == {"total": len(prefixes), "ran": len(prefixes), "cached": 0, "failed": 0, "skipped": 0}
    assert all((Path(p) / "manifest.json").is_file() for p in prefixes.values())

    second = _nodes(installed.run(*argv).stdout)
    assert second == {"total": len(prefixes), "ran": 0, "cached": len(prefixes), "failed": 0, "skipped": 0}


PREFIX_CASES = [
    ({"task": "ml.train_model", "kwargs": {"datasets": ["dataset_a", "dataset_b"]}}, "muflow", None),
    ({"b": 1.5, "a": [1, "two", None, True], "c": {"z": "é", "y": 2}}, "out/base", None),
    ({"task": "t", "dataset_id": 3, "display_name": "x"}, "muflow", ["dataset_id"]),
]


def test_compute_prefix_matches_muflow_0_4_0(installed):
    code = (
        "import json, sys, muflow_native\n"
        "for hash_dict, base, keys in json.loads(sys.argv[1]):\n"
        "    print(muflow_native.compute_prefix(hash_dict, base_prefix=base, identity_keys=keys))\n"
    )
    got = installed.python(code, json.dumps(PREFIX_CASES)).splitlines()
    expected = [oracle_compute_prefix(h, base_prefix=b, identity_keys=k) for h, b, k in PREFIX_CASES]
    assert got == expected


def test_sdist_without_swift_says_the_toolchain_is_needed(tmp_path):
    sdists = sorted(DIST.glob("*.tar.gz"))
    assert len(sdists) == 1, sdists
    result = subprocess.run([str(BUILD_VENV / "bin" / "python"), "-m", "pip", "wheel", "--no-deps",
                             "-w", str(tmp_path / "wheels"), str(sdists[0])],
                            cwd=tmp_path, capture_output=True, text=True, env=_clean_env(BUILD_VENV / "bin"),
                            timeout=300)
    assert result.returncode != 0
    output = " ".join((result.stdout + result.stderr).split())
    assert "compiles libmuflow with the Swift toolchain" in output, output
    assert "swift is not on PATH" in output, output


def test_build_refuses_a_library_of_another_version(wheel, tmp_path):
    """The package's version is its header's; a library built from another header is
    refused. A checkout whose muflow.h says 9.8.7, with a prebuilt library of this one."""
    checkout = tmp_path / "checkout"
    source = checkout / "bindings" / "python"
    shutil.copytree(REPOSITORY / "bindings" / "python", source,
                    ignore=shutil.ignore_patterns("tests", "wheel_tests", "build", "*.egg-info", "__pycache__"))
    (checkout / "Package.swift").write_text("")
    (checkout / "include").mkdir()
    (checkout / "include" / "muflow.h").write_text(
        "#define MF_VERSION_MAJOR 9\n#define MF_VERSION_MINOR 8\n#define MF_VERSION_PATCH 7\n")
    with zipfile.ZipFile(wheel) as archive:
        library = archive.extract("muflow_native/_lib/libmuflow.so", tmp_path)
    env = dict(_clean_env(BUILD_VENV / "bin"), MUFLOW_PREBUILT_LIBRARY=library)
    result = subprocess.run([str(BUILD_VENV / "bin" / "python"), "-m", "pip", "wheel", "--no-deps",
                             "--no-build-isolation", "-w", str(tmp_path / "wheels"), str(source)],
                            cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode != 0
    output = " ".join((result.stdout + result.stderr).split())
    assert f"muflow-native 9.8.7: {library} is libmuflow {_header_version()}" in output, output
