"""Builds libmuflow.so in release mode with the repository's Makefile (`make lib`) and
ships it inside the package, so the installed package needs no Swift toolchain.

The library's Swift sources come from the repository around this directory or, in an
sdist, from its `native/` directory, which `sdist` fills from the repository.
MUFLOW_PREBUILT_LIBRARY names an already built library to ship instead.

The wheel holds no extension module (the package loads the library with ctypes), so it
is tagged `py3-none-<platform>`: one wheel for every CPython 3. `make wheel` then has
auditwheel retag it with the manylinux platform the library is consistent with.
"""

import ctypes
import os
import re
import shutil
import subprocess

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.dirname(os.path.dirname(HERE))
SDIST_NATIVE = "native"
# What `make lib` reads: SwiftPM needs every target of Package.swift, tests included.
NATIVE_SOURCES = ("Makefile", "Package.swift", "include", "Sources", "tools/exports.map",
                  "Tests/TestSupport", "Tests/MuflowCoreTests", "Tests/CABITests")


def _native_root():
    """The directory holding Package.swift: the sdist's copy, else the repository."""
    for root in (os.path.join(HERE, SDIST_NATIVE), REPOSITORY):
        if os.path.isfile(os.path.join(root, "Package.swift")):
            return root
    raise SystemExit(
        "muflow-native: the Swift sources of libmuflow (Package.swift) are not here; build "
        "from the repository (pip install ./bindings/python) or from its sdist"
    )


def _build_library():
    root = _native_root()
    missing = [tool for tool in ("swift", "make") if shutil.which(tool) is None]
    if missing:
        tools = " and ".join(missing)
        raise SystemExit(
            f"muflow-native: building from source compiles libmuflow with the Swift toolchain "
            f"(Swift 6.3 or newer), but {tools} {'is' if len(missing) == 1 else 'are'} not on PATH. "
            "Install Swift (https://www.swift.org/install) and put its usr/bin on PATH, or install "
            "the prebuilt manylinux wheel, which needs no toolchain."
        )
    subprocess.run(["make", "-C", root, "lib"], check=True)
    return os.path.join(root, "build", "libmuflow.so")


def header_version(header):
    """"MAJOR.MINOR.PATCH" from the MF_VERSION_* macros of muflow.h: the one place the
    version is written, for the library (Swift reads the macros) and this package."""
    with open(header, encoding="utf-8") as f:
        text = f.read()
    parts = []
    for part in ("MAJOR", "MINOR", "PATCH"):
        found = re.search(rf"^#define MF_VERSION_{part} (\d+)$", text, re.M)
        if found is None:
            raise SystemExit(f"muflow-native: {header} defines no MF_VERSION_{part}")
        parts.append(found.group(1))
    return ".".join(parts)


def _check_library_version(library, version):
    """The shipped library must be the version of the header the package is built from."""
    loaded = ctypes.CDLL(os.path.abspath(library))
    loaded.mf_version_string.restype = ctypes.c_char_p
    found = loaded.mf_version_string().decode("ascii")
    if found != version:
        raise SystemExit(
            f"muflow-native {version}: {library} is libmuflow {found}; build it from the same "
            f"include/muflow.h (MF_VERSION_*) as the package"
        )


class BuildWithNativeLibrary(build_py):
    def run(self):
        library = os.environ.get("MUFLOW_PREBUILT_LIBRARY") or _build_library()
        _check_library_version(library, self.distribution.get_version())
        super().run()
        package = os.path.join(self.build_lib, "muflow_native")
        target = os.path.join(package, "_lib")
        os.makedirs(target, exist_ok=True)
        shutil.copy2(library, os.path.join(target, "libmuflow.so"))
        # The version the package expects of its library: the header's, written once.
        with open(os.path.join(package, "_version.py"), "w", encoding="utf-8") as out:
            out.write(f'VERSION = "{self.distribution.get_version()}"\n')


class SourceDistributionWithNativeSources(sdist):
    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        root = _native_root()
        for name in NATIVE_SOURCES:
            source = os.path.join(root, name)
            target = os.path.join(base_dir, SDIST_NATIVE, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if os.path.isdir(source):
                shutil.copytree(source, target, symlinks=False)
            else:
                shutil.copy2(source, target)


class BinaryDistribution(Distribution):
    """The package carries a native library, so its wheel is platform-specific."""

    def has_ext_modules(self):
        return True


class AnyPython3Wheel(bdist_wheel):
    """The platform's wheel, for any Python 3: nothing in it is built against CPython."""

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(
    version=header_version(os.path.join(_native_root(), "include", "muflow.h")),
    cmdclass={
        "build_py": BuildWithNativeLibrary,
        "sdist": SourceDistributionWithNativeSources,
        "bdist_wheel": AnyPython3Wheel,
    },
    distclass=BinaryDistribution,
)
