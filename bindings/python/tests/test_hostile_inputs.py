"""Hostile names, prefixes, dependency keys and sizes: each is refused with a clear error
of the right class, nothing lands outside its base, and legitimate muflow names (dotted
task names, absolute or relative base prefixes) keep working as in muflow 0.4.0.

Where a prefix is formed (``{base_prefix}/{task}/{digest}``):
- ``compute_prefix`` is muflow's pure function, text for text; it checks nothing.
- Registering a task and declaring a step check the task name (not empty, not absolute,
  no ``.``/``..`` component, no NUL); building a plan checks every node's label (task
  name or "task" kwarg) for a ``..`` component and refuses an empty base_prefix.
- ``LocalStorageBackend(path, hash_dict, base_prefix)`` refuses a prefix that would not
  be inside ``path`` (absolute, ``..``), in the native storage.
"""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

import muflow
import muflow_native as mn
from muflow_native import LocalBackend, TaskPlan, compute_prefix
from muflow_native.context.task import create_local_context
from muflow_native.storage import LocalStorageBackend

ESCAPING_TASK_NAMES = ["../x", "/x", "", "..", ".", "a/..", "a/../../x", "./t", "t\x00"]
DOTTED_TASK_NAMES = ["pkg.module.task", "a..b", "..pkg", "pkg..", "group/task", "x.y/z.w"]


def _listing(directory):
    return sorted(os.listdir(directory))


# -- compute_prefix stays muflow's text ------------------------------------------------


@pytest.mark.parametrize("hash_dict, base", [({"task": "../x"}, "muflow"), ({"task": "t"}, ""),
                                             ({"task": "t"}, "/abs"), ({"task": "t"}, "../up")])
def test_compute_prefix_is_text_only_and_matches_muflow(hash_dict, base):
    assert compute_prefix(hash_dict, base) == muflow.compute_prefix(hash_dict, base)


# -- LocalStorageBackend(path, hash_dict, base_prefix) ----------------------------------


@pytest.mark.parametrize("base_prefix, problem", [
    ("../x", "'..' path component"),
    ("..", "'..' path component"),
    ("a/../../x", "'..' path component"),
    ("/x", "is absolute"),
    ("", "is absolute"),
])
def test_storage_refuses_a_base_prefix_outside_its_path(tmp_path, base_prefix, problem):
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(ValueError) as error:
        LocalStorageBackend(root, hash_dict={"task": "t", "i": 1}, base_prefix=base_prefix)
    message = str(error.value)
    assert "storage prefix" in message and problem in message and str(root) in message
    assert _listing(tmp_path) == ["root"] and _listing(root) == []


@pytest.mark.parametrize("label", ["../x", "..", "a/../../x"])
def test_storage_refuses_a_task_label_that_climbs_out(tmp_path, label):
    with pytest.raises(ValueError, match=r"'\.\.' path component"):
        LocalStorageBackend(tmp_path, hash_dict={"task": label})
    assert _listing(tmp_path) == []


def test_storage_prefix_with_nul_is_refused(tmp_path):
    with pytest.raises(ValueError, match="storage prefix must not contain a NUL byte"):
        LocalStorageBackend(tmp_path, hash_dict={"task": "t\x00u"})


@pytest.mark.parametrize("task", DOTTED_TASK_NAMES + ["/x"])
@pytest.mark.parametrize("base_prefix", ["muflow", "a/b", "muflow/"])
def test_storage_keeps_legitimate_prefixes_inside_the_path(tmp_path, task, base_prefix):
    storage = LocalStorageBackend(tmp_path, hash_dict={"task": task, "i": 1}, base_prefix=base_prefix)
    expected = tmp_path / muflow.compute_prefix({"task": task, "i": 1}, base_prefix)
    assert storage.storage_prefix == str(expected)
    assert os.path.realpath(expected).startswith(str(tmp_path) + os.sep)
    storage.save_file("out.txt", b"x")
    assert (expected / "out.txt").read_bytes() == b"x"


# -- Registration and pipelines ----------------------------------------------------------


@pytest.mark.parametrize("name", ESCAPING_TASK_NAMES)
def test_registering_an_unsafe_task_name_is_refused(name):
    with pytest.raises(ValueError) as error:
        mn.register_task(name)(lambda context: None)
    message = str(error.value)
    if name == "":
        assert message.startswith("task name must not be empty")
    elif "\x00" in name:
        assert message == "task name 't\\0' must not contain a NUL byte"
    else:
        assert message.startswith(f"task name '{name}' must not ")
        assert ("start with '/'" if name.startswith("/") else "path component") in message
    assert mn.registry.get(name) is None


@pytest.mark.parametrize("name", DOTTED_TASK_NAMES)
def test_dotted_task_names_register_and_build_as_in_muflow(tasks, name):
    tasks(name)
    ours = mn.Pipeline(name="p", steps={"s": mn.Step(task=name)}).build_plan("k", {"i": 1})
    theirs = muflow.Pipeline(name="p", steps={"s": muflow.Step(task=name)}).build_plan("k", {"i": 1})
    assert ours.to_json() == theirs.to_json()


@pytest.mark.parametrize("name", [n for n in ESCAPING_TASK_NAMES if "\x00" not in n])
def test_a_step_with_an_unsafe_task_name_is_refused(name):
    pipeline = mn.Pipeline(name="p", steps={"first": mn.Step(task="ok.task"), "bad": mn.Step(task=name)})
    with pytest.raises(ValueError) as error:
        pipeline.build_plan("k", {})
    expected = "task name of step 'bad' must not be empty" if name == "" else f"task name '{name}' of step 'bad' must not"
    assert str(error.value).startswith(expected)


@pytest.mark.parametrize("label", ["../x", "..", "a/../../x", "x/.."])
def test_a_task_kwarg_that_climbs_out_is_refused(label):
    """muflow labels a node by its "task" kwarg when there is one; muflow builds such a
    plan (pinned below), muflow_native refuses it."""
    pipeline = mn.Pipeline(name="p", steps={"s": mn.ForEach(task="t", over=lambda s, k: [{"i": 0}, {"task": label}])})
    with pytest.raises(ValueError) as error:
        pipeline.build_plan("k", {})
    message = str(error.value)
    assert f"the label '{label}'" in message and "'..' path component" in message and "'muflow'" in message
    theirs = muflow.Pipeline(name="p", steps={"s": muflow.ForEach(task="t", over=lambda s, k: [{"task": label}])})
    assert any(f"/{label}/" in key for key in theirs.build_plan("k", {}).nodes)


@pytest.mark.parametrize("label", ["/x", "", ".", "a//b", "nul\x00"])
def test_task_kwargs_that_stay_inside_the_base_build_as_in_muflow(label):
    def build(lib):
        return lib.Pipeline(name="p", steps={"s": lib.Step(task="t", kwargs_map=lambda s, k: {"task": label})}
                            ).build_plan("k", {})
    assert build(mn).to_json() == build(muflow).to_json()


def test_a_sentinel_named_to_climb_out_is_refused():
    pipeline = mn.Pipeline(name="../p", steps={"s": mn.ForEach(task="t", over=lambda s, k: [{"i": 0}, {"i": 1}])})
    with pytest.raises(ValueError, match=r"the label '\.\./p' of a node of task '\.\./p'"):
        pipeline.build_plan("k", {})
    # With one node in the last step there is no sentinel, and nothing to refuse.
    single = mn.Pipeline(name="../p", steps={"s": mn.Step(task="t")})
    assert len(single.build_plan("k", {}).nodes) == 1


def test_a_plan_base_prefix_is_the_callers_choice_as_in_muflow():
    """The base of a plan is where the caller puts it: absolute, relative, climbing, even
    empty (prefixes at the filesystem root); only a storage that resolves a prefix under
    a directory of its own refuses one that would leave it (tests above)."""
    def build(lib, base):
        return lib.Pipeline(name="p", steps={"s": lib.Step(task="t")}).build_plan("k", {}, base_prefix=base)
    for base in ["/abs/out", "../rel", "muflow", "a/b/", ""]:
        assert build(mn, base).to_json() == build(muflow, base).to_json()
    assert next(iter(build(mn, "").nodes)).startswith("/t/")


# -- Dependencies ------------------------------------------------------------------------


@pytest.fixture
def context_with_dependency(tmp_path):
    dep = tmp_path / "dep"
    create_local_context(str(dep), {}).save_json("features.json", {"x": 1})
    (tmp_path / "secret.txt").write_text("secret")
    return create_local_context(str(tmp_path / "me"), {}, {"features:0": str(dep)}), tmp_path


@pytest.mark.parametrize("key", ["..", "../secret.txt", "/etc", "features:0/..", "features:0/../..", "a\x00b", ""])
def test_access_keys_are_never_paths(context_with_dependency, key):
    context, _ = context_with_dependency
    assert not context.has_dependency(key)
    with pytest.raises(KeyError, match="Unknown dependency"):
        context.dependency(key)


@pytest.mark.parametrize("name, error, problem", [
    ("../secret.txt", ValueError, "Path traversal"),
    ("../../secret.txt", ValueError, "Path traversal"),
    ("/etc/passwd", ValueError, "Absolute paths"),
    ("features.json\x00", ValueError, "NUL"),
    ("", ValueError, "empty"),
])
def test_reading_a_dependency_stays_in_its_directory(context_with_dependency, name, error, problem):
    context, _ = context_with_dependency
    dependency = context.dependency("features:0")
    assert dependency.read_json("features.json") == {"x": 1}
    for read in (dependency.read_file, dependency.exists, dependency.open_file):
        with pytest.raises(error, match=problem):
            read(name)


def test_a_symlink_in_a_dependency_does_not_lead_out(context_with_dependency):
    context, tmp_path = context_with_dependency
    os.symlink(tmp_path / "secret.txt", tmp_path / "dep" / "link.txt")
    with pytest.raises(PermissionError, match="link.txt"):
        context.dependency("features:0").read_file("link.txt")


def test_dependencies_are_read_only(context_with_dependency):
    context, tmp_path = context_with_dependency
    with pytest.raises(PermissionError, match="read-only"):
        context.dependency("features:0").save_file("planted.txt", b"x")
    assert not (tmp_path / "dep" / "planted.txt").exists()


def _plan_with_access_map(base, access_map_of):
    """A two-step plan (a -> b) whose b node's dependency_access_map is replaced by
    `access_map_of(a_prefix)`, through the plan JSON as a stored plan would be."""
    pipeline = mn.Pipeline(name="p", steps={"a": mn.Step(task="hostile.a"), "b": mn.Step(task="hostile.b", after=["a"])})
    document = json.loads(pipeline.build_plan("k", {}, base_prefix=str(base)).to_json())
    a_prefix = next(n["storage_prefix"] for n in document["nodes"].values() if n["function"] == "hostile.a")
    for node in document["nodes"].values():
        if node["function"] == "hostile.b":
            node["dependency_access_map"] = access_map_of(a_prefix)
    return TaskPlan.from_json(json.dumps(document))


def test_hostile_access_keys_through_a_local_run(tmp_path, tasks):
    """Keys that look like paths are only keys: each reaches the directory it maps to;
    file names read through them are checked; writes are refused."""
    seen = {}

    def producer(context):
        context.save_text("out.txt", "from a")

    def consumer(context):
        for key in context.dependency_keys():
            dependency = context.dependency(key)
            seen[key] = dependency.read_file("out.txt")
            for name in ("../out.txt", "/etc/passwd", "..", "a\x00"):
                with pytest.raises(ValueError):
                    dependency.read_file(name)
            with pytest.raises(PermissionError):
                dependency.save_file("planted.txt", b"x")
        with pytest.raises(KeyError):
            context.dependency("../" + context.dependency_keys()[0])

    tasks("hostile.a", producer)
    tasks("hostile.b", consumer)
    keys = ["..", "/etc/passwd", "a\x00b", "a/../../b"]
    plan = _plan_with_access_map(tmp_path / "out", lambda prefix: {key: prefix for key in keys})
    LocalBackend(str(tmp_path), workers=1).submit_plan(plan)
    assert seen == {key: b"from a" for key in keys}
    assert not any(name == "planted.txt" for _, _, files in os.walk(tmp_path) for name in files)


def test_a_dependency_prefix_with_nul_fails_the_node_clearly(tmp_path, tasks):
    tasks("hostile.a", lambda context: None)
    tasks("hostile.b", lambda context: context.dependency("a").read_file("x"))
    plan = _plan_with_access_map(tmp_path / "out", lambda prefix: {"a": prefix + "\x00/../../etc"})
    with pytest.raises(RuntimeError, match="storage path must not contain a NUL byte"):
        LocalBackend(str(tmp_path), workers=1).submit_plan(plan)


# -- A 1 GiB value -----------------------------------------------------------------------

GIB = 1 << 30

# The peak is VmHWM: a child's ru_maxrss starts at its parent's resident size.
_MEASURE = textwrap.dedent("""
    import json, sys
    import muflow_native as mn

    def peak_mib():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024

    kind, where = sys.argv[1], sys.argv[2]
    value = b"x" * {size} if kind == "bytes" else "x" * {size}
    before = peak_mib()
    try:
        if where == "compute_prefix":
            mn.compute_prefix({{"task": "t", "v": value}})
        elif where == "build_plan":
            mn.Pipeline(name="p", steps={{"s": mn.Step(task="t")}}).build_plan("k", {{"v": value}})
        else:
            mn.Pipeline(name="p", steps={{"s": mn.ForEach(task="t", over=lambda s, k: [{{"v": value}}])}}
                        ).build_plan("k", {{}})
        outcome = None
    except Exception as error:
        outcome = [type(error).__name__, str(error)]
    print(json.dumps({{"outcome": outcome, "extra_mib": peak_mib() - before}}))
""")


def _measure(kind, where):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    result = subprocess.run([sys.executable, "-c", _MEASURE.format(size=GIB), kind, where],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("where", ["compute_prefix", "build_plan", "foreach_item"])
@pytest.mark.parametrize("kind", ["bytes", "str"])
def test_a_1_gib_value_is_refused_naming_the_limit_without_several_copies(kind, where):
    """The size limit (MF_MAX_VALUE_BYTES, 256 MiB) is applied to the encoded value as it
    is written: a bytes value is refused before any copy is made on the way to a plan;
    a str costs one transient copy (CPython's pickler encodes a large str to a new bytes
    before writing it); compute_prefix keeps its one-pass encoder (one copy at most)."""
    measured = _measure(kind, where)
    name, message = measured["outcome"]
    assert name == "ValueError"
    assert "over the limit of 268435456 bytes (MF_MAX_VALUE_BYTES, 256 MiB)" in message
    size = int(re.search(r"value is (?:at least )?(\d+) bytes encoded", message).group(1))
    assert size >= GIB
    copies = measured["extra_mib"] / (GIB / (1 << 20))
    print(f"{kind} via {where}: peak {measured['extra_mib']:.0f} MiB above the value ({copies:.2f} copies)")
    if kind == "bytes" and where != "compute_prefix":
        assert copies < 0.1
    else:
        assert copies < 1.2
