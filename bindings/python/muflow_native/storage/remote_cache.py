"""The stale-input check on S3: fetching what the native core's rule needs.

The rule (mf_plan_cache_states, mf_node_cache_state) lives in the core; this module
only fetches manifests' digests and hands them over. A node's manifest records its
inputs (each dependency's prefix and the fingerprint of its outputs); a node is cached
when the record matches its dependencies' current manifests, or when there is no
record (muflow's manifests).

A plan's check needs every manifest's digests. Reading 1,000 manifests costs 1,000
GETs, so a record object in the bucket keeps each prefix's digests under the ETag of
the manifest they were read from; ListObjectsV2 returns every manifest's ETag, and
only manifests whose ETag the record does not know are read. The record is a cache
keyed by the manifest's content hash: a missing, unreadable or outdated record costs
GETs, never a wrong answer.
"""

from __future__ import annotations

import hashlib
import json
from ctypes import byref, c_int, c_void_p
from typing import Iterable, Optional

from .. import _ffi

#: A record entry: (manifest ETag, outputs_sha256, inputs_sha256 or None).
Entry = tuple


def manifest_digests(body: bytes) -> Optional[dict]:
    """``{"outputs_sha256", "inputs_sha256"}`` of a manifest's bytes; None when they are
    not a manifest."""
    out = c_void_p()
    _ffi.check(_ffi.mf_manifest_digests(byref(out), body, len(body)))
    return json.loads(_ffi.take_string(out)) if out.value else None


def node_state(manifest: Optional[bytes], inputs: dict) -> int:
    """The core's state of one node (_ffi.NODE_ABSENT, NODE_CURRENT or NODE_STALE)."""
    state = c_int()
    text = json.dumps(inputs).encode("utf-8", "surrogatepass")
    _ffi.check(_ffi.mf_node_cache_state(byref(state), manifest, len(manifest or b""), text))
    return state.value


def plan_states(plan, digests: dict) -> list:
    """The core's state of every node of the native `plan`, in its order, from the
    digests of the manifests found (prefix -> mf_manifest_digests' dict)."""
    text = json.dumps(digests).encode("utf-8", "surrogatepass")
    return json.loads(_ffi.call_returning_string(_ffi.mf_plan_cache_states, plan._native, text))


def node_inputs(access_map: dict, outputs: dict) -> dict:
    """A node's inputs in the manifest's form, from its access map (in the plan's
    order) and each dependency prefix's outputs fingerprint (None: no manifest)."""
    return {key: {"prefix": prefix, "outputs_sha256": outputs.get(prefix)} for key, prefix in access_map.items()}


def encode_entry(entry: Entry) -> str:
    return f"{entry[0]} {entry[1]} {entry[2] or '-'}"


def decode_entry(text) -> Optional[Entry]:
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    parts = text.split(" ") if isinstance(text, str) else ()
    if len(parts) != 3:
        return None
    return parts[0], parts[1], None if parts[2] == "-" else parts[2]


def entry_of(etag: str, body: bytes) -> Optional[Entry]:
    digests = manifest_digests(body)
    return None if digests is None else (etag, digests["outputs_sha256"], digests["inputs_sha256"])


def read_manifest(s3, bucket: str, prefix: str) -> Optional[tuple[str, bytes]]:
    """(ETag, bytes) of a node's manifest, or None when it has none."""
    from .s3 import is_missing

    try:
        response = s3.get_object(Bucket=bucket, Key=f"{prefix}/manifest.json")
    except Exception as exc:
        if is_missing(exc):
            return None
        raise
    return response.get("ETag", ""), response["Body"].read()


def dependency_outputs(s3, bucket: str, prefixes: Iterable[str], known: Optional[dict] = None) -> dict:
    """Each dependency prefix's outputs fingerprint (None: no manifest): from `known`
    (prefix -> Entry, e.g. what a run recorded in Redis), else read from its manifest."""
    known = known or {}
    outputs, missing = {}, []
    for prefix in dict.fromkeys(prefixes):
        entry = known.get(prefix)
        if entry is not None:
            outputs[prefix] = entry[1]
        else:
            missing.append(prefix)
    for prefix, found in zip(missing, _map(lambda p: read_manifest(s3, bucket, p), missing)):
        entry = entry_of(*found) if found is not None else None
        outputs[prefix] = entry[1] if entry is not None else None
    return outputs


def _map(function, items: list) -> list:
    if len(items) <= 2:
        return [function(item) for item in items]
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(items))) as pool:
        return list(pool.map(function, items))


def record_key(base_prefix: str, root_key: str) -> str:
    """Where the record object of the plan with this root is kept."""
    return f"{base_prefix}/_records/{hashlib.sha256(root_key.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}.json"


class S3ManifestRecords:
    """The digests of a plan's manifests in a bucket: listed with their ETags, looked up
    in the record object at `key` (and in `extra` entries, such as a Celery run's), and
    read only where neither knows the ETag. The record is rewritten when manifests were
    read."""

    def __init__(self, bucket: str, s3_client, key: str):
        self._bucket = bucket
        self._s3 = s3_client
        self._key = key
        #: Manifests read (GET) by the last call, for tests and benchmarks.
        self.reads = 0
        #: prefix -> Entry of every manifest found by the last call.
        self.entries: dict = {}

    def digests(self, prefixes: list, extra: Optional[dict] = None) -> dict:
        """prefix -> digests of every prefix holding a manifest."""
        from .progress import S3ProgressChecker

        etags = S3ProgressChecker(self._bucket, self._s3).manifest_etags(prefixes)
        record = self._load()
        entries = {}
        unknown = []
        for prefix, etag in etags.items():
            entry = record.get(prefix)
            if entry is None or entry[0] != etag:
                entry = (extra or {}).get(prefix)
            if entry is not None and entry[0] == etag:
                entries[prefix] = entry
            else:
                unknown.append(prefix)
        self.reads = len(unknown)
        for prefix, found in zip(unknown, _map(lambda p: read_manifest(self._s3, self._bucket, p), unknown)):
            entry = entry_of(*found) if found is not None else None
            if entry is not None:
                entries[prefix] = entry
        self.entries = entries
        # Rewritten only after reads: entries given in `extra` are kept by their giver.
        if self.reads and any(record.get(p) != e for p, e in entries.items()):
            self._save({**record, **entries})
        return {p: {"outputs_sha256": e[1], "inputs_sha256": e[2]} for p, e in entries.items()}

    def _load(self) -> dict:
        found = read_object(self._s3, self._bucket, self._key)
        if found is None:
            return {}
        try:
            document = json.loads(found)
            entries = document["entries"] if document.get("format") == "muflow-manifest-record/1" else {}
            return {p: e for p, e in ((p, decode_entry(t)) for p, t in entries.items()) if e is not None}
        except (ValueError, TypeError, AttributeError, KeyError):
            return {}

    def _save(self, entries: dict) -> None:
        body = json.dumps({"format": "muflow-manifest-record/1",
                           "entries": {p: encode_entry(e) for p, e in sorted(entries.items())}}, indent=0)
        self._s3.put_object(Bucket=self._bucket, Key=self._key, Body=body.encode("utf-8"),
                            ContentType="application/json")


def read_object(s3, bucket: str, key: str) -> Optional[bytes]:
    """An object's bytes, or None when it is absent."""
    from .s3 import is_missing

    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:
        if is_missing(exc):
            return None
        raise
