"""The core's stale-input rule, for manifests fetched anywhere: their digests
(mf_manifest_digests) and the state of a node (mf_node_cache_state) or of every node of
a plan (mf_plan_cache_states). Python fetches and passes data; the core decides.

A record entry describes one manifest: (ETag, outputs_sha256, inputs_sha256 or None);
the ETag is "" for a file read from a directory."""

from __future__ import annotations

import json
from ctypes import byref, c_int, c_void_p
from typing import Optional

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


def plan_states(native_plan, digests: dict) -> list:
    """The core's state of every node of a plan (its native handle, see plan_view), in
    its order, from the digests of the manifests found (prefix -> mf_manifest_digests'
    dict)."""
    text = json.dumps(digests).encode("utf-8", "surrogatepass")
    return json.loads(_ffi.call_returning_string(_ffi.mf_plan_cache_states, native_plan, text))


def dependency_outputs_read(prefixes, known: Optional[dict], read_manifests) -> dict:
    """Each dependency prefix's outputs fingerprint (None: no manifest): from `known`
    (prefix -> Entry, e.g. what a run recorded in Redis), else from its manifest, read
    by `read_manifests(prefixes)` (a list of (ETag, bytes) or None, in order)."""
    known = known or {}
    outputs, missing = {}, []
    for prefix in dict.fromkeys(prefixes):
        entry = known.get(prefix)
        if entry is not None:
            outputs[prefix] = entry[1]
        else:
            missing.append(prefix)
    for prefix, found in zip(missing, read_manifests(missing) if missing else ()):
        entry = entry_of(*found) if found is not None else None
        outputs[prefix] = entry[1] if entry is not None else None
    return outputs


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
