"""S3 storage on moto's server (over HTTP): the rules of local storage, the manifest,
caches shared with muflow 0.4.0 in both directions, and progress checks."""

import hashlib
import json

import pytest

import muflow_native as mf
from muflow_native.storage.progress import S3ProgressChecker, make_progress_checker
from muflow_native.storage.s3 import S3StorageBackend

from aws_support import bucket, s3, server  # noqa: F401 (fixtures)


class CountingClient:
    """An S3 client that records each call it passes on, and each listing page."""

    def __init__(self, client):
        self._client = client
        self.calls = []
        self.pages = []

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            self.calls.append(name)
            response = attribute(*args, **kwargs)
            if name == "list_objects_v2":
                self.pages.append(response)
            return response

        return call


def keys(s3, bucket, prefix=""):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def test_files_and_manifest_with_sizes_and_digests(s3, bucket):
    storage = S3StorageBackend("muflow/t/abc", bucket, s3)
    storage.save_file("data.bin", b"\x00\x01\x02")
    storage.save_text("notes/readme.txt", "héllo")
    storage.save_json("result.json", {"a": 1})
    assert not storage.is_cached()
    storage.write_manifest()
    assert storage.is_cached()
    manifest = json.loads(storage.read_file("manifest.json"))
    assert manifest["files"] == ["data.bin", "notes/readme.txt", "result.json"]
    body = storage.read_file("notes/readme.txt")
    assert manifest["file_sizes"]["notes/readme.txt"] == len(body) == len("héllo".encode())
    assert manifest["file_sha256"]["data.bin"] == hashlib.sha256(b"\x00\x01\x02").hexdigest()
    assert storage.read_json("result.json") == {"a": 1}
    assert storage.open_file("notes/readme.txt").read() == "héllo"
    assert storage.written_files == frozenset(manifest["files"])


def test_manifest_is_the_native_one(tmp_path, s3, bucket):
    """The same files give the same manifest (timestamp aside) locally and in S3."""
    local = mf.LocalStorageBackend(tmp_path)
    remote = S3StorageBackend("p/q", bucket, s3)
    for storage in (local, remote):
        storage.save_file("x.bin", b"12345")
        storage.save_json("y.json", [1, 2])
        storage.write_manifest()
    from_disk = json.loads((tmp_path / "manifest.json").read_text())
    from_s3 = json.loads(remote.read_file("manifest.json"))
    from_disk.pop("timestamp"), from_s3.pop("timestamp")
    assert from_disk == from_s3


def test_write_once_and_protected_names(s3, bucket):
    storage = S3StorageBackend("muflow/t/once", bucket, s3)
    storage.save_file("a.txt", b"1")
    with pytest.raises(FileExistsError, match="already been written"):
        storage.save_file("a.txt", b"2")
    for name in ("manifest.json", "context.json"):
        with pytest.raises(PermissionError, match="protected"):
            storage.save_json(name, {})
    storage.save_json("context.json", {"k": 1}, allow_protected=True)
    assert storage.read_file("a.txt") == b"1"
    assert keys(s3, bucket) == ["muflow/t/once/a.txt", "muflow/t/once/context.json"]


@pytest.mark.parametrize("name, error", [
    ("../escape.txt", "Path traversal"),
    ("a/../../escape.txt", "Path traversal"),
    ("/etc/passwd", "Absolute paths"),
    ("bad\0name", "NUL"),
    ("", "empty"),
])
def test_hostile_names_are_refused_before_any_s3_call(s3, bucket, name, error):
    client = CountingClient(s3)
    storage = S3StorageBackend("muflow/t/hostile", bucket, client)
    for write in (lambda: storage.save_file(name, b"x"), lambda: storage.save_text(name, "x"),
                  lambda: storage.save_json(name, {}), lambda: storage.read_file(name),
                  lambda: storage.exists(name), lambda: storage.open_file(name)):
        with pytest.raises(ValueError, match=error):
            write()
    assert client.calls == []
    assert keys(s3, bucket) == []


def test_dependency_storage_is_read_only(s3, bucket):
    S3StorageBackend("dep", bucket, s3).save_file("out.txt", b"made")
    dependency = S3StorageBackend("dep", bucket, s3, allowed_outputs=set())
    assert dependency.read_file("out.txt") == b"made"
    with pytest.raises(PermissionError, match="read-only"):
        dependency.save_file("more.txt", b"x")
    restricted = S3StorageBackend("node", bucket, s3, allowed_outputs={"model.json"})
    with pytest.raises(PermissionError, match="declared in outputs"):
        restricted.save_file("other.txt", b"x")
    restricted.save_json("model.json", {})
    assert keys(s3, bucket) == ["dep/out.txt", "node/model.json"]


def test_failed_upload_gives_the_name_back(s3, bucket):
    storage = S3StorageBackend("p", "no-such-bucket-here", s3)
    with pytest.raises(Exception, match="NoSuchBucket"):
        storage.save_file("a.txt", b"1")
    assert storage.written_files == frozenset()


def test_prefix_from_hash_dict_matches_muflow(s3, bucket):
    from muflow.storage.s3 import S3StorageBackend as TheirS3

    ours = S3StorageBackend(bucket=bucket, s3_client=s3, hash_dict={"task": "t", "x": 1.5}, base_prefix="b")
    theirs = TheirS3(bucket=bucket, s3_client=s3, hash_dict={"task": "t", "x": 1.5}, base_prefix="b")
    assert ours.storage_prefix == theirs.storage_prefix


def test_caches_interchange_with_muflow(s3, bucket):
    from muflow.storage.s3 import S3StorageBackend as TheirS3

    theirs = TheirS3("by-muflow", bucket, s3)
    theirs.save_file("a.txt", b"A")
    theirs.write_manifest()
    assert S3StorageBackend("by-muflow", bucket, s3).is_cached()

    ours = S3StorageBackend("by-native", bucket, s3)
    ours.save_file("a.txt", b"A")
    assert not TheirS3("by-native", bucket, s3).is_cached()
    ours.write_manifest()
    assert TheirS3("by-native", bucket, s3).is_cached()
    assert TheirS3("by-native", bucket, s3).read_file("a.txt") == b"A"


def test_default_client_sends_small_bodies_without_waiting_for_continue(server, bucket):
    from muflow_native.storage import s3 as s3_storage

    client = s3_storage.default_s3_client()
    sent = []

    def record(request, **_):
        sent.append(request.headers.get("Expect"))

    client.meta.events.register("before-send.s3.PutObject", record)  # after the client's own handler
    try:
        storage = S3StorageBackend("muflow/expect/a", bucket, client)
        storage.save_file("small.bin", b"x" * 1000)
        storage.save_file("large.bin", b"x" * s3_storage.HANDSHAKE_FROM)
        storage.write_manifest()
    finally:
        client.meta.events.unregister("before-send.s3.PutObject", record)
    assert sent == [None, b"100-continue", None]
    assert S3StorageBackend("muflow/expect/a", bucket, client).read_file("large.bin") == b"x" * s3_storage.HANDSHAKE_FROM
    assert S3StorageBackend("muflow/expect/a", bucket, client).is_cached()


def test_is_cached_is_one_head_request(s3, bucket):
    client = CountingClient(s3)
    assert not S3StorageBackend("p", bucket, client).is_cached()
    assert client.calls == ["head_object"]


def test_progress_checker_lists_and_probes(s3, bucket):
    done, pending = [], []
    for i in range(40):  # many under one parent: listed
        prefix = f"muflow/many/{i:04x}"
        if i % 3 == 0:
            S3StorageBackend(prefix, bucket, s3).write_manifest()
            done.append(prefix)
        else:
            S3StorageBackend(prefix, bucket, s3).save_file("partial.txt", b"x")
            pending.append(prefix)
    for i in range(3):  # few under their parents: probed
        prefix = f"muflow/few{i}/0000"
        S3StorageBackend(prefix, bucket, s3).write_manifest()
        done.append(prefix)
    pending.append("muflow/few9/0000")
    # Keys outside the plan's range under the same parent are not taken for its nodes.
    S3StorageBackend("muflow/many/zzzz", bucket, s3).write_manifest()
    checker = S3ProgressChecker(bucket, s3)
    assert checker.completed_prefixes(done + pending) == set(done)
    client = CountingClient(s3)
    S3ProgressChecker(bucket, client).completed_prefixes(done + pending)
    assert client.calls.count("list_objects_v2") == 1 and client.calls.count("head_object") == 4
    assert checker.completed_prefixes([]) == set()


def test_progress_listing_returns_manifests_only_across_pages(server, s3, bucket, monkeypatch):
    from muflow.storage.progress import S3ProgressChecker as TheirChecker

    names = ["a", "context.json", "x-context.json", "manifest.json", "z"] + [f"n{i:02d}" for i in range(12)]
    prefixes, done = [f"muflow/roll/{name}" for name in names], set()
    for i, prefix in enumerate(prefixes):
        storage = S3StorageBackend(prefix, bucket, s3)
        storage.save_json("context.json", {"i": i}, allow_protected=True)
        storage.save_file("out.txt", b"x")
        s3.put_object(Bucket=bucket, Key=f"{prefix}/context.json.bak", Body=b"x")
        if i % 2 == 0:
            storage.write_manifest()
            done.add(prefix)
    monkeypatch.setattr(S3ProgressChecker, "KEYS_PER_NODE", 1)  # pages of len(names) entries
    client = CountingClient(s3)
    assert S3ProgressChecker(bucket, client).completed_prefixes(prefixes) == done
    assert TheirChecker(bucket).completed_prefixes(prefixes) == done
    listed = [item["Key"] for page in client.pages for item in page.get("Contents", ())]
    assert len(client.pages) > 1
    assert {f"{prefix}/manifest.json" for prefix in done} <= set(listed)
    assert not [key for key in listed if "/context.json" in key[len("muflow/roll/"):]]


def test_progress_checker_agrees_with_muflow(server, s3, bucket):
    from muflow.storage.progress import S3ProgressChecker as TheirChecker

    prefixes = [f"muflow/task/{i:03d}" for i in range(30)]
    for prefix in prefixes[::4]:
        S3StorageBackend(prefix, bucket, s3).write_manifest()
    assert make_progress_checker("s3", {"bucket": bucket}).completed_prefixes(prefixes) == \
        TheirChecker(bucket).completed_prefixes(prefixes)


def test_plan_handle_progress_on_s3(s3, bucket):
    handle = mf.PlanHandle(backend="step_functions", plan_id="arn:x", storage_type="s3",
                           storage_config={"bucket": bucket},
                           node_prefixes={"a": "muflow/t/a", "b": "muflow/t/b", "c": "muflow/u/c"})
    S3StorageBackend("muflow/t/b", bucket, s3).write_manifest()
    progress = handle.get_progress()
    assert (progress.total, progress.completed) == (3, 1)
    assert progress.node_breakdown == {"a": False, "b": True, "c": False}
    with pytest.raises(ValueError, match="storage_type"):
        make_progress_checker("ftp", {})
