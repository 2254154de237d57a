"""`muflow`: run, inspect and follow pipelines from the command line.

    muflow run MODULE:PIPELINE --subject S --kwargs JSON|@FILE --output DIR
    muflow plan show MODULE:PIPELINE --subject S --kwargs ... [--output DIR] [--json]
    muflow plan graph MODULE:PIPELINE --subject S --kwargs ... [--output DIR] --format dot|mermaid
    muflow status HANDLE_JSON|@FILE

With MUFLOW_NATIVE_AS_MUFLOW=1 in the environment, every `import muflow` (and
`muflow.X`) in the pipeline's modules gives muflow_native (install_as_muflow()).

Exit status: 0 success, 1 a node failed, 2 bad arguments, 130 interrupted; and for
`status`, the plan's state: 0 success, 1 failure, 3 pending or running (not every node
is complete and none failed: not run yet, interrupted, or its outputs were deleted),
4 unknown (the state or the progress could not be read).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import os
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Optional, Sequence

from .. import __version__, registry
from .._ffi import MissingTaskError
from ..as_muflow import ENV_SWITCH, install_as_muflow
from ..backends.base import LocalBackend
from ..backends.handle import PlanHandle, failed_nodes, local_state
from ..context.task import format_progress
from ..pipeline import Pipeline
from ..plan import plan_view
from .graph import COMPLETE, FAILED, node_infos, node_states, render_graph, short_key
from .progress import format_duration, make_display


EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FINISHED = 3
EXIT_UNKNOWN = 4
EXIT_INTERRUPTED = 130

#: `muflow status`: the exit status for each state of PlanHandle.get_state().
STATUS_EXIT_CODES = {"success": EXIT_OK, "failure": EXIT_FAILED, "pending": EXIT_NOT_FINISHED,
                     "running": EXIT_NOT_FINISHED}

MAX_FAILURE_LINES = 10
MAX_INCOMPLETE_KEYS = 20
MAX_LEVEL_LINES = 30


class CLIError(Exception):
    """A problem reported as one ``muflow: error: ...`` line and exit status `code`."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as a CLIError (one line, exit 2)."""

    def error(self, message):  # noqa: D401 - argparse's signature
        hint = f" (see '{self.prog} --help')"
        raise CLIError(message + hint)


# ── arguments ───────────────────────────────────────────────────────────────


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def read_json_argument(text: str, option: str):
    """The JSON in `text`, or in the file it names as ``@FILE`` (``@-``: standard input)."""
    source = option
    if text.startswith("@"):
        path = text[1:]
        if not path:
            raise CLIError(f"{option}: '@' must be followed by a file name")
        try:
            if path == "-":
                text = sys.stdin.read()
                source = f"{option} (standard input)"
            else:
                text = Path(path).read_text(encoding="utf-8")
                source = f"{option} file {path!r}"
        except FileNotFoundError:
            raise CLIError(f"{option}: no such file: {path!r}")
        except (OSError, UnicodeDecodeError) as exc:
            raise CLIError(f"{option}: cannot read {path!r}: {_describe(exc)}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CLIError(f"{source}: invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno} (char {exc.pos})")


def parse_kwargs(text: Optional[str]) -> dict:
    if text is None:
        return {}
    value = read_json_argument(text, "--kwargs")
    if not isinstance(value, dict):
        raise CLIError(f"--kwargs must be a JSON object, not {_json_type(value)}")
    return value


def _json_type(value) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "null"
    return type(value).__name__


def _describe(exc: BaseException) -> str:
    text = str(exc)
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def load_pipeline(spec: str):
    """The muflow_native Pipeline named by ``MODULE:ATTRIBUTE``. MODULE is a dotted module
    name (found on sys.path or in the current directory) or a path to a ``.py`` file."""
    module_name, sep, attribute = spec.rpartition(":")
    if not sep or not module_name or not attribute:
        raise CLIError(f"expected MODULE:PIPELINE (e.g. mypackage.pipelines:my_pipeline), not {spec!r}")
    module = _import(module_name)
    obj = module
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CLIError(f"module {module_name!r} has no attribute {attribute!r}{_pipelines_hint(module)}")
        except Exception as exc:
            raise CLIError(f"reading {spec!r} failed: {_describe(exc)}")
    if not isinstance(obj, Pipeline):
        kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
        hint = ""
        if type(obj).__name__ == "Pipeline":
            hint = (f" (build it with muflow_native's Pipeline: import muflow_native as muflow; or run with "
                    f"{ENV_SWITCH}=1 so that its `import muflow` gives muflow_native)")
        raise CLIError(f"{spec!r} is a {kind}, not a muflow_native Pipeline{hint}")
    return obj


def _pipelines_hint(module) -> str:
    names = sorted(name for name, value in vars(module).items() if isinstance(value, Pipeline))
    return f" (pipelines in it: {', '.join(names)})" if names else ""


def _import(name: str):
    looks_like_path = name.endswith(".py") or "/" in name or os.sep in name
    if looks_like_path:
        path = Path(name)
        if not path.is_file():
            raise CLIError(f"no such file: {name!r}")
        module_name = path.stem
        resolved = path.resolve()
        loaded = sys.modules.get(module_name)
        if loaded is not None and getattr(loaded, "__file__", None) and Path(loaded.__file__).resolve() == resolved:
            return loaded  # already imported (its tasks are registered): don't register them twice
        directory = str(resolved.parent)
        if directory not in sys.path:
            sys.path.insert(0, directory)
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:
            sys.modules.pop(module_name, None)
            _import_failed(name, exc)
        return module
    # As `python -m` does, let modules in the current directory be found (the console
    # script does not put it on sys.path).
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise CLIError(f"cannot import {name!r}: no module named {exc.name!r}")
        _import_failed(name, exc)
    except BaseException as exc:
        _import_failed(name, exc)


def _import_failed(name: str, exc: BaseException):
    if isinstance(exc, KeyboardInterrupt):
        raise exc
    _log_traceback(exc)
    raise CLIError(f"importing {name!r} failed: {_describe(exc)}")


_verbose = False


def _log_traceback(exc: BaseException) -> None:
    if _verbose:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)


def _output_dir(text: str, create: bool) -> str:
    path = Path(text).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise CLIError(f"--output: {str(path)!r} exists and is not a directory")
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CLIError(f"--output: cannot create {str(path)!r}: {exc.strerror or exc}")
    return str(path)


def _build_plan(args, base_prefix: str):
    pipeline = load_pipeline(args.pipeline)
    kwargs = parse_kwargs(args.kwargs)
    try:
        plan = pipeline.build_plan(args.subject, kwargs, base_prefix=base_prefix)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        _log_traceback(exc)
        raise CLIError(f"building the plan of {args.pipeline!r} failed: {_describe(exc)}")
    return pipeline, plan


# ── muflow run ──────────────────────────────────────────────────────────────


class _Collector:
    """on_progress: keeps the latest snapshot and feeds the display."""

    def __init__(self, display):
        self.display = display
        self.latest = None

    def __call__(self, snapshot) -> None:
        self.latest = snapshot
        self.display(snapshot)


class _TaskProgress:
    """A task's `report_progress`: one line on standard error, through the display (so
    that standard output holds only the results)."""

    def __init__(self, display):
        self._display = display

    def __call__(self, current: int, total: int, message: str = "") -> None:
        self._display.note(format_progress(current, total, message))


def cmd_run(args) -> int:
    output = _output_dir(args.output, create=False)
    pipeline, plan = _build_plan(args, output)
    _output_dir(output, create=True)  # only once the arguments are known to be good
    root_key = plan.root_key
    root_dir = plan.nodes[root_key].storage_prefix
    out = sys.stdout
    collector = _Collector(make_display(out, quiet=args.quiet))
    try:
        backend = LocalBackend(output, workers=args.workers, processes=args.processes,
                               continue_on_failure=args.continue_on_failure,
                               progress_reporter=_TaskProgress(collector.display))
    except ValueError as exc:
        raise CLIError(str(exc))
    failures: list[tuple[str, str]] = []
    interrupted = []

    def on_failure(key: str, message: str) -> None:
        failures.append((key, message))

    def on_interrupt(signum, frame):
        if interrupted:  # a second Ctrl-C: stop waiting
            raise KeyboardInterrupt
        interrupted.append(True)
        sys.stderr.write("\nmuflow: interrupted: no new node starts; waiting for the running ones "
                         "(Ctrl-C again to stop waiting)\n")
        try:
            backend.cancel_plan(root_key)
        except RuntimeError:
            pass

    previous_handler = _install_sigint(on_interrupt)
    started = time.monotonic()
    error: Optional[str] = None
    try:
        backend.submit_plan(plan, on_node_failure=on_failure, on_progress=collector)
    except MissingTaskError as exc:
        collector.display.finish()
        raise CLIError(str(exc))
    except RuntimeError as exc:
        error = str(exc)
    except KeyboardInterrupt:
        collector.display.finish()
        sys.stderr.write("muflow: error: interrupted\n")
        return EXIT_INTERRUPTED
    finally:
        _restore_sigint(previous_handler)
    wall = time.monotonic() - started
    collector.display.finish()

    handle = PlanHandle(backend="local", plan_id=root_key, node_prefixes=plan_view(plan).storage_prefixes(),
                        storage_type="local", storage_config={})
    if args.handle:
        try:
            Path(args.handle).write_text(handle.to_json(), encoding="utf-8")
        except OSError as exc:
            sys.stderr.write(f"muflow: warning: cannot write the handle to {args.handle!r}: {exc.strerror or exc}\n")

    snap = collector.latest
    if not args.quiet:
        verb = "Finished" if error is None else ("Interrupted" if interrupted else "Failed")
        name = pipeline.display_name or pipeline.name
        out.write(f"{verb} {name} (subject {args.subject}) in {format_duration(wall)}\n")
        if snap is not None:
            not_run = snap.total - snap.done
            counts = (f"{snap.total} total, {snap.succeeded} ran, {snap.cached} cached, "
                      f"{snap.failed} failed, {snap.skipped} skipped")
            if snap.stale:
                counts += f", {snap.stale} stale (inputs changed, run again)"
            if not_run:
                counts += f", {not_run} not run"
            out.write(f"  nodes:   {counts}\n")
        if error is None:
            out.write(f"  result:  {root_dir}\n")
        else:
            done = os.path.exists(os.path.join(root_dir, "manifest.json"))
            out.write(f"  root:    {root_dir}{'' if done else ' (not complete)'}\n")
        out.write(f"  output:  {output}\n")
        if args.handle:
            out.write(f"  handle:  {args.handle}\n")
        out.flush()
    elif error is None:
        out.write(root_dir + "\n")
        out.flush()

    if error is None:
        return EXIT_OK
    if interrupted and not failures:
        sys.stderr.write("muflow: error: run interrupted; rerun the same command to continue\n")
        return EXIT_INTERRUPTED
    _report_failures(plan, failures, error, args.verbose)
    return EXIT_FAILED


def _install_sigint(handler):
    try:
        return signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        return None


def _restore_sigint(previous) -> None:
    if previous is not None:
        try:
            signal.signal(signal.SIGINT, previous)
        except ValueError:
            pass


def _read_error_json(prefix: str) -> dict:
    try:
        with open(os.path.join(prefix, "error.json"), encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _with_exception_type(message: str, tb: str) -> str:
    """`message` prefixed with the exception type that the traceback names
    (``ValueError: boom``), when it can be found."""
    lines = tb.splitlines()
    if not message:
        return next((line for line in reversed(lines) if line.strip() and not line.startswith(" ")), "")
    first = message.splitlines()[0]
    for line in reversed(lines):
        if not line.startswith(" ") and line.endswith(": " + first):
            return line[: len(line) - len(first)] + message
    return message


def _report_failures(plan, failures, error: str, verbose: bool) -> None:
    if not failures:
        first = error.splitlines()[0] if error else "the run failed"
        sys.stderr.write(f"muflow: error: {first}\n")
        if verbose and "\n" in error:
            sys.stderr.write(error.split("\n", 1)[1].rstrip() + "\n")
        return
    for key, message in failures[:MAX_FAILURE_LINES]:
        node = plan.nodes[key]
        details = _read_error_json(node.storage_prefix)
        tb = details.get("error_traceback") or ""
        shown = _with_exception_type(message, tb)
        where = os.path.join(node.storage_prefix, "error.json")
        sys.stderr.write(f"muflow: error: node {node.function} [{short_key(key)}] failed: {_one_line(shown)}"
                         f" (details: {where})\n")
        if verbose and tb:
            sys.stderr.write(tb.rstrip() + "\n")
    if len(failures) > MAX_FAILURE_LINES:
        sys.stderr.write(f"muflow: error: ... and {len(failures) - MAX_FAILURE_LINES} more failed nodes\n")


# ── muflow plan show / graph ────────────────────────────────────────────────


def _plan_base(args) -> str:
    return _output_dir(args.output, create=False) if args.output else "muflow"


def cmd_plan_show(args) -> int:
    pipeline, plan = _build_plan(args, _plan_base(args))
    out = sys.stdout
    if args.json:
        out.write(plan.to_json() + "\n")
        return EXIT_OK
    infos = node_infos(plan)
    function_of = {info.key: info.function for info in infos}
    name = pipeline.name + (f" ({pipeline.display_name})" if pipeline.display_name else "")
    out.write(f"Pipeline:  {name}\n")
    out.write(f"Subject:   {args.subject}\n")
    out.write(f"Nodes:     {len(infos)}\n")
    out.write(f"Root:      {plan.root_key}\n")

    steps_of: dict[str, list[str]] = {}
    for step_name, step in pipeline.steps.items():
        steps_of.setdefault(step.task, []).append(step_name)
    sentinel = plan_view(plan).sentinel_key()
    per_function = Counter(function_of.values())
    rows = []
    unregistered = []
    for function, count in per_function.items():
        if sentinel is not None and function == function_of[sentinel] and function not in steps_of:
            label, note = "(root)", "built-in"
        else:
            label = ", ".join(steps_of.get(function, ["?"]))
            note = "" if registry.get(function) is not None else "NOT REGISTERED"
            if note:
                unregistered.append(function)
        rows.append((label, function, note, count))
    out.write("Steps:\n")
    _table(out, rows)
    if unregistered:
        out.write(f"Warning:   {len(unregistered)} task(s) not registered ({', '.join(unregistered)}): "
                  "`muflow run` would refuse this plan; import the module that registers them\n")

    levels = plan.levels()
    out.write(f"Levels:    {len(levels)}\n")
    for index, keys in enumerate(levels[:MAX_LEVEL_LINES]):
        counts = Counter(function_of[k] for k in keys)
        detail = ", ".join(f"{function} x{n}" for function, n in counts.items())
        out.write(f"  {index:>3}  {len(keys):>6} node{'s' if len(keys) != 1 else ' '}  {detail}\n")
    if len(levels) > MAX_LEVEL_LINES:
        rest = levels[MAX_LEVEL_LINES:]
        out.write(f"  ... {len(rest)} more levels ({sum(map(len, rest))} nodes)\n")

    if args.output:
        states = Counter(node_states(infos).values())
        out.write(f"Status:    {states[COMPLETE]} complete, {states[FAILED]} failed, "
                  f"{len(infos) - states[COMPLETE] - states[FAILED]} not run (in {args.output})\n")
    return EXIT_OK


def _table(out, rows) -> None:
    if not rows:
        return
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths)]
        out.write("  " + "  ".join(cells) + f"  {row[-1]:>6}\n")


def cmd_plan_graph(args) -> int:
    pipeline, plan = _build_plan(args, _plan_base(args))
    infos = node_infos(plan)
    states = node_states(infos) if args.output else None
    collapse = {"auto": None, "always": True, "never": False}[args.collapse]
    sys.stdout.write(render_graph(plan, args.format, states=states, collapse=collapse, infos=infos,
                                  title=pipeline.name))
    return EXIT_OK


# ── muflow status ───────────────────────────────────────────────────────────


def cmd_status(args) -> int:
    import pydantic

    data = read_json_argument(args.handle, "HANDLE")
    try:
        handle = PlanHandle.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in exc.errors()[:3]
        )
        raise CLIError(f"HANDLE is not a valid PlanHandle: {problems}")

    try:
        progress = handle.get_progress()
    except Exception as exc:
        _log_traceback(exc)
        raise CLIError(f"cannot read the progress of plan {handle.plan_id!r}: {_describe(exc)}", EXIT_UNKNOWN)
    incomplete = [key for key, done in progress.node_breakdown.items() if not done]
    failed = None
    if handle.backend == "local":
        failed = len(failed_nodes(handle, progress))
        state = local_state(handle, progress)
    else:
        try:
            state = handle.get_state()
        except Exception as exc:
            _log_traceback(exc)
            state = f"unknown ({_describe(exc)})"
    code = STATUS_EXIT_CODES.get(state, EXIT_UNKNOWN)

    if args.json:
        sys.stdout.write(json.dumps({
            "backend": handle.backend, "plan_id": handle.plan_id, "state": state,
            "completed": progress.completed, "total": progress.total, "fraction": progress.fraction,
            "failed": failed, "incomplete": incomplete,
        }, indent=2) + "\n")
        return code
    out = sys.stdout
    out.write(f"Backend:   {handle.backend}\n")
    out.write(f"Plan id:   {handle.plan_id}\n")
    out.write(f"State:     {state}\n")
    out.write(f"Progress:  {progress.completed}/{progress.total} nodes complete ({progress.fraction:.1%})\n")
    if failed:
        out.write(f"Failed:    {failed} nodes (error.json present)\n")
    if incomplete:
        out.write(f"Incomplete nodes ({len(incomplete)}):\n")
        for key in incomplete[:MAX_INCOMPLETE_KEYS]:
            out.write(f"  {key}\n")
        if len(incomplete) > MAX_INCOMPLETE_KEYS:
            out.write(f"  ... and {len(incomplete) - MAX_INCOMPLETE_KEYS} more\n")
    return code


# ── the parser ──────────────────────────────────────────────────────────────


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true",
                        help="show Python tracebacks (of failed tasks, imports, plan building) and log messages")

    plan_args = _Parser(add_help=False)
    plan_args.add_argument("pipeline", metavar="MODULE:PIPELINE",
                           help="the pipeline object: a module (dotted name, or path to a .py file) and attribute")
    plan_args.add_argument("--subject", required=True, help="the subject key, e.g. experiment:1")
    plan_args.add_argument("--kwargs", metavar="JSON|@FILE",
                           help="the pipeline kwargs: a JSON object, or @FILE to read it from FILE (default: {})")

    parser = _Parser(prog="muflow", description="Run and inspect muflow pipelines.",
                     epilog="Exit status: 0 success, 1 a node failed, 2 bad arguments; status: "
                            "0 success, 1 failure, 3 pending or running, 4 unknown.")
    parser.add_argument("--version", action="version", version=f"muflow (muflow_native) {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    run = commands.add_parser("run", parents=[plan_args, common], help="run a pipeline locally",
                              description="Build the plan under DIR and run it on the local backend; nodes "
                                          "already complete in DIR are skipped.")
    run.add_argument("--output", required=True, metavar="DIR", help="the directory of the results (created)")
    run.add_argument("--workers", type=_workers, metavar="N", help="worker threads/processes (default: CPUs)")
    run.add_argument("--processes", action="store_true", help="run tasks in worker processes (CPU-bound Python)")
    run.add_argument("--continue-on-failure", action="store_true",
                     help="after a failure, still run every branch that does not depend on it")
    run.add_argument("--quiet", "-q", action="store_true",
                     help="no progress or summary; print only the result directory (and errors)")
    run.add_argument("--handle", metavar="FILE", help="write the run's PlanHandle JSON to FILE (for muflow status)")
    run.set_defaults(func=cmd_run)

    plan = commands.add_parser("plan", help="show or draw a plan without running it")
    plan_commands = plan.add_subparsers(dest="plan_command", metavar="COMMAND", parser_class=_Parser)
    plan_commands.required = True
    show = plan_commands.add_parser("show", parents=[plan_args, common], help="nodes, steps and levels of a plan")
    show.add_argument("--output", metavar="DIR", help="base directory of the prefixes (and show which nodes are done)")
    show.add_argument("--json", action="store_true", help="print the plan JSON (TaskPlan.to_json())")
    show.set_defaults(func=cmd_plan_show)
    graph = plan_commands.add_parser("graph", parents=[plan_args, common], help="the plan's DAG as dot or mermaid")
    graph.add_argument("--output", metavar="DIR", help="base directory of the prefixes; marks complete and failed nodes")
    graph.add_argument("--format", required=True, choices=["dot", "mermaid"])
    graph.add_argument("--collapse", choices=["auto", "always", "never"], default="auto",
                       help="one box per function and level (auto: for plans of more than 500 nodes)")
    graph.set_defaults(func=cmd_plan_graph)

    status = commands.add_parser("status", parents=[common], help="progress of a plan from its PlanHandle",
                                 description="The state and progress of a plan. Exit status: 0 success, "
                                             "1 failure, 3 pending or running, 4 unknown.")
    status.add_argument("handle", metavar="HANDLE_JSON", help="a PlanHandle JSON string, or @FILE")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(func=cmd_status)
    return parser


def _apply_muflow_switch() -> None:
    """With MUFLOW_NATIVE_AS_MUFLOW=1, the pipeline's module (and everything it imports)
    gets muflow_native for every `import muflow`."""
    value = os.environ.get(ENV_SWITCH, "")
    if value.strip().lower() in ("", "0", "false", "no", "off"):
        return
    if value.strip().lower() not in ("1", "true", "yes", "on"):
        raise CLIError(f"{ENV_SWITCH} must be 1 (on) or 0 (off), not {value!r}")
    try:
        install_as_muflow()
    except RuntimeError as exc:
        raise CLIError(f"{ENV_SWITCH}=1: {exc}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The `muflow` command; returns the exit status."""
    global _verbose
    argv = sys.argv[1:] if argv is None else list(argv)
    _verbose = "-v" in argv or "--verbose" in argv
    package_log = logging.getLogger("muflow_native")
    quiet_handler = logging.NullHandler()
    if _verbose:
        logging.basicConfig(level=logging.INFO, format="muflow: %(levelname)s: %(message)s")
    else:
        package_log.addHandler(quiet_handler)  # no "Node failed" log lines on top of our own
    try:
        args = build_parser().parse_args(argv)
        _apply_muflow_switch()
        return args.func(args)
    except CLIError as exc:
        sys.stderr.write(f"muflow: error: {exc}\n")
        return exc.code
    except KeyboardInterrupt:
        sys.stderr.write("muflow: error: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `muflow plan graph ... | head`: the reader left; say nothing.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK
    finally:
        package_log.removeHandler(quiet_handler)


if __name__ == "__main__":
    sys.exit(main())
