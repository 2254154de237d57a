"""Which nodes of a Celery plan are cached at submission: the core's stale-input rule
(mf_plan_cache_states) over the digests of the nodes' manifests: in S3, found with one
listing, the plan's record object and the previous run's entries in Redis (see
storage/remote_cache.py); in a shared directory, read from the complete manifests."""

from __future__ import annotations

from .. import _ffi
from ..plan import plan_view
from ..storage.cache_rule import entry_of, plan_states
from ..storage.remote_cache import S3ManifestRecords, record_key


def submission_states(storage, plan, base_prefix: str, runs, identity: str) -> tuple[list, dict]:
    """(the state of each node, in the plan's order; prefix -> Entry of the manifests
    found)."""
    view = plan_view(plan)
    prefixes = view.prefixes
    if storage.kind != "s3":
        # A shared directory: the complete manifests (every file of its recorded size),
        # each read whole.
        entries = {}
        for prefix in storage.completed(prefixes):
            found = storage.manifest(prefix)
            entry = entry_of(*found) if found is not None else None
            if entry is not None:
                entries[prefix] = entry
        digests = {p: {"outputs_sha256": e[1], "inputs_sha256": e[2]} for p, e in entries.items()}
        return plan_states(view.native, digests), entries

    records = S3ManifestRecords(storage.location, storage.s3_client(), record_key(base_prefix, plan.root_key))
    digests = records.digests(prefixes, runs.previous_outputs(identity))
    return plan_states(view.native, digests), records.entries


def settled_entries(plan, states: list, entries: dict) -> dict:
    """The entries of the nodes settled as cached: what their dependents' check reads."""
    prefixes = plan_view(plan).prefixes
    return {prefixes[i]: entries[prefixes[i]] for i, s in enumerate(states)
            if s == _ffi.NODE_CURRENT and prefixes[i] in entries}
