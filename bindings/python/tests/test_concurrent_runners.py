"""Two processes running the same plan on the same base path at once execute every
node exactly once and both finish; a crashed runner's node is taken over."""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    import muflow_native as mn

    log = sys.argv[2]

    def work(context):
        with open(log, "a") as f:
            f.write(f"{context.storage_prefix}\\n")
        time.sleep(0.02)
        context.save_json("out.json", {"pid": os.getpid()})

    mn.register_task("race.leaf")(work)
    mn.register_task("race.sink")(work)
    pipeline = mn.Pipeline(name="race.pipe", steps={
        "leaf": mn.ForEach(task="race.leaf", over=lambda sk, kw: [{"i": i} for i in range(24)]),
        "sink": mn.Step(task="race.sink", after=["leaf"]),
    })
    plan = pipeline.build_plan("s", {}, base_prefix=sys.argv[1])
    mn.LocalBackend(sys.argv[1], workers=3).submit_plan(plan)
    print(len(plan.nodes))
    """
)


def test_two_runners_execute_each_node_once(tmp_path):
    script = tmp_path / "runner.py"
    script.write_text(SCRIPT)
    log = tmp_path / "executions.log"
    base = tmp_path / "out"
    runners = [subprocess.Popen([sys.executable, str(script), str(base), str(log)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [runner.communicate(timeout=120) for runner in runners]
    for runner, (out, err) in zip(runners, results):
        assert runner.returncode == 0, err
        assert out.strip() == "25"
    executions = log.read_text().splitlines()
    assert len(executions) == 25, "every node ran exactly once across both processes"
    assert len(set(executions)) == 25
    for prefix in executions:
        assert os.path.exists(os.path.join(prefix, "manifest.json"))
