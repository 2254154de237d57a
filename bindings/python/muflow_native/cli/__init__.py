"""The `muflow` command line: ``muflow run|plan show|plan graph|status`` (see main.py).

Installed as the console script ``muflow = "muflow_native.cli.main:main"``; also
``python -m muflow_native``.
"""

from .main import main

__all__ = ["main"]
