"""A Redis server and Celery workers as subprocesses, for the Celery tests and
bench/celery: each on a free loopback port or in its own process group, stopped (the
whole group) when done."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_group(process: subprocess.Popen, grace: float = 10.0) -> None:
    """Stops a process started with start_new_session, and everything in its group."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # children that outlived their parent
    except ProcessLookupError:
        pass
    process.wait()


class RedisServer:
    """redis-server in the foreground on a free loopback port, without persistence."""

    def __init__(self, port: int = 0):
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed (make system-packages installs it)")
        self.port = port or free_port()
        self.process = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            _stop_group(self.process)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


class Worker:
    """`celery -A celery_worker_app worker` in its own process group."""

    def __init__(self, redis_url: str, pool: str = "threads", concurrency: int = 2, log: str = "",
                 queues: str = "default,records,callbacks", app_module: str = "celery_worker_app",
                 python: str = sys.executable, extra_env: dict = None, pythonpath: str = str(TESTS)):
        self.name = f"w{uuid.uuid4().hex[:8]}@localhost"
        self.redis_url = redis_url
        env = dict(os.environ, MUFLOW_TEST_REDIS=redis_url, MUFLOW_TEST_LOG=log, PYTHONPATH=pythonpath,
                   **(extra_env or {}))
        command = [python, "-m", "celery", "-A", app_module, "worker", f"--pool={pool}", "-c", str(concurrency),
                   "--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", queues, "-n", self.name,
                   "-l", "warning"]
        self.output = open(os.path.join(os.environ.get("MUFLOW_TEST_WORKER_LOGS", "/tmp"),
                                        f"muflow-worker-{self.name}.log"), "wb")
        self.process = subprocess.Popen(command, cwd=pythonpath, env=env, stdout=self.output,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, app, timeout: float = 60) -> None:
        import redis
        from kombu.exceptions import OperationalError

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited with {self.process.returncode}; see {self.output.name}")
            try:
                if app.control.ping(destination=[self.name], timeout=0.5):
                    return
            except (redis.ConnectionError, OperationalError, OSError):  # an old connection, after a Redis restart
                time.sleep(0.1)
        raise RuntimeError(f"celery worker {self.name} did not answer within {timeout} s; see {self.output.name}")

    def kill(self) -> None:
        """SIGKILL to the whole group, as a crashed machine would."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.output.close()

    def stop(self) -> None:
        _stop_group(self.process)
        self.output.close()
