/* Runs plans through muflow.h with tasks written in C: a fan-in of "square" nodes into
 * a "sum" node. Checks the outputs, context.json and manifest.json of every node, a
 * cached rerun, a failing task's error.json, the pull API (mf_run_next /
 * mf_run_node_storage / mf_run_finish_node), a node whose directory cannot be prepared
 * (MF_EVENT_FAILED, mf_run_node_failure), the destroy callback of a function's user
 * data, mf_run_progress's size check, cancellation and the NULL-argument errors; frees
 * everything. Run under valgrind by `make c-test`. */
#define _XOPEN_SOURCE 700
#include <muflow.h>

#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures = 0;

#define EXPECT(condition, what)                                                              \
    do {                                                                                     \
        if (!(condition)) {                                                                  \
            fprintf(stderr, "FAILED line %d: %s (last error: %s)\n", __LINE__, (what),       \
                    mf_last_error_message());                                                \
            failures++;                                                                      \
        }                                                                                    \
    } while (0)

/* ---- small file and JSON helpers ------------------------------------------------ */

/* The whole file as a NUL-terminated string (free it), or NULL. */
static char *read_file(const char *path) {
    FILE *file = fopen(path, "rb");
    if (!file) return NULL;
    size_t size = 0, capacity = 256;
    char *text = malloc(capacity);
    size_t n;
    while (text && (n = fread(text + size, 1, capacity - size - 1, file)) > 0) {
        size += n;
        if (capacity - size < 2) {
            char *bigger = realloc(text, capacity * 2);
            if (!bigger) { free(text); text = NULL; break; }
            text = bigger;
            capacity *= 2;
        }
    }
    fclose(file);
    if (text) text[size] = '\0';
    return text;
}

static int file_exists(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static char *read_in(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return read_file(path);
}

/* The integer after `"key":` (compact or spaced JSON), or `fallback`. */
static long json_int(const char *json, const char *key, long fallback) {
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = strstr(json, pattern);
    if (!at) return fallback;
    return strtol(at + strlen(pattern), NULL, 10);
}

/* Reads one JSON string starting at the opening quote into out (escapes \" \\ \/
 * only, which is all the engine writes for plain paths); returns the position after
 * the closing quote, or NULL. */
static const char *json_string(const char *at, char *out, size_t size) {
    if (*at != '"') return NULL;
    size_t n = 0;
    for (at++; *at && *at != '"'; at++) {
        char c = *at;
        if (c == '\\') {
            at++;
            if (*at != '"' && *at != '\\' && *at != '/') return NULL;
            c = *at;
        }
        if (n + 1 >= size) return NULL;
        out[n++] = c;
    }
    if (*at != '"') return NULL;
    out[n] = '\0';
    return at + 1;
}

/* ---- the tasks ------------------------------------------------------------------ */

struct counters {
    atomic_int square_calls; /* tasks run on several worker threads */
    atomic_int sum_calls;
    int fail_square; /* the value of n whose square fails, or -1 */
    atomic_int destroyed; /* calls of the destroy callback of its function */
};

/* kwargs {"n": N}: writes value.txt holding N * N. */
static mf_status square_task(void *user_data, const mf_task_call *call) {
    struct counters *counters = user_data;
    atomic_fetch_add(&counters->square_calls, 1);
    long n = json_int(mf_task_call_kwargs_json(call), "n", -1);
    char text[64];
    int length = snprintf(text, sizeof text, "%ld\n", n * n);
    mf_status status = mf_storage_save(mf_task_call_storage(call), "value.txt", text, (size_t)length, 0);
    if (status != MF_OK) return status;
    if (n == counters->fail_square) {
        mf_task_fail(call, "square refused this n");
        return MF_ERR_TASK_FAILED;
    }
    return MF_OK;
}

/* Sums value.txt of every dependency (found through the dependencies JSON object,
 * access key -> directory) into sum.txt. */
static mf_status sum_task(void *user_data, const mf_task_call *call) {
    struct counters *counters = user_data;
    atomic_fetch_add(&counters->sum_calls, 1);
    const char *deps = mf_task_call_dependencies_json(call);
    long total = 0;
    int count = 0;
    const char *at = deps + 1; /* after '{' */
    char key[256], dir[4096];
    while (*at == '"') {
        at = json_string(at, key, sizeof key);
        if (!at || *at != ':') break;
        at = json_string(at + 1, dir, sizeof dir);
        if (!at) break;
        char *value = read_in(dir, "value.txt");
        if (!value) {
            mf_task_fail(call, "a dependency has no value.txt");
            return MF_ERR_NOT_FOUND;
        }
        total += strtol(value, NULL, 10);
        free(value);
        count++;
        if (*at == ',') at++;
    }
    char text[64];
    int length = snprintf(text, sizeof text, "%ld from %d\n", total, count);
    return mf_storage_save(mf_task_call_storage(call), "sum.txt", text, (size_t)length, 0);
}

/* ---- building and running ---------------------------------------------------------- */

static mf_registry *make_registry(struct counters *counters) {
    mf_registry *registry = NULL;
    EXPECT(mf_registry_new(&registry) == MF_OK, "registry");
    EXPECT(mf_registry_add(registry, "{\"name\": \"t.square\", \"identity_keys\": [\"n\"], "
                                     "\"output_files\": [\"value.txt\"]}") == MF_OK, "add t.square");
    EXPECT(mf_registry_add(registry, "{\"name\": \"t.sum\", \"output_files\": [\"sum.txt\"]}") == MF_OK, "add t.sum");
    EXPECT(mf_registry_set_function(registry, "t.square", square_task, counters, NULL) == MF_OK, "attach t.square");
    EXPECT(mf_registry_set_function(registry, "t.sum", sum_task, counters, NULL) == MF_OK, "attach t.sum");
    return registry;
}

/* squares (forEach n = 1..4) -> sum (single): 5 nodes, sum is the root. */
static mf_plan *make_plan(const mf_registry *registry, const char *base) {
    mf_pipeline *pipeline = NULL;
    mf_plan *plan = NULL;
    const char *items = "[{\"n\": 1}, {\"n\": 2}, {\"n\": 3}, {\"n\": 4}]";
    EXPECT(mf_pipeline_new(&pipeline, "t.pipeline", NULL) == MF_OK, "pipeline");
    EXPECT(mf_pipeline_add_step(pipeline, "squares", "t.square", MF_STEP_FOREACH, NULL) == MF_OK, "squares");
    EXPECT(mf_pipeline_add_step(pipeline, "sum", "t.sum", MF_STEP_SINGLE, "[\"squares\"]") == MF_OK, "sum");
    EXPECT(mf_pipeline_set_step_jobs(pipeline, "squares", MF_FORMAT_JSON, items, strlen(items)) == MF_OK, "items");
    EXPECT(mf_pipeline_build(&plan, pipeline, registry, "tag:1", MF_FORMAT_JSON, NULL, 0, base, registry ? MF_BUILD_STRICT : 0,
                             NULL, NULL) == MF_OK, "build");
    mf_pipeline_free(pipeline);
    return plan;
}

/* The storage prefix (directory) of node `index`; free with mf_string_free. */
static char *node_dir(const mf_plan *plan, size_t index) {
    char *dir = NULL;
    EXPECT(mf_plan_node_field(&dir, NULL, plan, index, MF_NODE_STORAGE_PREFIX) == MF_OK, "prefix");
    return dir;
}

static mf_run_progress progress_of(const mf_run *run) {
    mf_run_progress progress = MF_RUN_PROGRESS_INIT;
    EXPECT(mf_run_get_progress(&progress, run) == MF_OK, "progress");
    return progress;
}

static void test_execute_and_cached_rerun(const char *base) {
    struct counters counters = {0, 0, -1, 0}; /* atomic_int initialises from a constant */
    mf_registry *registry = make_registry(&counters);
    mf_plan *plan = make_plan(registry, base);
    EXPECT(mf_plan_node_count(plan) == 5, "5 nodes");

    mf_run *run = NULL;
    EXPECT(mf_run_new(&run, plan, registry, MF_FAILURE_STOP, 0) == MF_OK, "run");
    EXPECT(mf_run_execute(run, registry, 2) == MF_OK, "execute");
    mf_run_progress progress = progress_of(run);
    EXPECT(progress.total == 5 && progress.succeeded == 5 && progress.cached == 0 && progress.failed == 0,
           "all succeeded");
    EXPECT(progress.finished == 1 && progress.cancelled == 0 && progress.running == 0, "finished");
    char *failure = (char *)"unset";
    EXPECT(mf_run_first_failure(&failure, run) == MF_OK && failure == NULL, "no failure");
    mf_run_free(run);
    EXPECT(counters.square_calls == 4 && counters.sum_calls == 1, "each task ran once");

    for (size_t i = 0; i < 5; i++) {
        char *dir = node_dir(plan, i);
        EXPECT(dir && file_exists(dir, "context.json"), "context.json");
        char *manifest = dir ? read_in(dir, "manifest.json") : NULL;
        EXPECT(manifest != NULL, "manifest.json");
        EXPECT(manifest && strstr(manifest, i < 4 ? "\"value.txt\"" : "\"sum.txt\""), "the manifest lists the output");
        EXPECT(manifest && strstr(manifest, "\"timestamp\""), "the manifest has a timestamp");
        EXPECT(dir && !file_exists(dir, "error.json"), "no error.json");
        free(manifest);
        mf_string_free(dir);
    }
    char *root = node_dir(plan, 4);
    char *sum = root ? read_in(root, "sum.txt") : NULL;
    EXPECT(sum && strcmp(sum, "30 from 4\n") == 0, "1 + 4 + 9 + 16");
    free(sum);
    mf_string_free(root);

    /* The same plan again: every node cached, no task called. */
    EXPECT(mf_run_new(&run, plan, registry, MF_FAILURE_STOP, 0) == MF_OK, "second run");
    EXPECT(mf_run_execute(run, registry, 0) == MF_OK, "second execute");
    progress = progress_of(run);
    EXPECT(progress.cached == 5 && progress.succeeded == 0, "all cached");
    EXPECT(counters.square_calls == 4 && counters.sum_calls == 1, "no task ran again");
    mf_run_free(run);
    printf("execute: 5 nodes succeeded, then 5 cached\n");

    mf_plan_free(plan);
    mf_registry_free(registry);
}

static void test_failure(const char *base) {
    struct counters counters = {0, 0, 3, 0};
    mf_registry *registry = make_registry(&counters);
    mf_plan *plan = make_plan(registry, base);
    mf_run *run = NULL;
    EXPECT(mf_run_new(&run, plan, registry, MF_FAILURE_CONTINUE_INDEPENDENT, 0) == MF_OK, "run");
    EXPECT(mf_run_execute(run, registry, 1) == MF_ERR_TASK_FAILED, "a task failed");
    EXPECT(strcmp(mf_last_error_message(), "Node t.square failed: square refused this n") == 0, "the message");
    char *failure = NULL;
    EXPECT(mf_run_first_failure(&failure, run) == MF_OK && failure &&
           strcmp(failure, "Node t.square failed: square refused this n") == 0, "first failure");
    mf_string_free(failure);
    mf_run_progress progress = progress_of(run);
    EXPECT(progress.succeeded == 3 && progress.failed == 1 && progress.skipped == 1, "the sum is skipped");
    mf_run_free(run);

    char *dir = node_dir(plan, 2); /* n = 3 */
    char *error = dir ? read_in(dir, "error.json") : NULL;
    EXPECT(error && strstr(error, "\"error_message\": \"square refused this n\""), "error.json message");
    EXPECT(error && strstr(error, "\"error_traceback\""), "error.json traceback");
    EXPECT(error && strstr(error, "\"partial_manifest\"") && strstr(error, "\"value.txt\""), "partial manifest");
    EXPECT(dir && !file_exists(dir, "manifest.json"), "no manifest.json after a failure");
    free(error);
    mf_string_free(dir);
    printf("failure: error.json written, the dependent node skipped\n");

    mf_plan_free(plan);
    mf_registry_free(registry);
}

/* The protocol Python workers use: pull nodes, write through the node's storage,
 * report each back. The sum node fails here; a rerun reports the settled nodes. */
static void test_pull(const char *base) {
    /* The registry's descriptors make the root "t.sum" a task to run rather than a
     * built-in no-op; its C functions are not used by the pull API. */
    struct counters counters = {0, 0, -1, 0};
    mf_registry *registry = make_registry(&counters);
    mf_plan *plan = make_plan(registry, base);
    mf_run *run = NULL;
    EXPECT(mf_run_new(&run, plan, registry, MF_FAILURE_STOP, 0) == MF_OK, "pull run");
    EXPECT(mf_run_finish_node(run, 0, 1, NULL, NULL) == MF_ERR_NOT_FOUND, "node 0 is not running yet");
    mf_storage *storage = NULL;
    EXPECT(mf_run_node_storage(&storage, run, 0) == MF_ERR_NOT_FOUND && storage == NULL, "no storage yet");
    int handed_out = 0;
    for (;;) {
        mf_event_kind kind = MF_EVENT_DONE;
        size_t index = 0;
        EXPECT(mf_run_next(&kind, &index, run) == MF_OK, "next");
        if (kind == MF_EVENT_DONE) break;
        EXPECT(kind == MF_EVENT_RUN, "run events only");
        handed_out++;
        EXPECT(mf_run_node_storage(&storage, run, index) == MF_OK, "node storage");
        EXPECT(mf_storage_save(storage, "pulled.txt", "x", 1, 0) == MF_OK, "save");
        EXPECT(mf_storage_save(storage, "context.json", "{}", 2, 0) == MF_ERR_PERMISSION, "context.json is protected");
        mf_storage_free(storage);
        int success = index != 4;
        EXPECT(mf_run_finish_node(run, index, success, success ? NULL : "ValueError: no sum",
                                  success ? NULL : "Traceback (most recent call last):\n") == MF_OK, "finish");
        EXPECT(mf_run_finish_node(run, index, 1, NULL, NULL) == MF_ERR_NOT_FOUND, "finished once only");
    }
    EXPECT(handed_out == 5, "5 nodes handed out");
    mf_run_progress progress = progress_of(run);
    EXPECT(progress.succeeded == 4 && progress.failed == 1 && progress.finished == 1, "pull progress");
    mf_run_free(run);

    /* Rerun reporting settled nodes: four cached events, then the sum to run again. */
    EXPECT(mf_run_new(&run, plan, registry, MF_FAILURE_STOP, MF_RUN_REPORT_SETTLED) == MF_OK, "rerun");
    int cached = 0, runs = 0;
    for (;;) {
        mf_event_kind kind = MF_EVENT_DONE;
        size_t index = 0;
        EXPECT(mf_run_next(&kind, &index, run) == MF_OK, "next");
        if (kind == MF_EVENT_DONE) break;
        if (kind == MF_EVENT_CACHED) cached++;
        if (kind == MF_EVENT_RUN) {
            runs++;
            EXPECT(index == 4, "only the failed node runs again");
            EXPECT(mf_run_finish_node(run, index, 1, NULL, NULL) == MF_OK, "finish");
        }
    }
    EXPECT(cached == 4 && runs == 1, "settled events on a rerun");
    mf_run_free(run);

    /* Without MF_RUN_REPORT_SETTLED a complete plan hands out nothing. */
    EXPECT(mf_run_new(&run, plan, registry, MF_FAILURE_STOP, MF_RUN_TRUST_MANIFEST_PRESENCE) == MF_OK, "third run");
    mf_event_kind kind = MF_EVENT_DONE;
    size_t index = 0;
    EXPECT(mf_run_next(&kind, &index, run) == MF_OK && kind == MF_EVENT_DONE, "all cached, nothing to hand out");
    mf_run_free(run);
    EXPECT(counters.square_calls == 0 && counters.sum_calls == 0, "the pull API calls no C function");
    printf("pull: 5 nodes handed out, rerun reported 4 cached and 1 to run\n");
    mf_plan_free(plan);
    mf_registry_free(registry);
}

static void test_cancel(const char *base) {
    mf_plan *plan = make_plan(NULL, base); /* without a registry the root is a built-in */
    mf_run *run = NULL;
    EXPECT(mf_run_new(&run, plan, NULL, MF_FAILURE_STOP, 0) == MF_OK, "run");
    mf_event_kind kind = MF_EVENT_DONE;
    size_t index = 0;
    EXPECT(mf_run_next(&kind, &index, run) == MF_OK && kind == MF_EVENT_RUN, "first node");
    mf_run_cancel(run);
    mf_event_kind after = MF_EVENT_RUN;
    size_t other = 0;
    EXPECT(mf_run_next(&after, &other, run) == MF_OK && after == MF_EVENT_DONE, "nothing after cancel");
    EXPECT(mf_run_finish_node(run, index, 1, NULL, NULL) == MF_OK, "the running node finishes");
    mf_run_progress progress = progress_of(run);
    EXPECT(progress.cancelled == 1 && progress.finished == 1 && progress.succeeded == 1 && progress.skipped == 4,
           "cancelled progress");
    mf_registry *registry = NULL;
    EXPECT(mf_registry_new(&registry) == MF_OK, "empty registry");
    EXPECT(mf_run_execute(run, registry, 1) == MF_ERR_CANCELLED, "executing a cancelled run");
    mf_registry_free(registry);
    mf_run_free(run);
    mf_plan_free(plan);
    printf("cancel: 1 node finished, 4 skipped\n");
}

static void test_null_arguments(void) {
    mf_registry *registry = NULL;
    EXPECT(mf_registry_new(&registry) == MF_OK, "registry");
    mf_plan *plan = make_plan(NULL, "/tmp/muflow-never-run");
    mf_run *run = NULL;
    mf_event_kind kind;
    size_t index;
    mf_run_progress progress = MF_RUN_PROGRESS_INIT;
    char *text = NULL;
    mf_storage *storage = NULL;

    EXPECT(mf_run_new(NULL, plan, NULL, MF_FAILURE_STOP, 0) == MF_ERR_INVALID_ARGUMENT, "NULL out");
    EXPECT(mf_run_new(&run, NULL, NULL, MF_FAILURE_STOP, 0) == MF_ERR_INVALID_ARGUMENT && run == NULL, "NULL plan");
    EXPECT(mf_run_new(&run, plan, NULL, (mf_failure_policy)9, 0) == MF_ERR_INVALID_ARGUMENT && run == NULL,
           "unknown policy");
    EXPECT(mf_run_next(&kind, &index, NULL) == MF_ERR_INVALID_ARGUMENT, "next NULL run");
    EXPECT(mf_run_node_storage(&storage, NULL, 0) == MF_ERR_INVALID_ARGUMENT, "storage NULL run");
    EXPECT(mf_run_finish_node(NULL, 0, 1, NULL, NULL) == MF_ERR_INVALID_ARGUMENT, "finish NULL run");
    EXPECT(mf_run_get_progress(&progress, NULL) == MF_ERR_INVALID_ARGUMENT, "progress NULL run");
    EXPECT(mf_run_first_failure(&text, NULL) == MF_ERR_INVALID_ARGUMENT, "first failure NULL run");
    EXPECT(mf_run_execute(NULL, registry, 1) == MF_ERR_INVALID_ARGUMENT, "execute NULL run");

    EXPECT(mf_run_new(&run, plan, NULL, MF_FAILURE_STOP, 0) == MF_OK, "run");
    EXPECT(mf_run_next(NULL, &index, run) == MF_ERR_INVALID_ARGUMENT, "next NULL kind");
    EXPECT(mf_run_next(&kind, NULL, run) == MF_ERR_INVALID_ARGUMENT, "next NULL index");
    EXPECT(mf_run_node_storage(NULL, run, 0) == MF_ERR_INVALID_ARGUMENT, "storage NULL out");
    EXPECT(mf_run_get_progress(NULL, run) == MF_ERR_INVALID_ARGUMENT, "progress NULL out");
    EXPECT(mf_run_first_failure(NULL, run) == MF_ERR_INVALID_ARGUMENT, "first failure NULL out");
    EXPECT(mf_run_execute(run, NULL, 1) == MF_ERR_INVALID_ARGUMENT, "execute NULL registry");
    EXPECT(mf_registry_set_function(NULL, "t", square_task, NULL, NULL) == MF_ERR_INVALID_ARGUMENT, "set NULL registry");
    EXPECT(mf_registry_set_function(registry, NULL, square_task, NULL, NULL) == MF_ERR_INVALID_ARGUMENT, "set NULL name");
    EXPECT(mf_registry_set_function(registry, "t", NULL, NULL, NULL) == MF_ERR_INVALID_ARGUMENT, "set NULL function");
    EXPECT(strlen(mf_last_error_message()) > 0, "a message");
    EXPECT(mf_task_call_index(NULL) == 0, "call index NULL");
    EXPECT(strcmp(mf_task_call_function(NULL), "") == 0, "call function NULL");
    EXPECT(strcmp(mf_task_call_kwargs_json(NULL), "{}") == 0, "call kwargs NULL");
    EXPECT(strcmp(mf_task_call_dependencies_json(NULL), "{}") == 0, "call deps NULL");
    EXPECT(mf_task_call_storage(NULL) == NULL, "call storage NULL");
    mf_task_fail(NULL, "ignored");
    mf_run_cancel(NULL);
    mf_run_free(NULL);
    progress = progress_of(run);
    EXPECT(progress.running == 0 && progress.finished == 0, "the run is untouched");
    mf_run_free(run);
    mf_plan_free(plan);
    mf_registry_free(registry);
    printf("null arguments: MF_ERR_INVALID_ARGUMENT, no crash\n");
}

/* Each destroy callback call counts once per user data. */
static void count_destroy(void *user_data) { atomic_fetch_add((atomic_int *)user_data, 1); }
static void count_destroy_counters(void *user_data) { atomic_fetch_add(&((struct counters *)user_data)->destroyed, 1); }

static void test_destroy_callback(const char *base) {
    atomic_int replaced = 0, removed = 0, cleared = 0, freed = 0;
    struct counters counters = {0, 0, -1, 0};
    mf_registry *registry = NULL;
    EXPECT(mf_registry_new(&registry) == MF_OK, "registry");
    EXPECT(mf_registry_set_function(registry, "t.square", square_task, &replaced, count_destroy) == MF_OK, "attach");
    EXPECT(atomic_load(&replaced) == 0, "not destroyed while attached");
    EXPECT(mf_registry_set_function(registry, "t.square", square_task, &removed, count_destroy) == MF_OK, "replace");
    EXPECT(atomic_load(&replaced) == 1, "destroyed once when replaced");
    EXPECT(mf_registry_remove(registry, "t.square") == MF_OK, "remove a function-only name");
    EXPECT(atomic_load(&removed) == 1 && atomic_load(&replaced) == 1, "destroyed once when removed");
    EXPECT(mf_registry_remove(registry, "t.square") == MF_ERR_NOT_FOUND, "nothing left to remove");
    EXPECT(mf_registry_set_function(registry, "t.square", square_task, &cleared, count_destroy) == MF_OK, "attach");
    EXPECT(mf_registry_clear(registry) == MF_OK && atomic_load(&cleared) == 1, "destroyed once when cleared");
    EXPECT(mf_registry_set_function(NULL, "t.square", square_task, &freed, count_destroy) == MF_ERR_INVALID_ARGUMENT
           && atomic_load(&freed) == 0, "a failed attach does not destroy");

    /* A run of tasks that count in `counters`, then the registry freed after it. */
    EXPECT(mf_registry_set_function(registry, "t.square", square_task, &counters, count_destroy_counters) == MF_OK,
           "attach for a run");
    EXPECT(mf_registry_set_function(registry, "t.sum", sum_task, &counters, NULL) == MF_OK, "attach sum");
    mf_plan *plan = make_plan(NULL, base);
    mf_run *run = NULL;
    EXPECT(mf_run_new(&run, plan, registry, MF_FAILURE_STOP, 0) == MF_OK, "run");
    EXPECT(mf_run_execute(run, registry, 2) == MF_OK, "execute");
    EXPECT(atomic_load(&counters.square_calls) == 4 && atomic_load(&counters.destroyed) == 0, "in use, not destroyed");
    mf_run_free(run);
    mf_plan_free(plan);
    EXPECT(mf_registry_set_function(registry, "t.x", square_task, &freed, count_destroy) == MF_OK, "attach");
    mf_registry_free(registry);
    EXPECT(atomic_load(&freed) == 1 && atomic_load(&counters.destroyed) == 1, "destroyed once when the registry is freed");
    printf("destroy callback: once on replace, remove, clear and free; never on a failed attach\n");
}

/* A node whose directory is a file cannot be prepared: MF_EVENT_FAILED, handed out by a
 * call that succeeds and so leaves the thread's last error alone. */
static void test_failed_event(const char *base) {
    mf_plan *plan = make_plan(NULL, base);
    char *dir = node_dir(plan, 0);
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dir);
    *strrchr(parent, '/') = '\0';
    char command[8300];
    snprintf(command, sizeof command, "mkdir -p '%s' && : > '%s'", parent, dir);
    EXPECT(system(command) == 0, "a file where node 0's directory goes");
    mf_run *run = NULL;
    EXPECT(mf_run_new(&run, plan, NULL, MF_FAILURE_CONTINUE_INDEPENDENT, 0) == MF_OK, "run");
    EXPECT(mf_filename_validate("") == MF_ERR_INVALID_ARGUMENT, "a failing call sets a last error");
    char before[512];
    snprintf(before, sizeof before, "%s", mf_last_error_message());
    mf_event_kind kind = MF_EVENT_DONE;
    size_t index = 99, failed = 0;
    int seen = 0;
    char *message = NULL;
    while (mf_run_next(&kind, &index, run) == MF_OK && kind != MF_EVENT_DONE) {
        if (kind == MF_EVENT_FAILED) {
            seen++;
            failed = index;
            EXPECT(strcmp(mf_last_error_message(), before) == 0, "the last error is left alone");
            EXPECT(mf_run_node_failure(&message, run, index) == MF_OK && message && strlen(message) > 0,
                   "the failure's message");
        } else if (kind == MF_EVENT_RUN) {
            char *other = NULL;
            EXPECT(mf_run_node_failure(&other, run, index) == MF_OK && other == NULL, "no failure for a running node");
            EXPECT(mf_run_finish_node(run, index, 1, NULL, NULL) == MF_OK, "finish");
        }
    }
    EXPECT(seen == 1 && failed == 0, "node 0 failed once");
    char *first = NULL;
    EXPECT(mf_run_first_failure(&first, run) == MF_OK && first && message && strstr(first, message) != NULL,
           "the run's first failure is that message");
    EXPECT(mf_run_node_failure(NULL, run, 0) == MF_ERR_INVALID_ARGUMENT, "NULL out");
    EXPECT(mf_run_node_failure(&first, NULL, 0) == MF_ERR_INVALID_ARGUMENT, "NULL run");
    mf_string_free(first);
    mf_string_free(message);
    mf_string_free(dir);
    mf_run_free(run);
    mf_plan_free(plan);
    printf("failed event: MF_OK without a last error; mf_run_node_failure has the message\n");
}

/* mf_run_progress carries its size: a size too small is refused by name. */
static void test_progress_size(void) {
    mf_plan *plan = make_plan(NULL, "/tmp/muflow-never-run");
    mf_run *run = NULL;
    EXPECT(mf_run_new(&run, plan, NULL, MF_FAILURE_STOP, 0) == MF_OK, "run");
    mf_run_progress progress = MF_RUN_PROGRESS_INIT;
    progress.size = sizeof progress - 1;
    progress.total = 77;
    EXPECT(mf_run_get_progress(&progress, run) == MF_ERR_INVALID_ARGUMENT && progress.total == 77, "too small: refused");
    EXPECT(strstr(mf_last_error_message(), "mf_run_progress.size") != NULL, "the message names the field");
    progress.size = 0;
    EXPECT(mf_run_get_progress(&progress, run) == MF_ERR_INVALID_ARGUMENT, "unset: refused");
    progress.size = sizeof progress;
    EXPECT(mf_run_get_progress(&progress, run) == MF_OK && progress.total == 5 && progress.size == sizeof progress,
           "sized: filled");
    mf_run_free(run);
    mf_plan_free(plan);
    printf("progress size: checked\n");
}

static int remove_entry(const char *path, const struct stat *info, int flag, struct FTW *ftw) {
    (void)info;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void) {
    char root[] = "/tmp/muflow-run-example-XXXXXX";
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    char base[sizeof root + 32];
    snprintf(base, sizeof base, "%s/exec", root);
    test_execute_and_cached_rerun(base);
    snprintf(base, sizeof base, "%s/fail", root);
    test_failure(base);
    snprintf(base, sizeof base, "%s/pull", root);
    test_pull(base);
    snprintf(base, sizeof base, "%s/cancel", root);
    test_cancel(base);
    test_null_arguments();
    snprintf(base, sizeof base, "%s/destroy", root);
    test_destroy_callback(base);
    snprintf(base, sizeof base, "%s/failed-event", root);
    test_failed_event(base);
    test_progress_size();
    nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("run_example: all checks passed\n");
    return 0;
}
