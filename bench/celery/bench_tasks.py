"""The bench's tasks, registered with whichever library a worker or the submitter
imports as `lib`: a no-op, a sleep, and the pipelines' names (their sentinel roots;
muflow's worker refuses a task it does not know, even a sentinel)."""

import time

FAN = "bench.fan"


def register(lib) -> dict:
    names = {}

    def add(name, fn):
        lib.register_task(name)(fn)
        names[name] = lib.registry.get(name)

    add("bench.noop", lambda context: None)
    add("bench.sleep", lambda context: time.sleep(context.kwargs["seconds"]))
    add(FAN, lambda context: None)
    return names


def fan(lib):
    """kwargs["n"] no-op nodes joined by the sentinel root: n + 1 nodes."""
    return lib.Pipeline(name=FAN, steps={"each": lib.ForEach(task="bench.noop",
                                                               over=lambda s, k: [{"i": i} for i in range(k["n"])])})


def uneven(lib):
    """A 1.0 s task beside a chain of three 0.3 s tasks, then a join: 1.0 s of
    critical path (plus the join) over four levels."""
    sleep = "bench.sleep"
    return lib.Pipeline(name="bench.uneven", steps={
        "long": lib.Step(task=sleep, kwargs_map=lambda s, k: {"seconds": 1.0, "part": "long"}),
        "a": lib.Step(task=sleep, kwargs_map=lambda s, k: {"seconds": 0.3, "part": "a"}),
        "b": lib.Step(task=sleep, after=["a"], kwargs_map=lambda s, k: {"seconds": 0.3, "part": "b"}),
        "c": lib.Step(task=sleep, after=["b"], kwargs_map=lambda s, k: {"seconds": 0.3, "part": "c"}),
        "join": lib.Step(task="bench.noop", after=["long", "c"]),
    })
