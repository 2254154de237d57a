/* The seed's ML pipeline, built and run through muflow.h with tasks written in C.
 *
 *   features (ForEach over datasets)        ml.compute_features -> features.json
 *   train    (Step, after features)         ml.train_model      -> model.json
 *   loo_cv   (ForEach, after features)      ml.loo_cv           -> cv_result.json
 *   reports  (ForEach pdf/xlsx/csv, after   ml.generate_report  -> report.txt (+ report.csv)
 *             train and loo_cv)
 *   + the sentinel root muflow's builder adds, completed as a built-in no-op.
 *
 * Each dataset is a small synthetic series y = a x + b + noise whose a, b and noise are
 * derived from the dataset's name (FNV-1a hash and a linear congruential generator),
 * so every run computes the same numbers. train fits one least-squares line through
 * every dataset's points; loo_cv fits it without one dataset and measures the mean
 * squared error on the dataset left out; reports summarise model and folds.
 *
 * Usage: ml_pipeline OUTPUT_DIR [N_DATASETS]   (default 3)
 * Runs the plan on 2 worker threads, prints a summary, then runs it again to show every
 * node cached. Exits non-zero if anything fails or the second run is not fully cached.
 */
#define _POSIX_C_SOURCE 200809L
#include <muflow.h>

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- a growable string ---------------------------------------------------------- */

typedef struct {
    char *data;
    size_t length, capacity;
    int failed;
} text;

static void text_add(text *t, const char *format, ...) {
    if (t->failed) return;
    for (;;) {
        va_list args;
        va_start(args, format);
        size_t room = t->capacity - t->length;
        int n = vsnprintf(t->data ? t->data + t->length : NULL, room, format, args);
        va_end(args);
        if (n < 0) { t->failed = 1; return; }
        if ((size_t)n < room) { t->length += (size_t)n; return; }
        size_t capacity = t->capacity ? t->capacity * 2 : 256;
        while (capacity - t->length <= (size_t)n) capacity *= 2;
        char *bigger = realloc(t->data, capacity);
        if (!bigger) { t->failed = 1; return; }
        t->data = bigger;
        t->capacity = capacity;
    }
}

/* ---- files ---------------------------------------------------------------------- */

/* The file `name` in directory `dir` as a NUL-terminated string (free it), or NULL. */
static char *read_file(const char *dir, const char *name) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return NULL;
    FILE *file = fopen(path, "rb");
    if (!file) return NULL;
    text t = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, file)) > 0) text_add(&t, "%.*s", (int)n, chunk);
    fclose(file);
    if (t.failed || !t.data) { free(t.data); return NULL; }
    return t.data;
}

/* ---- a minimal JSON reader --------------------------------------------------------
 * Enough for the files these tasks write and for the engine's compact JSON: object
 * members found by key (the key must not also occur inside a string value, which
 * holds for these files), numbers, arrays of numbers, and strings with the escapes
 * \" \\ \/ (no \u: every string here is ASCII without control characters). */

static const char *skip_space(const char *p) {
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
    return p;
}

/* The value of member `key` of the JSON text, or NULL. */
static const char *json_member(const char *json, const char *key) {
    size_t length = strlen(key);
    for (const char *p = json; (p = strchr(p, '"')) != NULL; p++) {
        if (strncmp(p + 1, key, length) == 0 && p[1 + length] == '"') {
            const char *after = skip_space(p + 2 + length);
            if (*after == ':') return skip_space(after + 1);
        }
    }
    return NULL;
}

static int json_number(const char *json, const char *key, double *out) {
    const char *value = json_member(json, key);
    if (!value) return 0;
    char *end;
    *out = strtod(value, &end);
    return end != value;
}

/* Reads the JSON string at `p` into out; returns the position after it, or NULL. */
static const char *json_string_at(const char *p, char *out, size_t size) {
    p = skip_space(p);
    if (*p != '"') return NULL;
    size_t n = 0;
    for (p++; *p != '"'; p++) {
        char c = *p;
        if (c == '\0') return NULL;
        if (c == '\\') {
            c = *++p;
            if (c != '"' && c != '\\' && c != '/') return NULL;
        }
        if (n + 1 >= size) return NULL;
        out[n++] = c;
    }
    out[n] = '\0';
    return p + 1;
}

static int json_string(const char *json, const char *key, char *out, size_t size) {
    const char *value = json_member(json, key);
    return value && json_string_at(value, out, size) != NULL;
}

/* Reads the array of numbers of member `key` into at most `max` doubles; returns how
 * many, or -1. */
static int json_numbers(const char *json, const char *key, double *out, int max) {
    const char *p = json_member(json, key);
    if (!p || *p != '[') return -1;
    p = skip_space(p + 1);
    int count = 0;
    while (*p != ']') {
        char *end;
        double value = strtod(p, &end);
        if (end == p || count == max) return -1;
        out[count++] = value;
        p = skip_space(end);
        if (*p == ',') p = skip_space(p + 1);
        else if (*p != ']') return -1;
    }
    return count;
}

/* Calls `visit` for each member of a flat object of strings ({"key":"value",...}),
 * as mf_task_call_dependencies_json writes it. Returns 0 on malformed input. */
static int json_each_string(const char *json, int (*visit)(void *state, const char *key, const char *value),
                            void *state) {
    const char *p = skip_space(json);
    if (*p != '{') return 0;
    p = skip_space(p + 1);
    char key[256], value[4096];
    while (*p != '}') {
        p = json_string_at(p, key, sizeof key);
        if (!p) return 0;
        p = skip_space(p);
        if (*p != ':') return 0;
        p = json_string_at(p + 1, value, sizeof value);
        if (!p) return 0;
        if (!visit(state, key, value)) return 0;
        p = skip_space(p);
        if (*p == ',') p = skip_space(p + 1);
        else if (*p != '}') return 0;
    }
    return 1;
}

/* ---- the model -------------------------------------------------------------------- */

#define POINTS 8

/* Sums for a least-squares line y = slope x + intercept. */
typedef struct {
    double n, sx, sy, sxx, sxy;
} fit;

static void fit_add(fit *f, const double *x, const double *y, int count) {
    for (int i = 0; i < count; i++) {
        f->n += 1;
        f->sx += x[i];
        f->sy += y[i];
        f->sxx += x[i] * x[i];
        f->sxy += x[i] * y[i];
    }
}

static int fit_solve(const fit *f, double *slope, double *intercept) {
    double d = f->n * f->sxx - f->sx * f->sx;
    if (f->n < 2 || d == 0) return 0;
    *slope = (f->n * f->sxy - f->sx * f->sy) / d;
    *intercept = (f->sy - *slope * f->sx) / f->n;
    return 1;
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* ---- the tasks ------------------------------------------------------------------- */

static atomic_int task_calls;

static mf_status fail(const mf_task_call *call, const char *message) {
    mf_task_fail(call, message);
    return MF_ERR_TASK_FAILED;
}

static mf_status save_text(const mf_task_call *call, const char *name, text *t) {
    if (t->failed) {
        free(t->data);
        return fail(call, "out of memory");
    }
    mf_status status = mf_storage_save(mf_task_call_storage(call), name, t->data, t->length, 0);
    free(t->data);
    t->data = NULL;
    if (status != MF_OK) mf_task_fail(call, mf_last_error_message());
    return status;
}

/* kwargs {"dataset_name": str, "datasets": [...]}: writes features.json. */
static mf_status compute_features(void *user_data, const mf_task_call *call) {
    (void)user_data;
    atomic_fetch_add(&task_calls, 1);
    char name[256];
    if (!json_string(mf_task_call_kwargs_json(call), "dataset_name", name, sizeof name))
        return fail(call, "kwargs need a string 'dataset_name'");
    uint64_t h = fnv1a(name);
    double a = 0.5 + (double)(h % 1000) / 1000.0;        /* slope in [0.5, 1.5) */
    double b = (double)((h >> 10) % 200) / 20.0 - 5.0;   /* intercept in [-5, 5) */
    uint64_t state = h;
    text t = {0};
    text_add(&t, "{\"dataset\": \"%s\", \"true_slope\": %.17g, \"true_intercept\": %.17g, \"x\": [", name, a, b);
    double y[POINTS];
    for (int i = 0; i < POINTS; i++) {
        state = state * 6364136223846793005u + 1442695040888963407u;
        double noise = (double)(state >> 11) / 9007199254740992.0 - 0.5; /* [-0.5, 0.5) */
        y[i] = a * i + b + noise;
        text_add(&t, "%s%d", i ? ", " : "", i);
    }
    text_add(&t, "], \"y\": [");
    for (int i = 0; i < POINTS; i++) text_add(&t, "%s%.17g", i ? ", " : "", y[i]);
    text_add(&t, "]}\n");
    return save_text(call, "features.json", &t);
}

/* What train and loo_cv gather from the features of their dependencies. */
typedef struct {
    long leave_out;   /* index of the dataset left out, or -1 */
    fit train;        /* points of the datasets kept */
    double held_x[POINTS], held_y[POINTS];
    int held_count;
    char held_name[256];
    int datasets;
    const char *error;
} gathering;

static int gather_features(void *state, const char *key, const char *dir) {
    gathering *g = state;
    if (strncmp(key, "features:", 9) != 0) return 1;
    long index = strtol(key + 9, NULL, 10);
    char *json = read_file(dir, "features.json");
    if (!json) { g->error = "a dependency has no readable features.json"; return 0; }
    double x[POINTS], y[POINTS];
    int nx = json_numbers(json, "x", x, POINTS), ny = json_numbers(json, "y", y, POINTS);
    if (nx < 0 || nx != ny) { free(json); g->error = "malformed features.json"; return 0; }
    if (index == g->leave_out) {
        memcpy(g->held_x, x, sizeof x);
        memcpy(g->held_y, y, sizeof y);
        g->held_count = nx;
        if (!json_string(json, "dataset", g->held_name, sizeof g->held_name)) g->held_name[0] = '\0';
    } else {
        fit_add(&g->train, x, y, nx);
    }
    g->datasets++;
    free(json);
    return 1;
}

/* Fits one line through the points of every dependency: writes model.json. */
static mf_status train_model(void *user_data, const mf_task_call *call) {
    (void)user_data;
    atomic_fetch_add(&task_calls, 1);
    gathering g = {.leave_out = -1};
    if (!json_each_string(mf_task_call_dependencies_json(call), gather_features, &g))
        return fail(call, g.error ? g.error : "malformed dependencies");
    double slope, intercept;
    if (!fit_solve(&g.train, &slope, &intercept)) return fail(call, "too few points to fit a line");
    text t = {0};
    text_add(&t, "{\"slope\": %.17g, \"intercept\": %.17g, \"datasets\": %d, \"points\": %.0f}\n", slope, intercept,
             g.datasets, g.train.n);
    return save_text(call, "model.json", &t);
}

/* kwargs {"leave_out_index": i, "datasets": [...]}: fits without dataset i and scores
 * the fit on it; writes cv_result.json. */
static mf_status loo_cv(void *user_data, const mf_task_call *call) {
    (void)user_data;
    atomic_fetch_add(&task_calls, 1);
    double index;
    if (!json_number(mf_task_call_kwargs_json(call), "leave_out_index", &index))
        return fail(call, "kwargs need a number 'leave_out_index'");
    gathering g = {.leave_out = (long)index};
    if (!json_each_string(mf_task_call_dependencies_json(call), gather_features, &g))
        return fail(call, g.error ? g.error : "malformed dependencies");
    if (g.held_count == 0) return fail(call, "leave_out_index names no dependency");
    double slope, intercept;
    if (!fit_solve(&g.train, &slope, &intercept)) return fail(call, "too few points to fit a line");
    double mse = 0;
    for (int i = 0; i < g.held_count; i++) {
        double residual = g.held_y[i] - (slope * g.held_x[i] + intercept);
        mse += residual * residual / g.held_count;
    }
    text t = {0};
    text_add(&t, "{\"leave_out_index\": %ld, \"held_out\": \"%s\", \"slope\": %.17g, \"intercept\": %.17g, \"mse\": %.17g}\n",
             g.leave_out, g.held_name, slope, intercept, mse);
    return save_text(call, "cv_result.json", &t);
}

/* What a report gathers: the model and every fold. */
typedef struct {
    char *model;
    text rows;
    int folds;
    double mse_sum;
    const char *error;
} report;

static int gather_report(void *state, const char *key, const char *dir) {
    report *r = state;
    if (strcmp(key, "train") == 0) {
        r->model = read_file(dir, "model.json");
        if (!r->model) { r->error = "train wrote no model.json"; return 0; }
    } else if (strncmp(key, "loo_cv:", 7) == 0) {
        char *cv = read_file(dir, "cv_result.json");
        char held[256];
        double mse;
        if (!cv || !json_number(cv, "mse", &mse) || !json_string(cv, "held_out", held, sizeof held)) {
            free(cv);
            r->error = "a fold wrote no readable cv_result.json";
            return 0;
        }
        text_add(&r->rows, "%s,%s,%.6f\n", key + 7, held, mse);
        r->folds++;
        r->mse_sum += mse;
        free(cv);
    }
    return 1;
}

/* kwargs {"format": "pdf" | "xlsx" | "csv"}: writes report.txt, and report.csv for csv.
 * (Rendering PDF or XLSX is beyond a C example; those reports are the text summary.) */
static mf_status generate_report(void *user_data, const mf_task_call *call) {
    (void)user_data;
    atomic_fetch_add(&task_calls, 1);
    char format[16];
    if (!json_string(mf_task_call_kwargs_json(call), "format", format, sizeof format))
        return fail(call, "kwargs need a string 'format'");
    report r = {0};
    int ok = json_each_string(mf_task_call_dependencies_json(call), gather_report, &r);
    double slope = 0, intercept = 0;
    if (ok && (!r.model || !json_number(r.model, "slope", &slope) || !json_number(r.model, "intercept", &intercept))) {
        ok = 0;
        r.error = "model.json has no slope and intercept";
    }
    free(r.model);
    if (!ok || r.folds == 0) {
        free(r.rows.data);
        return fail(call, r.error ? r.error : "no folds to report");
    }
    text summary = {0};
    text_add(&summary, "ML pipeline report (%s)\nmodel: y = %.4f x + %.4f\nleave-one-out folds: %d, mean MSE %.6f\n",
             format, slope, intercept, r.folds, r.mse_sum / r.folds);
    mf_status status = save_text(call, "report.txt", &summary);
    if (status == MF_OK && strcmp(format, "csv") == 0) {
        text csv = {0};
        text_add(&csv, "fold,held_out,mse\n%s", r.rows.data ? r.rows.data : "");
        status = save_text(call, "report.csv", &csv);
    }
    free(r.rows.data);
    return status;
}

/* ---- building and running ------------------------------------------------------------ */

static int check(mf_status status, const char *what) {
    if (status == MF_OK) return 1;
    fprintf(stderr, "%s: %s: %s\n", what, mf_status_name(status), mf_last_error_message());
    return 0;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Runs the plan once on 2 threads; prints and returns its progress. */
static int run_once(const char *label, const mf_plan *plan, const mf_registry *registry, mf_run_progress *progress) {
    mf_run *run = NULL;
    if (!check(mf_run_new(&run, plan, registry, MF_FAILURE_STOP, 0), "mf_run_new")) return 0;
    int calls_before = atomic_load(&task_calls);
    double start = now();
    mf_status status = mf_run_execute(run, registry, 2);
    double seconds = now() - start;
    int ok = check(status, "mf_run_execute");
    check(mf_run_get_progress(progress, run), "mf_run_get_progress");
    printf("%s: %zu nodes, %zu succeeded, %zu cached, %zu failed, %zu skipped; %d task calls in %.1f ms\n", label,
           progress->total, progress->succeeded, progress->cached, progress->failed, progress->skipped,
           atomic_load(&task_calls) - calls_before, seconds * 1e3);
    mf_run_free(run);
    return ok;
}

/* Prints the file `name` of the first node of task `function`. */
static void show(const mf_plan *plan, const char *function, const char *name) {
    for (size_t i = 0; i < mf_plan_node_count(plan); i++) {
        char *f = NULL, *dir = NULL;
        if (mf_plan_node_field(&f, NULL, plan, i, MF_NODE_FUNCTION) == MF_OK && strcmp(f, function) == 0 &&
            mf_plan_node_field(&dir, NULL, plan, i, MF_NODE_STORAGE_PREFIX) == MF_OK) {
            char *content = read_file(dir, name);
            printf("--- %s/%s\n%s", dir, name, content ? content : "(missing)\n");
            free(content);
            mf_string_free(f);
            mf_string_free(dir);
            return;
        }
        mf_string_free(f);
        mf_string_free(dir);
    }
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s OUTPUT_DIR [N_DATASETS]\n", argv[0]);
        return 2;
    }
    const char *output = argv[1];
    long count = argc == 3 ? strtol(argv[2], NULL, 10) : 3;
    if (count < 2 || count > 100000) {
        fprintf(stderr, "N_DATASETS must be between 2 and 100000 (leave-one-out needs two)\n");
        return 2;
    }

    mf_registry *registry = NULL;
    mf_pipeline *pipeline = NULL;
    mf_plan *plan = NULL;
    text datasets = {0}, features = {0}, folds = {0}, kwargs = {0};
    int ok = check(mf_registry_new(&registry), "mf_registry_new");
    ok = ok && check(mf_registry_add(registry, "{\"name\": \"ml.compute_features\", \"identity_keys\": [\"dataset_name\"], "
                                               "\"output_files\": [\"features.json\"]}"), "add ml.compute_features");
    ok = ok && check(mf_registry_add(registry, "{\"name\": \"ml.train_model\", \"output_files\": [\"model.json\"]}"),
                     "add ml.train_model");
    ok = ok && check(mf_registry_add(registry, "{\"name\": \"ml.loo_cv\", \"output_files\": [\"cv_result.json\"]}"),
                     "add ml.loo_cv");
    ok = ok && check(mf_registry_add(registry, "{\"name\": \"ml.generate_report\", "
                                               "\"output_files\": [\"report.txt\", \"report.csv\"]}"), "add ml.generate_report");
    ok = ok && check(mf_registry_set_function(registry, "ml.compute_features", compute_features, NULL, NULL), "attach features");
    ok = ok && check(mf_registry_set_function(registry, "ml.train_model", train_model, NULL, NULL), "attach train");
    ok = ok && check(mf_registry_set_function(registry, "ml.loo_cv", loo_cv, NULL, NULL), "attach loo_cv");
    ok = ok && check(mf_registry_set_function(registry, "ml.generate_report", generate_report, NULL, NULL), "attach reports");

    ok = ok && check(mf_pipeline_new(&pipeline, "ml.full_pipeline", "ML Training Pipeline"), "mf_pipeline_new");
    ok = ok && check(mf_pipeline_add_step(pipeline, "features", "ml.compute_features", MF_STEP_FOREACH, NULL), "features");
    ok = ok && check(mf_pipeline_add_step(pipeline, "train", "ml.train_model", MF_STEP_SINGLE, "[\"features\"]"), "train");
    ok = ok && check(mf_pipeline_add_step(pipeline, "loo_cv", "ml.loo_cv", MF_STEP_FOREACH, "[\"features\"]"), "loo_cv");
    ok = ok && check(mf_pipeline_add_step(pipeline, "reports", "ml.generate_report", MF_STEP_FOREACH,
                                          "[\"train\", \"loo_cv\"]"), "reports");

    /* The jobs muflow's `over` lambdas return, as JSON. */
    text_add(&datasets, "[");
    for (long i = 0; i < count; i++) text_add(&datasets, "%s\"dataset_%03ld\"", i ? ", " : "", i);
    text_add(&datasets, "]");
    text_add(&features, "[");
    text_add(&folds, "[");
    for (long i = 0; i < count; i++) {
        text_add(&features, "%s{\"dataset_name\": \"dataset_%03ld\"}", i ? ", " : "", i);
        text_add(&folds, "%s{\"leave_out_index\": %ld, \"datasets\": %s}", i ? ", " : "", i, datasets.data);
    }
    text_add(&features, "]");
    text_add(&folds, "]");
    text_add(&kwargs, "{\"datasets\": %s}", datasets.data);
    const char *formats = "[{\"format\": \"pdf\"}, {\"format\": \"xlsx\"}, {\"format\": \"csv\"}]";
    ok = ok && !datasets.failed && !features.failed && !folds.failed && !kwargs.failed;
    ok = ok && check(mf_pipeline_set_step_jobs(pipeline, "features", MF_FORMAT_JSON, features.data, features.length),
                     "features jobs");
    ok = ok && check(mf_pipeline_set_step_jobs(pipeline, "loo_cv", MF_FORMAT_JSON, folds.data, folds.length), "loo_cv jobs");
    ok = ok && check(mf_pipeline_set_step_jobs(pipeline, "reports", MF_FORMAT_JSON, formats, strlen(formats)),
                     "reports jobs");
    ok = ok && check(mf_pipeline_build(&plan, pipeline, registry, "experiment:1", MF_FORMAT_JSON, kwargs.data,
                                       kwargs.length, output, MF_BUILD_STRICT, NULL, NULL), "mf_pipeline_build");
    free(datasets.data);
    free(features.data);
    free(folds.data);
    free(kwargs.data);
    mf_pipeline_free(pipeline);

    mf_run_progress first = MF_RUN_PROGRESS_INIT, second = MF_RUN_PROGRESS_INIT;
    if (ok) {
        printf("plan: %zu nodes for %ld datasets under %s, root %s\n", mf_plan_node_count(plan), count, output,
               mf_plan_root_key(plan));
        ok = run_once("run 1", plan, registry, &first);
    }
    if (ok) {
        show(plan, "ml.train_model", "model.json");
        show(plan, "ml.generate_report", "report.txt");
        ok = run_once("run 2", plan, registry, &second);
    }
    if (ok && second.cached != second.total) {
        fprintf(stderr, "run 2 should find every node cached\n");
        ok = 0;
    }
    if (ok) printf("run 2 found all %zu nodes cached: no task ran\n", second.cached);
    mf_plan_free(plan);
    mf_registry_free(registry);
    return ok ? 0 : 1;
}
