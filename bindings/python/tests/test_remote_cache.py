"""The stale-input check's fetching on S3 (moto's server over HTTP): manifests written
with their inputs, their digests found with one listing and a record object keyed by
each manifest's ETag, and the core's states of a plan's nodes. A record that is
absent, unreadable or outdated costs reads, never a wrong answer."""

import json

import pytest

import muflow_native as mf
from muflow_native import _ffi
from muflow_native.plan import plan_view
from muflow_native.storage.cache_rule import manifest_digests, node_inputs, node_state, plan_states
from muflow_native.storage.remote_cache import S3ManifestRecords, dependency_outputs, record_key
from muflow_native.storage.s3 import S3StorageBackend

from aws_support import bucket, s3, server  # noqa: F401 (fixtures)


def chain_plan(n: int = 12):
    """n items, then a total reading them all."""
    return mf.Pipeline(name="rc.chain", steps={
        "items": mf.ForEach(task="rc.item", over=lambda s, k: [{"i": i} for i in range(k["n"])]),
        "total": mf.Step(task="rc.total", after=["items"]),
    }).build_plan("s:1", {"n": n})


def write_node(s3, bucket, node, content: bytes, outputs: dict):
    """Stores one file and the manifest recording the node's inputs, as a worker does."""
    inputs = node_inputs(node.dependency_access_map, outputs)
    storage = S3StorageBackend(node.storage_prefix, bucket, s3, inputs=inputs)
    storage.save_file("out.bin", content)
    storage.write_manifest()
    return storage.manifest_entry


def write_plan(s3, bucket, plan):
    entries = {}
    items = [node for node in plan.nodes.values() if node.function == "rc.item"]
    for node in items:
        entries[node.storage_prefix] = write_node(s3, bucket, node, node.key.encode(), {})
    root = plan.nodes[plan.root_key]
    outputs = dependency_outputs(s3, bucket, root.dependency_access_map.values())
    assert outputs == {prefix: entry[1] for prefix, entry in entries.items()}
    write_node(s3, bucket, root, b"sum", outputs)
    return items, root


def test_a_manifest_records_its_inputs_and_the_node_state_follows_them(s3, bucket):
    plan = chain_plan(3)
    items, root = write_plan(s3, bucket, plan)
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"{root.storage_prefix}/manifest.json")["Body"].read())
    assert list(manifest["inputs"]) == list(root.dependency_access_map)
    assert manifest["inputs_sha256"] == manifest_digests(json.dumps(manifest, indent=2).encode())["inputs_sha256"]
    current = node_inputs(root.dependency_access_map, dependency_outputs(s3, bucket, root.dependency_access_map.values()))
    storage = S3StorageBackend(root.storage_prefix, bucket, s3, inputs=current)
    assert storage.is_cached() and not storage.stale
    s3.delete_object(Bucket=bucket, Key=f"{items[0].storage_prefix}/manifest.json")
    moved = node_inputs(root.dependency_access_map, dependency_outputs(s3, bucket, root.dependency_access_map.values()))
    storage = S3StorageBackend(root.storage_prefix, bucket, s3, inputs=moved)
    assert not storage.is_cached() and storage.stale
    assert node_state(None, moved) == _ffi.NODE_ABSENT
    # Without inputs, muflow's rule: the manifest's presence.
    assert S3StorageBackend(root.storage_prefix, bucket, s3).is_cached()
    assert manifest_digests(b"not a manifest") is None
    with pytest.raises(ValueError, match="inputs"):
        node_state(None, {"a": {"outputs_sha256": None}})


def test_the_record_spares_reads_and_a_wrong_one_cannot_mislead(s3, bucket):
    plan = chain_plan(12)
    items, root = write_plan(s3, bucket, plan)
    prefixes = [node.storage_prefix for node in plan.nodes.values()]
    index = list(plan.nodes).index
    key = record_key("muflow", plan.root_key)
    records = S3ManifestRecords(bucket, s3, key)
    truth = records.digests(prefixes)
    assert records.reads == 13 and set(truth) == set(prefixes)
    assert plan_states(plan_view(plan).native, truth) == [_ffi.NODE_CURRENT] * 13
    again = S3ManifestRecords(bucket, s3, key)
    assert again.digests(prefixes) == truth and again.reads == 0

    # A record whose ETags are not the manifests': read again, the truth restored.
    document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    zeros = "0" * 64
    document["entries"] = {p: f'"wrong-etag" {zeros} {zeros}' for p in document["entries"]}
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode())
    misled = S3ManifestRecords(bucket, s3, key)
    assert misled.digests(prefixes) == truth and misled.reads == 13
    # Unreadable, then absent: the same.
    s3.put_object(Bucket=bucket, Key=key, Body=b"{not json")
    assert S3ManifestRecords(bucket, s3, key).digests(prefixes) == truth
    s3.delete_object(Bucket=bucket, Key=key)
    assert S3ManifestRecords(bucket, s3, key).digests(prefixes) == truth
    # Entries given by a run (Redis) count only under the manifest's ETag.
    s3.delete_object(Bucket=bucket, Key=key)
    extra = {p: ('"other"', zeros, None) for p in prefixes}
    assert S3ManifestRecords(bucket, s3, key).digests(prefixes, extra) == truth

    # A manifest rewritten: its new ETag misses the record, and the total turns stale.
    first = items[0]
    write_node(s3, bucket, first, b"changed", {})
    changed = S3ManifestRecords(bucket, s3, key)
    digests = changed.digests(prefixes)
    assert changed.reads == 1
    states = plan_states(plan_view(plan).native, digests)
    assert states[index(root.key)] == _ffi.NODE_STALE
    assert states.count(_ffi.NODE_CURRENT) == 12
    s3.delete_object(Bucket=bucket, Key=f"{first.storage_prefix}/manifest.json")
    states = plan_states(plan_view(plan).native, S3ManifestRecords(bucket, s3, key).digests(prefixes))
    assert states[index(first.key)] == _ffi.NODE_ABSENT
    assert states[index(root.key)] == _ffi.NODE_RECHECK


def test_plan_states_refuse_malformed_digests():
    plan = chain_plan(2)
    with pytest.raises(ValueError, match="outputs_sha256"):
        plan_states(plan_view(plan).native, {next(iter(plan.nodes.values())).storage_prefix: {"outputs_sha256": "not hex"}})
