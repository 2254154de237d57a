/*
 * muflow.h - the C interface of libmuflow, a workflow execution engine.
 *
 * This header is the contract. Every function is declared here once and implemented
 * in Swift with `@c @implementation`, which the compiler checks against these
 * declarations.
 *
 * Conventions
 * -----------
 * - Every public name starts with `mf_` (functions, types) or `MF_` (macros, enum
 *   constants). Only `mf_*` symbols are exported from libmuflow.so.
 * - Fallible functions return an `mf_status`: MF_OK (0) on success, a positive code
 *   naming the kind of failure otherwise. The message of the latest failure is read
 *   with mf_last_error_message() on the thread that made the failing call.
 * - Output parameters come first and are named `out...`. On failure they are left
 *   untouched, and nothing is half-done: no output is allocated, nothing is written.
 * - Strings going in are NUL-terminated UTF-8 unless a length is passed beside them.
 *   Text that is not valid UTF-8 (an encoded surrogate included) is refused with
 *   MF_ERR_INVALID_ARGUMENT naming the parameter ("name is not valid UTF-8"), except
 *   where a function says otherwise; in JSON text see MF_FORMAT_JSON. A buffer passed
 *   with its length may be NULL only when the length is 0. Pointers going in are
 *   borrowed for the duration of the call only; the library copies what it keeps.
 * - Strings coming out through `char **out` are owned by the caller, NUL-terminated,
 *   and released with mf_string_free(). Strings returned directly (`const char *`)
 *   are owned by the library; each function says how long they live.
 * - Handles are opaque (`mf_x *`), made by `mf_x_new...` and released by `mf_x_free`,
 *   which accepts NULL.
 * - A NULL pointer where the documentation does not allow one is reported as
 *   MF_ERR_INVALID_ARGUMENT, never dereferenced.
 *
 * Thread safety
 * -------------
 * Every function may be called from any thread. Functions that take no handle, and
 * functions that take a `const` handle, may run concurrently. Functions that take a
 * non-const handle need the caller to serialise calls on that handle.
 */
#ifndef MUFLOW_H
#define MUFLOW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------------------- */

#define MF_VERSION_MAJOR 0
#define MF_VERSION_MINOR 1
#define MF_VERSION_PATCH 0
/** The version as one number, MAJOR * 10000 + MINOR * 100 + PATCH. */
#define MF_VERSION_NUMBER (MF_VERSION_MAJOR * 10000 + MF_VERSION_MINOR * 100 + MF_VERSION_PATCH)

/** The version of the loaded library, as MF_VERSION_NUMBER computes it. A program may
 *  compare it with the MF_VERSION_NUMBER it was compiled with. */
uint32_t mf_version(void);

/** The version of the loaded library as "MAJOR.MINOR.PATCH". Static storage; never
 *  freed. */
const char *mf_version_string(void);

/* ---------------------------------------------------------------------------------
 * Status codes and errors
 * ------------------------------------------------------------------------------- */

/** The outcome of a fallible call. The numeric values are stable. */
typedef enum mf_status {
    MF_OK = 0,
    /** Malformed or unacceptable input: bad JSON, a bad name, a NULL pointer. */
    MF_ERR_INVALID_ARGUMENT = 1,
    /** A named thing (task, node, file, key) does not exist. */
    MF_ERR_NOT_FOUND = 2,
    /** A thing that may exist only once already exists (a written file, a task name). */
    MF_ERR_ALREADY_EXISTS = 3,
    /** A protected file, or a path outside what may be written. */
    MF_ERR_PERMISSION = 4,
    /** A dependency cycle among steps or plan nodes. */
    MF_ERR_CYCLE = 5,
    /** The operating system refused a file operation. */
    MF_ERR_IO = 6,
    /** A task reported failure. */
    MF_ERR_TASK_FAILED = 7,
    /** The operation was cancelled. */
    MF_ERR_CANCELLED = 8,
    /** A value the JSON data model cannot represent. */
    MF_ERR_TYPE = 9,
    /** A size or nesting-depth limit was exceeded. */
    MF_ERR_LIMIT = 10,
    /** A bug in the library. Please report it with the message. */
    MF_ERR_INTERNAL = 11,
    /** A plan needs tasks that the registry does not have; the message names them, the
     *  steps that use them, and says to import (register) them first. */
    MF_ERR_MISSING_TASK = 12
} mf_status;

/** The name of a status code ("MF_OK", "MF_ERR_CYCLE", ...), or "MF_ERR_UNKNOWN".
 *  Static storage; never freed. */
const char *mf_status_name(mf_status status);

/** The message of the latest failed call made on the calling thread, or "" if none has
 *  failed. Owned by the library; valid until the next failing call on this thread.
 *  Each thread has its own message, so concurrent callers never see each other's. */
const char *mf_last_error_message(void);

/** Releases a string that the library returned through a `char **out` parameter.
 *  NULL is accepted and does nothing. */
void mf_string_free(char *string);

/* ---------------------------------------------------------------------------------
 * Values: the formats in which structured values cross this interface
 * ------------------------------------------------------------------------------- */

/** How the bytes of a structured value are encoded.
 *
 *  MF_FORMAT_JSON: UTF-8 JSON text (RFC 8259) with Python's extensions `NaN`,
 *  `Infinity` and `-Infinity`. A string may also hold a lone surrogate encoded by
 *  itself (bytes ED A0 80 to ED BF BF, as Python's "surrogatepass" writes it and as this
 *  library writes such a string); any other malformed UTF-8 is MF_ERR_INVALID_ARGUMENT
 *  naming its byte offset. Integers of any size are kept exactly. A repeated object
 *  key keeps its first position and its last value. Nesting is limited to
 *  MF_MAX_DEPTH levels (MF_ERR_LIMIT beyond).
 *
 *  MF_FORMAT_PICKLE: a Python pickle (protocols 2 to 5) of plain data only: dict,
 *  list, tuple (read as a list), str, int, float, bool and None. Objects the pickle
 *  shares are read once and shared. Anything else (a class, a set, bytes) is refused
 *  with MF_ERR_TYPE naming the key path. Dict keys that are not strings are made
 *  strings as Python's `json` does, after sorting them as Python would. */
typedef enum mf_format {
    MF_FORMAT_JSON = 0,
    MF_FORMAT_PICKLE = 1
} mf_format;

/** The deepest nesting of arrays and objects accepted in any input. */
#define MF_MAX_DEPTH 1000

/** The largest encoded value (the `data` of an mf_format: hash dicts, kwargs, jobs)
 *  accepted, in bytes (256 MiB): a larger one is refused with MF_ERR_LIMIT, naming its
 *  size and the limit, before any of it is read. Plan JSON (mf_plan_from_json) and
 *  file contents (mf_storage_save) are not values and have no such limit. */
#define MF_MAX_VALUE_BYTES 268435456u

/** Writes `*out` (length in `*out_len` if not NULL) as Python's
 *  `json.dumps(value, sort_keys=True)` would: separators ", " and ": ", every
 *  non-ASCII character escaped, keys sorted by code point, floats as Python's repr.
 *  Errors: MF_ERR_INVALID_ARGUMENT for malformed input, MF_ERR_LIMIT for nesting
 *  deeper than MF_MAX_DEPTH, MF_ERR_TYPE for a value JSON cannot hold. */
mf_status mf_json_canonical(char **out, size_t *out_len, mf_format format,
                            const void *data, size_t length);

/* ---------------------------------------------------------------------------------
 * Content-addressed storage prefixes
 * ------------------------------------------------------------------------------- */

/** Computes the storage prefix of a node exactly as muflow 0.4.0's compute_prefix:
 *  "{base_prefix}/{task}/{first 16 hex digits of SHA-256 of the canonical JSON}".
 *
 *  hash_dict (`data`, `length` bytes in `format`) must be an object. The hashed object
 *  is the whole hash_dict when identity_keys_json is NULL or an empty array; otherwise
 *  it is the keys of hash_dict named in identity_keys_json plus "task" (the value of
 *  hash_dict's "task", or "unknown"). The label is hash_dict's "task" written as
 *  Python's str() writes it, or "unknown".
 *
 *  base_prefix: NUL-terminated UTF-8, may be empty, must not be NULL.
 *  identity_keys_json: NULL, or NUL-terminated JSON text of an array of strings.
 *  On success `*out` is a new string; free it with mf_string_free(). A task name that
 *  holds a NUL byte ends the C string early: mf_compute_prefixes (JSON, escaped) or
 *  mf_content_digest serve that case. The prefix is text, as muflow computes it:
 *  nothing is checked about where it leads (".." in a label, an empty base_prefix that
 *  makes it absolute); mf_storage_new_in checks that when it opens one under a base. */
mf_status mf_compute_prefix(char **out, mf_format format, const void *data, size_t length,
                            const char *base_prefix, const char *identity_keys_json);

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
 * Local storage: one node's directory
 * ------------------------------------------------------------------------------- */

/** Checks a file name as every storage does: MF_ERR_INVALID_ARGUMENT if it is empty,
 *  absolute, or climbs out of the directory once normalised (its normal form starts
 *  with ".."). */
mf_status mf_filename_validate(const char *name);

/** A node's output directory. Files are written once each; `context.json` and
 *  `manifest.json` are protected from tasks; no name may reach outside the directory,
 *  not through `..`, an absolute path, a NUL byte or a symlink; each file appears
 *  atomically (temporary file and rename), and `manifest.json` appears after every
 *  file it lists. A storage may be used from several threads at once. */
typedef struct mf_storage mf_storage;

/** Flags for mf_storage_new. */
enum {
    /** Sync every file and directory entry to the disk before the manifest's rename
     *  (durable against power loss; costs an fsync per file). */
    MF_STORAGE_DURABLE = 1 << 0,
    /** Restrict writes to the names in allowed_outputs_json. Without this flag the
     *  argument is ignored and any valid name may be written. */
    MF_STORAGE_RESTRICT_OUTPUTS = 1 << 1
};

/** Opens (creating it and its parents if needed) the directory `path`.
 *  allowed_outputs_json: with MF_STORAGE_RESTRICT_OUTPUTS, a JSON array of the names a
 *  task may write; an empty array makes the storage read-only for tasks.
 *  Errors: MF_ERR_INVALID_ARGUMENT (empty path, NUL, bad JSON), MF_ERR_IO and
 *  MF_ERR_PERMISSION when the directory cannot be created. Free with mf_storage_free. */
mf_status mf_storage_new(mf_storage **out, const char *path, uint32_t flags,
                         const char *allowed_outputs_json);

/** mf_storage_new for the directory `base`/`prefix` (a prefix from mf_compute_prefix,
 *  resolved under a base directory), after checking that the prefix stays inside
 *  `base`: MF_ERR_INVALID_ARGUMENT, naming the problem, for an empty prefix, an
 *  absolute one (as an empty base_prefix makes), or one with a ".." component. The
 *  check is on the text: a symlink that `base` itself holds is followed. Other errors
 *  as mf_storage_new. */
mf_status mf_storage_new_in(mf_storage **out, const char *base, const char *prefix, uint32_t flags,
                            const char *allowed_outputs_json);

/** Releases a storage. NULL is accepted. Files stay on disk. */
void mf_storage_free(mf_storage *storage);

/** The directory, as given to mf_storage_new. Owned by the storage; valid until it is
 *  freed. "" for NULL. */
const char *mf_storage_path(const mf_storage *storage);

/** Writes `length` bytes as `name`. allow_protected (non-zero) lets the executor write
 *  `context.json` and `error.json`; tasks pass 0.
 *  Errors: MF_ERR_INVALID_ARGUMENT (bad name), MF_ERR_PERMISSION (protected, not among
 *  the allowed outputs, or escaping through a symlink), MF_ERR_ALREADY_EXISTS (written
 *  before through this storage), MF_ERR_IO. On failure nothing is left on disk. */
mf_status mf_storage_save(mf_storage *storage, const char *name, const void *data,
                          size_t length, int allow_protected);

/** For writers that need a path: checks `name` as mf_storage_save does, claims it,
 *  creates its directory and returns the path to write (free with mf_string_free).
 *  Then call mf_storage_end_write with success non-zero once the file is complete
 *  (it is recorded with its size and checksum), or zero to give the name back (and
 *  remove what the writer left at the path). Unlike mf_storage_save, a file written
 *  this way is not atomic until mf_storage_end_write; until then no manifest names it. */
mf_status mf_storage_begin_write(char **out_path, mf_storage *storage, const char *name);
mf_status mf_storage_end_write(mf_storage *storage, const char *name, int success);

/** The path to read `name` from, after checking that it stays inside the directory
 *  (the file need not exist). Free with mf_string_free. */
mf_status mf_storage_read_path(char **out_path, const mf_storage *storage, const char *name);

/** Sets `*out_exists` to 1 if `name` exists, else 0. Errors as mf_storage_read_path. */
mf_status mf_storage_exists(int *out_exists, const mf_storage *storage, const char *name);

/** The names written through this storage, as a sorted JSON array (free with
 *  mf_string_free). */
mf_status mf_storage_written_files(char **out_json, const mf_storage *storage);

/** How mf_storage_is_cached trusts a manifest. */
typedef enum mf_cache_check {
    /** manifest.json exists (muflow's rule). */
    MF_CACHE_CHECK_PRESENCE = 0,
    /** manifest.json exists and every file it records has its recorded size. A
     *  manifest written by muflow records no sizes and is trusted by presence. */
    MF_CACHE_CHECK_SIZES = 1
} mf_cache_check;

/** 1 if the node's results are complete per `check`, else 0 (also for NULL). Never
 *  fails. */
int mf_storage_is_cached(const mf_storage *storage, mf_cache_check check);

/** Checks many node directories at once: `prefixes_json` is a JSON array of
 *  directories; `*out_json` becomes a JSON array of the same length holding true where
 *  the directory's manifest is complete per `check` (free with mf_string_free).
 *  Errors: MF_ERR_INVALID_ARGUMENT (not an array of strings). */
mf_status mf_storage_check_manifests(char **out_json, const char *prefixes_json, mf_cache_check check);

/** Writes manifest.json (`files`, `timestamp`, and the size and SHA-256 of each file)
 *  atomically, after every file it lists: a temporary file, synced to the disk, then
 *  renamed into place. (With MF_STORAGE_DURABLE the listed files and the directory are
 *  synced first too.) Errors: MF_ERR_IO. */
mf_status mf_storage_write_manifest(mf_storage *storage);

/* ---------------------------------------------------------------------------------
 * Remote storage: the rules of a node's storage without its bytes
 * ------------------------------------------------------------------------------- */

/** What a node wrote to a storage whose bytes the caller moves (an object store such
 *  as S3): the ledger checks every name as mf_storage_save does, lets each be written
 *  once, records each file's size and SHA-256, and writes the manifest that lists them.
 *  A writer claims a name (mf_ledger_claim), stores the bytes, then commits them
 *  (mf_ledger_commit) or gives the name back (mf_ledger_release); it stores
 *  manifest.json (mf_ledger_manifest) only after every file the manifest lists.
 *  A ledger locks internally: every function below may be called on the same ledger
 *  from several threads at once. */
typedef struct mf_ledger mf_ledger;

/** Makes an empty ledger. flags: MF_STORAGE_RESTRICT_OUTPUTS with allowed_outputs_json
 *  as for mf_storage_new (an empty array makes it read-only, for a dependency's
 *  storage); other flags are ignored. Free with mf_ledger_free.
 *  Errors: MF_ERR_INVALID_ARGUMENT (NULL out, bad JSON). */
mf_status mf_ledger_new(mf_ledger **out, uint32_t flags, const char *allowed_outputs_json);

/** Releases a ledger. NULL is accepted. */
void mf_ledger_free(mf_ledger *ledger);

/** Checks `name` and claims it for writing. allow_protected (non-zero) lets the
 *  executor write `context.json` and `error.json`; tasks pass 0. Errors, as
 *  mf_storage_save: MF_ERR_INVALID_ARGUMENT (a bad name: empty, absolute, climbing out
 *  with ".."), MF_ERR_PERMISSION (protected, or not among the allowed outputs),
 *  MF_ERR_ALREADY_EXISTS (claimed before). On failure nothing is claimed. */
mf_status mf_ledger_claim(mf_ledger *ledger, const char *name, int allow_protected);

/** Records the `length` bytes stored under a claimed name (its size and SHA-256).
 *  Errors: MF_ERR_NOT_FOUND (the name is not claimed, or committed already). */
mf_status mf_ledger_commit(mf_ledger *ledger, const char *name, const void *data, size_t length);

/** Gives back a claimed name whose bytes could not be stored; a committed or unknown
 *  name is left as it is. Errors: MF_ERR_INVALID_ARGUMENT (NULL or non-UTF-8 name). */
mf_status mf_ledger_release(mf_ledger *ledger, const char *name);

/** The committed names, as a sorted JSON array (free with mf_string_free). */
mf_status mf_ledger_written_files(char **out_json, const mf_ledger *ledger);

/** The bytes of manifest.json listing the committed files, exactly as
 *  mf_storage_write_manifest writes them (`files`, `timestamp` now in UTC, each file's
 *  size and SHA-256, the outputs' fingerprint `outputs_sha256`). With `inputs_json`
 *  (not NULL) it also records the node's inputs for the stale-input check, as a local
 *  run does: a JSON object of access key to `{"prefix": ..., "outputs_sha256": hex or
 *  null}` in the node's access-map order, each fingerprint the dependency's manifest's
 *  (see mf_manifest_digests); `{}` for a node without dependencies. NULL records none.
 *  `*out` is freed with mf_string_free; `*out_len` (if not NULL) is its length.
 *  Errors: MF_ERR_INVALID_ARGUMENT (NULL out, malformed inputs_json). */
mf_status mf_ledger_manifest(char **out, size_t *out_len, const mf_ledger *ledger, const char *inputs_json);

/* ---------------------------------------------------------------------------------
 * Pipelines and plans
 *
 * A registry describes tasks; a pipeline declares steps; mf_pipeline_build compiles
 * both into a plan exactly as muflow 0.4.0's Pipeline.build_plan does (same node keys,
 * kwargs, edges, access maps, output files and sentinel root), and a plan converts to
 * and from muflow's plan JSON byte for byte.
 * ------------------------------------------------------------------------------- */

/** Task descriptors by name. Unlike other handles, a registry locks internally: every
 *  function below may be called on the same registry from several threads at once. */
typedef struct mf_registry mf_registry;

/** Makes an empty registry. Free with mf_registry_free. Errors: MF_ERR_INVALID_ARGUMENT
 *  (NULL out). */
mf_status mf_registry_new(mf_registry **out);

/** Releases a registry. NULL is accepted. Plans built with it stay valid. */
void mf_registry_free(mf_registry *registry);

/** Registers a task from a JSON object:
 *    {"name": str, "display_name": str = "", "queue": str = "default",
 *     "identity_keys": [str] or null = null, "output_files": [str] = [],
 *     "context_type": str = "task"}
 *  identity_keys null or empty means every kwarg is hashed; output_files are the file
 *  names the task declares (muflow's `outputs.files` keys), copied into its plan nodes.
 *  The name is a directory of its nodes' storage prefixes: it must not be empty, start
 *  with '/', hold a NUL, or have a "." or ".." component ("pkg.module.task" and
 *  "group/task" are fine).
 *  Errors: MF_ERR_INVALID_ARGUMENT (bad JSON, a missing or unsafe name, an unknown
 *  field or a wrong type), MF_ERR_ALREADY_EXISTS (the name is registered). */
mf_status mf_registry_add(mf_registry *registry, const char *descriptor_json);

/** Unregisters a task. Errors: MF_ERR_NOT_FOUND if no task has that name. */
mf_status mf_registry_remove(mf_registry *registry, const char *name);

/** The descriptor of a task as a JSON object in the form mf_registry_add reads (free
 *  with mf_string_free). Errors: MF_ERR_NOT_FOUND. */
mf_status mf_registry_get(char **out_json, const mf_registry *registry, const char *name);

/** The registered names in registration order, as a JSON array (free with
 *  mf_string_free). */
mf_status mf_registry_names(char **out_json, const mf_registry *registry);

/** Unregisters every task and detaches every function attached with
 *  mf_registry_set_function. */
mf_status mf_registry_clear(mf_registry *registry);

/** A declared DAG of steps, kept in declaration order. Not locked: calls on one
 *  pipeline must be serialised, except that const functions may run concurrently. */
typedef struct mf_pipeline mf_pipeline;

/** The kind of a step: muflow's Step (one node) or ForEach (one node per item). */
typedef enum mf_step_kind {
    MF_STEP_SINGLE = 0,
    MF_STEP_FOREACH = 1
} mf_step_kind;

/** Makes an empty pipeline. `name` names the sentinel root node when the last step
 *  has other than one node; display_name may be NULL (""). Free with
 *  mf_pipeline_free. Errors: MF_ERR_INVALID_ARGUMENT (NULL out or name, not UTF-8). */
mf_status mf_pipeline_new(mf_pipeline **out, const char *name, const char *display_name);

/** Releases a pipeline. NULL is accepted. Plans built from it stay valid. */
void mf_pipeline_free(mf_pipeline *pipeline);

/** Appends a step. after_json: NULL (no dependencies) or a JSON array of the names of
 *  the steps that must complete first; they may be declared later, and are checked
 *  by mf_pipeline_validate and mf_pipeline_build. Step names are checked there too
 *  (muflow refuses a name containing ':').
 *  Errors: MF_ERR_INVALID_ARGUMENT (NULL or non-UTF-8 strings, bad after_json, an
 *  unknown kind), MF_ERR_ALREADY_EXISTS (the pipeline has a step of that name). */
mf_status mf_pipeline_add_step(mf_pipeline *pipeline, const char *name, const char *task,
                               mf_step_kind kind, const char *after_json);

/** Supplies a step's jobs up front, so that building needs no callback for it: for a
 *  single step an object (muflow's kwargs_map result), for a forEach step an array of
 *  objects (muflow's `over` result). The value is copied; supplying again replaces it.
 *  Errors: MF_ERR_NOT_FOUND (no such step), MF_ERR_INVALID_ARGUMENT (malformed value,
 *  an array for a single step, a non-array for a forEach step, or an item that is not
 *  an object, named by its index), MF_ERR_LIMIT, MF_ERR_TYPE as for mf_format. */
mf_status mf_pipeline_set_step_jobs(mf_pipeline *pipeline, const char *step_name,
                                    mf_format format, const void *data, size_t length);

/** Checks the pipeline as muflow does before building (step names, then a depth-first
 *  topological sort over the steps in declaration order, visiting `after` in order)
 *  and writes the step names in that order as a JSON array (free with
 *  mf_string_free). This is the order in which mf_pipeline_build asks for jobs.
 *  Errors: MF_ERR_INVALID_ARGUMENT (a name with ':', an unknown `after` reference,
 *  both named; then a step's task name that mf_registry_add would refuse, naming the
 *  step), MF_ERR_CYCLE (the message names every step of the cycle). */
mf_status mf_pipeline_validate(char **out_json, const mf_pipeline *pipeline);

/** Asked once per step, in topological order, for the jobs of each step that has none
 *  supplied by mf_pipeline_set_step_jobs. Set *format_out, *data_out and *len_out to a
 *  value as mf_pipeline_set_step_jobs takes it, or leave *data_out NULL: for a single
 *  step that means no kwargs_map (an empty object); a forEach step must supply an
 *  array. The data must stay valid until the callback is next called or
 *  mf_pipeline_build returns. Return MF_OK, or any other status to stop the build,
 *  which then returns that status. Called on the thread that called mf_pipeline_build. */
typedef mf_status (*mf_jobs_callback)(void *user_data, const char *step_name,
                                      mf_format *format_out, const void **data_out,
                                      size_t *len_out);

/** Flags for mf_pipeline_build. */
enum {
    /** Fail with MF_ERR_NOT_FOUND when a step's task is not in the registry (muflow
     *  builds such a step with no identity keys and no output files). */
    MF_BUILD_STRICT = 1 << 0
};

/** A built plan: a static DAG of nodes with content-addressed storage prefixes.
 *  Immutable: every function taking a plan may run concurrently on it. */
typedef struct mf_plan mf_plan;

/** Compiles a pipeline into a plan, as muflow's build_plan(subject_key, kwargs,
 *  base_prefix). registry may be NULL (no task registered). kwargs: an object in
 *  `kwargs_format`; NULL with length 0 means {}. base_prefix: NULL means "muflow".
 *  jobs: NULL if every forEach step has jobs supplied; user_data is passed to it. The
 *  build works on a copy of the pipeline: changes the callback makes to it apply to
 *  later builds only. Free the plan with mf_plan_free.
 *  Errors: those of mf_pipeline_validate; MF_ERR_INVALID_ARGUMENT (an empty pipeline,
 *  a forEach step without items, malformed or misshapen jobs naming the step and
 *  item; a node label, the middle of "{base}/{label}/{digest}" taken from the task name,
 *  a "task" kwarg or the pipeline's name for a sentinel, with a ".." component, which
 *  would put the node outside base_prefix); MF_ERR_TYPE (kwargs not an object);
 *  MF_ERR_NOT_FOUND (MF_BUILD_STRICT and an unregistered task, naming task and step); a
 *  status returned by the callback. base_prefix itself may be anything, as in muflow. */
mf_status mf_pipeline_build(mf_plan **out, const mf_pipeline *pipeline,
                            const mf_registry *registry, const char *subject_key,
                            mf_format kwargs_format, const void *kwargs, size_t kwargs_length,
                            const char *base_prefix, uint32_t flags,
                            mf_jobs_callback jobs, void *user_data);

/** Releases a plan. NULL is accepted. Strings the plan returned directly
 *  (mf_plan_root_key) die with it. */
void mf_plan_free(mf_plan *plan);

/** The plan as muflow's TaskPlan.to_json() writes it (pydantic's compact JSON), byte
 *  for byte. `*out` is freed with mf_string_free; `*out_len` (if not NULL) is its
 *  length. */
mf_status mf_plan_to_json(char **out, size_t *out_len, const mf_plan *plan);

/** The text of mf_plan_to_json, laid out but not yet written, for a caller that
 *  writes it into memory of its own (a Python str) once it knows the length. */
typedef struct mf_plan_json mf_plan_json;

/** Lays out the plan's JSON: `*out_len` is its length in bytes and `*out_ascii` is 1
 *  if every byte is ASCII, else 0. The layout does not refer to the plan (either may
 *  be freed first). Free it with mf_plan_json_free. Errors: MF_ERR_INVALID_ARGUMENT
 *  (a string holding a lone surrogate, which pydantic cannot write either). */
mf_status mf_plan_json_layout(mf_plan_json **out, size_t *out_len, int *out_ascii,
                              const mf_plan *plan);

/** Writes the laid-out JSON to `dest`, which holds at least `out_len` bytes (no NUL
 *  is added). A destination of several megabytes may be advised to the kernel as
 *  huge-page memory (madvise), which only speeds up its first touch. Immutable: may
 *  run concurrently on one layout. */
void mf_plan_json_write(const mf_plan_json *layout, char *dest);

/** Releases a layout. NULL is accepted. */
void mf_plan_json_free(mf_plan_json *layout);

/** Reads `length` bytes of plan JSON (no terminating NUL needed) as muflow's
 *  TaskPlan.from_json does: any layout or field order, missing optional fields
 *  defaulted (analysis_id read as pydantic's lax int), unknown fields refused. A node
 *  may be filed under a key other than its "key" field, as muflow allows; lookups,
 *  depends_on and the returned key lists use the filing keys. The plan must also be
 *  usable: root_key and every depends_on key name a node, and the nodes form no
 *  cycle. Like pydantic, it takes only Unicode text: a surrogate code point (D800 to
 *  DFFF) that is not half of a pair, escaped or encoded, is refused. Errors:
 *  MF_ERR_INVALID_ARGUMENT (the message gives the path of the culprit, e.g.
 *  "nodes.<key>.depends_on.0"), MF_ERR_CYCLE (naming one cycle), MF_ERR_LIMIT. */
mf_status mf_plan_from_json(mf_plan **out, const char *json, size_t length);

/** The number of nodes; 0 for NULL. */
size_t mf_plan_node_count(const mf_plan *plan);

/** The root node's key. Owned by the plan, valid until it is freed; "" for NULL. */
const char *mf_plan_root_key(const mf_plan *plan);

/** The index of the root node (see mf_plan_node_index); 0 for NULL. With
 *  mf_plan_node_field it reads a root key that holds a NUL byte. */
size_t mf_plan_root_index(const mf_plan *plan);

/** The index (0 ... count-1, in the plan's node order) of the node filed under `key`.
 *  The key's bytes are matched as they are (a key may hold a lone surrogate from
 *  Python): bytes that are not UTF-8 name no node. Errors: MF_ERR_NOT_FOUND. */
mf_status mf_plan_node_index(size_t *out_index, const mf_plan *plan, const char *key);

/** What mf_plan_node_field reads. String fields come as their text; the others as
 *  compact JSON as the plan JSON holds them. */
typedef enum mf_node_field {
    MF_NODE_KEY = 0,
    MF_NODE_FUNCTION = 1,
    MF_NODE_SUBJECT_KEY = 2,
    MF_NODE_STORAGE_PREFIX = 3,
    /** The kwargs object. */
    MF_NODE_KWARGS = 4,
    /** A JSON array of keys. */
    MF_NODE_DEPENDS_ON = 5,
    /** A JSON array of keys. */
    MF_NODE_DEPENDED_ON_BY = 6,
    /** A JSON array of file names. */
    MF_NODE_OUTPUT_FILES = 7,
    /** A JSON object: access key ("step" or "step:i") to storage prefix. */
    MF_NODE_ACCESS_MAP = 8,
    /** An integer, or null. */
    MF_NODE_ANALYSIS_ID = 9,
    /** The whole node as TaskNode.model_dump_json() writes it. */
    MF_NODE_JSON = 10
} mf_node_field;

/** Writes one field of the node at `index` to `*out` (free with mf_string_free;
 *  length in `*out_len` if not NULL). Errors: MF_ERR_NOT_FOUND (index out of range),
 *  MF_ERR_INVALID_ARGUMENT (an unknown field). */
mf_status mf_plan_node_field(char **out, size_t *out_len, const mf_plan *plan, size_t index,
                             mf_node_field field);

/** Nodes `start`, `start` + 1, ... as a JSON array of their MF_NODE_JSON texts: at
 *  most `max_count` nodes, and no further node once the text reaches `byte_budget`
 *  bytes (at least one node), for a caller reading nodes a few at a time. `*out` is
 *  freed with mf_string_free; `*out_len` (if not NULL) is its length. Errors:
 *  MF_ERR_NOT_FOUND (start out of range), MF_ERR_INVALID_ARGUMENT (max_count 0). */
mf_status mf_plan_nodes_json(char **out, size_t *out_len, const mf_plan *plan, size_t start,
                             size_t max_count, size_t byte_budget);

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

/** The keys of all nodes in order, as a JSON array (free with mf_string_free). */
mf_status mf_plan_node_keys(char **out_json, const mf_plan *plan);

/** One field of every node, in node order, as a JSON array (free with mf_string_free):
 *  strings for the string fields, the JSON of the others. Errors:
 *  MF_ERR_INVALID_ARGUMENT (an unknown field, or MF_NODE_JSON). */
mf_status mf_plan_field_values(char **out_json, const mf_plan *plan, mf_node_field field);

/** The keys of the nodes without dependencies, in node order, as a JSON array (free
 *  with mf_string_free). */
mf_status mf_plan_leaf_nodes(char **out_json, const mf_plan *plan);

/** The edges in grouped form, for a caller tracking readiness itself: a JSON array
 *  [groups, dependencies] where groups[i] is the group of node i and dependencies[g]
 *  the distinct indices of the nodes group g depends on (nodes with equal depends_on
 *  lists form one group, so a fan-in costs one list). Free with mf_string_free. */
mf_status mf_plan_dependency_groups(char **out_json, const mf_plan *plan);

/** muflow's ready_nodes: given completed_json, a JSON array of completed node keys,
 *  the keys of the nodes not completed whose dependencies all are, in node order, as
 *  a JSON array (free with mf_string_free). Errors: MF_ERR_INVALID_ARGUMENT (not an
 *  array of strings). */
mf_status mf_plan_ready_nodes(char **out_json, const mf_plan *plan, const char *completed_json);

/** muflow's is_complete: sets `*out_complete` to 1 if the root key is among
 *  completed_json (a JSON array of keys), else 0. Errors as mf_plan_ready_nodes. */
mf_status mf_plan_is_complete(int *out_complete, const mf_plan *plan, const char *completed_json);

/** Sets `*out_found` to 1 and `*out_index` to the sentinel root's index if the plan's
 *  root is the sentinel muflow's builder adds for a last step of other than one node:
 *  built so by this library, or (plan JSON) a root that depends on two or more nodes
 *  through an empty access map and whose key is the prefix of {"task": function,
 *  "subject": subject_key, **kwargs}. Otherwise `*out_found` is 0 and `*out_index` is
 *  unchanged. Never inferred from a task being unregistered. Errors:
 *  MF_ERR_INVALID_ARGUMENT. */
mf_status mf_plan_sentinel_index(int *out_found, size_t *out_index, const mf_plan *plan);

/** Checks that every node's task but the sentinel root's is registered in `registry`
 *  (as mf_run_new does before a run). Errors: MF_ERR_MISSING_TASK (the message names
 *  the missing tasks, the steps that use them, and says to register them first),
 *  MF_ERR_INVALID_ARGUMENT. Thread-safe. */
mf_status mf_plan_check_tasks(const mf_plan *plan, const mf_registry *registry);

/** The node keys by topological level, as a JSON array of arrays: level 0 holds the
 *  nodes without dependencies, each later level the nodes whose dependencies are all
 *  in earlier levels; node order within a level (free with mf_string_free).
 *  Errors: MF_ERR_CYCLE (only for a built plan whose colliding keys made one). */
mf_status mf_plan_levels(char **out_json, const mf_plan *plan);

/** The plan as an AWS Step Functions state machine (Amazon States Language) whose Task
 *  states invoke a Lambda function that runs one node. `options_json` is an object:
 *    "function_arn": str  the Lambda function's ARN (required)
 *    "bucket": str        the S3 bucket of the nodes' storage (required)
 *    "layout": "compact" (default) or "levels"
 *    "comment": str       the definition's Comment (a default names the root key)
 *  compact: the layout that runs plans. The plan (mf_plan_store_json) is stored once at "plan_key"
 *  (str, required) in the bucket; each invocation's payload is only
 *  {"bucket", "plan_key", "node": index}; a level of several nodes is one Map state,
 *  inline over its node indices while the history allows, else a Distributed Map
 *  reading them from "items_prefix"/level-L.json (default items_prefix:
 *  plan_key + ".items"); "completed" (array of node indices, optional) lists nodes
 *  whose results exist: they are left out, and their dependents do not wait for them.
 *  The definition is refused with MF_ERR_LIMIT when it would exceed one of AWS's
 *  limits (1 MB definition, 256 KiB state payload, 25,000 history events per
 *  execution, its worst case counted with every retry); the message names each such
 *  limit and by how much it is exceeded. "limits" (optional) lowers them, for
 *  headroom: an object with any of "definition_bytes", "payload_bytes" and
 *  "history_events", each a positive integer no greater than AWS's.
 *  levels: muflow 0.4.0's layout (a Task state per one-node level, else a Parallel
 *  state with a branch per node, each node's whole event inlined), over "levels" (an
 *  array of arrays of node keys; default: the plan's levels). Checked against the
 *  limits as above unless "check_limits" is false; an empty "levels" gives a null
 *  definition.
 *  `*out` (free with mf_string_free; length in `*out_len` if not NULL) is a JSON
 *  object: "definition" (the definition's JSON text, as a string, to send as it is),
 *  "definition_bytes", "history_events" (worst case), "largest_payload_bytes",
 *  "inline_maps", "distributed_maps", "nodes_run", and "item_files": [{"key", "body"}]
 *  the files to store in the bucket before an execution starts.
 *  Errors: MF_ERR_INVALID_ARGUMENT (bad options, naming the option), MF_ERR_NOT_FOUND
 *  (a key in "levels" that names no node), MF_ERR_LIMIT. The plan is immutable: may
 *  run concurrently on one plan. */
mf_status mf_plan_state_machine(char **out, size_t *out_len, const mf_plan *plan, const char *options_json);

/** The plan as the compact layout's Lambda invocations read it (stored at "plan_key"):
 *  a JSON object {"format": "muflow-plan-store/1", "root": index, "values": [...],
 *  "maps": [...], "nodes": [[key, function, storage_prefix, kwargs, access_map,
 *  dependencies], ...]} in node order, where `kwargs` is a list of [name, value]
 *  entries, or [name, 0, i] for the shared value values[i], `access_map` an object or
 *  the index of a shared one in "maps", and `dependencies` the number of nodes the node
 *  depends on. Large kwargs values and access maps that several nodes hold are written
 *  once, so the text grows with the nodes, not with nodes times shared values as plan
 *  JSON does. Values are written as mf_plan_to_json writes them. `*out` is freed with
 *  mf_string_free; `*out_len` (if not NULL) is its length. Errors:
 *  MF_ERR_INVALID_ARGUMENT (NULL out or plan; a string holding a lone surrogate). May
 *  run concurrently on one plan. */
mf_status mf_plan_store_json(char **out, size_t *out_len, const mf_plan *plan);

/** The name of a plan's state machine, as muflow 0.4.0 derives it from the root key:
 *  "{prefix}-{the root key after its last '/'}", each character outside [A-Za-z0-9_-]
 *  of that part replaced by '-', cut to 80 characters (AWS's limit). `*out` is freed
 *  with mf_string_free. Errors: MF_ERR_INVALID_ARGUMENT (NULL, or not UTF-8). */
mf_status mf_state_machine_name(char **out, const char *prefix, const char *root_key);

/* ---------------------------------------------------------------------------------
 * Runs: executing a plan on local storage
 * ------------------------------------------------------------------------------- */

/** One execution of a plan on local directories (each node's storage_prefix is its
 *  directory). Nodes become ready the moment their last dependency finishes. A node
 *  whose manifest.json is complete and whose recorded inputs (its dependencies'
 *  prefixes and output fingerprints) are still the current ones is skipped (cached);
 *  one whose inputs changed is stale and runs again, as does a node without a
 *  manifest: context.json is written, the task runs, and manifest.json (success, with
 *  the node's inputs recorded) or error.json (failure, with the files written so far)
 *  is written after it. A manifest without an inputs record (muflow's) is trusted as
 *  before. The sentinel root (mf_plan_sentinel_index), when no task of its name is
 *  registered, completes as a built-in no-op; no other node ever does. Every function
 *  on a run may be called from any thread concurrently. */
typedef struct mf_run mf_run;

/** What happens to the rest of a run after a node fails. */
typedef enum mf_failure_policy {
    /** muflow's behaviour: start no further node; running nodes finish. */
    MF_FAILURE_STOP = 0,
    /** Keep running every node that does not depend on a failed one. */
    MF_FAILURE_CONTINUE_INDEPENDENT = 1
} mf_failure_policy;

/** Flags for mf_run_new. */
enum {
    /** Sync every node's files to the disk before its manifest's rename. */
    MF_RUN_DURABLE = 1 << 0,
    /** Trust a manifest by its presence alone (muflow's rule) rather than also checking
     *  the sizes it records. */
    MF_RUN_TRUST_MANIFEST_PRESENCE = 1 << 1,
    /** Let mf_run_next also return cached and built-in nodes (MF_EVENT_CACHED,
     *  MF_EVENT_BUILT_IN), for callers that report every node. */
    MF_RUN_REPORT_SETTLED = 1 << 2
};

/** Starts a run of `plan`. With a registry, every node's task (the sentinel root's
 *  excepted) must be registered in it: otherwise nothing starts and the call fails with
 *  MF_ERR_MISSING_TASK, naming every missing task and the steps that use it. Without
 *  one (NULL) no task is checked, and the sentinel root is a built-in no-op. The run
 *  keeps its own reference to the plan. Free with mf_run_free.
 *  Errors: MF_ERR_INVALID_ARGUMENT, MF_ERR_CYCLE (the plan's nodes form a cycle),
 *  MF_ERR_MISSING_TASK. */
mf_status mf_run_new(mf_run **out, const mf_plan *plan, const mf_registry *registry,
                     mf_failure_policy policy, uint32_t flags);

/** Releases a run. NULL is accepted. Call it only once no thread is inside a call on
 *  the run. */
void mf_run_free(mf_run *run);

/** What mf_run_next hands out. */
typedef enum mf_event_kind {
    /** No further node will be handed out: the run finished, stopped or was cancelled. */
    MF_EVENT_DONE = 0,
    /** Run the task of the node; then call mf_run_finish_node. */
    MF_EVENT_RUN = 1,
    /** The node was already complete (with MF_RUN_REPORT_SETTLED only). */
    MF_EVENT_CACHED = 2,
    /** A built-in no-op node completed (with MF_RUN_REPORT_SETTLED only). */
    MF_EVENT_BUILT_IN = 3,
    /** The node's directory could not be prepared; it counts as failed and the message
     *  is the thread's last error message. */
    MF_EVENT_FAILED = 4
} mf_event_kind;

/** Waits until a node is ready (or the run is over) and writes its index, in plan node
 *  order, to `*out_index` and what to do with it to `*out_kind`. Blocks while other
 *  workers run nodes; several workers may wait at once. */
mf_status mf_run_next(mf_run *run, mf_event_kind *out_kind, size_t *out_index);

/** mf_run_next for up to `capacity` nodes at once, for workers that pay per call (a
 *  Python worker through ctypes): waits like mf_run_next until a node is ready (or the
 *  run is over), then hands out, in the order mf_run_next would, the nodes of that
 *  node's depth that are ready now, up to `capacity` and up to a `workers`th of the
 *  ready nodes (rounded up; `workers` is how many workers pull from the run, so that
 *  one does not take what the others could run). Writes what to do with each to
 *  `out_kinds[i]` and `out_indices[i]` (arrays of at least `capacity` elements) and how
 *  many there are to `*out_count`: 0 means MF_EVENT_DONE. An MF_EVENT_FAILED node is
 *  always the last one, and its message is the thread's last error message. Finish the
 *  MF_EVENT_RUN nodes with mf_run_finish_node or mf_run_finish_nodes, or give back the
 *  ones whose tasks did not start with mf_run_return_nodes.
 *  Errors: MF_ERR_INVALID_ARGUMENT (capacity or workers 0, NULL output). */
mf_status mf_run_next_nodes(mf_run *run, size_t capacity, size_t workers, mf_event_kind *out_kinds,
                            size_t *out_indices, size_t *out_count);

/** The storage of a node handed out with MF_EVENT_RUN, for its task to write to: a
 *  new handle to the run's storage of that node (free with mf_storage_free).
 *  Errors: MF_ERR_NOT_FOUND (the node is not running). */
mf_status mf_run_node_storage(mf_storage **out, mf_run *run, size_t index);

/** Reports the task of a node handed out with MF_EVENT_RUN: success non-zero writes its
 *  manifest; zero records a failure with `error_message` and `error_traceback` (either
 *  may be NULL: "task failed" and "") in error.json, each malformed UTF-8 sequence
 *  replaced by U+FFFD. Errors: MF_ERR_NOT_FOUND (the node is not running). */
mf_status mf_run_finish_node(mf_run *run, size_t index, int success, const char *error_message,
                             const char *error_traceback);

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

/** Hands out no further node; nodes running finish as usual. NULL does nothing. */
void mf_run_cancel(mf_run *run);

/** Counts of a run at one instant. */
typedef struct mf_run_progress {
    size_t total;
    size_t succeeded;
    size_t cached;
    size_t failed;
    /** Nodes that will not run: downstream of a failure, or left when the run stopped. */
    size_t skipped;
    size_t running;
    int finished;
    int cancelled;
    /** Nodes found complete whose recorded inputs had changed (a dependency moved, or
     *  its outputs changed), run again; also counted in succeeded or failed. */
    size_t stale;
} mf_run_progress;

/** Fills `*out` with the run's counts. */
mf_status mf_run_get_progress(const mf_run *run, mf_run_progress *out);

/** The message of the run's first failure as a new string (free with mf_string_free),
 *  or NULL in `*out` if no node has failed. */
mf_status mf_run_first_failure(char **out, const mf_run *run);

/** A task implemented in C: called on a worker thread with the node's index, its
 *  kwargs as compact JSON, its storage (borrowed for the call), and its dependencies
 *  as a JSON object from access key to directory. Return MF_OK for success; for a
 *  failure return another status after setting a message with mf_task_fail. */
typedef struct mf_task_call mf_task_call;
typedef mf_status (*mf_task_fn)(void *user_data, const mf_task_call *call);

/** The parts of a task call, valid during the call only. For NULL: 0, "", "{}", "{}"
 *  and NULL. */
size_t mf_task_call_index(const mf_task_call *call);
const char *mf_task_call_function(const mf_task_call *call);
const char *mf_task_call_kwargs_json(const mf_task_call *call);
const char *mf_task_call_dependencies_json(const mf_task_call *call);
mf_storage *mf_task_call_storage(const mf_task_call *call);

/** Sets the message recorded in error.json when the task returns a failure (malformed
 *  UTF-8 replaced by U+FFFD). A NULL message leaves the default, "task returned
 *  <status name>"; a NULL call does nothing. */
void mf_task_fail(const mf_task_call *call, const char *message);

/** Attaches a C implementation to a task name of a registry (the task need not be
 *  registered with mf_registry_add for this). Replaces an earlier one.
 *  Errors: MF_ERR_INVALID_ARGUMENT (NULL name or function). */
mf_status mf_registry_set_function(mf_registry *registry, const char *name, mf_task_fn function,
                                   void *user_data);

/** Runs the whole plan on `threads` native worker threads (0: the number of CPUs),
 *  calling the C function attached in `registry` to each node's task, and returns when
 *  the run is over. A node whose task has no function fails. Errors:
 *  MF_ERR_TASK_FAILED (a node failed; the message is mf_run_first_failure's),
 *  MF_ERR_CANCELLED (mf_run_cancel was called from another thread). */
mf_status mf_run_execute(mf_run *run, const mf_registry *registry, size_t threads);

/* ---------------------------------------------------------------------------------
 * remote branch: the stale-input check of backends whose manifests live elsewhere
 * (S3 read by Celery workers, Lambda and the submitting process). The caller fetches
 * manifests; these functions apply the same rule as a local run. All are pure: they
 * hold no state, and may be called from any thread at once.
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

#endif /* MUFLOW_H */
