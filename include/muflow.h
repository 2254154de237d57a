/*
 * muflow.h - the stable C interface of libmuflow, a workflow execution engine.
 *
 * This header is the contract for C, C++ and Swift programs. Every function is declared
 * here once and implemented in Swift with `@c @implementation`, which the compiler
 * checks against these declarations.
 *
 * Two tiers
 * ---------
 * The criterion: a function belongs here if a C program needs it to build, run, inspect
 * or store plans, and would want it even if no other language used the library. A
 * function that exists for a binding's speed (a batch form that saves calls through an
 * FFI, a readiness or digest shortcut) or for another language's data shape (Python
 * pickles, laying out a Python str) belongs to muflow_binding.h, which promises less.
 * One exception of form: MF_FORMAT_PICKLE stays an enumerator of mf_format below, so
 * that the enum keeps one type in C++ and Swift, but it belongs to the binding tier.
 *
 * Stability: within one major version (MF_VERSION_MAJOR, which is also the soname,
 * libmuflow.so.MAJOR), a function, type or constant of this header keeps its meaning
 * and signature, and numeric values never change; new ones may be added.
 *
 * Conventions
 * -----------
 * - Every public name starts with `mf_` (functions, types) or `MF_` (macros, enum
 *   constants). Only `mf_*` symbols are exported from libmuflow.so.
 * - Fallible functions return an `mf_status`: MF_OK (0) on success, a positive code
 *   naming the kind of failure otherwise. The message of the latest failure is read
 *   with mf_last_error_message() on the thread that made the failing call.
 * - Output parameters come first, in the order the results are named in the function's
 *   description, and are named `out...` (the capacity of a caller's buffer, if any,
 *   beside it); the handle the call works on follows them, then the inputs. On failure
 *   outputs are left untouched, and nothing is half-done: no output is allocated,
 *   nothing is written.
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
 * - A caller-allocated struct starts with a `size` field that the caller sets to the
 *   struct's size (sizeof); the library writes only what fits and refuses a size below
 *   the struct's first published layout with MF_ERR_INVALID_ARGUMENT.
 *
 * Thread safety
 * -------------
 * The rule: every function may be called from any thread. Functions that take no
 * handle, and functions that take a `const` handle, may run concurrently. Functions
 * that take a non-const handle need the caller to serialise calls on that handle.
 * The exceptions, each a handle that locks internally or is immutable:
 * - mf_storage: every function may be called on one storage from several threads at
 *   once (tasks of a run write through one storage concurrently).
 * - mf_ledger: every function may be called on one ledger from several threads at once.
 * - mf_registry: every function may be called on one registry from several threads at
 *   once (a run reads it while a program registers more tasks).
 * - mf_run: every function may be called on one run from several threads at once (its
 *   workers); only mf_run_free needs that no thread is inside a call on the run.
 * - mf_plan: immutable once built or read; every function taking a plan may run
 *   concurrently on it.
 * - mf_pipeline: not locked; the rule applies (its const functions may run
 *   concurrently).
 * - Callbacks: an mf_task_fn is called on a worker thread, several at once for the
 *   nodes of one run; an mf_jobs_callback on the thread that called mf_pipeline_build;
 *   an mf_destroy_fn on whichever thread drops the last use of its user data.
 * - mf_last_error_message is per thread: concurrent callers never see each other's.
 * - The binding tier's handles (muflow_binding.h): mf_plan_json and mf_node_pickler are
 *   immutable once made; mf_ready_tracker is not locked, so the rule applies (one
 *   thread at a time per tracker).
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

/* The one place the version is written: the Swift library, its soname (MAJOR) and the
 * Python package's version are all derived from these three lines. */
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
    /** The task's own code failed: what a task function (mf_task_fn) or a callback
     *  (mf_jobs_callback) returns when the user's code raised or failed. A run counts
     *  the node as failed; mf_run_execute returns it when a node failed. */
    MF_ERR_TASK_FAILED = 7,
    /** The operation was cancelled (mf_run_cancel); never the user code's failure. */
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
 *  MF_FORMAT_PICKLE: of the binding tier; see muflow_binding.h. */
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
 *  file it lists. Locks internally (see Thread safety at the top). */
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
 *  Locks internally (see Thread safety at the top). */
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

/** Task descriptors by name. Locks internally (see Thread safety at the top). */
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

/** Unregisters a task and detaches the function attached to its name with
 *  mf_registry_set_function, if any. Errors: MF_ERR_NOT_FOUND if the name has neither. */
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

/** A declared DAG of steps, kept in declaration order. Not locked (see Thread safety
 *  at the top). */
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
 *  which then returns that status: MF_ERR_TASK_FAILED when the user's code that makes
 *  the jobs failed. Called on the thread that called mf_pipeline_build. */
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
 *  Immutable (see Thread safety at the top). */
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

/** The keys of all nodes in order, as a JSON array (free with mf_string_free). */
mf_status mf_plan_node_keys(char **out_json, const mf_plan *plan);

/** The keys of the nodes without dependencies, in node order, as a JSON array (free
 *  with mf_string_free). */
mf_status mf_plan_leaf_nodes(char **out_json, const mf_plan *plan);

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
 *  registered, completes as a built-in no-op; no other node ever does. Locks internally
 *  (see Thread safety at the top). */
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
    /** The node's directory could not be prepared; it counts as failed. The call that
     *  handed it out returned MF_OK and leaves the thread's last error alone: read the
     *  message with mf_run_node_failure. */
    MF_EVENT_FAILED = 4
} mf_event_kind;

/** Waits until a node is ready (or the run is over) and writes what to do with it to
 *  `*out_kind` and its index, in plan node order, to `*out_index`. Blocks while other
 *  workers run nodes; several workers may wait at once. */
mf_status mf_run_next(mf_event_kind *out_kind, size_t *out_index, mf_run *run);

/** The message of the failure of node `index` when the run handed it out as
 *  MF_EVENT_FAILED, as a new string (free with mf_string_free), or NULL in `*out`
 *  for any other node. (The failure of a task is what mf_run_finish_node was given;
 *  mf_run_first_failure reads the run's first failure of either kind.)
 *  Errors: MF_ERR_INVALID_ARGUMENT (NULL out or run). */
mf_status mf_run_node_failure(char **out, const mf_run *run, size_t index);

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

/** Hands out no further node; nodes running finish as usual. NULL does nothing. */
void mf_run_cancel(mf_run *run);

/** Counts of a run at one instant. Caller-allocated: set `size` before the call, e.g.
 *  `mf_run_progress p = { .size = sizeof p };` (C) or MF_RUN_PROGRESS_INIT. */
typedef struct mf_run_progress {
    /** sizeof(mf_run_progress) as the caller compiled it; the library checks it. */
    size_t size;
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

/** An mf_run_progress with its size set and every count 0. */
#define MF_RUN_PROGRESS_INIT { sizeof(mf_run_progress), 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/** Fills `*out` with the run's counts; `out->size` must be set by the caller. A later
 *  library that appends counts writes only those that fit in `out->size`.
 *  Errors: MF_ERR_INVALID_ARGUMENT (NULL; `out->size` smaller than this layout, the
 *  first published one, with the message naming both sizes). */
mf_status mf_run_get_progress(mf_run_progress *out, const mf_run *run);

/** The message of the run's first failure as a new string (free with mf_string_free),
 *  or NULL in `*out` if no node has failed. */
mf_status mf_run_first_failure(char **out, const mf_run *run);

/** A task implemented in C: called on a worker thread with the node's index, its
 *  kwargs as compact JSON, its storage (borrowed for the call), and its dependencies
 *  as a JSON object from access key to directory. Return MF_OK for success; when the
 *  task's own code fails, return MF_ERR_TASK_FAILED after setting a message with
 *  mf_task_fail. Any status other than MF_OK fails the node. */
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

/** Releases the user data of a function attached with mf_registry_set_function. */
typedef void (*mf_destroy_fn)(void *user_data);

/** Attaches a C implementation to a task name of a registry (the task need not be
 *  registered with mf_registry_add for this). Replaces an earlier one. `destroy` (may
 *  be NULL) is called with `user_data` exactly once, when the registry lets go of the
 *  function (it is replaced, detached by mf_registry_remove or mf_registry_clear, or
 *  the registry is freed) and no call of it is still running. If this call fails,
 *  `destroy` is not called: the caller keeps `user_data`.
 *  Errors: MF_ERR_INVALID_ARGUMENT (NULL name or function). */
mf_status mf_registry_set_function(mf_registry *registry, const char *name, mf_task_fn function,
                                   void *user_data, mf_destroy_fn destroy);

/** Runs the whole plan on `threads` native worker threads (0: the number of CPUs),
 *  calling the C function attached in `registry` to each node's task, and returns when
 *  the run is over. A node whose task has no function fails. Errors:
 *  MF_ERR_TASK_FAILED (a node failed; the message is mf_run_first_failure's),
 *  MF_ERR_CANCELLED (mf_run_cancel was called from another thread). */
mf_status mf_run_execute(mf_run *run, const mf_registry *registry, size_t threads);

#ifdef __cplusplus
}
#endif

#endif /* MUFLOW_H */
