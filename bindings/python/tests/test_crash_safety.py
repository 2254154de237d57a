"""A process killed while a task writes leaves the node uncached; the rerun completes
it and its manifest lists exactly its files."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    import muflow_native as mn

    @mn.register_task("crash.write")
    def write(context):
        context.save_text("first.txt", "complete")
        if os.environ.get("CRASH_SLOW"):
            with open(os.environ["CRASH_READY"], "w") as f:
                f.write("ready")
            # Killed while this large file is being written.
            context.save_file("big.bin", b"x" * (256 << 20))
            time.sleep(60)
        context.save_text("last.txt", "done")

    pipeline = mn.Pipeline(name="crash.pipe", steps={"w": mn.Step(task="crash.write")})
    plan = pipeline.build_plan("s", {}, base_prefix=sys.argv[1])
    print(plan.nodes[plan.root_key].storage_prefix, flush=True)
    mn.LocalBackend(sys.argv[1]).submit_plan(plan)
    """
)


def test_sigkill_during_a_task_leaves_the_node_uncached(tmp_path):
    script = tmp_path / "crash_job.py"
    script.write_text(SCRIPT)
    ready = tmp_path / "ready"
    env = dict(os.environ, CRASH_SLOW="1", CRASH_READY=str(ready))
    victim = subprocess.Popen([sys.executable, str(script), str(tmp_path / "out")], env=env,
                              stdout=subprocess.PIPE, text=True)
    node = victim.stdout.readline().strip()
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.01)
    time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)

    assert os.path.exists(os.path.join(node, "first.txt"))
    big = os.path.join(node, "big.bin")
    assert not os.path.exists(big) or os.path.getsize(big) == 256 << 20, "no file is ever left half-written"
    assert not os.path.exists(os.path.join(node, "manifest.json")), "a killed node must not look cached"

    rerun = subprocess.run([sys.executable, str(script), str(tmp_path / "out")], capture_output=True, text=True,
                           env={k: v for k, v in os.environ.items() if not k.startswith("CRASH_")}, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    manifest = json.loads(open(os.path.join(node, "manifest.json")).read())
    assert manifest["files"] == ["context.json", "first.txt", "last.txt"]
    assert manifest["file_sizes"]["last.txt"] == 4
