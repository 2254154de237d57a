"""The `muflow` command line: ``muflow run|plan show|plan graph|status``.

The entry point is :func:`muflow_native.cli.main.main` (console script
``muflow = "muflow_native.cli.main:main"``); ``python -m muflow_native`` runs it too.
"""
