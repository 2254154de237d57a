"""Hypothesis profiles and a per-run seed that is printed, so a failure can be replayed.

Profiles: "ci" (default: no deadline) and "dev" (50 examples where a test sets no
count); select with MUFLOW_HYPOTHESIS_PROFILE or --hypothesis-profile. The counts the
tests set scale with MUFLOW_HYPOTHESIS_SCALE (e.g. 0.1 for a quick run).

Every run uses one seed for all Hypothesis tests: --hypothesis-seed=N if given, else
MUFLOW_HYPOTHESIS_SEED, else a random one. It is shown in the header and again after
failures; rerun with --hypothesis-seed=N to replay the same examples.
"""

import importlib.machinery
import os
import random
import sys

import pytest
from hypothesis import HealthCheck, settings

# `python -m pytest` run from bindings/python puts the source tree first on sys.path;
# its muflow_native has no _lib/libmuflow.so. Test the installed package when there is one.
_SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_without_source = [p for p in sys.path if os.path.abspath(p or os.curdir) != _SOURCE_ROOT]
if "muflow_native" not in sys.modules and importlib.machinery.PathFinder.find_spec("muflow_native", _without_source):
    sys.path[:] = _without_source

settings.register_profile(
    "ci",
    deadline=None,
    derandomize=False,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", parent=settings.get_profile("ci"), max_examples=50)
settings.load_profile(os.environ.get("MUFLOW_HYPOTHESIS_PROFILE", "ci"))

_seed = None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    global _seed
    chosen = config.getoption("hypothesis_seed", None)
    if chosen is None:
        chosen = os.environ.get("MUFLOW_HYPOTHESIS_SEED") or str(random.SystemRandom().randrange(2**32))
        config.option.hypothesis_seed = chosen
    _seed = chosen
    from hypothesis import core

    core.global_force_seed = int(chosen) if str(chosen).isdigit() else chosen


def pytest_report_header(config):
    return f"hypothesis seed: {_seed} (replay with --hypothesis-seed={_seed})"


def pytest_terminal_summary(terminalreporter):
    if terminalreporter.stats.get("failed"):
        terminalreporter.write_line(f"hypothesis seed was {_seed}: rerun with --hypothesis-seed={_seed}")


@pytest.fixture
def tasks():
    """`register(name, fn=a no-op, **options)` registers a task with muflow_native for
    one test; the tasks, and any context factory the test set, go afterwards."""
    import muflow_native
    from muflow_native.context import set_context_factory

    names = []

    def register(name, fn=lambda context: None, **options):
        muflow_native.register_task(name, **options)(fn)
        names.append(name)
        return fn

    yield register
    for name in names:
        muflow_native.registry.unregister(name)
    set_context_factory(None)
