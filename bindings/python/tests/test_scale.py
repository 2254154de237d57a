"""A 100,000-node plan builds and runs through LocalBackend in memory linear in its size.

The plan is a fan-in: a ForEach over N items, then one Step after it (N + 1 nodes, no-op
tasks). Each size runs in a fresh interpreter; its memory is the peak resident size
minus the resident size after imports, and memory per node at 100,000 nodes must be
within 1.5x of that at 10,000. The peak is the kernel's high-water mark, reset after
the imports (/proc/self/clear_refs) and read as VmHWM: ru_maxrss cannot serve, as a
child's ru_maxrss starts at its parent's resident size when it was forked (the kernel
carries it across exec), which hides a small run. Storage goes to /dev/shm when there
is one.
"""

import json
import os
import subprocess
import sys
import tempfile
import textwrap

_RUN = textwrap.dedent("""
    import json, os, sys, time

    import muflow_native as mn
    from muflow_native.storage.progress import LocalProgressChecker

    def peak_kib():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

    n, root = int(sys.argv[1]), sys.argv[2]
    mn.register_task("scale.item")(lambda context: None)
    mn.register_task("scale.sink")(lambda context: None)
    pipeline = mn.Pipeline(name="scale.pipeline", steps={
        "items": mn.ForEach(task="scale.item", over=lambda subject, kwargs: [{"i": i} for i in range(n)]),
        "sink": mn.Step(task="scale.sink", after=["items"]),
    })
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # the peak restarts from the current resident size
    base = peak_kib()
    started = time.perf_counter()
    plan = pipeline.build_plan("scale:1", {}, base_prefix=os.path.join(root, "muflow"))
    built = time.perf_counter()
    handle = mn.LocalBackend(base_path=root).submit_plan(plan)
    ran = time.perf_counter()
    done = LocalProgressChecker().completed_prefixes(list(handle.node_prefixes.values()))
    print(json.dumps({"nodes": len(plan.nodes), "completed": len(done), "state": handle.get_state(),
                      "base_kib": base, "extra_kib": peak_kib() - base,
                      "build_s": built - started, "run_s": ran - built}))
""")


def _storage_root() -> str:
    shm = "/dev/shm"
    parent = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    return tempfile.mkdtemp(prefix="muflow-scale-", dir=parent)


def _run(n: int) -> dict:
    root = _storage_root()
    try:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        result = subprocess.run([sys.executable, "-c", _RUN, str(n), root], capture_output=True, text=True,
                                env=env, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["rm", "-rf", root], check=True)


def test_a_100000_node_fan_in_builds_and_runs_in_linear_memory():
    small, large = _run(10_000), _run(100_000)
    for measured, n in ((small, 10_000), (large, 100_000)):
        assert measured["nodes"] == n + 1
        assert measured["completed"] == n + 1
        assert measured["state"] == "success"
        per_node = measured["extra_kib"] * 1024 / measured["nodes"]
        measured["per_node"] = per_node
        print(f"{measured['nodes']:>7} nodes: peak {measured['extra_kib'] / 1024:.1f} MiB above "
              f"{measured['base_kib'] / 1024:.0f} MiB after imports "
              f"({per_node:.0f} bytes/node), build {measured['build_s']:.2f} s, run {measured['run_s']:.2f} s")
    assert large["per_node"] <= 1.5 * small["per_node"], (small, large)
