"""Builds libmuflow.so in release mode with the repository's Makefile and ships it
inside the package, so the installed package needs no Swift toolchain."""

import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.dirname(os.path.dirname(HERE))


class BuildWithNativeLibrary(build_py):
    def run(self):
        prebuilt = os.environ.get("MUFLOW_PREBUILT_LIBRARY")
        if prebuilt:
            library = prebuilt
        else:
            subprocess.run(["make", "-C", REPOSITORY, "lib"], check=True)
            library = os.path.join(REPOSITORY, "build", "libmuflow.so")
        super().run()
        target = os.path.join(self.build_lib, "muflow_native", "_lib")
        os.makedirs(target, exist_ok=True)
        shutil.copy2(library, os.path.join(target, "libmuflow.so"))


class BinaryDistribution(Distribution):
    """The package carries a native library, so its wheel is platform-specific."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithNativeLibrary}, distclass=BinaryDistribution)
