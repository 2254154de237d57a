"""compute_prefix: muflow 0.4.0 against muflow_native, side by side in one run.

    .venv-test/bin/python bench/prefix/run.py [--quick]

(a) single calls from Python on a few dict shapes; (b) the batch form over the node
hash dicts of the seed ML pipeline, against muflow hashing them one by one; (c) where
the time of one native call goes. Results are checked equal before anything is timed.
Reports only: exits 0 whatever the numbers (non-zero only if results differ).
"""

import hashlib
import json
import os
import pickle
import platform
import statistics
import sys
import time
from ctypes import byref, c_void_p

from muflow.storage.base import compute_prefix as muflow_prefix

import muflow_native
from muflow_native import _ffi
from muflow_native.storage.base import compute_prefixes

QUICK = "--quick" in sys.argv
REPEATS = 3 if QUICK else 7
GOAL_BATCH = 5.0
GOAL_SINGLE = 1.0


def best_time(function, number, repeats=REPEATS):
    """Best and median seconds per call of `function()` over `repeats` rounds."""
    (best, median), = side_by_side([function], number, repeats)
    return best, median


def side_by_side(functions, number, repeats=REPEATS):
    """(best, median) seconds per call of each function; rounds alternate between the
    functions so that a change in machine load hits all of them alike."""
    rounds = [[] for _ in functions]
    for _ in range(repeats):
        for function, times in zip(functions, rounds):
            start = time.perf_counter()
            for _ in range(number):
                function()
            times.append((time.perf_counter() - start) / number)
    return [(min(times), statistics.median(times)) for times in rounds]


def calls_for(function, budget=0.2):
    """How many calls fill about `budget` seconds."""
    start = time.perf_counter()
    function()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, min(200_000, int(budget / once)))


# -- Inputs ----------------------------------------------------------------------------

SUBJECT = "experiment:1"


def seed_pipeline_hash_dicts(n_datasets):
    """Every node hash dict muflow's build_plan hashes for the seed ML pipeline
    (features, train, loo_cv, reports, sentinel): {"task", "subject", **kwargs, **job}.
    The datasets list is one object shared by all of them, as in muflow's builder."""
    datasets = [f"dataset_{i:05d}" for i in range(n_datasets)]
    kwargs = {"datasets": datasets}
    dicts = [{"task": "ml.compute_features", "subject": SUBJECT, **kwargs, "dataset_name": ds} for ds in datasets]
    dicts.append({"task": "ml.train_model", "subject": SUBJECT, **kwargs})
    dicts += [{"task": "ml.loo_cv", "subject": SUBJECT, **kwargs, "leave_out_index": i, "datasets": datasets}
              for i in range(n_datasets)]
    dicts += [{"task": "ml.generate_report", "subject": SUBJECT, **kwargs, "format": f}
              for f in ("pdf", "xlsx", "csv")]
    dicts.append({"task": "ml.full_pipeline", "subject": SUBJECT, **kwargs})
    return dicts


def loo_cv_dicts(n):
    datasets = ["dataset_a", "dataset_b", "dataset_c"]
    return [{"task": "ml.loo_cv", "subject": SUBJECT, "datasets": datasets, "leave_out_index": i}
            for i in range(n)]


TYPICAL = {"task": "ml.loo_cv", "subject": SUBJECT, "datasets": ["dataset_a", "dataset_b", "dataset_c"],
           "leave_out_index": 1}
SMALL = {"task": "t"}
WITH_IDENTITY = {"task": "ml.train", "subject": SUBJECT, "dataset_id": 42, "display_name": "Run 42",
                 "learning_rate": 0.001, "notes": "not part of the identity"}
LARGER = {
    "task": "sim.run",
    "subject": "batch:7",
    "grid": [{"x": i, "y": i * 0.5, "label": f"p{i}", "tags": ["a", "b"]} for i in range(50)],
    "config": {"solver": {"tol": 1e-9, "max_iter": 10_000, "method": "cg"}, "seed": 2**40, "flags": [True, None]},
    "text": "caf\u00e9 \U0001f600 " * 10,
}

SINGLE_CASES = [
    ("typical loo_cv node", TYPICAL, None),
    ("small {'task': 't'}", SMALL, None),
    ("with identity keys", WITH_IDENTITY, ["dataset_id"]),
    ("larger nested (50-item grid)", LARGER, None),
]


# -- Output ----------------------------------------------------------------------------


def us(seconds):
    return f"{seconds * 1e6:12.2f}"


def row(name, muflow_s, native_s, goal):
    ratio = muflow_s / native_s if native_s else float("inf")
    met = "yes" if ratio >= goal else "NO"
    print(f"{name:<44}{us(muflow_s)}{us(native_s)}{ratio:9.2f}x   >= {goal:g}x: {met}")


def header(title):
    print()
    print(title)
    print(f"{'':<44}{'muflow µs':>12}{'native µs':>12}{'ratio':>10}   goal")


def main():
    print(f"compute_prefix bench: muflow {__import__('muflow').__version__} vs muflow_native "
          f"{muflow_native.__version__} ({_ffi._library_path()})")
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
          f"best of {REPEATS} rounds, muflow and native rounds alternating (medians under 'details')")
    print(f"load average before: {os.getloadavg()[0]:.2f}")

    # Correctness first.
    for name, d, keys in SINGLE_CASES:
        assert muflow_native.compute_prefix(d, "muflow", keys) == muflow_prefix(d, "muflow", keys), name
    n_datasets = 500 if QUICK else 5000
    pipeline = seed_pipeline_hash_dicts(n_datasets)
    loo = loo_cv_dicts(1000 if QUICK else 10_000)
    batches = [
        (f"seed ML pipeline, {n_datasets} datasets ({len(pipeline)} dicts)", pipeline),
        (f"{len(loo)} loo_cv dicts (3 shared datasets)", loo),
    ]
    for name, dicts in batches:
        expected = [muflow_prefix(d) for d in dicts]
        if compute_prefixes(dicts) != expected:
            print(f"MISMATCH in batch {name!r}", file=sys.stderr)
            return 1
    print("results checked equal: single shapes and every batch element")

    # (a) Single calls.
    header("(a) single calls from Python, µs per call")
    notes = []
    for name, d, keys in SINGLE_CASES:
        f_muflow = lambda: muflow_prefix(d, "muflow", keys)  # noqa: E731
        f_native = lambda: muflow_native.compute_prefix(d, "muflow", keys)  # noqa: E731
        n = calls_for(f_muflow, 0.1)
        (m_best, m_med), (n_best, n_med) = side_by_side([f_muflow, f_native], n)
        row(name, m_best, n_best, GOAL_SINGLE)
        notes.append(f"  {name}: median muflow {m_med * 1e6:.2f} µs, native {n_med * 1e6:.2f} µs")

    # (b) Batches.
    header("(b) batch: native compute_prefixes(list) vs muflow one by one, µs per dict")
    for name, dicts in batches:
        f_muflow = lambda: [muflow_prefix(d) for d in dicts]  # noqa: E731
        f_native = lambda: compute_prefixes(dicts)  # noqa: E731
        rounds = 3 if len(dicts) * n_datasets > 10**7 and not QUICK else REPEATS
        (m_best, m_med), (n_best, n_med) = side_by_side([f_muflow, f_native], 1, rounds)
        row(name, m_best / len(dicts), n_best / len(dicts), GOAL_BATCH)
        notes.append(f"  {name}: total muflow {m_best * 1e3:.1f} ms, native {n_best * 1e3:.1f} ms "
                     f"(median {m_med * 1e3:.1f} / {n_med * 1e3:.1f} ms)")
        # Also the native single-call path over the same dicts, for reference.
        f_native_loop = lambda: [muflow_native.compute_prefix(d) for d in dicts]  # noqa: E731
        l_best, _ = best_time(f_native_loop, 1, 2)
        notes.append(f"  {name}: native compute_prefix one by one {l_best / len(dicts) * 1e6:.2f} µs per dict")
    print("details:")
    for note in notes:
        print(note)

    # (c) Where a single native call spends its time (typical loo_cv node).
    print()
    print("(c) stages of one call on the typical loo_cv node, µs")
    d = TYPICAL
    data = pickle.dumps(d, 5)
    base = b"muflow"

    def raw_native():
        out = c_void_p()
        _ffi.mf_compute_prefix(byref(out), _ffi.FORMAT_PICKLE, data, len(data), base, None)
        _ffi.mf_string_free(out)

    def raw_canonical():
        out = c_void_p()
        _ffi.mf_json_canonical(byref(out), None, _ffi.FORMAT_PICKLE, data, len(data))
        _ffi.mf_string_free(out)

    def raw_canonical_json_format():
        out = c_void_p()
        _ffi.mf_json_canonical(byref(out), None, _ffi.FORMAT_JSON, json_data, len(json_data))
        _ffi.mf_string_free(out)

    json_data = json.dumps(d).encode()
    kept = c_void_p()
    _ffi.mf_compute_prefix(byref(kept), _ffi.FORMAT_PICKLE, data, len(data), base, None)

    stages = [
        ("muflow: json.dumps(sort_keys=True)", lambda: json.dumps(d, sort_keys=True)),
        ("muflow: sha256 of that text", (lambda t: lambda: hashlib.sha256(t.encode()).hexdigest()[:16])(
            json.dumps(d, sort_keys=True))),
        ("muflow: whole compute_prefix", lambda: muflow_prefix(d)),
        ("native: pickle.dumps(d, 5)", lambda: pickle.dumps(d, 5)),
        ("native: ctypes call of a no-op (mf_version)", _ffi.mf_version),
        ("native: c_void_p() + byref()", lambda: byref(c_void_p())),
        ("native: string_at(p).decode('utf-8', 'surrogatepass')",
         lambda: __import__("ctypes").string_at(kept.value).decode("utf-8", "surrogatepass")),
        ("native: mf_json_canonical (pickle) + free, raw ctypes", raw_canonical),
        ("native: mf_json_canonical (JSON in) + free, raw ctypes", raw_canonical_json_format),
        ("native: mf_compute_prefix + free, raw ctypes", raw_native),
        ("native: call_returning_string(mf_compute_prefix)",
         lambda: _ffi.call_returning_string(_ffi.mf_compute_prefix, _ffi.FORMAT_PICKLE, data, len(data), base, None)),
        ("native: whole compute_prefix", lambda: muflow_native.compute_prefix(d)),
    ]
    for name, function in stages:
        n = calls_for(function)
        best, _ = best_time(function, n)
        print(f"  {name:<52}{us(best)}")

    _ffi.mf_string_free(kept)
    print()
    print(f"goals: batch >= {GOAL_BATCH:g}x muflow; single call no slower than muflow (>= {GOAL_SINGLE:g}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
