"""The task registry, compared with muflow 0.4.0's where behaviour is observable."""

import dataclasses
import threading
from typing import Annotated, Optional

import pydantic
import pytest

from muflow_native import registry
from muflow_native.registry import (
    AlreadyRegisteredException,
    IdentityKey,
    NotRegisteredException,
    RegistryError,
    TaskEntry,
    register_task,
)


def _snapshot_and_restore(module):
    saved = module.get_all()
    module.clear()
    yield module
    module.clear()
    for entry in saved.values():
        module._register_entry(entry)


@pytest.fixture(autouse=True)
def empty_registry():
    yield from _snapshot_and_restore(registry)


@pytest.fixture
def oracle():
    muflow_registry = pytest.importorskip("muflow.registry")
    yield from _snapshot_and_restore(muflow_registry)


def task(context):
    return None


# ── registration and lookup ─────────────────────────────────────────────────


def test_register_returns_function_and_records_entry():
    assert register_task("app.t")(task) is task
    entry = registry.get("app.t")
    assert entry == TaskEntry(name="app.t", fn=task)
    assert (entry.display_name, entry.queue, entry.parameters, entry.outputs, entry.identity_keys, entry.context_type) == (
        "", "default", None, None, None, "task")


def test_register_with_every_option():
    class Params(pydantic.BaseModel):
        x: int = 1

    class Outputs:
        files = {}

    register_task("app.t", display_name="T", queue="gpu", parameters=Params, outputs=Outputs, context="surface")(task)
    entry = registry.get("app.t")
    assert (entry.display_name, entry.queue, entry.parameters, entry.outputs, entry.context_type) == (
        "T", "gpu", Params, Outputs, "surface")


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        register_task("app.t", "Display")


def test_get_unknown_is_none():
    assert registry.get("nope") is None
    assert registry.get_by_display_name("nope") is None


def test_get_all_and_names_in_registration_order():
    for name in ("b", "a", "c"):
        register_task(name)(task)
    assert registry.get_names() == ["b", "a", "c"]
    everything = registry.get_all()
    assert list(everything) == ["b", "a", "c"] and everything["a"].name == "a"
    everything.clear()
    assert registry.get_names() == ["b", "a", "c"]


def test_get_by_display_name():
    register_task("app.t", display_name="Pretty")(task)
    assert registry.get_by_display_name("Pretty") is registry.get("app.t")
    register_task("app.u")(task)
    assert registry.get_by_display_name("") is None


def test_duplicate_name_raises_and_keeps_first():
    register_task("app.t", display_name="First")(task)
    with pytest.raises(AlreadyRegisteredException) as info:
        register_task("app.t", display_name="Second")(lambda c: None)
    assert info.value.name == "app.t"
    assert str(info.value) == "Task 'app.t' is already registered."
    assert registry.get("app.t").fn is task
    assert registry.get_by_display_name("Second") is None


def test_unregister():
    register_task("app.t", display_name="T")(task)
    registry.unregister("app.t")
    assert registry.get("app.t") is None and registry.get_by_display_name("T") is None
    register_task("app.t")(task)  # the name is free again


def test_unregister_unknown_raises():
    with pytest.raises(NotRegisteredException) as info:
        registry.unregister("app.none")
    assert info.value.name == "app.none"
    assert str(info.value) == "No task registered with name 'app.none'."


def test_unregister_keeps_display_name_taken_over_by_another_task():
    register_task("app.old", display_name="Shared")(task)
    register_task("app.new", display_name="Shared")(task)
    assert registry.get_by_display_name("Shared").name == "app.new"
    registry.unregister("app.old")
    assert registry.get_by_display_name("Shared").name == "app.new"


def test_clear():
    register_task("a", display_name="A")(task)
    registry.clear()
    assert registry.get_names() == [] and registry.get_all() == {} and registry.get_by_display_name("A") is None


def test_exception_hierarchy():
    assert issubclass(AlreadyRegisteredException, RegistryError)
    assert issubclass(NotRegisteredException, RegistryError)
    assert issubclass(RegistryError, Exception)


def test_parameters_must_be_a_pydantic_model():
    with pytest.raises(TypeError, match="pydantic"):
        register_task("app.t", parameters=dict)(task)
    assert registry.get("app.t") is None


def test_concurrent_registration():
    def register_many(start):
        for i in range(start, start + 200):
            register_task(f"t{i}")(task)

    threads = [threading.Thread(target=register_many, args=(k * 200,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(registry.get_names()) == sorted(f"t{i}" for i in range(800))


# ── identity keys ───────────────────────────────────────────────────────────


def _models(marker):
    """Parameter models, built with either library's IdentityKey marker."""

    class Base(pydantic.BaseModel):
        dataset_id: Annotated[int, marker()]
        label: str = ""

    class Child(Base):
        seed: Annotated[int, marker()] = 0
        comment: str = ""
        alpha: Annotated[float, pydantic.Field(gt=0), marker()] = 1.0

    class Reordered(pydantic.BaseModel):
        z: Annotated[str, marker()]
        a: Annotated[Optional[int], marker()] = None
        m: int = 0

    class Overriding(Base):
        label: Annotated[str, marker()] = ""

    class Unmarked(pydantic.BaseModel):
        x: int = 0

    class ClassNotInstance(pydantic.BaseModel):
        x: Annotated[int, marker] = 0

    class Empty(pydantic.BaseModel):
        pass

    return {"Base": Base, "Child": Child, "Reordered": Reordered, "Overriding": Overriding,
            "Unmarked": Unmarked, "ClassNotInstance": ClassNotInstance, "Empty": Empty}


EXPECTED_KEYS = {
    "Base": ["dataset_id"],
    "Child": ["dataset_id", "seed", "alpha"],
    "Reordered": ["z", "a"],
    "Overriding": ["dataset_id", "label"],
    "Unmarked": None,
    "ClassNotInstance": None,
    "Empty": None,
}


@pytest.mark.parametrize("model", EXPECTED_KEYS)
def test_identity_keys(model):
    register_task("app.t", parameters=_models(IdentityKey)[model])(task)
    assert registry.get("app.t").identity_keys == EXPECTED_KEYS[model]


@pytest.mark.parametrize("model", EXPECTED_KEYS)
def test_identity_keys_same_as_muflow(model, oracle):
    oracle.register_task("app.t", parameters=_models(oracle.IdentityKey)[model])(task)
    register_task("app.t", parameters=_models(IdentityKey)[model])(task)
    assert registry.get("app.t").identity_keys == oracle.get("app.t").identity_keys


def test_no_parameters_means_all_kwargs():
    register_task("app.t")(task)
    assert registry.get("app.t").identity_keys is None


def test_identity_key_marker():
    assert IdentityKey() == IdentityKey() and repr(IdentityKey()) == "IdentityKey()"


# ── same surface as muflow ──────────────────────────────────────────────────


def test_task_entry_fields_match_muflow(oracle):
    ours = [(f.name, f.default) for f in dataclasses.fields(TaskEntry)]
    theirs = [(f.name, f.default) for f in dataclasses.fields(oracle.TaskEntry)]
    assert ours == theirs


def test_messages_match_muflow(oracle):
    for name in ("x", "a'b", "ünï"):
        assert str(AlreadyRegisteredException(name)) == str(oracle.AlreadyRegisteredException(name))
        assert str(NotRegisteredException(name)) == str(oracle.NotRegisteredException(name))


def test_lookup_behaviour_matches_muflow(oracle):
    for module in (registry, oracle):
        module.register_task("b", display_name="B")(task)
        module.register_task("a")(task)
    assert registry.get_names() == oracle.get_names()
    assert (registry.get("zz"), registry.get_by_display_name("zz")) == (oracle.get("zz"), oracle.get_by_display_name("zz"))
    assert registry.get_by_display_name("B").name == oracle.get_by_display_name("B").name


# ── the mirror hooks ────────────────────────────────────────────────────────


def test_every_mutation_goes_through_one_hook(monkeypatch):
    calls = []
    monkeypatch.setattr(registry, "_on_registered", lambda entry: calls.append(("registered", entry.name)))
    monkeypatch.setattr(registry, "_on_unregistered", lambda name: calls.append(("unregistered", name)))
    monkeypatch.setattr(registry, "_on_cleared", lambda: calls.append(("cleared",)))
    register_task("a")(task)
    register_task("b")(task)
    with pytest.raises(AlreadyRegisteredException):
        register_task("a")(task)
    registry.unregister("a")
    with pytest.raises(NotRegisteredException):
        registry.unregister("a")
    registry.clear()
    assert calls == [("registered", "a"), ("registered", "b"), ("unregistered", "a"), ("cleared",)]


def test_failing_registration_hook_undoes_the_registration(monkeypatch):
    register_task("app.old", display_name="Shared")(task)

    def refuse(entry):
        raise RuntimeError("mirror refused")

    monkeypatch.setattr(registry, "_on_registered", refuse)
    with pytest.raises(RuntimeError, match="mirror refused"):
        register_task("app.new", display_name="Shared")(task)
    assert registry.get("app.new") is None
    assert registry.get_by_display_name("Shared").name == "app.old"


# ── context types (register_task(context=...) and the context factory) ──────


@pytest.fixture
def factory_module():
    from muflow_native.context import factory

    yield factory
    factory.set_context_factory(None)


def test_context_factory_semantics(factory_module):
    from muflow_native.context import build_typed_context, get_context_factory, set_context_factory

    base = object()
    calls = []

    def upgrade(context, context_type, context_data):
        calls.append((context, context_type, context_data))
        return ("typed", context_type)

    assert get_context_factory() is None
    assert build_typed_context(base, "surface", {"a": 1}) is base  # no factory
    set_context_factory(upgrade)
    assert get_context_factory() is upgrade
    assert build_typed_context(base, "task", {}) is base
    assert build_typed_context(base, "", {}) is base
    assert build_typed_context(base, None, {}) is base
    assert build_typed_context(base, "surface", {"a": 1}) == ("typed", "surface")
    assert build_typed_context(base, "surface", None) == ("typed", "surface")
    assert calls == [(base, "surface", {"a": 1}), (base, "surface", {})]
    set_context_factory(None)
    assert build_typed_context(base, "surface", {}) is base


def test_declared_context_type_selects_the_factory(factory_module):
    register_task("app.t", context="surface")(task)
    factory_module.set_context_factory(lambda base, kind, data: f"{kind}:{data['subject']}")
    entry = registry.get("app.t")
    assert factory_module.build_typed_context(object(), entry.context_type, {"subject": "s1"}) == "surface:s1"
