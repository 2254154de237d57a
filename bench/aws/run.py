"""Step Functions and S3: muflow 0.4.0 against muflow_native, side by side in one run.

    .venv-test/bin/python bench/aws/run.py [--quick]

(a) The state machine for the seed's ML pipeline at N = 10, 100, 1,000 and 10,000
    datasets: its size, its worst-case history and the time to generate it (muflow:
    _compute_levels + _build_asl + json.dumps, as its submit_plan does, in a child
    process capped at LIMIT_S seconds and MEMORY_GB of address space; native: the
    compact layout from mf_plan_state_machine), and the size of the plan as stored for
    the Lambda invocations (mf_plan_store_json). AWS refuses a definition over 1 MB.
(b) S3 progress over 1,000 node prefixes on moto's server (started here in a process of
    its own, loopback): muflow's S3ProgressChecker (one HEAD after another) against
    ours, each with a fresh checker per round; also our two strategies alone (a HEAD per
    prefix on a thread pool; ListObjectsV2 over key ranges), to show which is used.
(c) A cached resubmission of a 100-node fan-out on moto's server: leaving cached nodes
    out before the start (what submit_plan does: one listing, and the record object of
    the manifests' digests) against starting every node and letting the handler check
    it (a GET of its manifest and of its dependencies'); Lambda routed in-process as in
    the tests.

Reports only: exits 0 whatever the numbers.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python", "tests"))
from seed_pipelines import ml_pipeline  # noqa: E402

QUICK = "--quick" in sys.argv
LIMIT_S = 120.0
MEMORY_GB = 8
AWS_DEFINITION_LIMIT = 1_048_576
AWS_HISTORY_LIMIT = 25_000
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:muflow-worker"
ROLE_ARN = "arn:aws:iam::123456789012:role/muflow"


def ml_kwargs(n):
    return {"datasets": [f"dataset_{i:05d}" for i in range(n)]}


def muflow_definition(n: int) -> dict:
    """In a child process: muflow's definition for ML N (its plan read from the native
    plan's JSON, which muflow reads as its own: muflow's build_plan of N=10,000 alone
    takes minutes)."""
    import muflow
    from muflow.backends.step_functions import StepFunctionsBackend

    import muflow_native

    text = ml_pipeline(muflow_native).build_plan("experiment:1", ml_kwargs(n)).to_json()
    plan = muflow.TaskPlan.from_json(text)
    backend = StepFunctionsBackend(FUNCTION_ARN, "bucket", ROLE_ARN, sfn_client=object())
    start = time.perf_counter()
    levels = backend._compute_levels(plan)
    definition = json.dumps(backend._build_asl(levels, plan))
    elapsed = time.perf_counter() - start
    return {"bytes": len(definition.encode("utf-8")), "seconds": elapsed}


def muflow_in_child(n: int):
    code = (f"import sys, json; sys.path[:0] = {sys.path[:2]!r}; "
            f"sys.argv = ['run.py']; import importlib.util as u; "
            f"s = u.spec_from_file_location('bench_aws', {os.path.abspath(__file__)!r}); m = u.module_from_spec(s); "
            f"s.loader.exec_module(m); print(json.dumps(m.muflow_definition({n})))")

    def cap():
        limit = MEMORY_GB * 2**30
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=LIMIT_S,
                              preexec_fn=cap)
    except subprocess.TimeoutExpired:
        return f"not finished in {LIMIT_S:.0f} s"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"{last[:40]} (cap {MEMORY_GB} GB)" if "MemoryError" in last else f"failed: {last[:50]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def definitions():
    import muflow_native
    from muflow_native import _ffi
    from muflow_native.plan import plan_view
    from muflow_native.backends.step_functions import state_machine

    print("(a) State machine of the seed's ML pipeline (AWS limits: 1,048,576-byte definition, 25,000 events)")
    print(f"{'N':>7} {'nodes':>7} | {'muflow bytes':>14} {'muflow s':>9} | {'native bytes':>12} {'events':>7} "
          f"{'maps i/d':>8} {'native ms':>9} {'stored plan':>12} | {'size ratio':>10} {'time ratio':>10}")
    for n in ([10, 100] if QUICK else [10, 100, 1_000, 10_000]):
        plan = ml_pipeline(muflow_native).build_plan("experiment:1", ml_kwargs(n))
        options = {"function_arn": FUNCTION_ARN, "bucket": "bucket", "plan_key": "muflow/_plans/p/plan.json"}
        best = None
        for _ in range(3):
            start = time.perf_counter()
            machine = state_machine(plan, options)
            elapsed = time.perf_counter() - start
            best = elapsed if best is None else min(best, elapsed)
        stored = len(_ffi.call_returning_bytes(_ffi.mf_plan_store_json, plan_view(plan).native))
        theirs = muflow_in_child(n)
        if isinstance(theirs, dict):
            over = " (over 1 MB: AWS refuses)" if theirs["bytes"] > AWS_DEFINITION_LIMIT else ""
            their_bytes, their_s = f"{theirs['bytes']:,}", f"{theirs['seconds']:.2f}"
            ratios = f"{theirs['bytes'] / machine['definition_bytes']:>10.0f} {theirs['seconds'] / best:>10.0f}"
        else:
            over, their_bytes, their_s, ratios = "", theirs, "", ""
        fits = machine["definition_bytes"] <= AWS_DEFINITION_LIMIT and machine["history_events"] <= AWS_HISTORY_LIMIT
        print(f"{n:>7,} {len(plan.nodes):>7,} | {their_bytes:>14} {their_s:>9} | {machine['definition_bytes']:>12,} "
              f"{machine['history_events']:>7,} {machine['inline_maps']:>3}/{machine['distributed_maps']:<4} "
              f"{best * 1000:>9.1f} {stored:>12,} | {ratios}{over}{'' if fits else '  NATIVE OVER A LIMIT'}")


def seeded_bucket(s3, bucket: str, count: int, done_every: int = 10):
    """`count` node prefixes like a plan's (two task parents, 16 hex digits each), each
    with two files; nine in ten with a manifest."""
    import hashlib

    from muflow_native.storage.s3 import S3StorageBackend

    prefixes = []
    for i in range(count):
        task = "ml.compute_features" if i % 2 else "ml.loo_cv"
        prefix = f"muflow/{task}/{hashlib.sha256(str(i).encode()).hexdigest()[:16]}"
        storage = S3StorageBackend(prefix, bucket, s3)
        storage.save_json("context.json", {}, allow_protected=True)
        storage.save_text("result.txt", "x")
        if i % done_every:
            storage.write_manifest()
        prefixes.append(prefix)
    return prefixes


def timed(function, rounds=3):
    best, result = None, None
    for _ in range(rounds):
        start = time.perf_counter()
        result = function()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


class MotoProcess:
    """moto's server in a process of its own on a free loopback port, as S3 is a server
    of its own: its work and the client's do not share one interpreter's lock."""

    def __enter__(self):
        import socket
        import urllib.request

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("moto's server did not start")
                time.sleep(0.1)
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(30)


def progress():
    from muflow.storage.progress import S3ProgressChecker as TheirChecker

    from muflow_native.storage.progress import S3ProgressChecker

    class HeadOnly(S3ProgressChecker):
        LIST_THRESHOLD = 10**9

    class ListOnly(S3ProgressChecker):
        LIST_THRESHOLD = 1

    import boto3

    count = 200 if QUICK else 1_000
    with MotoProcess() as server:
        saved = os.environ.get("AWS_ENDPOINT_URL")
        os.environ.update(AWS_ENDPOINT_URL=server.endpoint, AWS_ACCESS_KEY_ID="testing",
                          AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
        try:
            s3 = boto3.client("s3")
            s3.create_bucket(Bucket="progress")
            prefixes = seeded_bucket(s3, "progress", count)
            checkers = {"muflow": TheirChecker, "native": S3ProgressChecker, "heads": HeadOnly, "lists": ListOnly}
            best = {name: None for name in checkers}
            results = {}
            names = list(checkers)
            for round_ in range(len(names)):  # interleaved, each first once: load and order fall on all alike
                for name in names[round_:] + names[:round_]:
                    checker = checkers[name]
                    seconds, results[name] = timed(lambda: checker("progress").completed_prefixes(prefixes), 1)
                    best[name] = seconds if best[name] is None else min(best[name], seconds)
        finally:
            if saved is None:
                os.environ.pop("AWS_ENDPOINT_URL", None)
            else:
                os.environ["AWS_ENDPOINT_URL"] = saved
    assert all(r == results["muflow"] for r in results.values()) and len(results["muflow"]) == count - count // 10
    theirs = best["muflow"]
    print(f"\n(b) S3 progress over {count:,} prefixes (3 files each, 9 in 10 complete) on moto's server in its own "
          f"process (best of 4, interleaved in turn; a fresh checker each round)")
    print(f"  muflow 0.4.0 (HEAD after HEAD)         {theirs * 1000:9.1f} ms")
    print(f"  native (as shipped)                    {best['native'] * 1000:9.1f} ms   "
          f"{theirs / best['native']:5.1f}x faster (goal >= 5x)")
    print(f"    HEAD per prefix, {S3ProgressChecker.MAX_WORKERS} threads           {best['heads'] * 1000:9.1f} ms   "
          f"{theirs / best['heads']:5.1f}x")
    print(f"    ListObjectsV2 over key ranges        {best['lists'] * 1000:9.1f} ms   {theirs / best['lists']:5.1f}x")


def resubmission(server):
    import muflow_native as mf
    from muflow_native.backends.step_functions import StepFunctionsBackend, create_lambda_handler
    from muflow_native.registry import TaskEntry
    from muflow_native.storage import progress as progress_module

    from aws_support import lambda_routed_to, make_lambda_function, wait_for_execution

    s3, sfn = server.client("s3"), server.client("stepfunctions")
    s3.create_bucket(Bucket="resubmit")
    function, role = make_lambda_function(server, "bench-worker")
    tasks = {"b.noop": TaskEntry(name="b.noop", fn=lambda context: context.save_text("out.txt", "x"))}
    count = 30 if QUICK else 100
    plan = mf.Pipeline(name="b.fan", steps={
        "items": mf.ForEach(task="b.noop", over=lambda s, k: [{"i": i} for i in range(k["n"])]),
    }).build_plan("b:1", {"n": count})
    backend = StepFunctionsBackend(function, "resubmit", role, sfn_client=sfn, s3_client=s3)

    def run():
        handle = backend.submit_plan(plan)
        assert wait_for_execution(sfn, handle.plan_id, 600)["status"] == "SUCCEEDED"

    print(f"\n(c) Cached resubmission of a {count}-node fan-out on moto's server (submit until SUCCEEDED)")
    with lambda_routed_to(create_lambda_handler(tasks, s3_client=s3)) as seen:
        run()
        fresh = len(seen)
        before_s, _ = timed(run, rounds=2)
        left_out = len(seen) - fresh
        # No manifest found at submission: every node is shipped, and its Lambda skips it.
        original = progress_module.S3ProgressChecker.manifest_etags
        progress_module.S3ProgressChecker.manifest_etags = lambda self, prefixes: {}
        try:
            mark = len(seen)
            handler_s, _ = timed(run, rounds=2)
            skipped = len(seen) - mark
        finally:
            progress_module.S3ProgressChecker.manifest_etags = original
    print(f"  left out before the start (shipped)  {before_s:7.2f} s   Lambda invocations: {left_out // 2}")
    print(f"  skipped by the handler               {handler_s:7.2f} s   Lambda invocations: {skipped // 2}"
          f"   ({handler_s / before_s:.1f}x slower)")


def main():
    print(f"# bench/aws: {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs"
          f"{', quick' if QUICK else ''}")
    definitions()
    sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python", "tests"))
    from aws_support import MotoServer

    progress()
    server = MotoServer().start()
    try:
        resubmission(server)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
