"""The package's layering, read from its source: no import cycle between its modules
(function-level imports included), and TaskPlan's private members used by plan.py
alone (the rest of the package goes through plan_view)."""

import ast
import os

import muflow_native

PACKAGE = "muflow_native"
ROOT = os.path.dirname(os.path.abspath(muflow_native.__file__))


def _modules() -> dict[str, str]:
    """Dotted module name to file, for every module of the package."""
    found = {}
    for directory, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                dotted = PACKAGE + "." + os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                found[dotted.removesuffix(".__init__")] = path
    return found


MODULES = _modules()
TREES = {name: ast.parse(open(path, encoding="utf-8").read(), path) for name, path in MODULES.items()}


def _imported(module: str, node) -> list[str]:
    """The package modules an import statement of `module` loads: a submodule when a
    name it imports is one, else the module it imports from."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        package = module if MODULES[module].endswith("__init__.py") else module.rpartition(".")[0]
        parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
        source = ".".join(parts + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    return [f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source for a in node.names]


def import_graph() -> dict[str, set[str]]:
    """Module to the package modules it imports anywhere (top level, functions, under
    TYPE_CHECKING too: a cycle there is still a cycle in the design)."""
    graph = {name: set() for name in MODULES}
    for name, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[name].update(t for t in _imported(name, node) if t in MODULES and t != name)
    return graph


def find_cycle(graph: dict[str, set[str]]):
    """One cycle of `graph` as a list of modules, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_graph_sees_function_level_imports():
    # The graph would miss the cycles the test is for if it read top-level imports only.
    graph = import_graph()
    assert "muflow_native.io.xarray" in graph["muflow_native.storage.local"]
    assert f"{PACKAGE}._node_run" in graph[f"{PACKAGE}.executor"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_between_the_package_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


# Function-level imports of package modules that stay: _version.py is written into the
# package when it is built, and a checkout reads pyproject.toml instead.
LAZY_ON_PURPOSE = {("muflow_native._ffi", "muflow_native._version")}


def test_package_modules_are_imported_at_module_top():
    late = set()
    for name, tree in TREES.items():
        for function in ast.walk(tree):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(function):
                    if isinstance(node, (ast.Import, ast.ImportFrom)):
                        late.update((name, t) for t in _imported(name, node)
                                    if t == PACKAGE or t.startswith(PACKAGE + "."))
    assert late == LAZY_ON_PURPOSE


def test_running_a_node_is_a_leaf_shared_by_the_backends():
    graph = import_graph()
    leaf = f"{PACKAGE}._node_run"
    assert not any(t.startswith(f"{PACKAGE}.backends") or t == f"{PACKAGE}.executor" for t in graph[leaf])
    for user in ("executor", "backends._process_pool", "backends._node_tasks"):
        top_level = {t for node in TREES[f"{PACKAGE}.{user}"].body if isinstance(node, (ast.Import, ast.ImportFrom))
                     for t in _imported(f"{PACKAGE}.{user}", node)}
        assert leaf in top_level, user


def _task_plan_private_names() -> set[str]:
    """TaskPlan's private members: those its class body defines and those its methods
    assign on self."""
    tree = TREES[f"{PACKAGE}.plan"]
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "TaskPlan")
    names = set()
    for node in ast.walk(cls):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node is not cls:
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self" \
                and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Assign) and node in cls.body:
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def private_uses(module: str, private: set[str], tree=None) -> list[str]:
    """Where `module` reads or writes one of `private` on an object other than its own
    self/cls, directly or through getattr/hasattr/setattr with a literal name."""
    found = []
    for node in ast.walk(tree or TREES[module]):
        name = None
        if isinstance(node, ast.Attribute) and node.attr in private:
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                name = node.attr
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("getattr", "hasattr", "setattr") and len(node.args) >= 2 \
                and isinstance(node.args[1], ast.Constant) and node.args[1].value in private:
            name = node.args[1].value
        if name is not None:
            found.append(f"{module}:{node.lineno} {name}")
    return found


def test_task_plan_private_members_are_found():
    private = _task_plan_private_names()
    assert {"_view", "_plan_handle", "_from_native"} <= private
    assert "nodes" not in private and "__init__" not in private
    sample = ast.parse("plan._view.keys\ngetattr(plan, '_plan_handle')\nself._view\n")
    TREES["<sample>"] = sample
    try:
        assert sorted(private_uses("<sample>", private)) == ["<sample>:1 _view", "<sample>:2 _plan_handle"]
    finally:
        del TREES["<sample>"]


def test_no_module_but_plan_touches_task_plan_private_members():
    private = _task_plan_private_names()
    uses = [use for module in MODULES if module != f"{PACKAGE}.plan" for use in private_uses(module, private)]
    assert uses == []


def test_the_tests_and_benches_use_plan_view_too():
    here = os.path.dirname(os.path.abspath(__file__))
    private = _task_plan_private_names()
    uses = []
    for directory in (here, os.path.join(here, "..", "..", "..", "bench")):
        for parent, _, files in os.walk(directory):
            for name in sorted(files):
                if name.endswith(".py") and name != os.path.basename(__file__):
                    path = os.path.join(parent, name)
                    tree = ast.parse(open(path, encoding="utf-8").read(), path)
                    uses += private_uses(os.path.relpath(path, here), private, tree)
    assert uses == []
