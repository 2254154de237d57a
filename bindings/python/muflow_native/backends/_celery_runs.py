"""The record of one Celery plan run in Redis, shared by the submitting process, the
workers and any process holding the run's PlanHandle.

A run's id is the PlanHandle's plan_id, and its state is stored under that id in the
app's result backend (pending until a node starts, then started, then success,
failure or revoked), so `AsyncResult(plan_id)` answers from any process. Beside it,
in the result backend's Redis:

    muflow:run:<id>:status    running | success | failure | cancelled | superseded
    muflow:run:<id>:started   set by the first node to start
    muflow:run:<id>:nodes     (dependency mode) node index -> its message, for the
                              worker that queues it
    muflow:run:<id>:waiting   (dependency mode) node index -> dependencies not finished
    muflow:run:<id>:done      (dependency mode) bit per node counted as finished
    muflow:run:<id>:left      (dependency mode) nodes not finished
    muflow:run:<id>:outputs   (S3) node prefix -> its manifest's ETag and digests, for
                              the stale-input check of its dependents and of the
                              plan's next submission (storage/remote_cache.py)
    muflow:run:<id>:stale     nodes found stale (recorded inputs changed), run again
    muflow:latest:<plan>      the run of a plan (root key and storage) submitted last

Every change of status is a compare-and-set from "running", so of two workers that
race (a failure and the last success, a cancel and a failure) one wins.
"""

from __future__ import annotations

import hashlib
import json
from typing import Optional

from ..storage.cache_rule import decode_entry, encode_entry

# Node finished: record what the worker learnt of it (its manifest's entry; stale, counted
# once), count it once (a redelivered message finds its bit set), decrement the
# counters of its dependents that run in this plan, and return
# [finished?, messages of the dependents that reached zero...]; [-1] once the run is
# no longer running. ARGV: index, prefix, entry or '', '1' if stale, ttl, dependents...
_FINISH_NODE = """
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[6], ARGV[2], ARGV[3])
  redis.call('EXPIRE', KEYS[6], ARGV[5])
end
if redis.call('GET', KEYS[1]) ~= 'running' then return {-1} end
if redis.call('SETBIT', KEYS[2], ARGV[1], 1) == 1 then return {0} end
if ARGV[4] == '1' then
  redis.call('INCR', KEYS[7])
  redis.call('EXPIRE', KEYS[7], ARGV[5])
end
local out = {0}
for i = 6, #ARGV do
  local d = ARGV[i]
  if redis.call('HEXISTS', KEYS[3], d) == 1 and redis.call('HINCRBY', KEYS[3], d, -1) == 0 then
    table.insert(out, redis.call('HGET', KEYS[4], d))
  end
end
if redis.call('DECR', KEYS[5]) == 0 then
  redis.call('SET', KEYS[1], 'success', 'KEEPTTL')
  out[1] = 1
end
return out
"""

# status: running -> ARGV[1]; 1 if this call made the change.
_LEAVE_RUNNING = """
if redis.call('GET', KEYS[1]) == 'running' then
  redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
  return 1
end
return 0
"""

# A node about to start: the run's status, and whether this is the first node to start.
_START_NODE = """
local status = redis.call('GET', KEYS[1])
if status ~= 'running' then return {status or 'unknown', 0} end
return {status, redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) and 1 or 0}
"""


def redis_client(app):
    """The Redis client of the app's result backend, which holds runs."""
    client = getattr(app.backend, "client", None)
    if client is None or not hasattr(client, "register_script"):
        raise ValueError(
            "CeleryBackend needs a Redis result backend (result_backend='redis://...'), "
            f"not {type(app.backend).__name__}"
        )
    return client


class RunStore:
    """One app's runs in Redis."""

    def __init__(self, app):
        self._app = app
        self.redis = redis_client(app)
        self._finish = self.redis.register_script(_FINISH_NODE)
        self._leave = self.redis.register_script(_LEAVE_RUNNING)
        self._start = self.redis.register_script(_START_NODE)
        # As long as the run's state in the result backend (a day by default).
        self.ttl = int(getattr(app.backend, "expires", None) or 86400)

    @staticmethod
    def key(run_id: str, part: str) -> str:
        return f"muflow:run:{run_id}:{part}"

    # -- Submission ---------------------------------------------------------------------

    def create(self, run_id: str, plan_identity: str, total: int, *, status: str = "running",
               callback: Optional[dict] = None, nodes: Optional[dict] = None, waiting: Optional[dict] = None,
               left: int = 0, outputs: Optional[dict] = None, stale: int = 0) -> Optional[str]:
        """Records a new run (running, or already `status`) as the plan's latest, with
        its node count (for cancel) and completion callback; returns the run it
        replaces."""
        key, ttl = self.key, self.ttl
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(key(run_id, "status"), status, ex=ttl)
        pipe.set(key(run_id, "total"), total, ex=ttl)
        if callback:
            pipe.set(key(run_id, "callback"), json.dumps(callback), ex=ttl)
        if left:
            pipe.setbit(key(run_id, "done"), 0, 0)
            pipe.expire(key(run_id, "done"), ttl)
        if nodes:
            pipe.hset(key(run_id, "nodes"), mapping=nodes)
            pipe.expire(key(run_id, "nodes"), ttl)
        if waiting:
            pipe.hset(key(run_id, "waiting"), mapping=waiting)
            pipe.expire(key(run_id, "waiting"), ttl)
        if left:
            pipe.set(key(run_id, "left"), left, ex=ttl)
        if outputs:
            pipe.hset(key(run_id, "outputs"), mapping={p: encode_entry(e) for p, e in outputs.items()})
            pipe.expire(key(run_id, "outputs"), ttl)
        if stale:
            pipe.set(key(run_id, "stale"), stale, ex=ttl)
        pipe.set(latest_key(plan_identity), run_id, ex=ttl, get=True)
        return _text(pipe.execute()[-1])

    def supersede(self, run_id: str) -> None:
        """An earlier run of a plan submitted again: its queued nodes no longer run, and
        unless it ended it counts as revoked."""
        if self.leave_running(run_id, "superseded") and self._app.AsyncResult(run_id).state not in _ENDED:
            self._app.backend.mark_as_revoked(run_id, reason="superseded by a new submission of the plan")

    def cancel(self, run_id: str) -> None:
        """Stops a run: no further node starts, and its queued messages are revoked."""
        if self.leave_running(run_id, "cancelled") and self._app.AsyncResult(run_id).state not in _ENDED:
            self._app.backend.mark_as_revoked(run_id, reason="cancelled")
        total = int(self.redis.get(self.key(run_id, "total")) or 0)
        self._app.control.revoke([run_id] + [node_task_id(run_id, i) for i in range(total)])

    def fail(self, run_id: str, message: str) -> bool:
        """Marks the run failed, once; True for the call that did."""
        if not self.leave_running(run_id, "failure"):
            return False
        self._app.backend.mark_as_failure(run_id, RuntimeError(message))
        return True

    def callback(self, run_id: str) -> Optional[dict]:
        text = self.redis.get(self.key(run_id, "callback"))
        return json.loads(text) if text else None

    # -- Workers ------------------------------------------------------------------------

    def start_node(self, run_id: str) -> bool:
        """True if the node may run (its run is still running); the first node to start
        marks the run started."""
        status, first = self._start(keys=[self.key(run_id, "status"), self.key(run_id, "started")], args=[self.ttl])
        if _text(status) != "running":
            return False
        if first:
            self._app.backend.mark_as_started(run_id)
        return True

    def finish_node(self, run_id: str, index: int, dependents: list[int], prefix: str = "",
                    entry: Optional[tuple] = None, stale: bool = False) -> tuple[bool, list[dict]]:
        """Counts a node as finished, with what its worker learnt of it (see
        record_node), in one call: (whether the run is now complete, the messages of
        the dependents that are now ready)."""
        key = self.key
        out = self._finish(
            keys=[key(run_id, "status"), key(run_id, "done"), key(run_id, "waiting"), key(run_id, "nodes"),
                  key(run_id, "left"), key(run_id, "outputs"), key(run_id, "stale")],
            args=[index, prefix, encode_entry(entry) if entry is not None else "", "1" if stale else "0", self.ttl,
                  *dependents],
        )
        if out[0] == -1:
            return False, []
        if out[0] == 1:
            self.redis.delete(key(run_id, "nodes"), key(run_id, "waiting"), key(run_id, "done"))
        return out[0] == 1, [json.loads(m) for m in out[1:]]

    def previous_outputs(self, plan_identity: str) -> dict:
        """The entries (prefix -> Entry) recorded by the plan's last run, if any."""
        previous = self.redis.get(latest_key(plan_identity))
        if not previous:
            return {}
        found = self.redis.hgetall(self.key(_text(previous), "outputs"))
        entries = ((_text(p), decode_entry(e)) for p, e in found.items())
        return {p: e for p, e in entries if e is not None}

    def outputs_of(self, run_id: str, prefixes: list) -> dict:
        """The entries the run recorded for these prefixes (those it has)."""
        if not prefixes:
            return {}
        found = self.redis.hmget(self.key(run_id, "outputs"), prefixes)
        entries = ((p, decode_entry(e)) for p, e in zip(prefixes, found) if e is not None)
        return {p: e for p, e in entries if e is not None}

    def record_node(self, run_id: str, prefix: str, entry: Optional[tuple], stale: bool) -> None:
        """What a worker learnt of a node of a level-mode run: its manifest's entry,
        and that it was stale (dependency mode passes them to finish_node)."""
        if entry is None and not stale:
            return
        pipe = self.redis.pipeline(transaction=False)
        if entry is not None:
            pipe.hset(self.key(run_id, "outputs"), prefix, encode_entry(entry))
            pipe.expire(self.key(run_id, "outputs"), self.ttl)
        if stale:
            pipe.incr(self.key(run_id, "stale"))
            pipe.expire(self.key(run_id, "stale"), self.ttl)
        pipe.execute()

    def stale(self, run_id: str) -> int:
        return int(self.redis.get(self.key(run_id, "stale")) or 0)

    def leave_running(self, run_id: str, status: str) -> bool:
        return bool(self._leave(keys=[self.key(run_id, "status")], args=[status]))

    def status(self, run_id: str) -> Optional[str]:
        return _text(self.redis.get(self.key(run_id, "status")))


_ENDED = frozenset({"SUCCESS", "FAILURE", "REVOKED"})


def node_task_id(run_id: str, index: int) -> str:
    """The Celery task id of node `index` of a run: known to cancel without a list."""
    return f"{run_id}-{index}"


def latest_key(plan_identity: str) -> str:
    return f"muflow:latest:{plan_identity}"


def plan_identity(root_key: str, storage_header: str) -> str:
    """A plan as runs see it: its root key in one storage."""
    return hashlib.sha256(f"{storage_header}\0{root_key}".encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _text(value) -> Optional[str]:
    return value.decode() if isinstance(value, bytes) else value
