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

import concurrent.futures
import hashlib
import json
from typing import Iterable, Optional

from .cache_rule import decode_entry, dependency_outputs_read, encode_entry, entry_of
from .progress import S3ProgressChecker
from .s3 import read_manifest, read_object


def dependency_outputs(s3, bucket: str, prefixes: Iterable[str], known: Optional[dict] = None) -> dict:
    """Each dependency prefix's outputs fingerprint (None: no manifest): from `known`
    (prefix -> Entry, e.g. what a run recorded in Redis), else read from its manifest."""
    return dependency_outputs_read(prefixes, known,
                                   lambda missing: _map(lambda p: read_manifest(s3, bucket, p), missing))


def _map(function, items: list) -> list:
    if len(items) <= 2:
        return [function(item) for item in items]
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(items))) as pool:
        return list(pool.map(function, items))


def record_key(base_prefix: str, root_key: str) -> str:
    """Where the record object of the plan with this root is kept."""
    return f"{base_prefix}/_records/{hashlib.sha256(root_key.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}.json"


class S3ManifestRecords:
    """The digests of a plan's manifests in a bucket: listed with their ETags, looked up
    in the record object at `key` (and in `extra` entries, such as a Celery run's), and
    read only where neither knows the ETag. The record is rewritten when manifests were
    read. test_remote_cache.py keeps this path in agreement with reading every
    manifest."""

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
