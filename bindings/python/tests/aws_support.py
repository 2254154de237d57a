"""AWS for the tests: moto's server, started on a free loopback port and reached over
HTTP by boto3 (endpoint_url, dummy credentials), with Step Functions executing state
machines.

The one seam: moto without Docker cannot run a Lambda function's code (its no-Docker
Lambda backend echoes the event back). `lambda_routed_to(handler)` replaces that
backend's `invoke` while it is active, so that each invocation moto's state machine
executor makes (over HTTP, as in AWS) runs `handler(event, None)` in this process: a
returned value becomes the response payload, a raised exception a function error
("Unhandled", with errorType and errorMessage), as Lambda reports them. Everything else
(S3, Step Functions, IAM, the executor, the Lambda API) is moto's own server.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import threading
import time
import urllib.request
import uuid
import zipfile

import pytest

REGION = "us-east-1"
CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


class MotoServer:
    """moto's ThreadedMotoServer on 127.0.0.1 and a free port, configured to execute
    state machines; boto3 clients made while it runs reach it through the environment
    (AWS_ENDPOINT_URL), and moto's executor reaches it through MOTO_PORT."""

    def __init__(self):
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._saved_env: dict = {}

    def start(self) -> "MotoServer":
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self._set_env({
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": self.endpoint, "MOTO_PORT": str(port),
        })
        request = urllib.request.Request(f"{self.endpoint}/moto-api/config", data=json.dumps(CONFIG).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(request, timeout=30).read()
        return self

    def stop(self) -> None:
        self._server.stop()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def reset(self) -> None:
        """Forgets every resource (buckets, state machines, functions)."""
        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"),
                               timeout=30).read()
        request = urllib.request.Request(f"{self.endpoint}/moto-api/config", data=json.dumps(CONFIG).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(request, timeout=30).read()

    def client(self, service: str):
        import boto3

        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint)

    def _set_env(self, values: dict) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value


# Fixtures for a test module that uses S3 alone: import them by name (server, s3, bucket).
@pytest.fixture(scope="module")
def server():
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def s3(server):
    return server.client("s3")


@pytest.fixture
def bucket(s3):
    name = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def make_lambda_function(server: MotoServer, name: str = "muflow-worker") -> tuple[str, str]:
    """Creates the function (and an IAM role for it and for Step Functions); returns
    (function ARN, role ARN)."""
    iam = server.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": ["lambda.amazonaws.com",
                                                                               "states.amazonaws.com"]}}]}
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("worker.py", "from muflow_native.backends.step_functions import create_lambda_handler\n"
                                "handler = create_lambda_handler()\n")
    function = server.client("lambda").create_function(
        FunctionName=name, Runtime="python3.11", Role=role, Handler="worker.handler",
        Code={"ZipFile": archive.getvalue()})["FunctionArn"]
    return function, role


class Invocations:
    """What the routed handler was asked to do, for assertions."""

    def __init__(self):
        self._lock = threading.Lock()
        self.events: list[dict] = []

    def add(self, event: dict) -> None:
        with self._lock:
            self.events.append(event)

    def __len__(self) -> int:
        with self._lock:
            return len(self.events)


@contextlib.contextmanager
def lambda_routed_to(handler):
    """moto's no-Docker Lambda backend runs `handler` in-process while active (see the
    module's docstring). Yields the Invocations seen."""
    from moto.awslambda_simple.models import LambdaSimpleBackend

    seen = Invocations()

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        event = json.loads(body) if body else {}
        seen.add(event)
        try:
            result = handler(event, None)
        except Exception as exc:  # Lambda reports a raised exception as a function error
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode("utf-8")
        return json.dumps(result).encode("utf-8")

    original = LambdaSimpleBackend.invoke
    LambdaSimpleBackend.invoke = invoke
    try:
        yield seen
    finally:
        LambdaSimpleBackend.invoke = original


def wait_for_execution(sfn, execution_arn: str, limit_seconds: float = 300) -> dict:
    """describe_execution once the execution has left RUNNING (polled; bounded)."""
    deadline = time.monotonic() + limit_seconds
    while True:
        description = sfn.describe_execution(executionArn=execution_arn)
        if description["status"] != "RUNNING":
            return description
        if time.monotonic() > deadline:
            raise AssertionError(f"execution still RUNNING after {limit_seconds} s: {execution_arn}")
        time.sleep(0.05)
