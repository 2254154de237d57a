/*
 * muflow_binding.h - the binding tier of libmuflow: accelerators for language bindings.
 *
 * The criterion: a function is here, not in muflow.h, when it exists for a binding's
 * speed or for another language's data shape rather than for what a C program needs to
 * build, run and store plans. That is: batch forms that save calls through an FFI
 * (ctypes pays per call), readiness and digest shortcuts for a binding that keeps its
 * own state, and Python's data shapes (pickles in and out, a plan's JSON laid out for
 * a Python str). Each has a general form in muflow.h that a C program uses instead.
 *
 * Stability: weaker than muflow.h's. Anything here may change or go in any release,
 * minor and patch included. A binding must ship with the exact library version it was
 * built for and check it when it loads the library: mf_version() must equal the
 * MF_VERSION_NUMBER the binding was built against (the Python package refuses to load
 * any other). The conventions and thread-safety rules of muflow.h apply (its Thread
 * safety section lists this tier's handles too).
 */
#ifndef MUFLOW_BINDING_H
#define MUFLOW_BINDING_H

#include "muflow.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------
 * Values: the pickle format
 * ------------------------------------------------------------------------------- */

/** MF_FORMAT_PICKLE (an enumerator of mf_format, in muflow.h), the format in which a
 *  Python binding passes values: a Python pickle (protocols 2 to 5) of plain data only:
 *  dict, list, tuple (read as a list), str, int, float, bool and None. Objects the pickle
 *  shares are read once and shared. Anything else (a class, a set, bytes) is refused
 *  with MF_ERR_TYPE naming the key path. Dict keys that are not strings are made
 *  strings as Python's `json` does, after sorting them as Python would. */

/* ---------------------------------------------------------------------------------
 * Content-addressed storage prefixes, in batches and in parts
 * ------------------------------------------------------------------------------- */

/** The batch form of mf_compute_prefix: `data` is an array of hash dicts, all hashed
 *  with the same base_prefix and identity keys. On success `*out` is a JSON array of
 *  the prefixes, in order (free with mf_string_free()). If any element fails, the call
 *  fails, the message names the element's index, and nothing is returned. */
mf_status mf_compute_prefixes(char **out, mf_format format, const void *data, size_t length,
                              const char *base_prefix, const char *identity_keys_json);

/** The length of a content digest in hex digits (the last part of a prefix). */
#define MF_DIGEST_LENGTH 16

/** The digest part of a prefix alone: the first 16 hex digits of the SHA-256 of the
 *  value's canonical JSON (as mf_json_canonical writes it), written with a final NUL
 *  into `out`, which must hold MF_DIGEST_LENGTH + 1 bytes. For callers that select
 *  identity keys and write the label themselves (a binding whose labels are its own
 *  language's text). Errors as mf_json_canonical. */
mf_status mf_content_digest(char *out, mf_format format, const void *data, size_t length);

/** mf_content_digest for each element of an array, in one call: `out` receives the
 *  digests back to back, MF_DIGEST_LENGTH bytes each, no separators and no NUL; it must
 *  hold out_capacity >= MF_DIGEST_LENGTH * (number of elements) bytes.
 *  `*out_count` is set to the number of elements. Errors: those of mf_json_canonical,
 *  MF_ERR_TYPE (not an array), MF_ERR_LIMIT (out_capacity too small; nothing written). */
mf_status mf_content_digests(char *out, size_t out_capacity, size_t *out_count, mf_format format,
                             const void *data, size_t length);

/* ---------------------------------------------------------------------------------
 * Local storage in batches
 * ------------------------------------------------------------------------------- */

/** Checks many node directories at once: `prefixes_json` is a JSON array of
 *  directories; `*out_json` becomes a JSON array of the same length holding true where
 *  the directory's manifest is complete per `check` (free with mf_string_free).
 *  Errors: MF_ERR_INVALID_ARGUMENT (not an array of strings). */
mf_status mf_storage_check_manifests(char **out_json, const char *prefixes_json, mf_cache_check check);

/* ---------------------------------------------------------------------------------
 * Plans in a binding's shapes
 * ------------------------------------------------------------------------------- */

/** The text of mf_plan_to_json, laid out but not yet written, for a caller that
 *  writes it into memory of its own (a Python str) once it knows the length. */
typedef struct mf_plan_json mf_plan_json;

/** Lays out the plan's JSON: `*out_len` is its length in bytes and `*out_ascii` is 1
 *  if every byte is ASCII, else 0. The layout does not refer to the plan (either may
 *  be freed first). Free it with mf_plan_json_free. Errors: MF_ERR_INVALID_ARGUMENT
 *  (a string holding a lone surrogate, which pydantic cannot write either). */
mf_status mf_plan_json_layout(mf_plan_json **out, size_t *out_len, int *out_ascii,
                              const mf_plan *plan);

/** Writes the laid-out JSON to `out`, which holds at least `out_len` bytes (no NUL is
 *  added). A destination of several megabytes may be advised to the kernel as huge-page
 *  memory (madvise), which only speeds up its first touch. Immutable: may run
 *  concurrently on one layout. NULL for either does nothing. */
void mf_plan_json_write(char *out, const mf_plan_json *layout);

/** Releases a layout. NULL is accepted. */
void mf_plan_json_free(mf_plan_json *layout);

/** Nodes `start`, `start` + 1, ... as a JSON array of their MF_NODE_JSON texts: at
 *  most `max_count` nodes, and no further node once the text reaches `byte_budget`
 *  bytes (at least one node), for a caller reading nodes a few at a time. `*out` is
 *  freed with mf_string_free; `*out_len` (if not NULL) is its length. Errors:
 *  MF_ERR_NOT_FOUND (start out of range), MF_ERR_INVALID_ARGUMENT (max_count 0). */
mf_status mf_plan_nodes_json(char **out, size_t *out_len, const mf_plan *plan, size_t start,
                             size_t max_count, size_t byte_budget);

/** One field of every node, in node order, as a JSON array (free with mf_string_free):
 *  strings for the string fields, the JSON of the others. Errors:
 *  MF_ERR_INVALID_ARGUMENT (an unknown field, or MF_NODE_JSON). */
mf_status mf_plan_field_values(char **out_json, const mf_plan *plan, mf_node_field field);

/** The edges in grouped form, for a caller tracking readiness itself: a JSON array
 *  [groups, dependencies] where groups[i] is the group of node i and dependencies[g]
 *  the distinct indices of the nodes group g depends on (nodes with equal depends_on
 *  lists form one group, so a fan-in costs one list). Free with mf_string_free. */
mf_status mf_plan_dependency_groups(char **out_json, const mf_plan *plan);

/** A plan's nodes as Python pickles (protocol 4), for a Python binding that builds its
 *  node objects with pickle's C unpickler. Large values the plan holds once and more
 *  than one node refers to (a kwargs dict, a value in kwargs, a depends_on,
 *  depended_on_by or output_files list, an access map; found by storage, not by
 *  content) are written once, by mf_node_pickler_shared, and appear in node pickles as
 *  persistent ids (BINPERSID of an int pid): pid >> 1 is the shared value's number;
 *  pid & 1 is 1 where the node holds its own shallow copy of it (its kwargs dict, edge
 *  lists and access map) and 0 where nodes share the value itself (a value inside
 *  kwargs, shared as muflow's build_plan shares it). Unpickle with a persistent_load
 *  that returns (a copy of) the unpickled mf_node_pickler_shared value. */
typedef struct mf_node_pickler mf_node_pickler;

/** Makes a pickler for `plan`, finding its shared values (one look-up per node field
 *  and kwargs value). The pickler keeps the plan's data alive: the plan may be freed
 *  first. Immutable: may be used from several threads at once. Free it with
 *  mf_node_pickler_free. Errors: MF_ERR_INVALID_ARGUMENT (NULL out or plan). */
mf_status mf_node_pickler_new(mf_node_pickler **out, const mf_plan *plan);

/** Releases a pickler. NULL is accepted. */
void mf_node_pickler_free(mf_node_pickler *pickler);

/** The number of shared values (ids 0 ... count-1); 0 for NULL. */
size_t mf_node_pickler_shared_count(const mf_node_pickler *pickler);

/** Nodes `start`, `start` + 1, ... as the pickle of a list of dicts holding each
 *  node's fields in TaskNode's order, as json.loads reads MF_NODE_JSON (NaN and
 *  infinities are None, integers of any size exact), except that strings keep a lone
 *  surrogate (pickle's "surrogatepass" UTF-8; MF_NODE_JSON cannot write one and fails)
 *  and shared values are persistent ids. Equal strings within one pickle (field names,
 *  a storage prefix equal to its key) may be one memoized object.
 *  At most `max_count` nodes, and no further node once the pickle reaches
 *  `byte_budget` bytes (at least one node). `*out` (binary: read `*out_len` bytes) is
 *  freed with mf_string_free. Errors: MF_ERR_INVALID_ARGUMENT (NULL out, out_len or
 *  pickler; max_count 0), MF_ERR_NOT_FOUND (start out of range). */
mf_status mf_node_pickler_nodes(char **out, size_t *out_len, const mf_node_pickler *pickler,
                                size_t start, size_t max_count, size_t byte_budget);

/** Shared value `id` as a pickle; the shared values it holds (a kwargs dict's values)
 *  are persistent ids as in mf_node_pickler_nodes. `*out` (binary: read `*out_len`
 *  bytes) is freed with mf_string_free. Errors: MF_ERR_INVALID_ARGUMENT (NULL out,
 *  out_len or pickler), MF_ERR_NOT_FOUND (id out of range). */
mf_status mf_node_pickler_shared(char **out, size_t *out_len, const mf_node_pickler *pickler,
                                 size_t id);

/* ---------------------------------------------------------------------------------
 * Runs in batches, for workers that pay per call
 * ------------------------------------------------------------------------------- */

/** mf_run_next for up to `capacity` nodes at once, for workers that pay per call (a
 *  Python worker through ctypes): waits like mf_run_next until a node is ready (or the
 *  run is over), then hands out, in the order mf_run_next would, the nodes of that
 *  node's depth that are ready now, up to `capacity` and up to a `workers`th of the
 *  ready nodes (rounded up; `workers` is how many workers pull from the run, so that
 *  one does not take what the others could run). Writes what to do with each to
 *  `out_kinds[i]` and `out_indices[i]` (arrays of at least `capacity` elements) and how
 *  many there are to `*out_count`: 0 means MF_EVENT_DONE. An MF_EVENT_FAILED node is
 *  always the last one; its message is read with mf_run_node_failure. Finish the
 *  MF_EVENT_RUN nodes with mf_run_finish_node or mf_run_finish_nodes, or give back the
 *  ones whose tasks did not start with mf_run_return_nodes.
 *  Errors: MF_ERR_INVALID_ARGUMENT (capacity or workers 0, NULL output). */
mf_status mf_run_next_nodes(mf_event_kind *out_kinds, size_t *out_indices, size_t *out_count,
                            mf_run *run, size_t capacity, size_t workers);

/** Reports `count` nodes handed out with MF_EVENT_RUN whose tasks succeeded, in one
 *  call: as mf_run_finish_node with a non-zero `success` for each, in order.
 *  Errors: MF_ERR_NOT_FOUND (one of them is not running: none is finished). */
mf_status mf_run_finish_nodes(mf_run *run, const size_t *indices, size_t count);

/** Gives back `count` nodes handed out with MF_EVENT_RUN whose tasks did not start (a
 *  worker that stops part-way through what mf_run_next_nodes handed it): their
 *  context.json is removed, their directories are released, and they are handed out
 *  again later, unless the run has stopped (then they count as skipped).
 *  Errors: MF_ERR_NOT_FOUND (one of them is not running: none is given back). */
mf_status mf_run_return_nodes(mf_run *run, const size_t *indices, size_t count);

/* ---------------------------------------------------------------------------------
 * Rules a binding applies to state it keeps itself: readiness, writes, prefix selection
 * ------------------------------------------------------------------------------- */

/** muflow's ready_nodes kept up to date incrementally, for a binding whose caller asks
 *  again after each change of its completed set (muflow's loop: ready_nodes, run them,
 *  add their keys, ask again). The tracker holds the set as the changes it was told of
 *  make it; after each change its ready list equals what mf_plan_ready_nodes returns for
 *  that set (as node indices instead of keys). A change costs work in proportion to
 *  the nodes it touches, not to the plan. A tracker holds its own reference to the
 *  plan's data: the plan may be freed first. Not thread-safe: one thread at a time per
 *  tracker (distinct trackers are independent). */
typedef struct mf_ready_tracker mf_ready_tracker;

/** A tracker over `plan` with an empty completed set. Free with mf_ready_tracker_free.
 *  Errors: MF_ERR_INVALID_ARGUMENT (NULL out or plan). */
mf_status mf_ready_tracker_new(mf_ready_tracker **out, const mf_plan *plan);

/** Frees a tracker (NULL is accepted). Any ready list it returned becomes invalid. */
void mf_ready_tracker_free(mf_ready_tracker *tracker);

/** The own key (the `key` field) of each of the `count` nodes at `nodes` (indices)
 *  joined the completed set; keys already in it change nothing. `nodes` may be NULL
 *  when count is 0 (then the call only returns the ready list). On success
 *  `*out_ready` points at the `*out_count` indices of the ready nodes, in node order,
 *  owned by the tracker and valid until its next call or its free. Errors:
 *  MF_ERR_INVALID_ARGUMENT (NULL argument, an index out of range: nothing applied). */
mf_status mf_ready_tracker_add_nodes(const size_t **out_ready, size_t *out_count, mf_ready_tracker *tracker,
                                     const size_t *nodes, size_t count);

/** Keys left and joined the completed set: removed_json and added_json are NULL or JSON
 *  arrays of strings (keys naming no node are ignored; removals apply first). Returns
 *  the ready list as mf_ready_tracker_add_nodes does. Errors: MF_ERR_INVALID_ARGUMENT
 *  (NULL out argument or tracker, text that is not an array of strings: nothing
 *  applied). */
mf_status mf_ready_tracker_update(const size_t **out_ready, size_t *out_count, mf_ready_tracker *tracker,
                                  const char *added_json, const char *removed_json);

/** The names only the executor writes (context.json and manifest.json), as a JSON
 *  array in sorted order (free with mf_string_free). Errors: MF_ERR_INVALID_ARGUMENT
 *  (NULL out_json). Thread-safe. */
mf_status mf_filename_protected(char **out_json);

/** Checks a write of `name` as every storage does before it writes: MF_ERR_PERMISSION
 *  if the name is protected and allow_protected is 0; MF_ERR_ALREADY_EXISTS if
 *  already_written is nonzero (the caller keeps the set of names written). The message
 *  names the file. Does not check the name's form (mf_filename_validate does).
 *  Errors: those, and MF_ERR_INVALID_ARGUMENT (NULL name, not UTF-8). Thread-safe. */
mf_status mf_filename_check_write(const char *name, int already_written, int allow_protected);

/** The parameters of mf_compute_prefix's selection, for a binding that selects the
 *  hashed object and writes the label itself (its values outside the identity keys
 *  never cross into the library, and its label is its own language's text of the
 *  value; see mf_content_digest): a JSON object {"label_key": str, "label_default":
 *  str} (free with mf_string_free). The hashed object is all of hash_dict when the
 *  identity keys are NULL or empty; otherwise the identity keys present in hash_dict,
 *  plus label_key with hash_dict's value or, when it has none, label_default. The label
 *  is hash_dict's label_key value, or label_default. Errors: MF_ERR_INVALID_ARGUMENT
 *  (NULL out_json). Thread-safe. */
mf_status mf_prefix_selection(char **out_json);

/* ---------------------------------------------------------------------------------
 * Failed nodes in the core's words, for bindings that run nodes themselves
 * ------------------------------------------------------------------------------- */

/** The message of a failed node, as a run reports it: "Node <function> failed:
 *  <message>", then a newline and `details` when `details` is not NULL (a binding passes
 *  the traceback there). Texts are UTF-8, lone surrogates allowed (WTF-8), given with
 *  their lengths, so they may hold NUL bytes. On success `*out` is a new NUL-terminated
 *  string owned by the caller (free with mf_string_free) and `*out_length` (if not
 *  NULL) its length in bytes. Thread-safe: touches no shared state.
 *  Errors: MF_ERR_INVALID_ARGUMENT (NULL out, function or message; a text that is not
 *  UTF-8). */
mf_status mf_node_failure_message(char **out, size_t *out_length, const char *function, size_t function_length,
                                  const char *message, size_t message_length, const char *details,
                                  size_t details_length);

/** The bytes of a failed node's error.json, as muflow 0.4.0 writes it (Python's
 *  json.dumps with indent=2: "error_message", "error_traceback", and
 *  "partial_manifest" holding "files", the names in `files_json` sorted).
 *  `files_json` is a JSON array of strings (the files written so far, in any order).
 *  Texts as for mf_node_failure_message. On success `*out` is a new buffer owned by the
 *  caller (free with mf_string_free; NUL-terminated) and `*out_length` (if not NULL)
 *  its length. Thread-safe: touches no shared state.
 *  Errors: MF_ERR_INVALID_ARGUMENT (a NULL pointer other than out_length; a text that is
 *  not UTF-8; files_json not a JSON array of strings). */
mf_status mf_node_error_record(char **out, size_t *out_length, const char *message, size_t message_length,
                               const char *traceback, size_t traceback_length, const char *files_json,
                               size_t files_json_length);

/* ---------------------------------------------------------------------------------
 * The cache rule for manifests stored elsewhere (S3 read by Celery workers, Lambda and
 * the submitting process). The caller fetches manifests; these functions apply the rule
 * a local run applies. All are pure: they hold no state and may be called from any
 * thread at once.
 * ------------------------------------------------------------------------------- */

/** States a node's cache can be in (mf_node_cache_state, mf_plan_cache_states). */
#define MF_NODE_ABSENT 0  /* no manifest (or bytes that are not one): the node runs */
#define MF_NODE_CURRENT 1 /* complete with its current inputs (or recording none, as
                             muflow's manifests): cached */
#define MF_NODE_STALE 2   /* complete, but recorded with other inputs: runs again */
#define MF_NODE_RECHECK 3 /* (plans only) complete, but a dependency runs first: check
                             it with mf_node_cache_state when its turn comes */

/** The digests a manifest records, as JSON `{"outputs_sha256": hex, "inputs_sha256":
 *  hex or null}`; a manifest recording none (muflow's) stands for its outputs by the
 *  SHA-256 of its bytes, with null inputs. `*out_json` is NULL (and MF_OK returned) when
 *  the bytes are not a JSON object. Free with mf_string_free.
 *  Errors: MF_ERR_INVALID_ARGUMENT (NULL out_json, NULL manifest with a length). */
mf_status mf_manifest_digests(char **out_json, const void *manifest, size_t length);

/** The state of one node (MF_NODE_ABSENT, _CURRENT or _STALE in *out_state) whose
 *  manifest is the `length` bytes at `manifest` (NULL: it has none), given its inputs
 *  now, `inputs_json` in mf_ledger_manifest's form with each dependency's current
 *  fingerprint. Errors: MF_ERR_INVALID_ARGUMENT (NULL out_state or inputs_json,
 *  malformed inputs_json). */
mf_status mf_node_cache_state(int *out_state, const void *manifest, size_t length, const char *inputs_json);

/** The state of every node of `plan` (a JSON array of MF_NODE_* values in the plan's
 *  node order, in *out_json, freed with mf_string_free), from the manifests found:
 *  `manifests_json` is a JSON object of storage prefix to mf_manifest_digests' object (a
 *  prefix left out, or null, has no manifest). A node is current when its manifest
 *  records no inputs (muflow's), or when its dependencies are all current and it records
 *  the inputs they give now; stale when they are all current and its record differs; to
 *  recheck when a dependency is not current (it runs first, and may or may not change
 *  the node's inputs).
 *  Linear in nodes plus grouped edges. Errors: MF_ERR_INVALID_ARGUMENT (NULL argument,
 *  malformed manifests_json). */
mf_status mf_plan_cache_states(char **out_json, const mf_plan *plan, const char *manifests_json);

/** Writes manifest.json as mf_storage_write_manifest does, also recording the node's
 *  inputs (`inputs_json` in mf_ledger_manifest's form): for a node that a remote worker
 *  runs on a directory shared by every worker. Not thread-safe on the same storage with
 *  writes still going on (as mf_storage_write_manifest). Errors: MF_ERR_INVALID_ARGUMENT
 *  (NULL argument, malformed inputs_json), MF_ERR_IO. */
mf_status mf_storage_write_manifest_inputs(mf_storage *storage, const char *inputs_json);

#ifdef __cplusplus
}
#endif

#endif /* MUFLOW_BINDING_H */
