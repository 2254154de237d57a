"""Celery: muflow 0.4.0's backend against muflow_native's level and dependency modes,
on one Redis broker, the same worker settings and the same storage, in one run.

    .venv-test/bin/python bench/celery/run.py [--storage s3|local|both] [--nodes N]

Started here and stopped at the end: redis-server on a free loopback port, moto's S3
server (for S3 storage), and for each configuration one `celery worker` with two
threads (--pool=threads -c 2 --without-gossip --without-mingle --without-heartbeat).
muflow runs on S3 only (its only storage); muflow_native on S3 and on a shared
directory.

Cases:
- fan: N no-op nodes and the pipeline's sentinel root (N + 1 nodes, default 1,000),
  from submit_plan to the plan's end. Per-node overhead = makespan x worker threads /
  nodes: the worker time each no-op node costs.
- cached: the same plan submitted again, every node complete: the time submit_plan
  takes, the time to the plan's end, and the messages queued (Redis LPUSH calls);
  for muflow_native, also the time of a second such resubmission ("again").
- uneven: a 1.0 s task beside a chain of three 0.3 s tasks, then a join; its critical
  path is 1.0 s.

The end of a plan: muflow_native's handle state (success); for muflow, whose handle
state stays "pending", the result of its last group, read in this process. Reports
only: exits 0 whatever the numbers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python", "tests"))
sys.path.insert(0, HERE)
from celery_services import RedisServer, Worker, _stop_group, free_port  # noqa: E402

import bench_tasks  # noqa: E402

BUCKET = "muflow-bench"
GOALS = {"overhead": 5.0, "uneven": 1.5}
# How often the end of a plan is polled, for every configuration alike: often enough to
# be within 1% of a makespan of seconds, seldom enough that this process does not take
# the CPU the server and the worker need (at 5 ms, a tenth of a core).
POLL = 0.02


def start_moto() -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/", timeout=0.5)
            return process, url
        except Exception:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto server did not start")
            time.sleep(0.1)


def lpush_calls(client) -> int:
    return int(client.info("commandstats").get("cmdstat_lpush", {}).get("calls", 0))


class Config:
    """One way of running plans: muflow, or muflow_native in a mode, on one storage."""

    def __init__(self, name: str, library: str, mode: str, storage: str):
        self.name, self.library, self.mode, self.storage = name, library, mode, storage

    def backend(self, app, shared: str):
        """Each configuration has a bucket of its own, so that no listing reads another's keys."""
        bucket = f"{BUCKET}-{self.library}-{self.mode}"
        if self.storage == "s3":
            import boto3

            boto3.client("s3").create_bucket(Bucket=bucket)
        if self.library == "muflow":
            from muflow.backends.celery import CeleryBackend

            return CeleryBackend(app, bucket)
        import muflow_native

        if self.storage == "s3":
            return muflow_native.CeleryBackend(app, bucket, mode=self.mode)
        return muflow_native.CeleryBackend(app, shared_directory=shared, mode=self.mode)

    def lib(self):
        import muflow
        import muflow_native

        return muflow if self.library == "muflow" else muflow_native


def wait_done(config: Config, backend, handle, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    if config.library == "muflow":
        result = backend._plan_results[handle.plan_id]
        while not result.ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{config.name}: plan not finished after {timeout} s")
            time.sleep(POLL)
        if result.failed():
            raise RuntimeError(f"{config.name}: plan failed")
        return
    while True:
        state = handle.get_state()
        if state == "success":
            return
        if state == "failure" or time.monotonic() > deadline:
            raise RuntimeError(f"{config.name}: plan {state} ({timeout} s)")
        time.sleep(POLL)


def submit_and_wait(config: Config, backend, plan) -> tuple[float, float]:
    """Seconds until the plan is done, and until submit_plan returned."""
    started = time.perf_counter()
    handle = backend.submit_plan(plan)
    submitted = time.perf_counter()
    wait_done(config, backend, handle)
    return time.perf_counter() - started, submitted - started


def run_config(config: Config, app, redis_server, env: dict, nodes: int, shared: str) -> dict:
    module = "muflow_worker" if config.library == "muflow" else "native_worker"
    worker = Worker(redis_server.url, queues="default,callbacks", app_module=module, pythonpath=HERE, extra_env=env)
    results = {}
    try:
        worker.wait_ready(app)
        lib = config.lib()
        backend = config.backend(app, shared)
        subject = f"bench:{uuid.uuid4().hex[:8]}"
        # A first small plan, so that connections and imports are warm on both sides.
        warm = bench_tasks.fan(lib).build_plan(subject, {"n": 2})
        wait_done(config, backend, backend.submit_plan(warm))

        plan = bench_tasks.fan(lib).build_plan(subject, {"n": nodes - 1})
        results["fan"], results["fan submit"] = submit_and_wait(config, backend, plan)

        pushes = lpush_calls(redis_server_client(redis_server))
        results["cached"], results["cached submit"] = submit_and_wait(config, backend, plan)
        results["cached queued"] = lpush_calls(redis_server_client(redis_server)) - pushes
        if config.library != "muflow":
            # Once more: the manifests' digests are known (record object, previous run).
            results["cached again"], _ = submit_and_wait(config, backend, plan)

        results["uneven"], _ = submit_and_wait(config, backend, bench_tasks.uneven(lib).build_plan(subject, {}))
    finally:
        worker.stop()
    return results


_clients = {}


def redis_server_client(server):
    import redis

    if server.port not in _clients:
        _clients[server.port] = redis.Redis(port=server.port)
    return _clients[server.port]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--storage", choices=["s3", "local", "both"], default="both")
    parser.add_argument("--nodes", type=int, default=1000)
    args = parser.parse_args()
    try:
        import muflow_native.storage.s3  # noqa: F401

        native_s3 = True
    except ImportError:
        native_s3 = False
    storages = {"s3": ["s3"], "local": ["local"], "both": ["s3", "local"]}[args.storage]

    redis_server = RedisServer()
    moto, moto_url = start_moto()
    shared = tempfile.mkdtemp(prefix="muflow-bench-celery-")
    env = {"AWS_ENDPOINT_URL": moto_url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "MUFLOW_TEST_WORKER_LOGS": shared}
    os.environ.update(env)
    os.environ["MUFLOW_TEST_REDIS"] = redis_server.url
    try:
        from celery import Celery

        import muflow
        import muflow_native

        bench_tasks.register(muflow)
        bench_tasks.register(muflow_native)
        app = Celery("bench", broker=redis_server.url, backend=redis_server.url)
        app.conf.update(task_default_queue="default", broker_connection_retry_on_startup=True)
        muflow_native.PlanHandle.configure_celery(app)

        configs = [Config("muflow 0.4.0 (s3)", "muflow", "levels", "s3")]
        for storage in storages:
            if storage == "s3" and not native_s3:
                print("muflow_native on S3: skipped, muflow_native.storage.s3 is not available")
                continue
            for mode in ("levels", "dependencies"):
                configs.append(Config(f"native {mode} ({storage})", "native", mode, storage))
        print(f"Celery, {args.nodes} no-op nodes; redis-server, moto S3, one worker of 2 threads per configuration")
        table = {}
        for config in configs:
            table[config.name] = run_config(config, app, redis_server, env, args.nodes, shared)
            r = table[config.name]
            print(f"  {config.name:28} fan {r['fan']:7.3f} s (submit {r['fan submit']:.3f} s, "
                  f"{r['fan'] * 2 / args.nodes * 1000:6.2f} ms a node)  cached {r['cached']:6.3f} s "
                  f"(submit {r['cached submit']:.3f} s, {r['cached queued']} queued"
                  f"{', again %.3f s' % r['cached again'] if 'cached again' in r else ''})  uneven {r['uneven']:.3f} s",
                  flush=True)
        report(table, args.nodes)
    finally:
        _stop_group(moto)
        redis_server.stop()
        shutil.rmtree(shared, ignore_errors=True)


def report(table: dict, nodes: int) -> None:
    base = table["muflow 0.4.0 (s3)"]
    print("\nRatios against muflow 0.4.0 (higher is better for muflow_native):")
    for name, r in table.items():
        if name == "muflow 0.4.0 (s3)":
            continue
        print(f"  {name:28} per-node overhead {base['fan'] / r['fan']:5.1f}x   cached resubmission "
              f"{base['cached'] / r['cached']:6.1f}x   uneven DAG {base['uneven'] / r['uneven']:4.2f}x")
    print("\nGoals (dependency mode):")
    for name, r in table.items():
        if "dependencies" not in name:
            continue
        overhead, uneven = base["fan"] / r["fan"], base["uneven"] / r["uneven"]
        print(f"  {name}: per-node overhead {overhead:.1f}x lower (goal {GOALS['overhead']}x): "
              f"{'met' if overhead >= GOALS['overhead'] else 'NOT met'}; uneven DAG {uneven:.2f}x shorter "
              f"(goal {GOALS['uneven']}x): {'met' if uneven >= GOALS['uneven'] else 'NOT met'}; cached resubmission "
              f"of {nodes} nodes {r['cached']:.3f} s with {r['cached queued']} queued (goal: under 1 s, none): "
              f"{'met' if r['cached'] < 1.0 and r['cached queued'] == 0 else 'NOT met'}")


if __name__ == "__main__":
    main()
